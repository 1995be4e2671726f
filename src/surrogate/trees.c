/* Tree models: training and prediction through the XGBoost C API, and our own evaluation of the
 * saved JSON model (parsed once, flattened into one node array) so that a query costs a few
 * hundred node visits instead of an XGBoost DMatrix round trip. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "eahas/surrogate.h"

/* Hot loops get an AVX2 clone picked at run time (x86-64 with GCC or Clang). -std=c11 keeps
 * -ffp-contract=off, so both clones round identically: results do not depend on the CPU. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EAHAS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define EAHAS_HOT
#endif

static int xgb_fail(eahas_err *err, const char *what) {
  return eahas_err_set(err, EAHAS_EINTERNAL, "XGBoost %s: %s", what, XGBGetLastError());
}

int eahas_xgb_train(const float *X, const float *y, int n, int n_feat, const eahas_xgb_opts *o,
                    char **model, size_t *len, eahas_err *err) {
  *model = NULL;
  *len = 0;
  if (n < 2) return eahas_err_set(err, EAHAS_EINVAL, "tree model needs at least 2 rows, got %d", n);
  if (o->rounds < 1 || o->max_depth < 1 || !(o->eta > 0) || !(o->subsample > 0 && o->subsample <= 1))
    return eahas_err_set(err, EAHAS_EINVAL,
                         "tree options: rounds %d (>= 1), depth %d (>= 1), eta %g (> 0), subsample %g (0, 1]",
                         o->rounds, o->max_depth, o->eta, o->subsample);
  DMatrixHandle d = NULL;
  BoosterHandle b = NULL;
  int rc = 0;
  char buf[64];
  if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)n_feat, NAN, &d)) return xgb_fail(err, "matrix");
  if (XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)n)) {
    rc = xgb_fail(err, "labels");
    goto out;
  }
  if (XGBoosterCreate(&d, 1, &b)) {
    rc = xgb_fail(err, "booster");
    goto out;
  }
  /* Exact splits on one thread: the same data and seed give the same model everywhere. */
  const char *kv[][2] = {{"objective", "reg:squarederror"}, {"tree_method", "exact"}, {"nthread", "1"},
                         {"verbosity", "0"}, {"base_score", NULL}};
  for (int i = 0; i < 4; i++)
    if (XGBoosterSetParam(b, kv[i][0], kv[i][1])) {
      rc = xgb_fail(err, "parameter");
      goto out;
    }
  /* The mean of the target as base score: fewer rounds are spent learning the offset. */
  double mean = 0;
  for (int i = 0; i < n; i++) mean += y[i];
  snprintf(buf, sizeof buf, "%.9g", mean / n);
  XGBoosterSetParam(b, "base_score", buf);
  snprintf(buf, sizeof buf, "%d", o->max_depth);
  XGBoosterSetParam(b, "max_depth", buf);
  snprintf(buf, sizeof buf, "%.9g", o->eta);
  XGBoosterSetParam(b, "eta", buf);
  snprintf(buf, sizeof buf, "%.9g", o->subsample);
  XGBoosterSetParam(b, "subsample", buf);
  snprintf(buf, sizeof buf, "%d", (int)(o->seed & 0x7fffffff));
  XGBoosterSetParam(b, "seed", buf);
  for (int it = 0; it < o->rounds; it++)
    if (XGBoosterUpdateOneIter(b, it, d)) {
      rc = xgb_fail(err, "training");
      goto out;
    }
  bst_ulong n_out = 0;
  const char *raw = NULL;
  if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &n_out, &raw)) {
    rc = xgb_fail(err, "save");
    goto out;
  }
  *model = malloc(n_out + 1);
  if (!*model) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "tree model of %lu bytes", (unsigned long)n_out);
    goto out;
  }
  memcpy(*model, raw, n_out);
  (*model)[n_out] = 0;
  *len = n_out;
out:
  if (b) XGBoosterFree(b);
  if (d) XGDMatrixFree(d);
  return rc;
}

