/* Evaluation of the surrogates on a deterministic held-out split (EA-HAS-Bench reports R²,
 * Kendall tau and Spearman rho per curve length), with two baselines on the same split: an MLP
 * predicting the L values directly, and a truncated SVD of the resampled curves with XGBoost on
 * the components. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/internal.h"

#define ML EAHAS_MAX_EPOCHS
#define SVD_GRID 50
#define SVD_K 5

static const int GROUPS[4] = {50, 100, 200, 0};

static int add_row(eahas_eval_report *rep, const eahas_eval_row *row) {
  eahas_eval_row *p = realloc(rep->rows, sizeof *p * (size_t)(rep->n_rows + 1));
  if (!p) return EAHAS_ENOMEM;
  rep->rows = p;
  rep->rows[rep->n_rows++] = *row;
  return 0;
}

/* Rows for one quantity and model: per length group, metrics of the final values and (if ya)
 * of every epoch. len[i] is the curve length of test item i (the group key). */
static int emit(eahas_eval_report *rep, const char *q, const char *model, int nt, const int *len,
                const double *yf, const double *pf, const double *ya, const double *pa) {
  double *a = malloc(sizeof(double) * (size_t)(nt ? nt : 1)), *b = malloc(sizeof(double) * (size_t)(nt ? nt : 1));
  double *ca = ya ? malloc(sizeof(double) * (size_t)(nt ? nt : 1) * ML) : NULL;
  double *cb = ya ? malloc(sizeof(double) * (size_t)(nt ? nt : 1) * ML) : NULL;
  int rc = 0;
  if (!a || !b || (ya && (!ca || !cb))) rc = EAHAS_ENOMEM;
  for (int g = 0; g < 4 && !rc; g++) {
    int m = 0, mc = 0;
    for (int i = 0; i < nt; i++) {
      if (GROUPS[g] && len[i] != GROUPS[g]) continue;
      a[m] = yf[i];
      b[m++] = pf[i];
      if (ya)
        for (int e = 0; e < len[i]; e++) {
          ca[mc] = ya[(size_t)i * ML + e];
          cb[mc++] = pa[(size_t)i * ML + e];
        }
    }
    if (m == 0) continue;
    eahas_eval_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.quantity, sizeof row.quantity, "%s", q);
    snprintf(row.model, sizeof row.model, "%s", model);
    row.group = GROUPS[g];
    row.n = m;
    row.r2_final = eahas_r2(a, b, m);
    row.tau_final = eahas_kendall_tau(a, b, m);
    row.rho_final = eahas_spearman_rho(a, b, m);
    row.rmse_final = eahas_rmse(a, b, m);
    row.rmse_all = ya ? eahas_rmse(ca, cb, mc) : NAN;
    row.r2_all = ya ? eahas_r2(ca, cb, mc) : NAN;
    rc = add_row(rep, &row);
  }
  free(a); free(b); free(ca); free(cb);
  return rc;
}

/* Symmetric eigen-decomposition by cyclic Jacobi rotations: A (n x n) is destroyed, V gets the
 * eigenvectors in columns, w the eigenvalues. */
