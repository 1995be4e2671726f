/* RAPL powercap reader on fake sysfs trees: normal, wraparound during a measurement (also two
 * wraps between reads, caught by the polling thread), nested domains not double counted,
 * missing files, permission denied. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "energy/fake_tree.h"
#include "energy/internal.h"

#define RANGE 262143328850ULL /* max_energy_range_uj of a real Xeon package */

static eahas_meter *open_rapl(const char *root, double interval, eahas_err *e, int *rc) {
  eahas_meter_opts o = {.kind = EAHAS_METER_RAPL, .powercap_root = root, .interval_s = interval};
  eahas_meter *m = NULL;
  *rc = eahas_meter_open(&o, &m, e);
  return m;
}

/* Two packages with core, uncore and dram sub-zones, as /sys/class/powercap lists them (flat),
 * plus psys and an MMIO duplicate of package-0, neither of which may be counted. */
static char *server_tree(void) {
  char *r = ft_root();
  ft_zone(r, "intel-rapl:0", "package-0", 1000000, RANGE);
  ft_zone(r, "intel-rapl:0:0", "core", 500000, RANGE);
  ft_zone(r, "intel-rapl:0:1", "uncore", 100000, RANGE);
  ft_zone(r, "intel-rapl:0:2", "dram", 300000, 65532610987ULL);
  ft_zone(r, "intel-rapl:1", "package-1", 2000000, RANGE);
  ft_zone(r, "intel-rapl:1:0", "core", 700000, RANGE);
  ft_zone(r, "intel-rapl:1:1", "dram", 400000, 65532610987ULL);
  ft_zone(r, "intel-rapl:2", "psys", 9000000, RANGE);
  ft_zone(r, "intel-rapl-mmio:0", "package-0", 5000000, RANGE);
  return r;
}

static double dom(const eahas_energy_reading *r, const char *name) {
  for (int i = 0; i < r->n_domains; i++)
    if (strcmp(r->domains[i].name, name) == 0) return r->domains[i].energy_j;
  fail_msg("domain %s not in the reading", name);
  return NAN;
}

