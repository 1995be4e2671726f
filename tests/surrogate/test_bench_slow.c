/* End to end on a synthetic benchmark file: insert runs via tabular, fit, open, query (bounds,
 * fidelity prefix, noise determinism, tabular answers, many threads), eval, and refusals (no
 * model, runs changed, corrupted blob). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/surrogate.h"
#include "eahas/tabular.h"
#include "surrogate/blob1.h"
#include "surrogate/internal.h"
#include "surrogate/synth.h"

#define NRUNS 160
static eahas_run_record runs[NRUNS + 10];
static const eahas_preset *P;
static char path[256];

static void small_opts(eahas_fit_opts *o) {
  eahas_fit_opts_default(o);
  o->members = 2;
  o->hidden = 24;
  o->epochs = 100;
  o->lr = 3e-3;
  o->xgb.rounds = 40;
  o->seed = 1;
}

static int setup(void **state) {
  (void)state;
  P = eahas_preset_get("cifar10");
  if (synth_runs(P, 5, NRUNS + 10, runs)) return -1;
  snprintf(path, sizeof path, "/tmp/eahas_surrogate_test_%d.eahas", (int)getpid());
  unlink(path);
  eahas_table *t;
  eahas_err e = {0};
  if (eahas_table_open(path, 1, 0, &t, &e)) return fprintf(stderr, "%s\n", e.msg), -1;
  int added = 0;
  if (eahas_table_insert(t, runs, NRUNS, &added, &e) || added != NRUNS) return fprintf(stderr, "%s\n", e.msg), -1;
  eahas_table_close(t);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < NRUNS + 10; i++) eahas_run_record_free(&runs[i]);
  unlink(path);
  return 0;
}

static eahas_bench *B;

static void test_no_model_yet(void **state) {
  (void)state;
  eahas_bench *b;
  eahas_err e = {0};
  assert_int_equal(eahas_bench_open(path, &b, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "run 'eahas fit"));
}

static void test_fit_and_query(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  eahas_err e = {0};
  assert_int_equal(eahas_fit_file(path, &o, NULL, &e), 0);
  assert_int_equal(eahas_bench_open(path, &B, &e), 0);
  assert_true(eahas_bench_memory(B) > 10000);
  assert_string_equal(eahas_bench_preset(B)->name, "cifar10");
  eahas_query_result r, r2;
  double err_sum = 0;
  for (int i = 0; i < 40; i++) {
    const eahas_config *c = &runs[i].config;
    assert_int_equal(eahas_query(B, c, NULL, &r, &e), 0);
    assert_int_equal(r.epochs, c->epochs);
    assert_int_equal(r.from_table, 0);
    for (int j = 0; j < r.epochs; j++) {
      assert_true(r.test_acc[j] >= 0 && r.test_acc[j] <= 100);
      assert_true(r.train_acc[j] >= 0 && r.train_acc[j] <= 100);
      assert_true(r.time_s_cum[j] > 0 && r.tec_kwh_cum[j] > 0);
      if (j) assert_true(r.time_s_cum[j] > r.time_s_cum[j - 1] && r.tec_kwh_cum[j] > r.tec_kwh_cum[j - 1]);
    }
    assert_true(r.final_test_acc == r.test_acc[r.epochs - 1]);
    assert_true(r.iec_j_per_image > 0 && r.cx.params == runs[i].cx.params);
    assert_string_equal(r.energy_method, "surrogate:estimate:synthetic");
    err_sum += fabs(r.final_test_acc - runs[i].test_acc_ema[c->epochs - 1]);
    assert_true(fabs(r.train_time_s / runs[i].train_time_s - 1) < 0.25);
    /* a lower fidelity is a prefix of the same curve */
    eahas_query_opts q = {.epochs = c->epochs / 2};
    assert_int_equal(eahas_query(B, c, &q, &r2, &e), 0);
    assert_int_equal(r2.epochs, c->epochs / 2);
    assert_memory_equal(r2.test_acc, r.test_acc, sizeof(float) * (size_t)r2.epochs);
    assert_true(r2.tec_kwh < r.tec_kwh);
  }
  fprintf(stderr, "mean |final acc error| on fitted configs: %.2f points\n", err_sum / 40);
  assert_true(err_sum / 40 < 3.0);
}

