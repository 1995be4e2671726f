/* Tests of the pycls samplers (distributions against their exact probabilities), sampling under
 * preset constraints, reproducibility, mutation and the local-search neighbourhood. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>

#include "eahas/space.h"

#define N_DRAWS 100000
#define GOLDEN_CIFAR10_SEED1 "d=8,w0=120,wa=22.8,wm=2.674,gw=16,lr=0.5,opt=adam,sched=lin,cutout=0,epochs=200"

/* |count - n p| within 4 standard errors sqrt(n p (1 - p)). */
static void assert_freq(long count, long n, double p, const char *what, int value) {
  double se = sqrt(n * p * (1 - p));
  if (fabs(count - n * p) > 4 * se)
    fail_msg("%s=%d: %ld of %ld draws, expected %.1f +- 4*%.1f", what, value, count, n, n * p, se);
}

/* Exact probabilities of power2_or_log_uniform(1, 32, 8), the group-width sampler:
 * power2_uniform(1, 32, 1) draws e = floor(U[0, 6)), so f = 1, 2, 4, 8, 16, 32 with 1/6 each.
 * f = 1, 2, 4 (< q = 8) are kept: 1/6 each. Otherwise (probability 1/2) the value is redrawn by
 * log_uniform(8, 32, 8): g is log-uniform on (8 - min(8, 8/2), 32] = (4, 32], total log-length
 * ln 8, then ceiled to a multiple of 8:
 *   8  <- (4, 8]:   ln 2 / ln 8 = 1/3       -> overall 1/6
 *   16 <- (8, 16]:  ln 2 / ln 8 = 1/3       -> overall 1/6
 *   24 <- (16, 24]: ln(3/2) / ln 8          -> overall ln(3/2) / (2 ln 8) = 0.097487
 *   32 <- (24, 32]: ln(4/3) / ln 8          -> overall ln(4/3) / (2 ln 8) = 0.069180
 * The seven sum to 1. */
static void test_group_width_frequencies(void **state) {
  (void)state;
  const double l8 = log(8.0);
  const double p[EAHAS_NUM_GW] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, log(1.5) / (2 * l8),
                                  log(4.0 / 3) / (2 * l8)};
  double sum = 0;
  for (int i = 0; i < EAHAS_NUM_GW; i++) sum += p[i];
  assert_float_equal(sum, 1.0, 1e-12);
  eahas_rng r;
  eahas_rng_seed(&r, 2023);
  long count[EAHAS_NUM_GW] = {0};
  for (int i = 0; i < N_DRAWS; i++) {
    double g = eahas_sample_power2_or_log_uniform(&r, 1, 32, 8);
    int k = -1;
    for (int j = 0; j < EAHAS_NUM_GW; j++)
      if (g == EAHAS_GW_VALUES[j]) k = j;
    if (k < 0) fail_msg("group width %g is not one of the seven values", g);
    count[k]++;
  }
  for (int j = 0; j < EAHAS_NUM_GW; j++) assert_freq(count[j], N_DRAWS, p[j], "gw", EAHAS_GW_VALUES[j]);
}