static void test_normal_and_nested(void **state) {
  (void)state;
  char *r = server_tree();
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(eahas_meter_method(m), "rapl");
  assert_double_equal(eahas_meter_update_period_s(m), 0.001, 0);
  const char *names[EAHAS_MAX_DOMAINS];
  assert_int_equal(eahas_meter_domain_names(m, names, EAHAS_MAX_DOMAINS), 4);
  assert_string_equal(names[0], "package-0");
  assert_string_equal(names[1], "package-1");
  assert_string_equal(names[2], "dram-0");
  assert_string_equal(names[3], "dram-1");
  assert_int_equal(eahas_meter_start(m, &e), 0);
  /* Everything grows; only packages and drams may be summed. */
  ft_set(r, "intel-rapl:0", 1000000 + 10000000);   /* +10 J */
  ft_set(r, "intel-rapl:0:0", 500000 + 8000000);   /* core +8 J: inside package-0 */
  ft_set(r, "intel-rapl:0:1", 100000 + 1000000);   /* uncore +1 J: inside package-0 */
  ft_set(r, "intel-rapl:0:2", 300000 + 2500000);   /* dram +2.5 J */
  ft_set(r, "intel-rapl:1", 2000000 + 20000000);   /* +20 J */
  ft_set(r, "intel-rapl:1:0", 700000 + 15000000);
  ft_set(r, "intel-rapl:1:1", 400000 + 1500000);   /* +1.5 J */
  ft_set(r, "intel-rapl:2", 9000000 + 99000000);   /* psys: includes the packages */
  ft_set(r, "intel-rapl-mmio:0", 5000000 + 10000000);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_int_equal(rd.n_domains, 4);
  assert_double_equal(dom(&rd, "package-0"), 10.0, 1e-9);
  assert_double_equal(dom(&rd, "package-1"), 20.0, 1e-9);
  assert_double_equal(dom(&rd, "dram-0"), 2.5, 1e-9);
  assert_double_equal(dom(&rd, "dram-1"), 1.5, 1e-9);
  assert_double_equal(rd.energy_j, 34.0, 1e-9);
  assert_string_equal(rd.method, "rapl");
  assert_string_equal(rd.params, "rapl_interval_s=1");
  assert_true(rd.duration_s >= 0 && rd.duration_s < 5);
  /* Reads are cumulative since start; stop freezes the figures. */
  ft_set(r, "intel-rapl:0", 1000000 + 12000000);
  eahas_energy_reading fin, again;
  assert_int_equal(eahas_meter_stop(m, &fin, &e), 0);
  assert_double_equal(fin.energy_j, 36.0, 1e-9);
  ft_set(r, "intel-rapl:0", 1000000 + 50000000);
  assert_int_equal(eahas_meter_read(m, &again, &e), 0);
  assert_double_equal(again.energy_j, 36.0, 1e-9);
  /* A restart measures from zero again. */
  assert_int_equal(eahas_meter_start(m, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.energy_j, 0.0, 1e-12);
  eahas_meter_close(m);
  ft_rm(r);
  free(r);
}

/* The layout under /sys/devices: sub-zones nested in their package's directory; an AMD-style
 * type name; psys alone is used when there is no package. */
static void test_nested_layout_amd_and_psys(void **state) {
  (void)state;
  char *r = ft_root();
  char pkg[PATH_MAX];
  snprintf(pkg, sizeof pkg, "%s", ft_zone(r, "amd-rapl:0", "package-0", 100, RANGE));
  ft_zone(pkg, "amd-rapl:0:0", "core", 50, RANGE);
  ft_zone(pkg, "amd-rapl:0:1", "dram", 10, RANGE);
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  const char *names[4];
  assert_int_equal(eahas_meter_domain_names(m, names, 4), 2);
  assert_string_equal(names[0], "package-0");
  assert_string_equal(names[1], "dram-0");
  assert_int_equal(eahas_meter_start(m, &e), 0);
  ft_set(r, "amd-rapl:0", 100 + 3000000);
  ft_set(pkg, "amd-rapl:0:0", 50 + 2000000);
  ft_set(pkg, "amd-rapl:0:1", 10 + 1000000);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.energy_j, 4.0, 1e-9);
  eahas_meter_close(m);
  ft_rm(r);
  free(r);

  r = ft_root();
  ft_zone(r, "intel-rapl:0", "psys", 0, RANGE);
  ft_zone(r, "intel-rapl:0:0", "core", 0, RANGE);
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_domain_names(m, names, 4), 1);
  assert_string_equal(names[0], "psys");
  eahas_meter_close(m);
  ft_rm(r);
  free(r);
}

