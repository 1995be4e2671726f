/* NVML backend against the stub library (tests/energy/stub_nvml.c): the energy counter, the
 * power-integration fallback (trapezoids at >= 10 Hz), library missing, no GPU, a call failing
 * during the run, and AUTO combining GPU and CPU meters. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "energy/fake_tree.h"
#include "energy/internal.h"

static char stub_path[PATH_MAX];

static int setup(void **state) {
  (void)state;
  const char *b = getenv("EAHAS_BUILD");
  if (!b) {
    fprintf(stderr, "EAHAS_BUILD is not set (run through ctest)\n");
    return -1;
  }
  snprintf(stub_path, sizeof stub_path, "%s/tests/energy/libstub_nvml.so", b);
  if (access(stub_path, R_OK) != 0) {
    fprintf(stderr, "%s missing\n", stub_path);
    return -1;
  }
  return 0;
}

static void stub_env(const char *gpus, const char *mode, const char *ramp, const char *fail_after) {
  unsetenv("STUB_NVML_INIT");
  setenv("STUB_NVML_GPUS", gpus, 1);
  setenv("STUB_NVML_MODE", mode, 1);
  setenv("STUB_NVML_POWER_MW", "100000", 1);
  setenv("STUB_NVML_RAMP_MW_PER_S", ramp, 1);
  setenv("STUB_NVML_FAIL_AFTER", fail_after, 1);
}

static eahas_meter *open_nvml(eahas_meter_kind kind, const char *lib, double interval, eahas_err *e, int *rc) {
  eahas_meter_opts o = {.kind = kind, .nvml_lib = lib, .interval_s = interval,
                        .powercap_root = "/nonexistent", .perf_root = "/nonexistent"};
  eahas_meter *m = NULL;
  *rc = eahas_meter_open(&o, &m, e);
  return m;
}

static void test_counter(void **state) {
  (void)state;
  stub_env("2", "counter", "0", "-1");
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(eahas_meter_method(m), "nvml-counter");
  assert_int_equal(eahas_meter_start(m, &e), 0);
  usleep(200000);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_int_equal(rd.n_domains, 2);
  assert_string_equal(rd.domains[0].name, "gpu-0");
  assert_string_equal(rd.domains[1].name, "gpu-1");
  /* 100 W and 200 W: the counter (mJ, truncated to integers) over the measured duration. */
  assert_double_equal(rd.domains[0].energy_j, 100.0 * rd.duration_s, 0.01 * 100.0 * rd.duration_s + 0.002);
  assert_double_equal(rd.domains[1].energy_j, 200.0 * rd.duration_s, 0.01 * 200.0 * rd.duration_s + 0.002);
  assert_double_equal(rd.energy_j, rd.domains[0].energy_j + rd.domains[1].energy_j, 1e-9);
  assert_string_equal(rd.params, "");
  eahas_meter_close(m);
}

static void test_power_fallback(void **state) {
  (void)state;
  /* No energy counter; power ramps 100 W + 500 W/s, so rectangles would err by ~7 % over
   * 0.3 s at 20 Hz while trapezoids are exact for a linear ramp. */
  stub_env("1", "power", "500000", "-1");
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_nvml(EAHAS_METER_AUTO, stub_path, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(eahas_meter_method(m), "nvml-power"); /* AUTO: no CPU meter here */
  assert_double_equal(eahas_meter_update_period_s(m), 1.0, 0);
  void *h = dlopen(stub_path, RTLD_NOW);
  assert_non_null(h);
  double (*exact_mj)(int) = (double (*)(int))dlsym(h, "stub_nvml_energy_mj");
  long (*calls)(void) = (long (*)(void))dlsym(h, "stub_nvml_power_calls");
  assert_non_null(exact_mj);
  assert_non_null(calls);
  double e0 = exact_mj(0);
  long c0 = calls();
  assert_int_equal(eahas_meter_start(m, &e), 0);
  usleep(300000);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  double e1 = exact_mj(0);
  long c1 = calls();
  double expect_j = (e1 - e0) * 1e-3;
  assert_true(expect_j > 40 && expect_j < 80);
  assert_double_equal(rd.energy_j, expect_j, 0.01 * expect_j);
  /* Sampling at >= 10 Hz (default 20 Hz; allow a loaded machine half of it). */
  assert_true((double)(c1 - c0) >= 10.0 * rd.duration_s);
  assert_string_equal(rd.params, "nvml_interval_s=0.05");
  eahas_meter_close(m);
  /* A requested slower rate is capped at 10 Hz. */
  m = open_nvml(EAHAS_METER_NVML, stub_path, 2.0, &e, &rc);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_string_equal(rd.params, "nvml_interval_s=0.1");
  eahas_meter_close(m);
  /* One GPU with a counter and one without: the weaker label. */
  stub_env("2", "counter,power", "0", "-1");
  m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(eahas_meter_method(m), "nvml-power");
  assert_int_equal(eahas_meter_start(m, &e), 0);
  usleep(100000);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.domains[0].energy_j, 100.0 * rd.duration_s, 0.02 * 100.0 * rd.duration_s + 0.002);
  assert_double_equal(rd.domains[1].energy_j, 200.0 * rd.duration_s, 0.02 * 200.0 * rd.duration_s + 0.002);
  eahas_meter_close(m);
  dlclose(h);
}