static void jacobi_eigen(int n, double *A, double *V, double *w) {
  for (int i = 0; i < n * n; i++) V[i] = 0;
  for (int i = 0; i < n; i++) V[i * n + i] = 1;
  for (int sweep = 0; sweep < 60; sweep++) {
    double off = 0;
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
    if (off < 1e-22) break;
    for (int p = 0; p < n; p++)
      for (int q = p + 1; q < n; q++) {
        double apq = A[p * n + q];
        if (fabs(apq) < 1e-300) continue;
        double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++) {
          double akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++) {
          double apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < n; k++) {
          double vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < n; i++) w[i] = A[i * n + i];
}

/* Linear resampling of a curve of L values at x = 1..L onto G points spanning [1, L], and back. */
static void to_grid(const double *y, int L, double *g) {
  for (int k = 0; k < SVD_GRID; k++) {
    double x = (double)k * (L - 1) / (SVD_GRID - 1);
    int i = (int)x;
    if (i >= L - 1) i = L - 2;
    double f = x - i;
    g[k] = y[i] * (1 - f) + y[i + 1] * f;
  }
}
static void from_grid(const double *g, int L, double *y) {
  for (int j = 0; j < L; j++) {
    double x = L == 1 ? 0 : (double)j * (SVD_GRID - 1) / (L - 1);
    int i = (int)x;
    if (i >= SVD_GRID - 1) i = SVD_GRID - 2;
    double f = x - i;
    y[j] = g[i] * (1 - f) + g[i + 1] * f;
  }
}

typedef struct ctx {
  const eahas_run_record *runs;
  const eahas_preset *p;
  const int *tr, *te;
  int ntr, nte;
  const eahas_fit_opts *o;
} ctx;

static int baseline_direct(const ctx *c, int kind, double *pa, eahas_err *err) {
  float *X = malloc(sizeof(float) * EAHAS_ENCODING_LEN * (size_t)c->ntr);
  float *Y = calloc((size_t)c->ntr * ML, sizeof(float)), *M = calloc((size_t)c->ntr * ML, sizeof(float));
  int rc = 0;
  eahas_mlp m;
  memset(&m, 0, sizeof m);
  if (!X || !Y || !M) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "direct baseline buffers");
    goto out;
  }
  for (int i = 0; i < c->ntr; i++) {
    const eahas_run_record *r = &c->runs[c->tr[i]];
    eahas_config_encode(&r->config, c->p, X + (size_t)i * EAHAS_ENCODING_LEN);
    const double *y = eahas__curve_of(r, kind);
    for (int e = 0; e < r->epochs_trained; e++) {
      Y[(size_t)i * ML + e] = (float)(y[e] / 100);
      M[(size_t)i * ML + e] = 1;
    }
  }
  if ((rc = eahas_mlp_init(&m, 5, EAHAS_ENCODING_LEN - 5, c->o->hidden, ML, ML, (float)c->o->dropout,
                           eahas_mix64(c->o->seed ^ 0xd1ULL ^ (uint64_t)kind), err)))
    goto out;
  eahas_mlp_train_opts to = {.epochs = c->o->epochs, .batch = c->o->batch, .lr = c->o->lr, .seed = c->o->seed ^ 0xd2};
  if ((rc = eahas_mlp_train(&m, X, Y, M, c->ntr, &to, err))) goto out;
  for (int i = 0; i < c->nte; i++) {
    float x[EAHAS_ENCODING_LEN], out[ML];
    eahas_config_encode(&c->runs[c->te[i]].config, c->p, x);
    eahas_mlp_forward(&m, x, out);
    for (int e = 0; e < ML; e++) pa[(size_t)i * ML + e] = 100.0 * out[e];
  }
out:
  eahas_mlp_free(&m);
  free(X); free(Y); free(M);
  return rc;
}

static int baseline_svd(const ctx *c, int kind, double *pa, eahas_err *err) {
  int G = SVD_GRID, n = c->ntr, rc = 0;
  double *Gm = malloc(sizeof(double) * (size_t)n * G), mean[SVD_GRID] = {0};
  double *C = calloc((size_t)G * G, sizeof(double)), *V = malloc(sizeof(double) * (size_t)G * G), w[SVD_GRID];
  float *X = malloc(sizeof(float) * EAHAS_ENCODING_LEN * (size_t)n), *S = malloc(sizeof(float) * (size_t)n);
  char *model[SVD_K] = {0};
  size_t len[SVD_K] = {0};
  if (!Gm || !C || !V || !X || !S) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "SVD baseline buffers");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    const eahas_run_record *r = &c->runs[c->tr[i]];
    to_grid(eahas__curve_of(r, kind), r->epochs_trained, Gm + (size_t)i * G);
    eahas_config_encode(&r->config, c->p, X + (size_t)i * EAHAS_ENCODING_LEN);
    for (int k = 0; k < G; k++) mean[k] += Gm[(size_t)i * G + k] / n;
  }
  for (int i = 0; i < n; i++)
    for (int a = 0; a < G; a++)
      for (int b = 0; b < G; b++)
        C[a * G + b] += (Gm[(size_t)i * G + a] - mean[a]) * (Gm[(size_t)i * G + b] - mean[b]);
  /* The top right singular vectors of the centred curve matrix are the top eigenvectors of
   * its Gram matrix. */
  jacobi_eigen(G, C, V, w);
  int idx[SVD_GRID];
  for (int k = 0; k < G; k++) idx[k] = k;
  for (int a = 0; a < G; a++)
    for (int b = a + 1; b < G; b++)
      if (w[idx[b]] > w[idx[a]]) {
        int t = idx[a];
        idx[a] = idx[b];
        idx[b] = t;
      }
  for (int k = 0; k < SVD_K; k++) {
    for (int i = 0; i < n; i++) {
      double s = 0;
      for (int g = 0; g < G; g++) s += (Gm[(size_t)i * G + g] - mean[g]) * V[g * G + idx[k]];
      S[i] = (float)s;
    }
    eahas_xgb_opts xo = c->o->xgb;
    xo.seed = c->o->seed ^ (0x5dULL + (uint64_t)k);
    if ((rc = eahas_xgb_train(X, S, n, EAHAS_ENCODING_LEN, &xo, &model[k], &len[k], err))) goto out;
  }
  for (int i = 0; i < c->nte; i++) {
    const eahas_run_record *r = &c->runs[c->te[i]];
    float x[EAHAS_ENCODING_LEN], sc[SVD_K];
    eahas_config_encode(&r->config, c->p, x);
    for (int k = 0; k < SVD_K; k++)
      if ((rc = eahas_xgb_predict(model[k], len[k], x, 1, EAHAS_ENCODING_LEN, &sc[k], err))) goto out;
    double g[SVD_GRID];
    for (int a = 0; a < G; a++) {
      g[a] = mean[a];
      for (int k = 0; k < SVD_K; k++) g[a] += sc[k] * V[a * G + idx[k]];
    }
    from_grid(g, r->epochs_trained, pa + (size_t)i * ML);
  }