/* uniform(6, 15, 1): floor of U[6, 16): each depth 1/10. power2_uniform(1, 32, 1): 1/6 each. */
static void test_uniform_and_power2(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 5);
  long cd[10] = {0}, cp[6] = {0};
  for (int i = 0; i < N_DRAWS; i++) {
    double d = eahas_sample_uniform(&r, 6, 15, 1);
    assert_true(d >= 6 && d <= 15 && d == floor(d));
    cd[(int)d - 6]++;
    double p2 = eahas_sample_power2_uniform(&r, 1, 32, 1);
    int e = (int)log2(p2);
    assert_true(p2 == exp2(e) && e >= 0 && e <= 5);
    cp[e]++;
  }
  for (int k = 0; k < 10; k++) assert_freq(cd[k], N_DRAWS, 0.1, "d", k + 6);
  for (int k = 0; k < 6; k++) assert_freq(cp[k], N_DRAWS, 1.0 / 6, "2^e", 1 << k);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Kolmogorov-Smirnov: log_uniform(low, high, q) before quantization is log-uniform on
 * (lo', high], lo' = low - min(q, low/2), so P(X <= x) = ln(x / lo') / ln(high / lo') at every
 * grid point x (ceil maps (x - q, x] to x). D = max |F_n - F| over the grid must stay under
 * 1.95 / sqrt(n), the 0.1 % critical value. Checked on the wa grid (8..32, q = 0.1) and on a
 * near-continuous grid (q = 1e-6), where the sample points themselves are used. */
static void test_log_uniform_ks(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 11);
  const double bound = 1.95 / sqrt((double)N_DRAWS);
  /* wa grid: counts per step */
  static long cnt[321];
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < N_DRAWS; i++) {
    double wa = eahas_sample_log_uniform(&r, 8.0, 32.0, 0.1);
    long k = lround(wa * 10);
    assert_true(k >= 80 && k <= 320);
    assert_true(fabs(wa * 10 - k) < 1e-9); /* on the 0.1 grid */
    cnt[k]++;
  }
  const double lo = 8.0 - 0.1;
  double d_max = 0, cum = 0;
  for (int k = 80; k <= 320; k++) {
    cum += cnt[k];
    double f = log((k / 10.0) / lo) / log(32.0 / lo);
    d_max = fmax(d_max, fabs(cum / N_DRAWS - f));
  }
  if (d_max > bound) fail_msg("KS D=%g above %g on the wa grid", d_max, bound);
  /* near-continuous */
  double *x = malloc(sizeof(double) * N_DRAWS);
  assert_non_null(x);
  for (int i = 0; i < N_DRAWS; i++) x[i] = eahas_sample_log_uniform(&r, 1.0, 100.0, 1e-6);
  qsort(x, N_DRAWS, sizeof *x, cmp_double);
  const double lo2 = 1.0 - 1e-6;
  d_max = 0;
  for (int i = 0; i < N_DRAWS; i++) {
    double f = log(x[i] / lo2) / log(100.0 / lo2);
    d_max = fmax(d_max, fmax(fabs((i + 1.0) / N_DRAWS - f), fabs((double)i / N_DRAWS - f)));
  }
  free(x);
  if (d_max > bound) fail_msg("KS D=%g above %g (continuous)", d_max, bound);
  /* and a clearly wrong law must fail the same test: uniform on [8, 32] */
  d_max = 0;
  for (int k = 80; k <= 320; k++) {
    double f_uni = (k / 10.0 - 7.9) / (32.0 - 7.9);
    double f = log((k / 10.0) / lo) / log(32.0 / lo);
    d_max = fmax(d_max, fabs(f_uni - f));
  }
  assert_true(d_max > 10 * bound);
}

/* Every raw draw has each value in range and on its grid, for each preset; wm spans the
 * preset's range (both ends reached). */
static void test_raw_range_and_grid(void **state) {
  (void)state;
  const eahas_preset *const *all = eahas_preset_all();
  for (int pi = 0; all[pi]; pi++) {
    const eahas_preset *p = all[pi];
    eahas_rng r;
    eahas_rng_seed(&r, 100 + pi);
    int wm_lo = 1 << 30, wm_hi = 0, wa_lo = 1 << 30, wa_hi = 0, w0_lo = 1 << 30, w0_hi = 0;
    long lr_count[EAHAS_NUM_LR] = {0};
    for (int i = 0; i < N_DRAWS; i++) {
      eahas_config c;
      eahas_config_sample_raw(&r, p, &c);
      eahas_err e = {0};
      if (eahas_config_validate(&c, p, 0, &e) != 0) fail_msg("%s: %s", p->name, e.msg);
      char buf[EAHAS_CONFIG_TEXT_MAX];
      eahas_config_format(&c, buf, sizeof buf);
      eahas_config back;
      assert_int_equal(eahas_config_parse(buf, &back, NULL), 0);
      assert_true(eahas_config_equal(&c, &back));
      wm_lo = c.wm1000 < wm_lo ? c.wm1000 : wm_lo;
      wm_hi = c.wm1000 > wm_hi ? c.wm1000 : wm_hi;
      wa_lo = c.wa10 < wa_lo ? c.wa10 : wa_lo;
      wa_hi = c.wa10 > wa_hi ? c.wa10 : wa_hi;
      w0_lo = c.w0 < w0_lo ? c.w0 : w0_lo;
      w0_hi = c.w0 > w0_hi ? c.w0 : w0_hi;
      lr_count[c.lr_idx]++;
    }
    assert_int_equal(wm_lo, p->wm1000_min);
    assert_int_equal(wm_hi, p->wm1000_max);
    assert_int_equal(wa_lo, 80);
    assert_int_equal(wa_hi, 320);
    assert_int_equal(w0_lo, 48);
    assert_int_equal(w0_hi, 128);
    for (int k = 0; k < EAHAS_NUM_LR; k++) assert_freq(lr_count[k], N_DRAWS, 0.1, "lr index", k);
  }
}

