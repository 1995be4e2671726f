/* Queries of the surrogate benchmark: open a file once (models checked and compiled, recorded
 * runs indexed), then answer any config from any thread without allocating. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "eahas/tabular.h"
#include "surrogate/internal.h"

typedef struct tab_entry {
  uint64_t hash;
  int run;
} tab_entry;

struct eahas_bench {
  eahas_surrogate s;
  const eahas_preset *preset;
  eahas_forest forest[EAHAS_NUM_TQ][EAHAS_MAX_MEMBERS];
  eahas__fused_trees *fused; /* the forests walked together (fused.c); NULL: one at a time */
  int fused_single;          /* 1: single queries use it (enough forests for the lane walk) */
  int fused_block;           /* 1: blocks of queries use it (query-vectorized walk, or fused_single) */
  eahas_run_record *runs;
  int n_runs;
  tab_entry *index; /* sorted by config hash */
  size_t memory;
  char energy_method[48]; /* "surrogate:<method of the fitted runs>", formatted once */
};

static int cmp_tab(const void *a, const void *b) {
  uint64_t x = ((const tab_entry *)a)->hash, y = ((const tab_entry *)b)->hash;
  return (x > y) - (x < y);
}

void eahas_bench_close(eahas_bench *b) {
  if (!b) return;
  eahas__fused_trees_free(b->fused);
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < EAHAS_MAX_MEMBERS; m++) eahas_forest_free(&b->forest[q][m]);
  eahas_surrogate_free(&b->s);
  for (int i = 0; i < b->n_runs; i++) eahas_run_record_free(&b->runs[i]);
  free(b->runs);
  free(b->index);
  free(b);
}

const eahas_preset *eahas_bench_preset(const eahas_bench *b) { return b->preset; }
size_t eahas_bench_memory(const eahas_bench *b) { return b->memory; }