out:
  for (int k = 0; k < SVD_K; k++) free(model[k]);
  free(Gm); free(C); free(V); free(X); free(S);
  return rc;
}

static int cmp_u64i(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Where a config was run more than once: how well one run predicts another (first pair). */
static int noise_ceiling(eahas_eval_report *rep, const eahas_run_record *runs, int n) {
  uint64_t *k = malloc(sizeof(uint64_t) * 2 * (size_t)(n ? n : 1));
  if (!k) return EAHAS_ENOMEM;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (eahas__curve_usable(&runs[i])) {
      k[2 * m] = eahas_config_hash(&runs[i].config);
      k[2 * m + 1] = (uint64_t)i;
      m++;
    }
  qsort(k, (size_t)m, 2 * sizeof(uint64_t), cmp_u64i);
  int rc = 0;
  for (int kind = 0; kind < EAHAS_NUM_CURVES && !rc; kind++) {
    int np = 0, len[1024];
    double yf[1024], pf[1024];
    for (int i = 0; i + 1 < m && np < 1024; i++)
      if (k[2 * i] == k[2 * i + 2]) {
        const eahas_run_record *a = &runs[k[2 * i + 1]], *b = &runs[k[2 * i + 3]];
        if (a->epochs_trained != b->epochs_trained) continue;
        len[np] = a->epochs_trained;
        yf[np] = eahas__curve_of(a, kind)[a->epochs_trained - 1];
        pf[np] = eahas__curve_of(b, kind)[b->epochs_trained - 1];
        np++;
        i++;
      }
    if (np >= 2) rc = emit(rep, EAHAS_CURVE_NAMES[kind], "noise-ceiling", np, len, yf, pf, NULL, NULL);
  }
  free(k);
  return rc;
}

int eahas_eval_runs(const eahas_run_record *runs, int n, const eahas_preset *p, const eahas_fit_opts *o,
                    eahas_eval_report *rep, eahas_err *err) {
  memset(rep, 0, sizeof *rep);
  eahas_fit_opts fo = *o;
  if (!(fo.holdout > 0)) fo.holdout = 0.2;
  rep->holdout = fo.holdout;
  rep->seed = fo.seed;
  rep->n_runs = n;
  int n_usable = 0, n_out = 0; /* checked before the fit: an empty report would look like a result */
  for (int i = 0; i < n; i++)
    if (eahas__curve_usable(&runs[i])) {
      n_usable++;
      n_out += eahas_split_is_holdout(&runs[i].config, fo.holdout, fo.seed);
    }
  if (n_out == 0)
    return eahas_err_set(err, EAHAS_EINVAL, "holdout fraction %g (seed %llu) holds out none of the %d usable runs; "
                         "raise it", fo.holdout, (unsigned long long)fo.seed, n_usable);
  eahas_surrogate s;
  int rc = eahas_surrogate_fit(runs, n, p, &fo, &s, err);
  if (rc) return rc;
  int *tr = malloc(sizeof(int) * (size_t)n), *te = malloc(sizeof(int) * (size_t)n), *len = malloc(sizeof(int) * (size_t)n);
  double *yf = malloc(sizeof(double) * (size_t)n), *pf = malloc(sizeof(double) * (size_t)n);
  double *ya = malloc(sizeof(double) * (size_t)n * ML), *pa = malloc(sizeof(double) * (size_t)n * ML);
  eahas_forest f[EAHAS_NUM_TQ][EAHAS_MAX_MEMBERS];
  memset(f, 0, sizeof f);
  if (!tr || !te || !len || !yf || !pf || !ya || !pa) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "evaluation buffers for %d runs", n);
    goto out;
  }
  int ntr = 0, nte = 0;
  for (int i = 0; i < n; i++) {
    if (!eahas__curve_usable(&runs[i])) continue;
    if (eahas_split_is_holdout(&runs[i].config, fo.holdout, fo.seed)) te[nte++] = i;
    else tr[ntr++] = i;
  }
  rep->n_train = ntr;
  rep->shared = s.shared;
  rep->n_test = nte;
  ctx c = {runs, p, tr, te, ntr, nte, &fo};
  for (int kind = 0; kind < EAHAS_NUM_CURVES && nte > 0; kind++) {
    if (!(s.curves_mask & (1 << kind))) continue;
    const char *q = EAHAS_CURVE_NAMES[kind];
    for (int i = 0; i < nte; i++) {
      const eahas_run_record *r = &runs[te[i]];
      int L = r->epochs_trained;
      const double *y = eahas__curve_of(r, kind);
      len[i] = L;
      for (int e = 0; e < L; e++) ya[(size_t)i * ML + e] = y[e];
      yf[i] = y[L - 1];
    }
    /* BSC */
    for (int i = 0; i < nte; i++) {
      const eahas_run_record *r = &runs[te[i]];
      float x[EAHAS_ENCODING_LEN], cur[ML];
      eahas_config_encode(&r->config, p, x);
      eahas_bezier mu;
      eahas_surrogate_predict_curve(&s, kind, x, &r->config, &mu, NULL);
      eahas_bezier_make_monotone(&mu);
      eahas_bezier_decode(&mu, len[i], cur);
      for (int e = 0; e < len[i]; e++) pa[(size_t)i * ML + e] = fmin(100, fmax(0, cur[e]));
      pf[i] = pa[(size_t)i * ML + len[i] - 1];
    }
    if ((rc = emit(rep, q, "bsc", nte, len, yf, pf, ya, pa))) goto out;
    /* the Bezier fit of each held-out curve itself: the representation's error floor */
    for (int i = 0; i < nte; i++) {
      eahas_bezier b;
      float cur[ML];
      eahas_bezier_fit(ya + (size_t)i * ML, len[i], s.degree, &b, NULL, NULL);
      eahas_bezier_decode(&b, len[i], cur);
      for (int e = 0; e < len[i]; e++) pa[(size_t)i * ML + e] = cur[e];
      pf[i] = pa[(size_t)i * ML + len[i] - 1];
    }
    if ((rc = emit(rep, q, "bezier-fit", nte, len, yf, pf, ya, pa))) goto out;
    if ((rc = baseline_direct(&c, kind, pa, err))) goto out;
    for (int i = 0; i < nte; i++) pf[i] = pa[(size_t)i * ML + len[i] - 1];
    if ((rc = emit(rep, q, "mlp-direct", nte, len, yf, pf, ya, pa))) goto out;
    if ((rc = baseline_svd(&c, kind, pa, err))) goto out;
    for (int i = 0; i < nte; i++) pf[i] = pa[(size_t)i * ML + len[i] - 1];
    if ((rc = emit(rep, q, "svd-xgb", nte, len, yf, pf, ya, pa))) goto out;
  }
  /* Tree models: totals over each held-out run's recorded epochs. */
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < s.members; m++)
      if ((rc = eahas_forest_from_json(s.xgb[q][m], s.xgb_len[q][m], &f[q][m], err))) goto out;
  {
    int nt = 0;
    double *tt = ya, *pt = pa, *et = ya + n, *pe = pa + n, *it = ya + 2 * (size_t)n, *pi = pa + 2 * (size_t)n;
    for (int i = 0; i < n; i++) {
      const eahas_run_record *r = &runs[i];
      if (!eahas__tree_usable(r) || !eahas_split_is_holdout(&r->config, fo.holdout, fo.seed)) continue;
      float x[EAHAS_ENCODING_LEN];
      eahas_config_encode(&r->config, p, x);
      double lq[EAHAS_NUM_TQ];
      for (int q = 0; q < EAHAS_NUM_TQ; q++) {
        double acc = 0;
        for (int m = 0; m < s.members; m++) acc += eahas_forest_predict(&f[q][m], x);
        lq[q] = acc / s.members;
      }
      int E = r->epochs_trained;
      double st = exp(lq[EAHAS_TQ_TIME]), se = exp(lq[EAHAS_TQ_ENERGY]);
      double e_sum = 0;
      for (int e = 0; e < E; e++) e_sum += r->train_energy_j[e];
      len[nt] = r->config.epochs;
      tt[nt] = r->train_time_s;
      pt[nt] = st * exp(lq[EAHAS_TQ_TIME_FIRST]) + (E - 1) * st;
      et[nt] = e_sum / 3.6e6;
      pe[nt] = (se * exp(lq[EAHAS_TQ_ENERGY_FIRST]) + (E - 1) * se) / 3.6e6;
      it[nt] = r->iec_j_per_image;
      pi[nt] = exp(lq[EAHAS_TQ_IEC]);
      nt++;
    }
    if (nt > 0 && ((rc = emit(rep, "train_time_s", "trees", nt, len, tt, pt, NULL, NULL)) ||
                   (rc = emit(rep, "tec_kwh", "trees", nt, len, et, pe, NULL, NULL)) ||
                   (rc = emit(rep, "iec_j_per_image", "trees", nt, len, it, pi, NULL, NULL))))
      goto out;
  }
  rc = noise_ceiling(rep, runs, n);
  if (rc) rc = eahas_err_set(err, rc, "out of memory in the noise ceiling");