/* Same seed, same configs; different seed, different configs. Sampled configs satisfy the
 * preset constraints. */
static void test_sample_constrained(void **state) {
  (void)state;
  const eahas_preset *const *all = eahas_preset_all();
  for (int pi = 0; all[pi]; pi++) {
    const eahas_preset *p = all[pi];
    eahas_rng a, b, c;
    eahas_rng_seed(&a, 1);
    eahas_rng_seed(&b, 1);
    eahas_rng_seed(&c, 2);
    int differ = 0;
    for (int i = 0; i < 200; i++) {
      eahas_config x, y, z;
      eahas_err e = {0};
      assert_int_equal(eahas_config_sample(&a, p, 0, &x, &e), 0);
      assert_int_equal(eahas_config_sample(&b, p, 0, &y, &e), 0);
      assert_int_equal(eahas_config_sample(&c, p, 0, &z, &e), 0);
      assert_true(eahas_config_equal(&x, &y));
      differ += !eahas_config_equal(&x, &z);
      if (eahas_config_validate(&x, p, 1, &e) != 0) fail_msg("%s: %s", p->name, e.msg);
      eahas_regnet r;
      eahas_complexity cx;
      assert_int_equal(eahas_config_complexity(&x, p, &r, &cx, NULL), 0);
      assert_int_equal(r.num_stages, 2);
      assert_int_equal(r.max_stages, 2);
      if (p->flops_max > 0) assert_true(cx.flops >= p->flops_min && cx.flops <= p->flops_max);
    }
    assert_true(differ > 190);
  }
}

/* The first cifar10 config of seed 1 is fixed: a change in any sampler or in the RNG shows. */
static void test_sample_golden(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 1);
  eahas_config c;
  assert_int_equal(eahas_config_sample(&r, eahas_preset_get("cifar10"), 0, &c, NULL), 0);
  char buf[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&c, buf, sizeof buf);
  assert_string_equal(buf, GOLDEN_CIFAR10_SEED1);
}

/* Impossible constraints hit the attempt cap with a clear error. */
static void test_sample_cap(void **state) {
  (void)state;
  eahas_preset p = *eahas_preset_get("cifar10");
  p.flops_min = 1e12;
  p.flops_max = 2e12;
  eahas_rng r;
  eahas_rng_seed(&r, 3);
  eahas_config c;
  eahas_err e = {0};
  assert_int_equal(eahas_config_sample(&r, &p, 500, &c, &e), EAHAS_ECONSTRAINT);
  assert_string_equal(e.msg, "no config satisfying preset cifar10 (wm in [2.500, 3.000], exactly 2 stages, "
                             "flops in [1e+12, 2e+12], params <= 2e+06, acts <= 1e+06) in 500 attempts");
}

/* Mutates from many sampled configs of preset p; counts which dimension changed. A mutation
 * changes exactly one of d, w0, wa, wm, gw, lr, opt, sched and stays valid. */
static void mutation_hits(eahas_rng *r, const eahas_preset *p, int hits[8]) {
  eahas_config c;
  for (int i = 0; i < 4000; i++) {
    if (i % 20 == 0) assert_int_equal(eahas_config_sample(r, p, 0, &c, NULL), 0);
    eahas_config m;
    eahas_err e = {0};
    if (eahas_config_mutate(r, p, &c, 0, &m, &e) != 0) fail_msg("%s", e.msg);
    assert_int_equal(eahas_config_validate(&m, p, 1, NULL), 0);
    int diff[8] = {m.d != c.d, m.w0 != c.w0, m.wa10 != c.wa10, m.wm1000 != c.wm1000,
                   m.gw != c.gw, m.lr_idx != c.lr_idx, m.opt != c.opt, m.sched != c.sched};
    int nd = 0;
    for (int k = 0; k < 8; k++) {
      nd += diff[k];
      hits[k] += diff[k];
    }
    assert_int_equal(nd, 1);
    assert_int_equal(m.cutout, c.cutout);
    assert_int_equal(m.epochs, c.epochs);
  }
}

