/* Tree models: our evaluation of the exported JSON equals XGBoost's own predictions; the model
 * learns; malformed models are refused with a message. Also the metrics against hand values. */
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
#include "surrogate/internal.h"

static void make_data(int n, uint64_t seed, float *X, float *y) {
  eahas_rng r;
  eahas_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) {
    float *x = X + i * 26;
    for (int k = 0; k < 26; k++) x[k] = k < 5 ? (float)eahas_rng_uniform(&r) : (eahas_rng_uniform(&r) < 0.3 ? 1.0f : 0.0f);
    if (y) y[i] = (float)(2.0 + log(1 + 5 * x[0]) + 0.5 * x[1] * x[2] + 0.3 * x[7] - 0.2 * x[20]);
  }
}

static void test_forest_matches_xgboost(void **state) {
  (void)state;
  int n = 300, m = 200;
  float *X = malloc(sizeof(float) * 26 * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
  float *Xt = malloc(sizeof(float) * 26 * (size_t)m), *p = malloc(sizeof(float) * (size_t)m);
  make_data(n, 1, X, y);
  make_data(m, 2, Xt, NULL);
  Xt[5 * 26 + 3] = NAN; /* a missing value takes the default branch */
  eahas_xgb_opts o = {.rounds = 60, .max_depth = 5, .eta = 0.1, .subsample = 0.8, .seed = 3};
  char *model = NULL;
  size_t len = 0;
  assert_int_equal(eahas_xgb_train(X, y, n, 26, &o, &model, &len, NULL), 0);
  assert_int_equal(eahas_xgb_predict(model, len, Xt, m, 26, p, NULL), 0);
  eahas_forest f;
  assert_int_equal(eahas_forest_from_json(model, len, &f, NULL), 0);
  assert_int_equal(f.n_trees, 60);
  assert_int_equal(f.n_features, 26);
  double worst = 0;
  for (int i = 0; i < m; i++) {
    float q = eahas_forest_predict(&f, Xt + i * 26);
    double d = fabs((double)q - p[i]);
    if (d > worst) worst = d;
  }
  fprintf(stderr, "own tree evaluation vs XGBoost: worst |diff| %.3g over %d rows\n", worst, m);
  assert_true(worst <= 1e-5);
  /* it learned: training R² > 0.9 */
  double yt[300], yp[300];
  for (int i = 0; i < n; i++) {
    yt[i] = y[i];
    yp[i] = eahas_forest_predict(&f, X + i * 26);
  }
  assert_true(eahas_r2(yt, yp, n) > 0.9);
  /* same seed, same model bytes; another seed, another model */
  char *m2 = NULL, *m3 = NULL;
  size_t l2, l3;
  assert_int_equal(eahas_xgb_train(X, y, n, 26, &o, &m2, &l2, NULL), 0);
  o.seed = 4;
  assert_int_equal(eahas_xgb_train(X, y, n, 26, &o, &m3, &l3, NULL), 0);
  assert_true(l2 == len && memcmp(m2, model, len) == 0);
  assert_true(l3 != len || memcmp(m3, model, len) != 0);
  eahas_forest_free(&f);
  free(model); free(m2); free(m3); free(X); free(y); free(Xt); free(p);
}

/* An XGBoost model trained on the n rows of X (26 features), loaded as our forest. */
static void fit_forest(const float *X, const float *y, int n, const eahas_xgb_opts *o, eahas_forest *f) {
  char *model = NULL;
  size_t len = 0;
  assert_int_equal(eahas_xgb_train(X, y, n, 26, o, &model, &len, NULL), 0);
  assert_int_equal(eahas_forest_from_json(model, len, f, NULL), 0);
  free(model);
}

/* eahas__fused_trees_predict_block on the first nq rows of X (26 features each), with row
 * nan_row given a NaN in feature nan_feat: every other row's forest sums equal
 * eahas_forest_predict(fs[k]) bit for bit, the NaN row is flagged (ok = 0) and its outputs
 * (prefilled with -7) are left untouched. X is restored. */
static void check_block(const eahas__fused_trees *ft, const eahas_forest *const *fs, int nf, float *X, int nq,
                        int nan_row, int nan_feat) {
  float *blk = malloc(sizeof(float) * (size_t)nf * (size_t)nq);
  int *ok = malloc(sizeof(int) * (size_t)nq), bad = 0;
  assert_non_null(blk);
  assert_non_null(ok);
  float keep = X[26 * nan_row + nan_feat];
  X[26 * nan_row + nan_feat] = NAN;
  for (int i = 0; i < nf * nq; i++) blk[i] = -7.0f;
  eahas__fused_trees_predict_block(ft, X, 26, nq, blk, nf, ok);
  for (int i = 0; i < nq; i++) {
    assert_int_equal(ok[i], i != nan_row);
    for (int k = 0; k < nf; k++) {
      float want = i == nan_row ? -7.0f : eahas_forest_predict(fs[k], X + 26 * i);
      bad += memcmp(&want, &blk[i * nf + k], sizeof want) != 0;
    }
  }
  X[26 * nan_row + nan_feat] = keep;
  free(blk);
  free(ok);
  assert_int_equal(bad, 0);
}

/* eahas__fused_trees_predict on each of the first m rows of X alone: every forest's sum equals
 * eahas_forest_predict(fs[k]) bit for bit. */
static void check_singles(const eahas__fused_trees *ft, const eahas_forest *const *fs, int nf, const float *X, int m) {
  int bad = 0;
  float *out = malloc(sizeof(float) * (size_t)nf);
  assert_non_null(out);
  for (int i = 0; i < m; i++) {
    assert_int_equal(eahas__fused_trees_predict(ft, X + 26 * i, out), 0);
    for (int k = 0; k < nf; k++) {
      float want = eahas_forest_predict(fs[k], X + 26 * i);
      bad += memcmp(&want, &out[k], sizeof want) != 0;
    }
  }
  free(out);
  assert_int_equal(bad, 0);
}

/* The fused walk of many forests (queries) equals eahas_forest_predict bit for bit, on every
 * path the CPU has (portable lane walk, scalar walk, AVX2, AVX-512BW): forests of depths 1 to 6
 * and of different tree counts side by side, 37 of them (two groups of 32 lanes), with inputs
 * that sit exactly on thresholds, and infinite ones. A NaN input is refused (callers fall back); too deep
 * forests are not fused. */
static void test_fused_forests(void **state) {
  (void)state;
  enum { NF = 37, N = 200, M = 300 };
  float *X = malloc(sizeof(float) * 26 * N), *y = malloc(sizeof(float) * N), *Xt = malloc(sizeof(float) * 26 * M);
  make_data(N, 5, X, y);
  make_data(M, 6, Xt, NULL);
  for (int i = 0; i < 26; i++) Xt[i] = X[26 + i]; /* training rows */
  for (int i = 0; i < 26; i++) Xt[26 + i] = X[2 * 26 + i];
  for (int i = 0; i < 26; i++) Xt[2 * 26 + i] = i % 2 ? INFINITY : -INFINITY; /* infinite inputs */
  static eahas_forest f[NF];
  const eahas_forest *fs[NF];
  for (int k = 0; k < NF; k++) {
    eahas_xgb_opts o = {.rounds = 5 + 7 * (k % 5), .max_depth = 1 + k % 6, .eta = 0.2, .subsample = 0.8,
                        .seed = (uint64_t)k};
    fit_forest(X, y, N, &o, &f[k]);
    fs[k] = &f[k];
  }
  /* XGBoost's exact method splits at midpoints, so the data rows rarely sit on a threshold:
     rows 3..99 get, per feature, the threshold of a random split on that feature, or -0 */
  eahas_rng rr;
  eahas_rng_seed(&rr, 99);
  for (int i = 3; i < 100; i++)
    for (int ff = 0; ff < 26; ff++) {
      if (eahas_rng_below(&rr, 10) == 0) {
        Xt[26 * i + ff] = -0.0f;
        continue;
      }
      for (int tries = 0; tries < 500; tries++) {
        const eahas_forest *F = fs[eahas_rng_below(&rr, NF)];
        int id = (int)eahas_rng_below(&rr, (uint64_t)F->n_nodes);
        if (F->nodes[id].value != INFINITY && (int)((F->nodes[id].bits >> 23) & 255u) == ff) {
          Xt[26 * i + ff] = F->nodes[id].value;
          break;
        }
      }
    }
  eahas__fused_trees *ft = eahas__fused_trees_build(fs, NF);
  assert_non_null(ft);
  assert_true(eahas__fused_trees_bytes(ft) > 0);
  /* every walk this CPU has: portable lanes, scalar, AVX2, AVX-512BW */
  for (int path = EAHAS__TREES_GENERIC; path <= EAHAS__TREES_AVX512; path++) {
    if (!eahas__fused_trees_path_supported(path)) continue;
    eahas__fused_trees_path = path;
    check_singles(ft, fs, NF, Xt, M);
    /* many inputs at once (blocks of 32 and a tail), one of them with a NaN: the same sums,
       and the NaN row flagged and left untouched */
    check_block(ft, fs, NF, Xt, M, 40, 7);
  }
  /* forests of depth <= maxd for maxd = 1..6 (7, 13, 19, 25, 31 and 37 forests; shallower
     trees padded to the common depth), on every path: blocks of inputs (17 = one part-filled
     block, 33 = a block of 32 and a block of 1, 45 = 32 + 13, with a NaN row left untouched),
     then every input alone. The walks taken are checked too: up to depth 4 blocks take the
     query-vectorized walk where the CPU has AVX2, and one input the scalar walk below 12
     forests; deeper trees a lane walk. */
  for (int maxd = 1; maxd <= 6; maxd++) {
    const eahas_forest *sh[NF];
    int ns = 0;
    for (int k = 0; k < NF; k++)
      if (fs[k]->depth <= maxd) sh[ns++] = fs[k];
    eahas__fused_trees *fq = eahas__fused_trees_build(sh, ns);
    assert_non_null(fq);
    assert_int_equal(eahas__fused_trees_query_major(fq), maxd <= 4);
    for (int path = EAHAS__TREES_GENERIC; path <= EAHAS__TREES_AVX512; path++) {
      if (!eahas__fused_trees_path_supported(path)) continue;
      eahas__fused_trees_path = path;
      eahas__fused_trees_walks = 0;
      static const int counts[] = {17, 33, 45, M};
      for (int ci = 0; ci < 4; ci++) check_block(fq, sh, ns, Xt, counts[ci], 5, 2);
      check_singles(fq, sh, ns, Xt, M);
      unsigned want = EAHAS__WALK_LANES;
      if (path != EAHAS__TREES_GENERIC) {
        unsigned lanes = path == EAHAS__TREES_AVX512 ? EAHAS__WALK_AVX512_LANES
                         : path == EAHAS__TREES_AVX2 ? EAHAS__WALK_AVX2_LANES
                                                     : EAHAS__WALK_LANES;
        unsigned blocks = path == EAHAS__TREES_AVX512 ? EAHAS__WALK_AVX512_QUERIES
                          : path == EAHAS__TREES_AVX2 ? EAHAS__WALK_AVX2_QUERIES
                                                      : EAHAS__WALK_SCALAR;
        unsigned one = path == EAHAS__TREES_SCALAR || ns < 12 ? EAHAS__WALK_SCALAR : lanes;
        want = maxd <= 4 ? blocks | one : lanes;
      }
      if (eahas__fused_trees_walks != want)
        fail_msg("depth <= %d, %d forests, path %d: walks 0x%x, expected 0x%x", maxd, ns, path,
                 eahas__fused_trees_walks, want);
    }
    eahas__fused_trees_free(fq);
  }
  eahas__fused_trees_path = EAHAS__TREES_AUTO;
  float out[NF], xn[26];
  memcpy(xn, Xt, sizeof xn);
  xn[3] = NAN;
  assert_int_equal(eahas__fused_trees_predict(ft, xn, out), -1);
  eahas__fused_trees_free(ft);
  /* depth 7 does not fit the fused layout */
  eahas_xgb_opts o = {.rounds = 3, .max_depth = 7, .eta = 0.2, .subsample = 1, .seed = 1};
  eahas_forest deep;
  fit_forest(X, y, N, &o, &deep);
  const eahas_forest *dp = &deep;
  assert_int_equal(deep.depth, 7);
  assert_null(eahas__fused_trees_build(&dp, 1));
  eahas_forest_free(&deep);
  /* a NaN threshold cannot be ranked: not fused */
  float saved = f[3].nodes[f[3].roots[0]].value;
  f[3].nodes[f[3].roots[0]].value = NAN;
  assert_null(eahas__fused_trees_build(fs, NF));
  f[3].nodes[f[3].roots[0]].value = saved;
  for (int k = 0; k < NF; k++) eahas_forest_free(&f[k]);
  free(X); free(y); free(Xt);
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Forests with more than 256 distinct thresholds on a feature (continuous features, many rows):
 * ranks and bins no longer fit in a byte, which the AVX2 lane walk splits in two bytes. Every
 * walk the CPU has (lane walks, the query-vectorized walk, the scalar walk) still gives
 * eahas_forest_predict's sums bit for bit, for inputs on thresholds too; depths 3 to 6 side by
 * side, and depth <= 4 alone (the query-major layout). */
static void test_fused_many_thresholds(void **state) {
  (void)state;
  enum { NF = 6, N = 1500, M = 120 };
  float *X = malloc(sizeof(float) * 26 * N), *y = malloc(sizeof(float) * N), *Xt = malloc(sizeof(float) * 26 * M);
  eahas_rng r;
  eahas_rng_seed(&r, 5);
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < 26; k++) X[26 * i + k] = (float)eahas_rng_uniform(&r);
    y[i] = (float)(sin(6 * X[26 * i]) + X[26 * i + 1] * X[26 * i + 2] + 0.5 * X[26 * i + 20] - X[26 * i + 25]);
  }
  static eahas_forest f[NF];
  const eahas_forest *fs[NF];
  for (int k = 0; k < NF; k++) {
    eahas_xgb_opts o = {.rounds = 60, .max_depth = 3 + k % 4, .eta = 0.3, .subsample = 0.7, .seed = (uint64_t)k + 1};
    fit_forest(X, y, N, &o, &f[k]);
    fs[k] = &f[k];
  }
  /* distinct thresholds of the busiest feature: above 256 (two bytes), below 2048 (fused) */
  int most = 0;
  for (int ff = 0; ff < 26; ff++) {
    float *t = malloc(sizeof(float) * 30000);
    int n = 0;
    for (int k = 0; k < NF; k++)
      for (int id = 0; id < fs[k]->n_nodes; id++)
        if (fs[k]->nodes[id].value != INFINITY && (int)((fs[k]->nodes[id].bits >> 23) & 255u) == ff)
          t[n++] = fs[k]->nodes[id].value;
    qsort(t, (size_t)n, sizeof(float), cmp_f);
    int d = n > 0;
    for (int i = 1; i < n; i++) d += t[i] != t[i - 1];
    if (d > most) most = d;
    free(t);
  }
  fprintf(stderr, "most distinct thresholds on one feature: %d\n", most);
  assert_true(most > 256 && most <= 2047);
  /* test rows: uniform, then every third feature set to a threshold of that feature */
  for (int i = 0; i < M; i++)
    for (int ff = 0; ff < 26; ff++) {
      Xt[26 * i + ff] = (float)eahas_rng_uniform(&r);
      if ((i + ff) % 3) continue;
      const eahas_forest *F = fs[eahas_rng_below(&r, NF)];
      for (int tries = 0; tries < 2000; tries++) {
        int id = (int)eahas_rng_below(&r, (uint64_t)F->n_nodes);
        if (F->nodes[id].value != INFINITY && (int)((F->nodes[id].bits >> 23) & 255u) == ff) {
          Xt[26 * i + ff] = F->nodes[id].value;
          break;
        }
      }
    }
  for (int shallow = 0; shallow < 2; shallow++) {
    const eahas_forest *sh[NF];
    int ns = 0;
    for (int k = 0; k < NF; k++)
      if (!shallow || fs[k]->depth <= 4) sh[ns++] = fs[k];
    eahas__fused_trees *ft = eahas__fused_trees_build(sh, ns);
    assert_non_null(ft);
    for (int path = EAHAS__TREES_GENERIC; path <= EAHAS__TREES_AVX512; path++) {
      if (!eahas__fused_trees_path_supported(path)) continue;
      eahas__fused_trees_path = path;
      check_singles(ft, sh, ns, Xt, M);
      check_block(ft, sh, ns, Xt, M, 50, 4);
    }
    eahas__fused_trees_path = EAHAS__TREES_AUTO;
    eahas__fused_trees_free(ft);
  }
  for (int k = 0; k < NF; k++) eahas_forest_free(&f[k]);
  free(X); free(y); free(Xt);
}

