/* The estimate model and meter, measuring a command (exit statuses, signals, exec failures),
 * the perf backend's clean failures, and the meter's life cycle. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "energy/fake_tree.h"
#include "energy/internal.h"

static void burn_cpu(double seconds) {
  double t0 = eahas_cpu_time_s();
  volatile double x = 0;
  while (eahas_cpu_time_s() - t0 < seconds)
    for (int i = 0; i < 10000; i++) x += i * 1e-9;
}

static double param(const char *params, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "%s=", key);
  const char *p = strstr(params, k);
  if (!p) fail_msg("no %s in '%s'", key, params);
  return atof(p + strlen(k));
}

static void test_model_values(void **state) {
  (void)state;
  eahas_estimate_params p;
  eahas_estimate_params_default(&p);
  assert_double_equal(p.tdp_w, 150, 0);
  assert_double_equal(p.tdp_cores, 20, 0);
  double cpu_j, dram_j;
  /* 2 CPU-seconds in 1 s of wall time with 1 GiB: active 105/20 W * 2 s = 10.5 J, idle share
   * 45/20 W * max(1, 2) s = 4.5 J, DRAM 0.3725 W * 1 GiB * 1 s. */
  eahas_energy_estimate_model(&p, 2.0, 1.0, 1.0, &cpu_j, &dram_j);
  assert_double_equal(cpu_j, 15.0, 1e-12);
  assert_double_equal(dram_j, 0.3725, 1e-12);
  /* An idle process for 10 s: only the idle share of one core. */
  eahas_energy_estimate_model(&p, 0.0, 10.0, 0.0, &cpu_j, &dram_j);
  assert_double_equal(cpu_j, 22.5, 1e-12);
  assert_double_equal(dram_j, 0.0, 0);
  /* A busy core for 1 s costs TDP / cores, as in Green Algorithms. */
  eahas_energy_estimate_model(&p, 1.0, 1.0, 0.0, &cpu_j, &dram_j);
  assert_double_equal(cpu_j, 7.5, 1e-12);
}