int eahas_bench_open(const char *path, eahas_bench **out, eahas_err *err) {
  *out = NULL;
  eahas_bench *b = calloc(1, sizeof *b);
  if (!b) return eahas_err_set(err, EAHAS_ENOMEM, "opening %s", path);
  b->memory = sizeof *b;
  eahas_table *t = NULL;
  void *blob = NULL;
  size_t len = 0;
  char preset[32];
  int rc;
  if ((rc = eahas_table_open(path, 0, 1, &t, err))) goto fail;
  if ((rc = eahas_table_preset(t, preset, sizeof preset, err))) goto fail;
  rc = eahas_table_get_blob(t, EAHAS_SURROGATE_BLOB_NAME, &blob, &len, err);
  if (rc == EAHAS_ENOTFOUND) {
    rc = eahas_err_set(err, EAHAS_ENOTFOUND, "%s holds no fitted surrogate: run 'eahas fit %s' first", path, path);
    goto fail;
  }
  if (rc) goto fail;
  if ((rc = eahas_surrogate_load(blob, len, &b->s, err))) {
    eahas_err_prefix(err, rc, "%s", path);
    goto fail;
  }
  if (strcmp(b->s.preset, preset) != 0) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: the surrogate was fitted for preset '%s' but the file's runs are '%s'",
                       path, b->s.preset, preset);
    goto fail;
  }
  if ((rc = eahas_preset_lookup(preset, &b->preset, err))) goto fail;
  if ((rc = eahas_table_load_runs(t, &b->runs, &b->n_runs, err))) goto fail;
  uint64_t h = b->s.format_version >= 2 ? eahas_runs_hash(b->runs, b->n_runs)
                                         : eahas__runs_hash_format1(b->runs, b->n_runs);
  if (h != b->s.runs_hash) {
    rc = eahas_err_set(err, EAHAS_EFORMAT,
                       "%s: the surrogate was fitted on %d runs (hash %016llx) but the file now holds %d runs "
                       "(hash %016llx): runs were added, removed or edited since; run 'eahas fit' again",
                       path, b->s.n_runs, (unsigned long long)b->s.runs_hash, b->n_runs, (unsigned long long)h);
    goto fail;
  }
  eahas_table_close(t);
  t = NULL;
  free(blob);
  blob = NULL;
  /* Compile the trees; the JSON text is no longer needed afterwards. */
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < b->s.members; m++) {
      eahas_forest *f = &b->forest[q][m];
      if ((rc = eahas_forest_from_json(b->s.xgb[q][m], b->s.xgb_len[q][m], f, err))) {
        eahas_err_prefix(err, rc, "%s: %s member %d", path, EAHAS_TQ_NAMES[q], m);
        goto fail;
      }
      if (f->n_features != EAHAS_ENCODING_LEN) {
        rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: %s member %d has %d features, expected %d", path,
                           EAHAS_TQ_NAMES[q], m, f->n_features, EAHAS_ENCODING_LEN);
        goto fail;
      }
      b->memory += sizeof(eahas_forest_node) * (size_t)f->n_nodes + sizeof(int32_t) * (size_t)f->n_trees;
      free(b->s.xgb[q][m]);
      b->s.xgb[q][m] = NULL;
      b->s.xgb_len[q][m] = 0;
    }
  {
    const eahas_forest *fs[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS];
    for (int q = 0; q < EAHAS_NUM_TQ; q++)
      for (int m = 0; m < b->s.members; m++) fs[q * b->s.members + m] = &b->forest[q][m];
    /* A fused lane walk costs the same for 1 to 32 forests (about 5 us for 60 trees of depth 4
     * with AVX-512) and one forest at a time about 0.7 us each: below 10 forests (K = 1) single
     * queries of deeper trees walk them one at a time. Where the query-major layout exists
     * (depth <= 4) the fused walks choose: the branch-free scalar walk of one query costs about
     * 0.3 us per forest, and blocks (eahas_query_batch) take the query-vectorized walk at any K. */
    b->fused = eahas__fused_trees_build(fs, EAHAS_NUM_TQ * b->s.members);
    b->fused_single = EAHAS_NUM_TQ * b->s.members >= 10 || eahas__fused_trees_query_major(b->fused);
    b->fused_block = b->fused && b->fused_single;
    b->memory += eahas__fused_trees_bytes(b->fused);
  }
  for (int k = 0; k < EAHAS_NUM_CURVES; k++) /* networks not in use have no parameters */
    for (int m = 0; m < b->s.members; m++) b->memory += sizeof(float) * b->s.mlp[k][m].n_params;
  snprintf(b->energy_method, sizeof b->energy_method, "surrogate:%.36s", b->s.energy_method);
  b->index = malloc(sizeof(tab_entry) * (size_t)(b->n_runs ? b->n_runs : 1));
  if (!b->index) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "index of %d runs", b->n_runs);
    goto fail;
  }
  for (int i = 0; i < b->n_runs; i++) {
    b->index[i] = (tab_entry){eahas_config_hash(&b->runs[i].config), i};
    b->memory += sizeof(eahas_run_record) + 10 * sizeof(double) * (size_t)b->runs[i].epochs_trained;
  }
  b->memory += sizeof(tab_entry) * (size_t)b->n_runs;
  qsort(b->index, (size_t)b->n_runs, sizeof(tab_entry), cmp_tab);
  *out = b;
  return 0;
fail:
  free(blob);
  eahas_table_close(t);
  eahas_bench_close(b);
  return rc;
}

/* ---- tabular answers ------------------------------------------------------------------ */

static const eahas_run_record *find_run(const eahas_bench *b, const eahas_config *c) {
  uint64_t h = eahas_config_hash(c);
  int lo = 0, hi = b->n_runs;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (b->index[mid].hash < h) lo = mid + 1;
    else hi = mid;
  }
  const eahas_run_record *best = NULL;
  for (int i = lo; i < b->n_runs && b->index[i].hash == h; i++) {
    const eahas_run_record *r = &b->runs[b->index[i].run];
    if (!eahas_config_equal(&r->config, c)) continue;
    if (!best || r->epochs_trained > best->epochs_trained) best = r; /* the longest recorded run */
  }
  return best;
}

static int tabular_answer(const eahas_bench *b, const eahas_config *c, int E, eahas_query_result *out,
                          eahas_err *err) {
  const eahas_run_record *r = find_run(b, c);
  char txt[EAHAS_CONFIG_TEXT_MAX];
  if (!r) {
    eahas_config_format(c, txt, sizeof txt);
    return eahas_err_set(err, EAHAS_ENOTFOUND, "config %s is not recorded in the benchmark file", txt);
  }
  if (r->epochs_trained < E) {
    eahas_config_format(c, txt, sizeof txt);
    return eahas_err_set(err, EAHAS_ENOTFOUND, "config %s is recorded with %d epochs, fewer than the %d asked for", txt,
                         r->epochs_trained, E);
  }
  double t = 0, e = 0;
  for (int i = 0; i < E; i++) {
    out->test_acc[i] = (float)r->test_acc_ema[i];
    out->test_acc_plain[i] = (float)r->test_acc[i];
    out->val_acc[i] = (float)r->val_acc[i];
    out->train_acc[i] = (float)r->train_acc[i];
    t += r->epoch_time_s[i];
    e += r->train_energy_j[i];
    out->time_s_cum[i] = t;
    out->tec_kwh_cum[i] = e / 3.6e6;
  }
  out->iec_j_per_image = r->iec_j_per_image;
  snprintf(out->energy_method, sizeof out->energy_method, "%s", r->energy_method);
  out->from_table = 1;
  return 0;
}