/* Infinite inputs follow XGBoost's rule "left when x < threshold": +inf goes right at every
 * split, and a leaf (stored with threshold +inf) stays a leaf even for x = +inf. A hand-written
 * model: tree 0 splits feature 0 at 0.5 (leaves 1 and 2), tree 1 is a single leaf 0.25 (the
 * stump ends its walk before the forest's depth), and the lockstep block is padded with the
 * zero leaf. */
static void test_forest_infinite_input(void **state) {
  (void)state;
  const char *json =
      "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"},"
      "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"2\"},"
      "\"gradient_booster\":{\"model\":{\"trees\":["
      "{\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],\"split_indices\":[0,0,0],"
      "\"split_conditions\":[0.5,1,2],\"default_left\":[1,0,0]},"
      "{\"left_children\":[-1],\"right_children\":[-1],\"split_indices\":[0],"
      "\"split_conditions\":[0.25],\"default_left\":[0]}]}}}}";
  eahas_forest f;
  eahas_err e = {0};
  assert_int_equal(eahas_forest_from_json(json, strlen(json), &f, &e), 0);
  const float xs[][2] = {{INFINITY, 0}, {-INFINITY, INFINITY}, {0.5f, INFINITY}, {0.4f, 0}, {NAN, INFINITY}};
  const float want[] = {0.5f + 2.25f, 0.5f + 1.25f, 0.5f + 2.25f, 0.5f + 1.25f, 0.5f + 1.25f};
  for (int i = 0; i < 5; i++) assert_float_equal(eahas_forest_predict(&f, xs[i]), want[i], 0.0f);
  eahas_forest_free(&f);
}