static void test_wraparound(void **state) {
  (void)state;
  char *r = ft_root();
  const unsigned long long max = 1000000000ULL; /* 1 kJ: wraps every 1 s at 1 kW */
  ft_zone(r, "intel-rapl:0", "package-0", max - 1000, max);
  eahas_err e = {0};
  int rc;
  eahas_meter *m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_string_equal(m ? "" : "x", "");
  eahas_energy_reading rd;
  /* Default 1 s is capped at half the wrap period at 1 kW: 0.5 s. */
  assert_int_equal(eahas_meter_start(m, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_string_equal(rd.params, "rapl_interval_s=0.5");
  /* One wrap between reads: (max - prev) + cur. */
  ft_set(r, "intel-rapl:0", 500);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.energy_j, 1500e-6, 1e-12);
  ft_set(r, "intel-rapl:0", 2500);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.energy_j, 3500e-6, 1e-12);
  eahas_meter_close(m);

  /* Two wraps between the caller's reads: only the polling thread (every 10 ms here) sees the
   * value in between. Without it the result would be 1100 uJ. */
  ft_set(r, "intel-rapl:0", max - 1000);
  m = open_rapl(r, 0.01, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  ft_set(r, "intel-rapl:0", 500);            /* wrap: +1500 */
  usleep(80000);
  ft_set(r, "intel-rapl:0", max - 2000);     /* +max-2500 */
  usleep(80000);
  ft_set(r, "intel-rapl:0", 100);            /* wrap: +2100 */
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  assert_double_equal(rd.energy_j, (1500 + (max - 2500) + 2100) * 1e-6, 1e-9);
  eahas_meter_close(m);
  ft_rm(r);
  free(r);
}

static void test_helpers(void **state) {
  (void)state;
  assert_true(eahas_energy_wrap_delta(10, 30, 100) == 20);
  assert_true(eahas_energy_wrap_delta(90, 5, 100) == 15);
  assert_true(eahas_energy_wrap_delta(7, 7, 100) == 0);
  /* A real package range, 262143 J, at 1 kW wraps every 262 s: poll at most every 131 s. */
  assert_double_equal(eahas_energy_rapl_safe_interval(RANGE, 1000.0), 131.071664425, 1e-6);
  int cpus[8];
  assert_int_equal(eahas_energy_parse_cpulist("0,28", cpus, 8), 2);
  assert_int_equal(cpus[1], 28);
  assert_int_equal(eahas_energy_parse_cpulist("0-2,8\n", cpus, 8), 4);
  assert_int_equal(cpus[2], 2);
  assert_int_equal(cpus[3], 8);
  assert_int_equal(eahas_energy_parse_cpulist("3-1", cpus, 8), -1);
  assert_int_equal(eahas_energy_parse_cpulist("0-9", cpus, 8), -1);
  uint64_t cfg;
  assert_int_equal(eahas_energy_parse_perf_event("event=0x02", &cfg), 0);
  assert_true(cfg == 2);
  assert_int_equal(eahas_energy_parse_perf_event("event=0x02,umask=0x1", &cfg), -1);
  assert_int_equal(eahas_energy_parse_perf_event("config=1", &cfg), -1);
}

static void test_missing_files(void **state) {
  (void)state;
  eahas_err e = {0};
  int rc;
  /* No tree at all. */
  eahas_meter *m = open_rapl("/nonexistent/powercap", 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_null(m);
  assert_non_null(strstr(e.msg, "no RAPL: cannot open /nonexistent/powercap"));
  /* A tree without package or dram zones. */
  char *r = ft_root();
  ft_zone(r, "intel-rapl:0:0", "core", 0, RANGE);
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "no package or dram zone"));
  /* No max_energy_range_uj: the wraparound cannot be handled, so refuse. */
  char p[PATH_MAX + 64];
  ft_zone(r, "intel-rapl:0", "package-0", 0, 0);
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EIO);
  snprintf(p, sizeof p, "cannot read %s/intel-rapl:0/max_energy_range_uj: No such file", r);
  assert_non_null(strstr(e.msg, p));
  /* No name file. */
  ft_zone(r, "intel-rapl:0", "package-0", 0, RANGE);
  snprintf(p, sizeof p, "%s/intel-rapl:0:0/name", r);
  unlink(p);
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, EAHAS_EIO);
  assert_non_null(strstr(e.msg, p));
  ft_zone(r, "intel-rapl:0:0", "core", 0, RANGE);
  /* A malformed counter. */
  snprintf(p, sizeof p, "%s/intel-rapl:0/energy_uj", r);
  ft_write(p, "12x\n");
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0); /* opening reads it as text only */
  rc = eahas_meter_start(m, &e);
  assert_int_equal(rc, EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "holds '12x', expected an unsigned integer"));
  eahas_meter_close(m);
  /* A counter that vanishes during the measurement. */
  ft_write(p, "5\n");
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  unlink(p);
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EIO);
  assert_non_null(strstr(e.msg, p));
  /* Once failed, the measurement stays failed (its figure would be wrong) until restarted. */
  ft_write(p, "5\n");
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EIO);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  assert_int_equal(eahas_meter_read(m, &rd, &e), 0);
  eahas_meter_close(m);
  ft_rm(r);
  free(r);
}