static void test_noise_and_tabular(void **state) {
  (void)state;
  eahas_query_result a, b, c, d;
  eahas_err e = {0};
  const eahas_config *cfg = &runs[3].config;
  eahas_query_opts q = {.noise = 1, .noise_seed = 42};
  assert_int_equal(eahas_query(B, cfg, &q, &a, &e), 0);
  assert_int_equal(eahas_query(B, cfg, &q, &b, &e), 0);
  assert_memory_equal(a.test_acc, b.test_acc, sizeof(float) * (size_t)a.epochs);
  assert_true(a.tec_kwh == b.tec_kwh);
  q.noise_seed = 43;
  assert_int_equal(eahas_query(B, cfg, &q, &c, &e), 0);
  assert_true(memcmp(a.test_acc, c.test_acc, sizeof(float) * (size_t)a.epochs) != 0);
  assert_int_equal(eahas_query(B, cfg, NULL, &d, &e), 0);
  assert_true(memcmp(a.test_acc, d.test_acc, sizeof(float) * (size_t)a.epochs) != 0);
  /* tabular: the recorded run */
  eahas_query_opts t = {.tabular = 1};
  assert_int_equal(eahas_query(B, cfg, &t, &a, &e), 0);
  assert_int_equal(a.from_table, 1);
  assert_true(fabs(a.final_test_acc - runs[3].test_acc_ema[cfg->epochs - 1]) < 1e-4);
  assert_true(fabs(a.train_time_s - runs[3].train_time_s) < 1e-6 * runs[3].train_time_s);
  assert_true(fabs(a.tec_kwh - runs[3].tec_kwh) < 1e-9 + 1e-6 * runs[3].tec_kwh);
  assert_string_equal(a.energy_method, "estimate:synthetic");
  assert_int_equal(eahas_query(B, &runs[NRUNS].config, &t, &a, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "is not recorded"));
  /* bad fidelity and bad config */
  eahas_query_opts bad = {.epochs = cfg->epochs + 1};
  assert_int_equal(eahas_query(B, cfg, &bad, &a, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "is outside [1,"));
  eahas_config x = *cfg;
  x.wm1000 = 1600; /* outside cifar10's wm range */
  assert_int_equal(eahas_query(B, &x, NULL, &a, &e), EAHAS_EINVAL);
}

typedef struct job {
  int first, n;
  double res[40];
} job;
static void *worker(void *arg) {
  job *j = arg;
  eahas_query_result r;
  eahas_query_opts q = {.noise = 1, .noise_seed = 9};
  for (int k = 0; k < 50; k++)
    for (int i = j->first; i < j->first + j->n; i++) {
      if (eahas_query(B, &runs[i].config, &q, &r, NULL)) return NULL;
      if (k == 0) j->res[i - j->first] = r.final_test_acc + r.tec_kwh;
    }
  return NULL;
}

