/* Fitting the surrogate set on synthetic runs: determinism for a seed, blob round trip, every
 * kind of corrupted or truncated blob refused with a message (never a crash), option errors, the
 * shared and per-curve network forms (predictions of every path alike, format 1 blobs read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/blob1.h"
#include "surrogate/internal.h"
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
  copy[8] = 3;
  assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "format version 3; this eahas reads versions 1 to 2"));
  memcpy(copy, "EAHASXXX", 8);
  assert_int_equal(eahas_surrogate_load(copy, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "magic"));
  free(copy);
  free(blob);
  eahas_surrogate_free(&a);
}

/* Same degree and control points, bit for bit (the struct's padding and the entries past the
 * degree are not set). */
static void assert_same_bezier(const eahas_bezier *a, const eahas_bezier *b) {
  assert_int_equal(a->degree, b->degree);
  assert_memory_equal(a->u, b->u, sizeof(double) * (size_t)(a->degree + 1));
  assert_memory_equal(a->y, b->y, sizeof(double) * (size_t)(a->degree + 1));
}

/* Every kind's prediction alike through eahas_surrogate_predict_curve (on a, and on d, its copy
 * read back from a blob), the many-network path (single queries) and the block path (batches),
 * mean and sd, bit for bit; kinds not modelled give NaN. */
static void paths_agree(const eahas_surrogate *a, const eahas_surrogate *d) {
  enum { Q = EAHAS__MLP_BLOCK };
  float X[Q][EAHAS_ENCODING_LEN], xT[EAHAS_ENCODING_LEN * Q];
  for (int q = 0; q < Q; q++) eahas_config_encode(&runs[q].config, P, X[q]);
  for (int f = 0; f < EAHAS_ENCODING_LEN; f++)
    for (int q = 0; q < Q; q++) xT[f * Q + q] = X[q][f];
  static eahas_bezier bm[Q][EAHAS_NUM_CURVES], bs[Q][EAHAS_NUM_CURVES];
  int block = eahas__surrogate_predict_block(d, xT, bm, bs) == 0;
  for (int q = 0; q < Q; q++) {
    eahas_bezier am[EAHAS_NUM_CURVES], as[EAHAS_NUM_CURVES];
    eahas__surrogate_predict_all(d, X[q], am, as);
    for (int k = 0; k < EAHAS_NUM_CURVES; k++) {
      eahas_bezier m1, s1, m2;
      eahas_surrogate_predict_curve(a, k, X[q], NULL, &m1, &s1);
      eahas_surrogate_predict_curve(d, k, X[q], NULL, &m2, NULL);
      if (!(a->curves_mask & (1 << k))) {
        assert_true(isnan(m1.y[0]) && isnan(m2.y[a->degree]) && isnan(s1.u[1]));
        continue;
      }
      assert_true(isfinite(m1.y[0]) && isfinite(m1.u[1]));
      assert_same_bezier(&m1, &m2);
      assert_same_bezier(&m1, &am[k]);
      assert_same_bezier(&s1, &as[k]);
      if (block) {
        assert_same_bezier(&m1, &bm[q][k]);
        assert_same_bezier(&s1, &bs[q][k]);
      }
    }
    /* the kinds differ: a kind's values are not another's (a wrong head would repeat them) */
    assert_true(memcmp(am[0].y, am[3].y, sizeof am[0].y[0] * (size_t)(am[0].degree + 1)) != 0);
  }
  if (!block) fprintf(stderr, "no AVX-512 here: the block path declines, not compared\n");
}

/* The two forms: shapes; every kind's prediction alike through eahas_surrogate_predict_curve,
 * the many-network path (single queries) and the block path (batches), mean and sd, bit for
 * bit; round trips; a per-curve set read back from a format-1 blob predicts the same. */