/* Fails like a root-only energy_uj does for a normal user (CVE-2020-8694 made them 0400). */
static int deny_energy(const char *path, int flags) {
  size_t n = strlen(path);
  if (n >= 9 && strcmp(path + n - 9, "energy_uj") == 0 && strstr(path, "max_energy") == NULL) {
    errno = EACCES;
    return -1;
  }
  return open(path, flags);
}

static int deny_after_open = 0;
static int deny_later(const char *path, int flags) {
  return deny_after_open ? deny_energy(path, flags) : open(path, flags);
}

static void check_perm_msg(const eahas_err *e, const char *path) {
  assert_int_equal(e->code, EAHAS_EPERM);
  assert_non_null(strstr(e->msg, path));
  assert_non_null(strstr(e->msg, "Permission denied"));
  assert_non_null(strstr(e->msg, "chmod o+r"));
  assert_non_null(strstr(e->msg, "udev rule"));
  assert_non_null(strstr(e->msg, "run as root"));
}

static void test_permission_denied(void **state) {
  (void)state;
  char *r = ft_root();
  ft_zone(r, "intel-rapl:0", "package-0", 0, RANGE);
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/intel-rapl:0/energy_uj", r);
  eahas_err e = {0};
  int rc;
  /* Through the open hook: works as root too. */
  eahas_energy_open_hook = deny_energy;
  eahas_meter *m = open_rapl(r, 0, &e, &rc);
  eahas_energy_open_hook = NULL;
  assert_int_equal(rc, EAHAS_EPERM);
  assert_null(m);
  check_perm_msg(&e, p);
  /* AUTO falls back to the estimate but says why RAPL was not used and how to grant it. */
  eahas_energy_open_hook = deny_energy;
  eahas_meter_opts ao = {.kind = EAHAS_METER_AUTO, .powercap_root = r, .perf_root = "/nonexistent",
                         .nvml_lib = "/nonexistent.so"};
  assert_int_equal(eahas_meter_open(&ao, &m, &e), 0);
  eahas_energy_open_hook = NULL;
  assert_string_equal(eahas_meter_method(m), "estimate:cpu-tdp-v1");
  char want[2 * PATH_MAX];
  snprintf(want, sizeof want, "rapl: cannot read %s: Permission denied", p);
  assert_non_null(strstr(eahas_meter_note(m), want));
  assert_non_null(strstr(eahas_meter_note(m), "chmod o+r"));
  eahas_meter_close(m);
  /* Denied in the middle of a run (e.g. a udev rule reverted). */
  deny_after_open = 0;
  eahas_energy_open_hook = deny_later;
  m = open_rapl(r, 0, &e, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(eahas_meter_start(m, &e), 0);
  deny_after_open = 1;
  eahas_energy_reading rd;
  assert_int_equal(eahas_meter_read(m, &rd, &e), EAHAS_EPERM);
  check_perm_msg(&e, p);
  eahas_meter_close(m);
  eahas_energy_open_hook = NULL;
  /* With a real mode-000 file: root reads it anyway, so this part needs a normal user. */
  chmod(p, 0);
  if (geteuid() == 0) {
    print_message("[ SKIPPED  ] chmod-000 assertion: running as root, which reads mode-000 files "
                  "(the open-hook assertions above cover the same path)\n");
  } else {
    m = open_rapl(r, 0, &e, &rc);
    assert_int_equal(rc, EAHAS_EPERM);
    check_perm_msg(&e, p);
  }
  ft_rm(r);
  free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normal_and_nested), cmocka_unit_test(test_nested_layout_amd_and_psys),
      cmocka_unit_test(test_wraparound),        cmocka_unit_test(test_helpers),
      cmocka_unit_test(test_missing_files),     cmocka_unit_test(test_permission_denied),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