static void test_params_parse(void **state) {
  (void)state;
  eahas_estimate_params p;
  eahas_estimate_params_default(&p);
  eahas_err e = {0};
  assert_int_equal(eahas_estimate_params_parse("tdp_w=280,tdp_cores=64", &p, &e), 0);
  assert_double_equal(p.tdp_w, 280, 0);
  assert_double_equal(p.tdp_cores, 64, 0);
  assert_double_equal(p.idle_fraction, 0.3, 0);
  assert_int_equal(eahas_estimate_params_parse("idle_fraction=1", &p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "estimate parameter idle_fraction=1 is outside [0, 1)");
  assert_int_equal(eahas_estimate_params_parse("watts=3", &p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "unknown estimate parameter 'watts' (known: tdp_w, tdp_cores, idle_fraction, dram_w_per_gib)");
  assert_int_equal(eahas_estimate_params_parse("tdp_w=abc", &p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "estimate parameter 'tdp_w': 'abc' is not a number");
  assert_int_equal(eahas_estimate_params_parse("tdp_w", &p, &e), EAHAS_EINVAL);
  assert_int_equal(eahas_estimate_params_parse("tdp_w=100,tdp_cores=8,tdp_w=200", &p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "estimate parameter 'tdp_w' is given twice in 'tdp_w=100,tdp_cores=8,tdp_w=200'");
  assert_double_equal(p.tdp_w, 280, 0); /* unchanged on error */
  assert_double_equal(p.tdp_cores, 64, 0);
  /* Bad parameters refuse to open a meter. */
  p.tdp_cores = 0;
  eahas_meter_opts o = {.kind = EAHAS_METER_ESTIMATE, .estimate = &p};
  eahas_meter *m;
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "estimate parameter tdp_cores=0 is outside [1, 4096]");
}

static void test_estimate_self(void **state) {
  (void)state;
  eahas_meter_opts o = {.kind = EAHAS_METER_ESTIMATE};
  eahas_meter *m;
  eahas_err e = {0};
  assert_int_equal(eahas_meter_open(&o, &m, &e), 0);
  assert_string_equal(eahas_meter_method(m), "estimate:cpu-tdp-v1");
  assert_true(eahas_method_is_estimate(eahas_meter_method(m)));
  assert_double_equal(eahas_meter_update_period_s(m), 0.01, 0);
  assert_false(eahas_method_is_estimate("rapl"));
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EINVAL); /* before start */
  assert_int_equal(eahas_meter_start(m, &e), 0);
  burn_cpu(0.2);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  double cpu_s = param(rd.params, "cpu_s"), rss = param(rd.params, "rss_gib");
  assert_true(cpu_s >= 0.2 && cpu_s < 0.3);
  assert_true(rss > 0 && rss < 1);
  assert_double_equal(param(rd.params, "tdp_w"), 150, 0);
  assert_non_null(strstr(rd.params, "model=cpu-tdp-v1"));
  eahas_estimate_params p;
  eahas_estimate_params_default(&p);
  double cpu_j, dram_j;
  eahas_energy_estimate_model(&p, cpu_s, rd.duration_s, rss, &cpu_j, &dram_j);
  assert_int_equal(rd.n_domains, 2);
  assert_string_equal(rd.domains[0].name, "cpu-estimate");
  assert_string_equal(rd.domains[1].name, "dram-estimate");
  assert_double_equal(rd.domains[0].energy_j, cpu_j, 1e-3); /* params print cpu_s to 4 digits */
  assert_double_equal(rd.domains[1].energy_j, dram_j, 1e-3);
  /* Cumulative: a later read never shows less. */
  eahas_energy_reading rd2;
  burn_cpu(0.05);
  assert_int_equal(eahas_meter_read(m, &rd2, &e), 0);
  assert_true(rd2.energy_j > rd.energy_j);
  eahas_meter_close(m);
}

static void test_estimate_other_process(void **state) {
  (void)state;
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50000);
    burn_cpu(0.25);
    _exit(0);
  }
  eahas_meter_opts o = {.kind = EAHAS_METER_ESTIMATE, .pid = pid};
  eahas_meter *m;
  eahas_err e = {0};
  assert_int_equal(eahas_meter_open(&o, &m, &e), 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  siginfo_t si;
  waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT); /* a zombie: /proc still has its times */
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  double cpu_s = param(rd.params, "cpu_s");
  assert_true(cpu_s >= 0.2 && cpu_s < 0.35);
  waitpid(pid, NULL, 0);
  /* Gone: the last figures stay. */
  eahas_energy_reading rd2;
  assert_int_equal(eahas_meter_read(m, &rd2, &e), 0);
  assert_double_equal(param(rd2.params, "cpu_s"), cpu_s, 0);
  eahas_meter_close(m);
  /* A pid that does not exist. */
  o.pid = pid;
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "not found"));
}

static void test_run_command(void **state) {
  (void)state;
  eahas_meter_opts o = {.kind = EAHAS_METER_ESTIMATE};
  eahas_energy_run_result res;
  eahas_err e = {0};
  char *sleep_cmd[] = {"sleep", "0.3", NULL};
  assert_int_equal(eahas_energy_run(&o, sleep_cmd, &res, &e), 0);
  assert_int_equal(res.exit_status, 0);
  /* Never shorter than the command; the upper slack allows a loaded machine and slow forks. */
  assert_true(res.reading.duration_s >= 0.299 && res.reading.duration_s < 0.4);
  assert_string_equal(res.reading.method, "estimate:cpu-tdp-v1");
  assert_true(res.cpu_s < 0.05);
  /* Idle share of one core over 0.3 s dominates: 2.25 W * 0.3 s. */
  assert_double_equal(res.reading.domains[0].energy_j, 2.25 * res.reading.duration_s + 5.25 * res.cpu_s,
                      1e-3);
  char *burn[] = {"sh", "-c", "i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; exit 3", NULL};
  assert_int_equal(eahas_energy_run(&o, burn, &res, &e), 0);
  assert_int_equal(res.exit_status, 3);
  assert_true(res.cpu_s > 0.01);
  assert_double_equal(param(res.reading.params, "cpu_s"), res.cpu_s, 1e-4);
  char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
  assert_int_equal(eahas_energy_run(&o, killed, &res, &e), 0);
  assert_int_equal(res.term_signal, SIGTERM);
  assert_int_equal(res.exit_status, 128 + SIGTERM);
  char *missing[] = {"/nonexistent/command", NULL};
  assert_int_equal(eahas_energy_run(&o, missing, &res, &e), EAHAS_ENOTFOUND);
  assert_int_equal(res.exit_status, 127);
  assert_string_equal(e.msg, "cannot run '/nonexistent/command': No such file or directory");
  char plain[] = "/tmp/eahas-energy-plain-XXXXXX";
  int fd = mkstemp(plain); /* mode 0600: not executable */
  assert_true(fd >= 0);
  close(fd);
  char *notexec[] = {plain, NULL};
  assert_int_equal(eahas_energy_run(&o, notexec, &res, &e), EAHAS_ENOTFOUND);
  assert_int_equal(res.exit_status, 126);
  assert_non_null(strstr(e.msg, "Permission denied"));
  unlink(plain);
  char *empty[] = {NULL};
  assert_int_equal(eahas_energy_run(&o, empty, &res, &e), EAHAS_EINVAL);
  /* An unavailable forced meter: the command is not run. */
  eahas_meter_opts r = {.kind = EAHAS_METER_RAPL, .powercap_root = "/nonexistent"};
  char *touch[] = {"touch", "/tmp/eahas-energy-should-not-exist", NULL};
  assert_int_equal(eahas_energy_run(&r, touch, &res, &e), EAHAS_EUNAVAIL);
  assert_int_equal(access("/tmp/eahas-energy-should-not-exist", F_OK), -1);
}