static void test_forms(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  o.members = 3;
  eahas_err e = {0};
  for (int per_curve = 0; per_curve <= 1; per_curve++) {
    o.per_curve = per_curve;
    eahas_surrogate a, d;
    assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &a, &e), 0);
    assert_int_equal(a.shared, !per_curve);
    assert_int_equal(a.curves_mask, 15);
    for (int k = 0; k < EAHAS_NUM_CURVES; k++)
      for (int m = 0; m < 3; m++) {
        const eahas_mlp *mm = &a.mlp[k][m];
        if (per_curve || k == 0) {
          assert_int_equal(mm->n_out, per_curve ? 2 * a.degree : 4 * 2 * a.degree);
          assert_int_equal(mm->n_sigmoid, per_curve ? 2 : 8);
        } else
          assert_int_equal(mm->n_params, 0); /* the shared form uses mlp[0] only */
      }
    unsigned char *blob;
    size_t len;
    assert_int_equal(eahas_surrogate_save(&a, &blob, &len, &e), 0);
    size_t l1;
    unsigned char *b1 = as_format1(&a, blob, len, NULL, &l1);
    if (per_curve) {
      assert_int_equal(eahas_surrogate_load(b1, l1, &d, &e), 0);
      assert_int_equal(d.format_version, 1);
      assert_int_equal(d.shared, 0);
    } else {
      /* a shared set's weights do not fit format 1's per-curve shapes: refused, named */
      assert_int_equal(eahas_surrogate_load(b1, l1, &d, &e), EAHAS_EFORMAT);
      assert_non_null(strstr(e.msg, "parameters stored"));
      assert_int_equal(eahas_surrogate_load(blob, len, &d, &e), 0);
    }
    paths_agree(&a, &d);
    eahas_surrogate_free(&a);
    eahas_surrogate_free(&d);
    free(blob);
    free(b1);
  }
  /* a kind missing in the middle (test_acc_plain all zeros: mask 13): the heads of the kinds after
   * it move up by one in the shared network, and every path still finds each kind's values */
  static double saved_plain[NRUNS][EAHAS_MAX_EPOCHS];
  for (int i = 0; i < NRUNS; i++) {
    memcpy(saved_plain[i], runs[i].test_acc, sizeof(double) * (size_t)runs[i].epochs_trained);
    memset(runs[i].test_acc, 0, sizeof(double) * (size_t)runs[i].epochs_trained);
  }
  eahas_surrogate m13[2], r13[2];
  int rc13[2];
  for (int per_curve = 0; per_curve <= 1; per_curve++) {
    o.per_curve = per_curve;
    rc13[per_curve] = eahas_surrogate_fit(runs, NRUNS, P, &o, &m13[per_curve], &e);
  }
  for (int i = 0; i < NRUNS; i++) memcpy(runs[i].test_acc, saved_plain[i], sizeof(double) * (size_t)runs[i].epochs_trained);
  for (int per_curve = 0; per_curve <= 1; per_curve++) {
    assert_int_equal(rc13[per_curve], 0);
    assert_int_equal(m13[per_curve].curves_mask, 13);
    unsigned char *blob;
    size_t len;
    assert_int_equal(eahas_surrogate_save(&m13[per_curve], &blob, &len, &e), 0);
    assert_int_equal(eahas_surrogate_load(blob, len, &r13[per_curve], &e), 0);
    paths_agree(&m13[per_curve], &r13[per_curve]);
    eahas_surrogate_free(&m13[per_curve]);
    eahas_surrogate_free(&r13[per_curve]);
    free(blob);
  }
  /* a kind the runs do not hold (train_acc all zeros) is left out of the shared network: 3 heads,
   * and its prediction is NaN, not another kind's values */
  static double saved[NRUNS][EAHAS_MAX_EPOCHS];
  for (int i = 0; i < NRUNS; i++) {
    memcpy(saved[i], runs[i].train_acc, sizeof(double) * (size_t)runs[i].epochs_trained);
    memset(runs[i].train_acc, 0, sizeof(double) * (size_t)runs[i].epochs_trained);
  }
  o.per_curve = 0;
  o.members = 2;
  eahas_surrogate t3;
  int rc3 = eahas_surrogate_fit(runs, NRUNS, P, &o, &t3, &e);
  for (int i = 0; i < NRUNS; i++) memcpy(runs[i].train_acc, saved[i], sizeof(double) * (size_t)runs[i].epochs_trained);
  assert_int_equal(rc3, 0);
  assert_int_equal(t3.curves_mask, 7);
  assert_int_equal(t3.mlp[0][0].n_out, 3 * 2 * t3.degree);
  assert_int_equal(t3.mlp[0][0].n_sigmoid, 6);
  float x3[EAHAS_ENCODING_LEN];
  eahas_config_encode(&runs[0].config, P, x3);
  eahas_bezier mt, st, mv;
  eahas_surrogate_predict_curve(&t3, EAHAS_CURVE_TRAIN, x3, NULL, &mt, &st);
  eahas_surrogate_predict_curve(&t3, EAHAS_CURVE_VAL, x3, NULL, &mv, NULL);
  assert_true(isnan(mt.y[0]) && isnan(mt.y[t3.degree]) && isnan(st.y[1]));
  assert_true(isfinite(mv.y[0]) && isfinite(mv.y[t3.degree]));
  eahas_surrogate_free(&t3);
  /* a "shared" field other than 0 or 1 is refused, named */
  o.per_curve = 0;
  o.members = 1;
  eahas_surrogate a, d;
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &a, &e), 0);
  unsigned char *blob;
  size_t len;
  assert_int_equal(eahas_surrogate_save(&a, &blob, &len, &e), 0);
  blob[shared_offset(&a)] = 2;
  reseal(blob, len);
  assert_int_equal(eahas_surrogate_load(blob, len, &d, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "shared 2"));
  eahas_surrogate_free(&a);
  free(blob);
}