static void test_forest_errors(void **state) {
  (void)state;
  eahas_forest f;
  eahas_err e = {0};
  assert_int_equal(eahas_forest_from_json("{not json", 9, &f, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "not valid JSON"));
  const char *no_trees = "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"},"
                         "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"3\"}}}";
  assert_int_equal(eahas_forest_from_json(no_trees, strlen(no_trees), &f, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "no 'trees' array"));
  const char *bad_child =
      "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"},"
      "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"3\"},"
      "\"gradient_booster\":{\"model\":{\"trees\":[{\"left_children\":[7,-1,-1],\"right_children\":[2,-1,-1],"
      "\"split_indices\":[0,0,0],\"split_conditions\":[1,2,3],\"default_left\":[0,0,0]}]}}}}";
  assert_int_equal(eahas_forest_from_json(bad_child, strlen(bad_child), &f, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "tree 0 node 0: child index 7/2"));
  /* a node used as both children, and a node with two parents (node 6 unreached, so the count of
   * nodes alone does not tell): never a tree, and once a crash (nodes left unwritten, then read
   * by the walk) */
  const char *twice =
      "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"},"
      "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"3\"},"
      "\"gradient_booster\":{\"model\":{\"trees\":[{\"left_children\":[1,-1,-1],\"right_children\":[1,-1,-1],"
      "\"split_indices\":[0,0,0],\"split_conditions\":[1,2,3],\"default_left\":[0,0,0]}]}}}}";
  assert_int_equal(eahas_forest_from_json(twice, strlen(twice), &f, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "tree 0 node 0: child 1 or 1 has another parent"));
  const char *two_parents =
      "{\"learner\":{\"objective\":{\"name\":\"reg:squarederror\"},"
      "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_feature\":\"3\"},"
      "\"gradient_booster\":{\"model\":{\"trees\":[{\"left_children\":[1,3,4,-1,-1,-1,-1],"
      "\"right_children\":[2,4,5,-1,-1,-1,-1],\"split_indices\":[0,1,2,0,0,0,0],"
      "\"split_conditions\":[1,2,3,4,5,6,7],\"default_left\":[0,0,0,0,0,0,0]}]}}}}";
  assert_int_equal(eahas_forest_from_json(two_parents, strlen(two_parents), &f, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "tree 0 node 2: child 4 or 5 has another parent"));
  float X[4] = {0, 1, 2, 3}, y[1] = {0};
  char *model;
  size_t len;
  eahas_xgb_opts o = {.rounds = 1, .max_depth = 2, .eta = 0.3, .subsample = 1};
  assert_int_equal(eahas_xgb_train(X, y, 1, 4, &o, &model, &len, &e), EAHAS_EINVAL);
  float p[1];
  assert_int_equal(eahas_xgb_predict("garbage", 7, X, 1, 4, p, &e), EAHAS_EFORMAT);
}