int eahas_xgb_predict(const char *model, size_t len, const float *X, int n, int n_feat, float *out,
                      eahas_err *err) {
  BoosterHandle b = NULL;
  DMatrixHandle d = NULL;
  int rc = 0;
  if (XGBoosterCreate(NULL, 0, &b)) return xgb_fail(err, "booster");
  XGBoosterSetParam(b, "nthread", "1");
  if (XGBoosterLoadModelFromBuffer(b, model, (bst_ulong)len)) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "XGBoost refuses the model: %s", XGBGetLastError());
    goto out;
  }
  if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)n_feat, NAN, &d)) {
    rc = xgb_fail(err, "matrix");
    goto out;
  }
  bst_ulong n_pred = 0;
  const float *pred = NULL;
  if (XGBoosterPredict(b, d, 0, 0, 0, &n_pred, &pred) || n_pred != (bst_ulong)n) {
    rc = xgb_fail(err, "prediction");
    goto out;
  }
  memcpy(out, pred, sizeof(float) * (size_t)n);
out:
  if (d) XGDMatrixFree(d);
  XGBoosterFree(b);
  return rc;
}

/* ---- our own evaluator ------------------------------------------------------------------ */

static const cJSON *path(const cJSON *j, const char *const *keys) {
  for (; *keys && j; keys++) j = cJSON_GetObjectItemCaseSensitive(j, *keys);
  return j;
}

/* Numbers in XGBoost's JSON are numbers, except learner_model_param's, which are strings. */
static int num_of(const cJSON *j, double *v) {
  if (cJSON_IsNumber(j)) {
    *v = j->valuedouble;
    return 0;
  }
  if (cJSON_IsString(j)) {
    char *end;
    *v = strtod(j->valuestring, &end);
    return *end ? -1 : 0;
  }
  return -1;
}

void eahas_forest_free(eahas_forest *f) {
  if (!f) return;
  free(f->roots);
  free(f->nodes);
  free(f->leaf);
  memset(f, 0, sizeof *f);
}

static int tree_copy(eahas_forest *f, int ti, int nn, const cJSON *const *arr, const char *const *names, int *L,
                     int *R, int *F, int *D, float *C, int *newid, int *order, int *depth, eahas_err *err);

static int parse_tree(const cJSON *t, int ti, eahas_forest *f, int *cap, eahas_err *err) {
  const char *names[] = {"left_children", "right_children", "split_indices", "split_conditions", "default_left"};
  const cJSON *arr[5];
  int nn = -1;
  for (int i = 0; i < 5; i++) {
    arr[i] = cJSON_GetObjectItemCaseSensitive(t, names[i]);
    if (!cJSON_IsArray(arr[i]))
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d: field '%s' missing or not an array", ti, names[i]);
    int sz = cJSON_GetArraySize(arr[i]);
    if (nn >= 0 && sz != nn)
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d: '%s' has %d entries, expected %d", ti, names[i], sz, nn);
    nn = sz;
  }
  if (nn < 1) return eahas_err_set(err, EAHAS_EFORMAT, "tree %d has no nodes", ti);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(t, "split_type");
  if (cJSON_IsArray(st)) {
    const cJSON *e;
    cJSON_ArrayForEach(e, st) if (cJSON_IsNumber(e) && e->valueint != 0)
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d has a categorical split (unsupported)", ti);
  }
  if (nn > 4096) return eahas_err_set(err, EAHAS_EFORMAT, "tree %d has %d nodes (at most 4096)", ti, nn);
  if (f->n_nodes + nn + 1 > EAHAS_FOREST_MAX_NODES)
    return eahas_err_set(err, EAHAS_EFORMAT, "forest has more than %d nodes", EAHAS_FOREST_MAX_NODES);
  if (f->n_nodes + nn > *cap) {
    int nc = (*cap ? *cap * 2 : 1024);
    while (nc < f->n_nodes + nn) nc *= 2;
    eahas_forest_node *p = realloc(f->nodes, sizeof *p * (size_t)nc);
    if (p) f->nodes = p;
    float *q = p ? realloc(f->leaf, sizeof *q * (size_t)nc) : NULL;
    if (q) f->leaf = q;
    if (!p || !q) return eahas_err_set(err, EAHAS_ENOMEM, "forest of %d nodes", nc);
    *cap = nc;
  }
  /* XGBoost's arrays first, checked; then a breadth-first copy with siblings side by side. */
  /* scratch on the heap: 112 KB would be a lot of stack for a thread that opens a bench */
  int *L = malloc(sizeof(int) * 7 * 4096);
  float *C = malloc(sizeof(float) * 4096);
  if (!L || !C) {
    free(L);
    free(C);
    return eahas_err_set(err, EAHAS_ENOMEM, "tree %d scratch", ti);
  }
  int *R = L + 4096, *F = R + 4096, *D = F + 4096, *newid = D + 4096, *order = newid + 4096, *depth = order + 4096;
  int rc = tree_copy(f, ti, nn, arr, names, L, R, F, D, C, newid, order, depth, err);
  free(L);
  free(C);
  return rc;
}