static void test_library_missing_and_no_gpu(void **state) {
  (void)state;
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_nvml(EAHAS_METER_NVML, "/nonexistent/libnvidia-ml.so.1", 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_null(m);
  assert_non_null(strstr(e.msg, "no NVIDIA GPU: cannot load /nonexistent/libnvidia-ml.so.1"));
  /* AUTO falls through to the estimate when nothing else exists. */
  m = open_nvml(EAHAS_METER_AUTO, "/nonexistent/libnvidia-ml.so.1", 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(eahas_meter_method(m), "estimate:cpu-tdp-v1");
  assert_non_null(strstr(eahas_meter_note(m), "nvml: no NVIDIA GPU: cannot load /nonexistent/libnvidia-ml.so.1"));
  assert_non_null(strstr(eahas_meter_note(m), "; rapl: no RAPL: cannot open /nonexistent"));
  assert_non_null(strstr(eahas_meter_note(m), "; perf: no RAPL perf events"));
  eahas_meter_close(m);
  /* A library that is not NVML. */
  m = open_nvml(EAHAS_METER_NVML, "libm.so.6", 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "libm.so.6 lacks nvmlInit_v2"));
  /* Driver not loaded; no devices; a device with neither counter nor power. */
  stub_env("1", "counter", "0", "-1");
  setenv("STUB_NVML_INIT", "fail", 1);
  m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_string_equal(e.msg, "no NVIDIA GPU: nvmlInit_v2 failed: Driver Not Loaded");
  stub_env("0", "counter", "0", "-1");
  m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_string_equal(e.msg, "no NVIDIA GPU: NVML reports 0 devices");
  stub_env("1", "none", "0", "-1");
  m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_string_equal(e.msg, "gpu-0 has neither an energy counter (Not Supported) nor a power reading (Not Supported)");
}

static void test_fails_mid_run(void **state) {
  (void)state;
  eahas_err e = {0};
  int rc;
  eahas_energy_reading rd;
  /* Counter: probe (1), start (2), first read (3) succeed; the second read fails. */
  stub_env("1", "counter", "0", "3");
  eahas_meter *m = open_nvml(EAHAS_METER_NVML, stub_path, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EIO);
  assert_string_equal(e.msg, "gpu-0: nvmlDeviceGetTotalEnergyConsumption failed during the measurement: GPU is lost");
  eahas_meter_close(m);
  /* Power sampling: the thread meets the failure; the next read reports it. */
  stub_env("1", "power", "0", "5");
  m = open_nvml(EAHAS_METER_NVML, stub_path, 0.01, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  usleep(150000);
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EIO);
  assert_string_equal(e.msg, "gpu-0: nvmlDeviceGetPowerUsage failed during the measurement: GPU is lost");
  assert_int_equal(eahas_meter_stop(m, &rd, &e), EAHAS_EIO);
  eahas_meter_close(m);
}

static void test_auto_gpu_and_cpu(void **state) {
  (void)state;
  stub_env("1", "counter", "0", "-1");
  char *r = ft_root();
  ft_zone(r, "intel-rapl:0", "package-0", 0, 262143328850ULL);
  eahas_meter_opts o = {.kind = EAHAS_METER_AUTO, .nvml_lib = stub_path, .powercap_root = r};
  eahas_meter *m;
  eahas_err e = {0};
  assert_int_equal(eahas_meter_open(&o, &m, &e), 0);
  assert_string_equal(eahas_meter_method(m), "nvml-counter+rapl");
  assert_double_equal(eahas_meter_update_period_s(m), 0.1, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  usleep(50000);
  ft_set(r, "intel-rapl:0", 7000000);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_int_equal(rd.n_domains, 2);
  assert_string_equal(rd.domains[0].name, "gpu-0");
  assert_string_equal(rd.domains[1].name, "package-0");
  assert_double_equal(rd.domains[1].energy_j, 7.0, 1e-9);
  assert_double_equal(rd.energy_j, 7.0 + rd.domains[0].energy_j, 1e-9);
  assert_true(rd.domains[0].energy_j > 0);
  eahas_meter_close(m);
  ft_rm(r);
  free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter),       cmocka_unit_test(test_power_fallback),
      cmocka_unit_test(test_library_missing_and_no_gpu), cmocka_unit_test(test_fails_mid_run),
      cmocka_unit_test(test_auto_gpu_and_cpu),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