static void test_threads_agree(void **state) {
  (void)state;
  static job serial = {0, 40, {0}};
  worker(&serial);
  pthread_t th[4];
  static job js[4];
  for (int i = 0; i < 4; i++) {
    js[i] = (job){10 * i, 10, {0}};
    pthread_create(&th[i], NULL, worker, &js[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  /* every config's noisy answer is the same whichever thread computed it */
  for (int i = 0; i < 40; i++) assert_true(js[i / 10].res[i % 10] == serial.res[i] && serial.res[i] > 0);
}

/* The answers that matter of two query results are the same, bit for bit. */
static int same_answer(const eahas_query_result *a, const eahas_query_result *b) {
  size_t E = (size_t)a->epochs;
  return a->epochs == b->epochs && a->from_table == b->from_table &&
         !memcmp(a->test_acc, b->test_acc, sizeof(float) * E) && !memcmp(a->val_acc, b->val_acc, sizeof(float) * E) &&
         !memcmp(a->train_acc, b->train_acc, sizeof(float) * E) &&
         !memcmp(a->test_acc_plain, b->test_acc_plain, sizeof(float) * E) &&
         !memcmp(a->time_s_cum, b->time_s_cum, sizeof(double) * E) &&
         !memcmp(a->tec_kwh_cum, b->tec_kwh_cum, sizeof(double) * E) && !memcmp(&a->final_test_acc, &b->final_test_acc, 4) &&
         !memcmp(&a->final_test_acc_plain, &b->final_test_acc_plain, 4) &&
         !memcmp(&a->final_train_acc, &b->final_train_acc, 4) && !memcmp(&a->final_val_acc, &b->final_val_acc, 4) && !memcmp(&a->tec_kwh, &b->tec_kwh, 8) &&
         !memcmp(&a->train_time_s, &b->train_time_s, 8) && !memcmp(&a->iec_j_per_image, &b->iec_j_per_image, 8) &&
         a->cx.params == b->cx.params && a->cx.flops == b->cx.flops && a->cx.acts == b->cx.acts &&
         !strcmp(a->energy_method, b->energy_method);
}

/* A batch answers each config exactly as a single query does, for every kind of options, across
 * block boundaries (75 configs: blocks of 32 + 32 + 11, each of MLP blocks of 16), with failing
 * configs in the middle that leave the others answered: their codes in rcs, the first one
 * returned and named by index. Also with 1 and 3 members (refitted copies): one member takes
 * other tree paths, and 3 is the smallest ensemble whose mean rounds differently in float than
 * in double. */
/* Rewrites the per-curve surrogate blob of the file at p as format 1 wrote it: no "shared"
 * field after the header ints, the runs hash of ids and epochs, version 1, checksum resealed. */
static void to_format1(const char *p) {
  eahas_table *t;
  eahas_err e = {0};
  void *blob;
  size_t len;
  eahas_surrogate s;
  assert_int_equal(eahas_table_open(p, 0, 0, &t, &e), 0);
  assert_int_equal(eahas_table_get_blob(t, EAHAS_SURROGATE_BLOB_NAME, &blob, &len, &e), 0);
  assert_int_equal(eahas_surrogate_load(blob, len, &s, &e), 0);
  assert_int_equal(s.shared, 0);
  uint64_t h = eahas__runs_hash_format1(runs, NRUNS); /* the file holds runs[0..NRUNS) */
  size_t l1;
  unsigned char *b1 = as_format1(&s, blob, len, &h, &l1);
  assert_non_null(b1);
  assert_int_equal(eahas_table_put_blob(t, EAHAS_SURROGATE_BLOB_NAME, b1, l1, &e), 0);
  eahas_table_close(t);
  eahas_surrogate_free(&s);
  free(blob);
  free(b1);
}

static void test_batch_matches_single(void **state) {
  (void)state;
  enum { N = 75 };
  static eahas_config c[N];
  static eahas_query_result got[N], want;
  int rcs[N];
  eahas_rng r;
  eahas_rng_seed(&r, 77);
  for (int i = 0; i < N; i++) {
    if (i % 2) c[i] = runs[i].config; /* recorded */
    else assert_int_equal(eahas_config_sample(&r, P, 0, &c[i], NULL), 0);
  }
  c[5].wm1000 = 1600; /* invalid: outside cifar10's wm range */
  int n50 = 0;
  for (int i = 0; i < N; i++) n50 += c[i].epochs == 50;
  assert_true(n50 > 0 && n50 < N - 1);
  eahas_query_opts opts[] = {{0}, {.noise = 1, .noise_seed = 5}, {.epochs = 50}, {.epochs = 60}, {.tabular = 1},
                             {.epochs = 60, .noise = 1, .noise_seed = 6}};
  for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
    eahas_err e = {0}, e1 = {0};
    int rc = eahas_query_batch(B, c, N, &opts[k], got, rcs, &e);
    int first = -1, answered = 0;
    for (int i = 0; i < N; i++) {
      int rc1 = eahas_query(B, &c[i], &opts[k], &want, &e1);
      assert_int_equal(rcs[i], rc1);
      if (rc1 && first < 0) first = i;
      if (rc1) continue;
      answered++;
      if (!same_answer(&got[i], &want)) fail_msg("options %zu, config %d: batch and single answers differ", k, i);
    }
    assert_true(first >= 0 && answered > 10); /* config 5 fails under every option */
    assert_int_equal(rc, rcs[first]);
    char where[64];
    snprintf(where, sizeof where, "config %d of the batch: ", first);
    assert_non_null(strstr(e.msg, where));
  }
  /* all valid: 0, and rcs may be NULL; an empty batch is fine */
  eahas_err e = {0};
  assert_int_equal(eahas_query_batch(B, c + 6, 40, NULL, got, NULL, &e), 0);
  for (int i = 0; i < 40; i++) {
    assert_int_equal(eahas_query(B, &c[6 + i], NULL, &want, &e), 0);
    assert_true(same_answer(&got[i], &want));
  }
  assert_int_equal(eahas_query_batch(B, c, 0, NULL, got, NULL, &e), 0);
  assert_int_equal(eahas_query_batch(B, c, -1, NULL, got, NULL, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "batch of -1 configs"));
  /* one member (5 forests): single queries walk the forests one at a time, blocks walk them
     fused; three members: the block's mean of the members; three members in per-curve networks
     (format 1's form): the answers still agree bit for bit */
  for (int v = 0; v < 3; v++) {
    int K = v ? 3 : 1;
    char p1[300];
    snprintf(p1, sizeof p1, "%s.v%d", path, v);
    FILE *in = fopen(path, "rb"), *outf = fopen(p1, "wb");
    assert_non_null(in);
    assert_non_null(outf);
    char buf[65536];
    size_t got_n;
    while ((got_n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, got_n, outf), got_n);
    fclose(in);
    fclose(outf);
    eahas_fit_opts o;
    small_opts(&o);
    o.members = K;
    o.per_curve = v == 2;
    assert_int_equal(eahas_fit_file(p1, &o, NULL, &e), 0);
    eahas_bench *b1;
    assert_int_equal(eahas_bench_open(p1, &b1, &e), 0);
    for (int k = 0; k < 2; k++) {
      eahas_query_opts q1 = {.noise = k, .noise_seed = 11};
      assert_int_equal(eahas_query_batch(b1, c + 6, 40, &q1, got, NULL, &e), 0);
      for (int i = 0; i < 40; i++) {
        assert_int_equal(eahas_query(b1, &c[6 + i], &q1, &want, &e), 0);
        if (!same_answer(&got[i], &want))
          fail_msg("%d members%s, noise %d, config %d: batch and single differ", K, v == 2 ? " per curve" : "", k, i);
      }
    }
    if (v == 2) { /* the same per-curve models as a format-1 blob: read and answered alike */
      eahas_bench *b2;
      to_format1(p1);
      assert_int_equal(eahas_bench_open(p1, &b2, &e), 0);
      for (int i = 0; i < 40; i++) {
        eahas_query_opts q1 = {.noise = i % 2, .noise_seed = 11};
        assert_int_equal(eahas_query(b1, &c[6 + i], &q1, &want, &e), 0);
        assert_int_equal(eahas_query(b2, &c[6 + i], &q1, &got[i], &e), 0);
        if (!same_answer(&got[i], &want)) fail_msg("config %d: format 1 and format 2 answers differ", i);
      }
      eahas_bench_close(b2);
    }
    eahas_bench_close(b1);
    unlink(p1);
  }
}

static void test_eval(void **state) {
  (void)state;
  eahas_fit_opts o;
  small_opts(&o);
  o.members = 2;
  o.epochs = 60;
  eahas_eval_report rep;
  eahas_err e = {0};
  assert_int_equal(eahas_eval_runs(runs, NRUNS, P, &o, &rep, &e), 0);
  assert_true(rep.n_test > 20 && rep.n_train + rep.n_test == NRUNS);
  int seen_bsc = 0, seen_direct = 0, seen_svd = 0, seen_tec = 0;
  for (int i = 0; i < rep.n_rows; i++) {
    eahas_eval_row *w = &rep.rows[i];
    if (w->group != 0) continue;
    if (!strcmp(w->quantity, "test_acc") && !strcmp(w->model, "bsc")) {
      seen_bsc = 1;
      fprintf(stderr, "held-out test_acc: BSC R2 %.3f tau %.3f RMSE_all %.2f\n", w->r2_final, w->tau_final, w->rmse_all);
      assert_true(w->r2_final > 0.3 && w->tau_final > 0.3);
    }
    if (!strcmp(w->quantity, "test_acc") && !strcmp(w->model, "mlp-direct")) seen_direct = 1;
    if (!strcmp(w->quantity, "test_acc") && !strcmp(w->model, "svd-xgb")) seen_svd = 1;
    if (!strcmp(w->quantity, "tec_kwh")) {
      seen_tec = 1;
      assert_true(w->r2_final > 0.8);
    }
  }
  assert_true(seen_bsc && seen_direct && seen_svd && seen_tec);
  char *js = eahas_eval_report_to_json(&rep);
  assert_non_null(strstr(js, "\"kendall_tau_final\""));
  free(js);
  eahas_eval_report_free(&rep);
}

/* Stores the surrogate s (damaged by the caller) as the file's blob; returns the open bench. */
static eahas_bench *store_and_open(const eahas_surrogate *s) {
  unsigned char *blob;
  size_t len;
  eahas_table *t;
  eahas_bench *b = NULL;
  eahas_err e = {0};
  assert_int_equal(eahas_surrogate_save(s, &blob, &len, &e), 0);
  assert_int_equal(eahas_table_open(path, 0, 0, &t, &e), 0);
  assert_int_equal(eahas_table_put_blob(t, EAHAS_SURROGATE_BLOB_NAME, blob, len, &e), 0);
  eahas_table_close(t);
  free(blob);
  if (eahas_bench_open(path, &b, &e)) fail_msg("%s", e.msg); /* well-formed: only the answers show it */
  return b;
}

/* Queries of 40 configs, the last one invalid: one at a time each fails with code (the invalid
 * one with EAHAS_EINVAL); the batch reports the lowest failing index, config 0, although its
 * block is answered after config 39 was checked, and gives every config its own code. */
static void expect_damaged(eahas_bench *b, const char *what) {
  enum { N = 41 };
  static eahas_config c[N];
  static eahas_query_result r[N];
  int rcs[N];
  eahas_err e = {0};
  for (int i = 0; i < N; i++) c[i] = runs[i].config;
  c[N - 1].d = 1000;
  for (int i = 0; i < N; i++) {
    int want = i == N - 1 ? EAHAS_EINVAL : EAHAS_EFORMAT;
    assert_int_equal(eahas_query(b, &c[i], NULL, &r[0], &e), want);
    if (want == EAHAS_EFORMAT && !strstr(e.msg, what)) fail_msg("config %d: '%s' lacks '%s'", i, e.msg, what);
  }
  assert_int_equal(eahas_query_batch(b, c, N, NULL, r, rcs, &e), EAHAS_EFORMAT);
  if (!strstr(e.msg, "config 0 of the batch: ") || !strstr(e.msg, what)) fail_msg("batch: '%s'", e.msg);
  for (int i = 0; i < N; i++) assert_int_equal(rcs[i], i == N - 1 ? EAHAS_EINVAL : EAHAS_EFORMAT);
}

/* Models that load but answer nonsense (a hand-edited blob with a valid checksum): NaN
 * accuracies, or an energy that is not positive and finite (which would let a search under an
 * energy budget run forever) are errors, never answers. */
static void test_damaged_models(void **state) {
  (void)state;
  eahas_bench_close(B);
  B = NULL;
  eahas_table *t;
  eahas_err e = {0};
  void *orig;
  size_t orig_len;
  assert_int_equal(eahas_table_open(path, 0, 1, &t, &e), 0);
  assert_int_equal(eahas_table_get_blob(t, EAHAS_SURROGATE_BLOB_NAME, &orig, &orig_len, &e), 0);
  eahas_table_close(t);
  eahas_surrogate s;
  /* finite weights (the loader refuses others) whose outputs overflow to +inf in member 0 and
   * -inf in member 1 of the first network (the shared one: every curve kind): their mean is NaN */
  assert_int_equal(eahas_surrogate_load(orig, orig_len, &s, &e), 0);
  assert_int_equal(s.members, 2);
  for (int mb = 0; mb < 2; mb++) {
    eahas_mlp *m = &s.mlp[EAHAS_CURVE_TEST_EMA][mb];
    float big = mb ? -3e38f : 3e38f;
    for (int i = 0; i < m->hidden * m->n_out; i++) m->Wo[i] = big;
    for (int o = 0; o < m->n_out; o++) m->bo[o] = big;
  }
  eahas_bench *b = store_and_open(&s);
  expect_damaged(b, "NaN accuracies");
  eahas_bench_close(b);
  eahas_surrogate_free(&s);
  /* an energy model whose base score makes exp() overflow, then one whose leaves are -inf: the
   * per-epoch energy is infinite, then zero */
  static const char *const scores[2] = {"\"base_score\":\"1E30\"", "\"base_score\":\"-1E30\""};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(eahas_surrogate_load(orig, orig_len, &s, &e), 0);
    for (int mb = 0; mb < s.members; mb++) {
      char *j = s.xgb[EAHAS_TQ_ENERGY][mb], *at = strstr(j, "\"base_score\":\"");
      assert_non_null(at);
      char *end = strchr(at + 14, '"') + 1, *nj = malloc(strlen(j) + 32);
      size_t n = (size_t)(at - j);
      memcpy(nj, j, n);
      n += (size_t)sprintf(nj + n, "%s", scores[k]);
      strcpy(nj + n, end);
      free(j);
      s.xgb[EAHAS_TQ_ENERGY][mb] = nj;
      s.xgb_len[EAHAS_TQ_ENERGY][mb] = strlen(nj);
    }
    b = store_and_open(&s);
    expect_damaged(b, k ? "energy 0 J" : "energy inf J");
    eahas_bench_close(b);
    eahas_surrogate_free(&s);
  }
  /* the fitted blob back, for the tests after this one */
  assert_int_equal(eahas_table_open(path, 0, 0, &t, &e), 0);
  assert_int_equal(eahas_table_put_blob(t, EAHAS_SURROGATE_BLOB_NAME, orig, orig_len, &e), 0);
  eahas_table_close(t);
  free(orig);
  assert_int_equal(eahas_bench_open(path, &B, &e), 0);
}

static void test_refusals(void **state) {
  (void)state;
  eahas_bench_close(B);
  B = NULL;
  eahas_table *t;
  eahas_err e = {0};
  eahas_bench *b;
  /* one curve value edited in the file: the runs hash covers values, so the models are refused */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "UPDATE curves SET val_acc = val_acc + 0.5 WHERE epoch = 3 AND "
                                    "id = (SELECT id FROM runs ORDER BY id LIMIT 1)", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_changes(db), 1);
  sqlite3_close(db);
  assert_int_equal(eahas_bench_open(path, &b, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "fitted on 160 runs"));
  assert_non_null(strstr(e.msg, "now holds 160 runs"));
  assert_non_null(strstr(e.msg, "edited"));
  /* more runs than fitted on */
  assert_int_equal(eahas_table_open(path, 0, 0, &t, &e), 0);
  assert_int_equal(eahas_table_insert(t, runs + NRUNS, 1, NULL, &e), 0);
  eahas_table_close(t);
  assert_int_equal(eahas_bench_open(path, &b, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "fitted on 160 runs"));
  assert_non_null(strstr(e.msg, "now holds 161 runs"));
  /* a corrupted blob */
  assert_int_equal(eahas_table_open(path, 0, 0, &t, &e), 0);
  void *blob;
  size_t len;
  assert_int_equal(eahas_table_get_blob(t, EAHAS_SURROGATE_BLOB_NAME, &blob, &len, &e), 0);
  assert_int_equal(eahas_table_put_blob(t, EAHAS_SURROGATE_BLOB_NAME, blob, len / 3, &e), 0);
  eahas_table_close(t);
  free(blob);
  assert_int_equal(eahas_bench_open(path, &b, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "truncated or corrupted"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_no_model_yet), cmocka_unit_test(test_fit_and_query),
    cmocka_unit_test(test_noise_and_tabular), cmocka_unit_test(test_threads_agree),
    cmocka_unit_test(test_batch_matches_single),
    cmocka_unit_test(test_eval), cmocka_unit_test(test_damaged_models), cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