/* Reads XGBoost's arrays of tree ti (nn nodes) into the scratch arrays, checks them, and appends
 * the tree to the forest breadth first. */
static int tree_copy(eahas_forest *f, int ti, int nn, const cJSON *const *arr, const char *const *names, int *L,
                     int *R, int *F, int *D, float *C, int *newid, int *order, int *depth, eahas_err *err) {
  const cJSON *e[5];
  for (int i = 0; i < 5; i++) e[i] = arr[i]->child;
  for (int k = 0; k < nn; k++) {
    double v[5];
    for (int i = 0; i < 5; i++) {
      if (num_of(e[i], &v[i]))
        return eahas_err_set(err, EAHAS_EFORMAT, "tree %d node %d: '%s' is not a number", ti, k, names[i]);
      e[i] = e[i]->next;
    }
    L[k] = (int)v[0];
    R[k] = (int)v[1];
    C[k] = (float)v[3];
    D[k] = v[4] != 0;
    F[k] = 0;
    if (L[k] == -1) continue;
    if (L[k] <= k || L[k] >= nn || R[k] <= k || R[k] >= nn)
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d node %d: child index %d/%d outside (%d, %d)", ti, k, L[k],
                           R[k], k, nn);
    if (v[2] < 0 || v[2] >= f->n_features)
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d node %d: feature %g outside [0, %d)", ti, k, v[2],
                           f->n_features);
    F[k] = (int)v[2];
  }
  int base = f->n_nodes, head = 0, tail = 1, next = 1;
  for (int k = 1; k < nn; k++) newid[k] = -1; /* not reached yet: a second parent is an error */
  order[0] = 0;
  newid[0] = 0;
  depth[0] = 0;
  while (head < tail) {
    int k = order[head++];
    eahas_forest_node *nd = &f->nodes[base + newid[k]];
    if (L[k] == -1) {
      nd->value = INFINITY;
      nd->bits = (uint32_t)(base + newid[k]);
      f->leaf[base + newid[k]] = C[k];
      if (depth[k] > f->depth) f->depth = depth[k];
      continue;
    }
    if (next + 2 > nn || newid[L[k]] != -1 || newid[R[k]] != -1 || L[k] == R[k])
      return eahas_err_set(err, EAHAS_EFORMAT, "tree %d node %d: child %d or %d has another parent", ti, k, L[k], R[k]);
    newid[L[k]] = next;
    newid[R[k]] = next + 1;
    depth[L[k]] = depth[R[k]] = depth[k] + 1;
    order[tail++] = L[k];
    order[tail++] = R[k];
    nd->value = C[k];
    nd->bits = (uint32_t)(base + next) | (uint32_t)F[k] << 23 | (uint32_t)(!D[k]) << 31;
    f->leaf[base + newid[k]] = 0.0f;
    next += 2;
  }
  nn = next;
  f->roots[ti] = base;
  f->n_nodes += nn;
  return 0;
}