/* ---- surrogate answers ---------------------------------------------------------------- */

/* Ensemble mean (plus noise) of each tree quantity from the members' raw predictions v[q * K + m],
 * in log space: the ensemble mean is a geometric mean. */
static void trees_mean(const eahas_bench *b, const float *v, eahas_rng *noise, double mean[EAHAS_NUM_TQ]) {
  int K = b->s.members;
  for (int q = 0; q < EAHAS_NUM_TQ; q++) {
    double s = 0, s2 = 0;
    for (int m = 0; m < K; m++) {
      double x = v[q * K + m];
      s += x;
      s2 += x * x;
    }
    double mu = s / K;
    if (noise) {
      double var = s2 / K - mu * mu;
      mu += (var > 0 ? sqrt(var) : 0) * eahas_rng_normal(noise);
    }
    mean[q] = mu;
  }
}

static void predict_trees(const eahas_bench *b, const float *x, float v[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS]) {
  int K = b->s.members;
  if (b->fused && b->fused_single && eahas__fused_trees_predict(b->fused, x, v) == 0) return;
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < K; m++) v[q * K + m] = eahas_forest_predict(&b->forest[q][m], x);
}

/* The curves from the ensemble's control points (mus, and sds with noise): noise drawn in a
 * fixed order, monotone x, decoding at x = 1..out->epochs of the length-L curve, clamping to
 * [0, 100] %. */
static void finish_curves(const eahas_bench *b, const eahas_bezier *mus, const eahas_bezier *sds, eahas_rng *noise,
                          int L, eahas_query_result *out) {
  const int E = out->epochs;
  float *dst[EAHAS_NUM_CURVES] = {out->test_acc, out->test_acc_plain, out->val_acc, out->train_acc};
  int n = b->s.degree;
  for (int k = 0; k < EAHAS_NUM_CURVES; k++) {
    if (!(b->s.curves_mask & (1 << k))) {
      for (int i = 0; i < E; i++) dst[k][i] = NAN;
      continue;
    }
    eahas_bezier mu = mus[k];
    if (noise)
      for (int j = 0; j <= n; j++) {
        /* fixed draw order: y0, yn, then u and y of the inner points */
        if (j == 0) mu.y[0] += sds[k].y[0] * eahas_rng_normal(noise);
        else if (j == n) mu.y[n] += sds[k].y[n] * eahas_rng_normal(noise);
        else {
          mu.u[j] += sds[k].u[j] * eahas_rng_normal(noise);
          mu.y[j] += sds[k].y[j] * eahas_rng_normal(noise);
        }
      }
    eahas_bezier_make_monotone(&mu);
    eahas_bezier_decode_prefix(&mu, L, E, dst[k]); /* a fidelity E < L: the prefix only */
    for (int i = 0; i < E; i++) {
      float v = dst[k][i];
      dst[k][i] = v < 0.0f ? 0.0f : v > 100.0f ? 100.0f : v;
    }
  }
}

/* Time, TEC and IEC from the trees' (log) predictions. Returns 0, or EAHAS_EFORMAT where a
 * per-epoch value is not positive and finite: only damaged models give that (fitted ones predict
 * logs of positive values), and a zero or NaN energy would let a budgeted search run forever. */