out:
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < EAHAS_MAX_MEMBERS; m++) eahas_forest_free(&f[q][m]);
  eahas_surrogate_free(&s);
  free(tr); free(te); free(len); free(yf); free(pf); free(ya); free(pa);
  if (rc) eahas_eval_report_free(rep);
  return rc;
}

void eahas_eval_report_free(eahas_eval_report *r) {
  if (!r) return;
  free(r->rows);
  r->rows = NULL;
  r->n_rows = 0;
}

static void num(cJSON *o, const char *k, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, k, v);
  else cJSON_AddNullToObject(o, k);
}

char *eahas_eval_report_to_json(const eahas_eval_report *r) {
  cJSON *root = cJSON_CreateObject(), *rows = cJSON_CreateArray();
  if (!root || !rows) {
    cJSON_Delete(root);
    cJSON_Delete(rows);
    return NULL;
  }
  cJSON_AddNumberToObject(root, "n_runs", r->n_runs);
  cJSON_AddNumberToObject(root, "n_train", r->n_train);
  cJSON_AddNumberToObject(root, "n_test", r->n_test);
  cJSON_AddNumberToObject(root, "holdout", r->holdout);
  cJSON_AddNumberToObject(root, "seed", (double)r->seed);
  cJSON_AddStringToObject(root, "bsc_networks", r->shared ? "shared" : "per-curve");
  for (int i = 0; i < r->n_rows; i++) {
    const eahas_eval_row *w = &r->rows[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "quantity", w->quantity);
    cJSON_AddNumberToObject(o, "group", w->group);
    cJSON_AddStringToObject(o, "model", w->model);
    cJSON_AddNumberToObject(o, "n", w->n);
    num(o, "r2_final", w->r2_final);
    num(o, "kendall_tau_final", w->tau_final);
    num(o, "spearman_rho_final", w->rho_final);
    num(o, "rmse_final", w->rmse_final);
    num(o, "rmse_all", w->rmse_all);
    num(o, "r2_all", w->r2_all);
    cJSON_AddItemToArray(rows, o);
  }
  cJSON_AddItemToObject(root, "rows", rows);
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  return s;
}