static void test_metrics(void **state) {
  (void)state;
  double a[5] = {1, 2, 3, 4, 5}, b[5] = {2, 1, 4, 3, 5}, r[5] = {5, 4, 3, 2, 1};
  assert_true(fabs(eahas_kendall_tau(a, b, 5) - 0.6) < 1e-12);     /* 8 concordant, 2 discordant */
  assert_true(fabs(eahas_spearman_rho(a, b, 5) - 0.8) < 1e-12);    /* 1 - 6*4/(5*24) */
  assert_true(fabs(eahas_kendall_tau(a, r, 5) + 1) < 1e-12);
  assert_true(fabs(eahas_spearman_rho(a, r, 5) + 1) < 1e-12);
  double t1[3] = {1, 2, 3}, t2[3] = {1, 1, 2};
  assert_true(fabs(eahas_kendall_tau(t1, t2, 3) - 2 / sqrt(6.0)) < 1e-12); /* tau-b with a tie */
  assert_true(fabs(eahas_spearman_rho(t1, t2, 3) - 0.8660254037844386) < 1e-12);
  assert_true(fabs(eahas_r2(a, a, 5) - 1) < 1e-12);
  double m[5] = {3, 3, 3, 3, 3};
  assert_true(fabs(eahas_r2(a, m, 5)) < 1e-12);
  assert_true(fabs(eahas_rmse(a, b, 5) - sqrt(0.8)) < 1e-12);
  assert_true(isnan(eahas_r2(m, a, 5)) && isnan(eahas_kendall_tau(a, b, 1)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_forest_matches_xgboost), cmocka_unit_test(test_fused_forests),
    cmocka_unit_test(test_fused_many_thresholds),
    cmocka_unit_test(test_forest_infinite_input), cmocka_unit_test(test_forest_errors),
    cmocka_unit_test(test_metrics),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