static int finish_answer(const eahas_bench *b, const float *tree_v, eahas_rng *noise, eahas_query_result *out,
                         eahas_err *err) {
  int E = out->epochs;
  double lq[EAHAS_NUM_TQ];
  trees_mean(b, tree_v, noise, lq);
  double st = exp(lq[EAHAS_TQ_TIME]), ft = st * exp(lq[EAHAS_TQ_TIME_FIRST]);
  double se = exp(lq[EAHAS_TQ_ENERGY]), fe = se * exp(lq[EAHAS_TQ_ENERGY_FIRST]);
  double t = ft, e = fe;
  out->time_s_cum[0] = t;
  out->tec_kwh_cum[0] = e / 3.6e6;
  for (int i = 1; i < E; i++) {
    t += st;
    e += se;
    out->time_s_cum[i] = t;
    out->tec_kwh_cum[i] = e / 3.6e6;
  }
  out->iec_j_per_image = exp(lq[EAHAS_TQ_IEC]);
  _Static_assert(sizeof out->energy_method == sizeof b->energy_method, "energy_method buffers differ in size");
  memcpy(out->energy_method, b->energy_method, sizeof out->energy_method);
  double iec = out->iec_j_per_image;
  if (st > 0 && ft > 0 && se > 0 && fe > 0 && iec > 0 && t < INFINITY && e < INFINITY && iec < INFINITY) return 0;
  return eahas_err_set(err, EAHAS_EFORMAT,
                       "the fitted time and energy models give per-epoch time %g s (first epoch %g s), energy "
                       "%g J (first epoch %g J), IEC %g J/image here: not positive and finite (damaged "
                       "models; refit with eahas fit)",
                       st, ft, se, fe, iec);
}

/* 0, or EAHAS_EFORMAT where a curve holds a NaN (damaged models: fitted ones give finite control
 * points, and the clamp keeps finite values within [0, 100]). */
static int curves_ok(const eahas_query_result *out, eahas_err *err) {
  const float *cv[4] = {out->test_acc, out->test_acc_plain, out->val_acc, out->train_acc};
  int nan = 0;
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < out->epochs; i++) nan |= cv[k][i] != cv[k][i];
  if (!nan) return 0;
  return eahas_err_set(err, EAHAS_EFORMAT, "the fitted curve models give NaN accuracies here (damaged models; "
                                           "refit with eahas fit)");
}

static void finals(eahas_query_result *out) {
  int E = out->epochs;
  out->final_test_acc = out->test_acc[E - 1];
  out->final_test_acc_plain = out->test_acc_plain[E - 1];
  out->final_val_acc = out->val_acc[E - 1];
  out->final_train_acc = out->train_acc[E - 1];
  out->train_time_s = out->time_s_cum[E - 1];
  out->tec_kwh = out->tec_kwh_cum[E - 1];
}

/* What every answer starts with: validation, the fidelity, complexity. */
static int begin_answer(const eahas_bench *b, const eahas_config *c, const eahas_query_opts *o,
                        eahas_query_result *out, eahas_err *err) {
  int rc = eahas_config_validate(c, b->preset, 0, err);
  if (rc) return rc;
  int E = (o && o->epochs) ? o->epochs : c->epochs;
  if (E < 1 || E > c->epochs)
    return eahas_err_set(err, EAHAS_EINVAL, "epochs=%d is outside [1, %d] (the config's max epochs)", E, c->epochs);
  out->epochs = E;
  out->from_table = 0;
  return eahas_config_complexity(c, b->preset, NULL, &out->cx, err);
}

static eahas_rng *noise_of(const eahas_config *c, const eahas_query_opts *o, eahas_rng *rng) {
  if (!o || !o->noise) return NULL;
  eahas_rng_seed_key(rng, o->noise_seed, eahas_config_hash(c));
  return rng;
}

int eahas_query(const eahas_bench *b, const eahas_config *c, const eahas_query_opts *o,
                eahas_query_result *out, eahas_err *err) {
  int rc = begin_answer(b, c, o, out, err);
  if (rc) return rc;
  if (o && o->tabular) {
    if ((rc = tabular_answer(b, c, out->epochs, out, err))) return rc;
  } else {
    float x[EAHAS_ENCODING_LEN], v[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS];
    eahas_config_encode(c, b->preset, x);
    eahas_rng rng, *noise = noise_of(c, o, &rng);
    eahas_bezier mus[EAHAS_NUM_CURVES], sds[EAHAS_NUM_CURVES];
    eahas__surrogate_predict_all(&b->s, x, mus, noise ? sds : NULL); /* every member of every kind */
    /* Curves are decoded at the config's own length: a fidelity E < max epochs is a prefix of
     * that curve, as in the original (the lr schedule runs over max epochs). Curve noise is drawn
     * before tree noise. */
    finish_curves(b, mus, sds, noise, c->epochs, out);
    predict_trees(b, x, v);
    if ((rc = finish_answer(b, v, noise, out, err)) || (rc = curves_ok(out, err))) return rc;
  }
  finals(out);
  return 0;
}

