/* Fitting the surrogate set on synthetic runs: determinism for a seed, blob round trip, every
 * kind of corrupted or truncated blob refused with a message (never a crash), option errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "eahas/surrogate.h"
#include "surrogate/synth.h"

#define NRUNS 60
static eahas_run_record runs[NRUNS];
static const eahas_preset *P;

static void small_opts(eahas_fit_opts *o) {
  eahas_fit_opts_default(o);
  o->members = 2;
  o->hidden = 16;
  o->epochs = 8;
  o->lr = 3e-3;
  o->xgb.rounds = 5;
  o->seed = 7;
}

static int setup(void **state) {
  (void)state;
  P = eahas_preset_get("cifar10");
  return synth_runs(P, 1, NRUNS, runs);
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < NRUNS; i++) eahas_run_record_free(&runs[i]);
  return 0;
}

static void test_deterministic_and_round_trip(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  eahas_surrogate a, b, c, d;
  eahas_err e = {0};
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &a, &e), 0);
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &b, &e), 0);
  o.seed = 8;
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &c, &e), 0);
  assert_int_equal(a.curves_mask, 15);
  assert_int_equal(a.n_fit_curves, NRUNS);
  assert_string_equal(a.energy_method, "estimate:synthetic");
  unsigned char *ba, *bb, *bc, *bd;
  size_t la, lb, lc, ld;
  assert_int_equal(eahas_surrogate_save(&a, &ba, &la, &e), 0);
  assert_int_equal(eahas_surrogate_save(&b, &bb, &lb, &e), 0);
  assert_int_equal(eahas_surrogate_save(&c, &bc, &lc, &e), 0);
  assert_true(la == lb && memcmp(ba, bb, la) == 0); /* same seed: the same bytes */
  assert_true(la != lc || memcmp(ba, bc, la) != 0); /* another seed: other members */
  assert_int_equal(eahas_surrogate_load(ba, la, &d, &e), 0);
  assert_int_equal(eahas_surrogate_save(&d, &bd, &ld, &e), 0);
  assert_true(la == ld && memcmp(ba, bd, la) == 0);
  /* the loaded set predicts exactly what the fitted set predicts (quality: test_bench_slow) */
  for (int i = 0; i < NRUNS; i++) {
    float x[EAHAS_ENCODING_LEN];
    eahas_config_encode(&runs[i].config, P, x);
    eahas_bezier m1, m2, s1;
    eahas_surrogate_predict_curve(&a, EAHAS_CURVE_TEST_EMA, x, &runs[i].config, &m1, &s1);
    eahas_surrogate_predict_curve(&d, EAHAS_CURVE_TEST_EMA, x, &runs[i].config, &m2, NULL);
    assert_memory_equal(&m1, &m2, sizeof m1);
    for (int k = 0; k <= a.degree; k++) assert_true(s1.y[k] >= 0 && isfinite(m1.y[k]));
  }
  eahas_surrogate_free(&a); eahas_surrogate_free(&b); eahas_surrogate_free(&c); eahas_surrogate_free(&d);
  free(ba); free(bb); free(bc); free(bd);
}

static void test_corrupted_blobs(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  o.members = 1;
  eahas_surrogate a, d;
  eahas_err e = {0};
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &a, &e), 0);
  unsigned char *blob;
  size_t len;
  assert_int_equal(eahas_surrogate_save(&a, &blob, &len, &e), 0);
  unsigned char *copy = malloc(len);
  /* every truncation */
  for (size_t cut = 0; cut < len; cut += 1 + len / 301) {
    memcpy(copy, blob, cut);
    assert_int_equal(eahas_surrogate_load(copy, cut, &d, &e), EAHAS_EFORMAT);
    assert_true(strstr(e.msg, "truncated") || strstr(e.msg, "magic"));
  }
  /* single flipped bytes anywhere */
  for (size_t at = 0; at < len; at += 1 + len / 199) {
    memcpy(copy, blob, len);
    copy[at] ^= 0x5a;
    assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  }
  memcpy(copy, blob, len);
  copy[len / 2] ^= 1;
  assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "checksum mismatch"));
  /* another format version is named */
  memcpy(copy, blob, len);
  copy[8] = 2;
  assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "format version 2; this eahas reads version 1"));
  memcpy(copy, "EAHASXXX", 8);
  assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "magic"));
  free(copy);
  free(blob);
  eahas_surrogate_free(&a);
}

static void test_option_errors(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  eahas_surrogate s;
  eahas_err e = {0};
  o.members = 0;
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &s, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "--members 0 is outside [1, 32]"));
  small_opts(&o);
  o.degree = 9;
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &s, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "--degree 9 is outside [3, 8]"));
  small_opts(&o);
  o.holdout = 1.0;
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &s, &e), EAHAS_EINVAL);
  small_opts(&o);
  assert_int_equal(eahas_surrogate_fit(runs, 5, P, &o, &s, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "only 5 complete runs"));
  assert_non_null(strstr(e.msg, "at least 8 are needed"));
}

static void test_split_and_hash(void **state) {
  (void)state;
  int held = 0;
  for (int i = 0; i < NRUNS; i++) held += eahas_split_is_holdout(&runs[i].config, 0.25, 3);
  assert_true(held > NRUNS / 8 && held < NRUNS * 3 / 8);
  for (int i = 0; i < NRUNS; i++)
    assert_int_equal(eahas_split_is_holdout(&runs[i].config, 0.25, 3), eahas_split_is_holdout(&runs[i].config, 0.25, 3));
  uint64_t h = eahas_runs_hash(runs, NRUNS);
  eahas_run_record tmp = runs[0]; /* order does not matter */
  runs[0] = runs[1];
  runs[1] = tmp;
  assert_true(eahas_runs_hash(runs, NRUNS) == h);
  assert_true(eahas_runs_hash(runs, NRUNS - 1) != h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deterministic_and_round_trip), cmocka_unit_test(test_corrupted_blobs),
    cmocka_unit_test(test_option_errors), cmocka_unit_test(test_split_and_hash),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