static void test_perf_unavailable(void **state) {
  (void)state;
  eahas_meter_opts o = {.kind = EAHAS_METER_PERF, .perf_root = "/nonexistent"};
  eahas_meter *m;
  eahas_err e = {0};
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "no RAPL perf events: cannot read /nonexistent/power/type"));
  /* A described PMU that the kernel does not have: perf_event_open fails cleanly, as
   * unavailable, or as denied where the sandbox forbids perf_event_open. */
  char *r = ft_root();
  char d[PATH_MAX];
  snprintf(d, sizeof d, "%s/power", r);
  mkdir(d, 0755);
  snprintf(d, sizeof d, "%s/power/events", r);
  mkdir(d, 0755);
  char p[2 * PATH_MAX];
  snprintf(p, sizeof p, "%s/power/type", r);
  ft_write(p, "4000\n");
  snprintf(p, sizeof p, "%s/power/cpumask", r);
  ft_write(p, "0\n");
  o.perf_root = r;
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "events/energy-pkg is missing"));
  snprintf(p, sizeof p, "%s/power/events/energy-pkg", r);
  ft_write(p, "event=0x02\n");
  snprintf(p, sizeof p, "%s/power/events/energy-pkg.scale", r);
  ft_write(p, "2.3283064365386962890625e-10\n");
  snprintf(p, sizeof p, "%s/power/events/energy-pkg.unit", r);
  ft_write(p, "Watts\n");
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "expected 'Joules'"));
  ft_write(p, "Joules\n");
  int rc = eahas_meter_open(&o, &m, &e);
  assert_true(rc == EAHAS_EUNAVAIL || rc == EAHAS_EPERM);
  assert_non_null(strstr(e.msg, "perf_event_open("));
  if (rc == EAHAS_EPERM) assert_non_null(strstr(e.msg, "perf_event_paranoid"));
  /* The real machine: whatever it has, a clean answer. */
  o.perf_root = NULL;
  rc = eahas_meter_open(&o, &m, &e);
  if (rc == 0) eahas_meter_close(m);
  else assert_true(rc == EAHAS_EUNAVAIL || rc == EAHAS_EPERM);
  ft_rm(r);
  free(r);
}

static void test_bad_options(void **state) {
  (void)state;
  eahas_meter *m;
  eahas_err e = {0};
  eahas_meter_opts o = {.kind = (eahas_meter_kind)42};
  assert_int_equal(eahas_meter_open(&o, &m, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "meter kind 42 is not one of auto, nvml, rapl, perf, estimate");
  eahas_meter_opts o2 = {.kind = EAHAS_METER_ESTIMATE, .interval_s = -1};
  assert_int_equal(eahas_meter_open(&o2, &m, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "meter interval -1 s is outside [0, 3600] (0 = default)");
  /* NULL options: AUTO with the real machine's defaults opens something. */
  assert_int_equal(eahas_meter_open(NULL, &m, &e), 0);
  const char *names[EAHAS_MAX_DOMAINS];
  assert_true(eahas_meter_domain_names(m, names, EAHAS_MAX_DOMAINS) >= 1);
  eahas_meter_close(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_values),   cmocka_unit_test(test_params_parse),
      cmocka_unit_test(test_estimate_self),  cmocka_unit_test(test_estimate_other_process),
      cmocka_unit_test(test_run_command),    cmocka_unit_test(test_perf_unavailable),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