/* Every dimension gets mutated under fashion-mnist (no flops band). Under cifar10 a new depth
 * almost never keeps flops inside the 4 % band (one block of the last stage is ~10 % of the
 * flops), so d is not required there; the rest are. */
static void test_mutate(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 9);
  int hits[8] = {0};
  mutation_hits(&r, eahas_preset_get("fashion-mnist"), hits);
  for (int k = 0; k < 8; k++)
    if (hits[k] == 0) fail_msg("fashion-mnist: dimension %d never mutated", k);
  memset(hits, 0, sizeof hits);
  const eahas_preset *p = eahas_preset_get("cifar10");
  mutation_hits(&r, p, hits);
  for (int k = 1; k < 8; k++)
    if (hits[k] == 0) fail_msg("cifar10: dimension %d never mutated", k);
  eahas_config c;
  assert_int_equal(eahas_config_sample(&r, p, 0, &c, NULL), 0);
  /* No valid mutation exists for a config that breaks the constraints whatever one changes:
   * the cap gives ECONSTRAINT. */
  eahas_preset bad = *p;
  bad.flops_min = 1e12;
  bad.flops_max = 2e12;
  eahas_config m;
  eahas_err e = {0};
  assert_int_equal(eahas_config_mutate(&r, &bad, &c, 50, &m, &e), EAHAS_ECONSTRAINT);
  assert_non_null(strstr(e.msg, "no valid mutation of d="));
}

static void test_neighbours(void **state) {
  (void)state;
  const eahas_preset *p = eahas_preset_get("cifar10");
  eahas_rng r, r2;
  eahas_rng_seed(&r, 4);
  eahas_config c;
  assert_int_equal(eahas_config_sample(&r, p, 0, &c, NULL), 0);
  eahas_config nb[20], nb2[20];
  eahas_rng_seed(&r, 77);
  eahas_rng_seed(&r2, 77);
  assert_int_equal(eahas_config_neighbours(&r, p, &c, 10, 10, nb, NULL), 20);
  assert_int_equal(eahas_config_neighbours(&r2, p, &c, 10, 10, nb2, NULL), 20);
  for (int i = 0; i < 20; i++) {
    assert_true(eahas_config_equal(&nb[i], &nb2[i]));
    assert_int_equal(eahas_config_validate(&nb[i], p, 1, NULL), 0);
    assert_false(eahas_config_equal(&nb[i], &c));
    for (int j = 0; j < i; j++) assert_false(eahas_config_equal(&nb[i], &nb[j]));
    int same_arch = nb[i].d == c.d && nb[i].w0 == c.w0 && nb[i].wa10 == c.wa10 && nb[i].wm1000 == c.wm1000 &&
                    nb[i].gw == c.gw;
    int same_hp = nb[i].lr_idx == c.lr_idx && nb[i].opt == c.opt && nb[i].sched == c.sched &&
                  nb[i].cutout == c.cutout && nb[i].epochs == c.epochs;
    if (i < 10) {
      assert_true(same_hp);
      assert_false(same_arch);
    } else {
      assert_true(same_arch);
      assert_false(same_hp);
    }
  }
  eahas_err e = {0};
  assert_int_equal(eahas_config_neighbours(&r, p, &c, -1, 10, nb, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "neighbour counts n_arch=-1, n_hp=10 must be >= 0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_width_frequencies), cmocka_unit_test(test_uniform_and_power2),
      cmocka_unit_test(test_log_uniform_ks),          cmocka_unit_test(test_raw_range_and_grid),
      cmocka_unit_test(test_sample_constrained),      cmocka_unit_test(test_sample_golden),
      cmocka_unit_test(test_sample_cap),              cmocka_unit_test(test_mutate),
      cmocka_unit_test(test_neighbours),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