/* One block of at most QBLOCK configs that passed begin_answer: the MLPs of all of them (in
 * blocks of EAHAS__MLP_BLOCK) and their trees at once (one query-vectorized walk of
 * EAHAS__TREE_BLOCK), then each answer as eahas_query finishes it. */
enum { QBLOCK = EAHAS__TREE_BLOCK };
_Static_assert(QBLOCK % EAHAS__MLP_BLOCK == 0, "a query block is whole MLP blocks");
static void answer_block(const eahas_bench *b, const eahas_config *const *cs, int n, const eahas_query_opts *o,
                         eahas_query_result *const *outs, int *rcs, eahas_err *errs) {
  enum { MB = EAHAS__MLP_BLOCK, NV = EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS };
  float x[QBLOCK][EAHAS_ENCODING_LEN], xT[EAHAS_ENCODING_LEN * MB];
  float v[QBLOCK][NV];
  eahas_bezier mus[QBLOCK][EAHAS_NUM_CURVES], sds[QBLOCK][EAHAS_NUM_CURVES];
  for (int q = 0; q < n; q++) eahas_config_encode(cs[q], b->preset, x[q]);
  for (int q0 = 0; q0 < n; q0 += MB) {
    int nb = n - q0 < MB ? n - q0 : MB;
    for (int f = 0; f < EAHAS_ENCODING_LEN; f++) /* feature-major, padded with the block's first */
      for (int q = 0; q < MB; q++) xT[f * MB + q] = x[q0 + (q < nb ? q : 0)][f];
    if (eahas__surrogate_predict_block(&b->s, xT, mus + q0, o && o->noise ? sds + q0 : NULL))
      for (int q = q0; q < q0 + nb; q++) eahas__surrogate_predict_all(&b->s, x[q], mus[q], o && o->noise ? sds[q] : NULL);
  }
  int ok[QBLOCK];
  if (b->fused_block) eahas__fused_trees_predict_block(b->fused, &x[0][0], EAHAS_ENCODING_LEN, n, &v[0][0], NV, ok);
  for (int q = 0; q < n; q++) {
    if (!b->fused_block || !ok[q]) predict_trees(b, x[q], v[q]);
    eahas_rng rng, *noise = noise_of(cs[q], o, &rng);
    finish_curves(b, mus[q], sds[q], noise, cs[q]->epochs, outs[q]);
    if (!(rcs[q] = finish_answer(b, v[q], noise, outs[q], &errs[q])) && !(rcs[q] = curves_ok(outs[q], &errs[q])))
      finals(outs[q]);
  }
}

/* Keeps the failure of the lowest index in err: blocks are answered after later configs were
 * checked, so failures do not arrive in index order. */
static void keep_lowest(int i, int rc, const char *msg, int *first, int *first_rc, eahas_err *err) {
  if (i >= *first) return;
  *first = i;
  *first_rc = rc;
  eahas_err_set(err, rc, "config %d of the batch: %s", i, msg);
}

int eahas_query_batch(const eahas_bench *b, const eahas_config *c, int n, const eahas_query_opts *o,
                      eahas_query_result *out, int *rcs, eahas_err *err) {
  if (n < 0) return eahas_err_set(err, EAHAS_EINVAL, "batch of %d configs: the count must be >= 0", n);
  int first_rc = 0, first = n; /* the lowest failing index so far */
  const eahas_config *cs[QBLOCK];
  eahas_query_result *outs[QBLOCK];
  int at[QBLOCK], brc[QBLOCK], nb = 0;
  eahas_err berr[QBLOCK];
  for (int i = 0; i <= n; i++) {
    if (nb == QBLOCK || (i == n && nb)) { /* answer the block, then record its failures */
      answer_block(b, cs, nb, o, outs, brc, berr);
      for (int q = 0; q < nb; q++) {
        if (rcs) rcs[at[q]] = brc[q];
        if (brc[q]) keep_lowest(at[q], brc[q], berr[q].msg, &first, &first_rc, err);
      }
      nb = 0;
    }
    if (i == n) break;
    eahas_err e1 = {0};
    int rc = (o && o->tabular) ? eahas_query(b, &c[i], o, &out[i], &e1) : begin_answer(b, &c[i], o, &out[i], &e1);
    if (rcs) rcs[i] = rc;
    if (rc) {
      keep_lowest(i, rc, e1.msg, &first, &first_rc, err);
      continue;
    }
    if (o && o->tabular) continue;
    at[nb] = i;
    cs[nb] = &c[i];
    outs[nb++] = &out[i];
  }
  return first_rc;
}