/* The shared network's output layout as documented (eahas_surrogate.shared), pinned without
 * the code's own mapping: with every weight and hidden bias zero the outputs are the output
 * biases, made distinct, and each kind's control points must come from the documented rows:
 * start and end of kind j at 2j and 2j + 1 (through the sigmoid), its inner u_1..u_{n-1} and
 * y_1..y_{n-1} at 2 nk + (2n - 2) j onwards. */
static void test_shared_layout(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  o.members = 1;
  eahas_surrogate a;
  eahas_err e = {0};
  assert_int_equal(eahas_surrogate_fit(runs, NRUNS, P, &o, &a, &e), 0);
  assert_int_equal(a.curves_mask, 15);
  eahas_mlp *m = &a.mlp[0][0];
  int n = a.degree, nk = 4;
  memset(m->params, 0, sizeof(float) * m->n_params);
  for (int r = 0; r < m->n_out; r++) m->bo[r] = 0.01f * (float)(r + 1);
  float x[EAHAS_ENCODING_LEN];
  eahas_config_encode(&runs[0].config, P, x);
  for (int j = 0; j < nk; j++) {
    eahas_bezier b;
    eahas_surrogate_predict_curve(&a, j, x, NULL, &b, NULL);
    float s0 = 1.0f / (1.0f + expf(-m->bo[2 * j])), s1 = 1.0f / (1.0f + expf(-m->bo[2 * j + 1]));
    assert_true(b.y[0] == 100.0 * s0 && b.y[n] == 100.0 * s1);
    assert_true(b.u[0] == 0 && b.u[n] == 1);
    int base = 2 * nk + (2 * n - 2) * j;
    for (int k = 1; k < n; k++) {
      if (b.u[k] != (double)m->bo[base + k - 1] || b.y[k] != 100.0 * m->bo[base + n - 1 + k - 1])
        fail_msg("kind %d, control point %d: u %.9g y %.9g not from rows %d and %d", j, k, b.u[k], b.y[k],
                 base + k - 1, base + n - 1 + k - 1);
    }
  }
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
  /* an edited value changes the hash (format 2); format 1's hash of ids and epochs does not see it */
  uint64_t h1 = eahas__runs_hash_format1(runs, NRUNS);
  double *arrays[] = {runs[5].test_acc_ema, runs[5].val_acc, runs[5].train_energy_j};
  for (int a = 0; a < 3; a++) {
    double *v = arrays[a] + 2, old = *v;
    *v = nextafter(old, 1e9);
    assert_true(eahas_runs_hash(runs, NRUNS) != h);
    assert_true(eahas__runs_hash_format1(runs, NRUNS) == h1);
    *v = old;
  }
  double iec = runs[5].iec_j_per_image;
  runs[5].iec_j_per_image *= 2;
  assert_true(eahas_runs_hash(runs, NRUNS) != h);
  runs[5].iec_j_per_image = iec;
  assert_true(eahas_runs_hash(runs, NRUNS) == h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_deterministic_and_round_trip), cmocka_unit_test(test_corrupted_blobs),
    cmocka_unit_test(test_option_errors), cmocka_unit_test(test_split_and_hash), cmocka_unit_test(test_forms),
    cmocka_unit_test(test_shared_layout),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