int eahas_forest_from_json(const char *json, size_t len, eahas_forest *f, eahas_err *err) {
  memset(f, 0, sizeof *f);
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) return eahas_err_set(err, EAHAS_EFORMAT, "tree model is not valid JSON");
  int rc = 0, cap = 0;
  static const char *const k_obj[] = {"learner", "objective", "name", NULL};
  static const char *const k_base[] = {"learner", "learner_model_param", "base_score", NULL};
  static const char *const k_nf[] = {"learner", "learner_model_param", "num_feature", NULL};
  static const char *const k_trees[] = {"learner", "gradient_booster", "model", "trees", NULL};
  const cJSON *obj = path(root, k_obj), *trees = path(root, k_trees);
  double base, nf;
  if (!cJSON_IsString(obj) || strcmp(obj->valuestring, "reg:squarederror") != 0) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "tree model: objective is not reg:squarederror");
    goto out;
  }
  if (num_of(path(root, k_base), &base) || num_of(path(root, k_nf), &nf) || nf < 1 || nf > 255) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "tree model: base_score or num_feature missing or invalid");
    goto out;
  }
  if (!cJSON_IsArray(trees)) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "tree model: no 'trees' array (gbtree expected)");
    goto out;
  }
  f->base_score = (float)base;
  f->n_features = (int)nf;
  f->n_trees = cJSON_GetArraySize(trees);
  int padded = (f->n_trees + EAHAS_FOREST_LOCKSTEP - 1) / EAHAS_FOREST_LOCKSTEP * EAHAS_FOREST_LOCKSTEP;
  f->roots = malloc(sizeof(int32_t) * (size_t)(padded ? padded : 1));
  if (!f->roots) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "forest of %d trees", f->n_trees);
    goto out;
  }
  int ti = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, trees) {
    if ((rc = parse_tree(t, ti, f, &cap, err))) goto out;
    ti++;
  }
  /* the zero leaf that pads the last lockstep block */
  if (f->n_nodes + 1 > cap) {
    eahas_forest_node *q = realloc(f->nodes, sizeof *q * (size_t)(f->n_nodes + 1));
    if (q) f->nodes = q;
    float *l = q ? realloc(f->leaf, sizeof *l * (size_t)(f->n_nodes + 1)) : NULL;
    if (l) f->leaf = l;
    if (!q || !l) {
      rc = eahas_err_set(err, EAHAS_ENOMEM, "forest of %d nodes", f->n_nodes + 1);
      goto out;
    }
  }
  f->nodes[f->n_nodes] = (eahas_forest_node){INFINITY, (uint32_t)f->n_nodes};
  f->leaf[f->n_nodes] = 0.0f;
  for (int i = f->n_trees; i < padded; i++) f->roots[i] = f->n_nodes;
out:
  cJSON_Delete(root);
  if (rc) eahas_forest_free(f);
  return rc;
}

EAHAS_HOT
float eahas_forest_predict(const eahas_forest *f, const float *x) {
  /* XGBoost sums the leaves in float, tree by tree, then adds the base score; we walk blocks of
   * trees in lockstep for `depth` steps (leaves loop to themselves) and sum in the same order. */
  enum { W = EAHAS_FOREST_LOCKSTEP };
  float s = 0.0f;
  const eahas_forest_node *nodes = f->nodes;
  const float *leaf = f->leaf;
  const int depth = f->depth;
  for (int t0 = 0; t0 < f->n_trees; t0 += W) {
    int32_t id[W];
    for (int i = 0; i < W; i++) id[i] = f->roots[t0 + i];
    for (int d = 0; d < depth; d++)
      for (int i = 0; i < W; i++) {
        const eahas_forest_node nd = nodes[id[i]];
        float v = x[(nd.bits >> 23) & 255u];
        uint32_t left = nd.bits & 0x7fffffu;
        uint32_t right = (uint32_t)(v >= nd.value) | ((uint32_t)(isnan(v) != 0) & (nd.bits >> 31));
        /* a leaf points to itself and stays, even for x = +inf (+inf >= its +inf threshold) */
        id[i] = (int32_t)(left + (right & (uint32_t)(left != (uint32_t)id[i])));
      }
    for (int i = 0; i < W; i++) s += leaf[id[i]];
  }
  return s + f->base_score;
}
