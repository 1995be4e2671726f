/* Fitting the surrogate set (BSC MLPs per curve kind, tree models for time, energy and IEC,
 * ensembles of K members) and its versioned blob inside the benchmark file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "eahas/tabular.h"
#include "surrogate/internal.h"

const char *const EAHAS_CURVE_NAMES[EAHAS_NUM_CURVES] = {"test_acc", "test_acc_plain", "val_acc", "train_acc"};
const char *const EAHAS_TQ_NAMES[EAHAS_NUM_TQ] = {"epoch_time", "first_epoch_time_ratio", "epoch_energy",
                                                  "first_epoch_energy_ratio", "iec"};

#ifndef U_WEIGHT
#define U_WEIGHT 1.0
#endif
#define N_ARCH 5
#define N_HP (EAHAS_ENCODING_LEN - N_ARCH)

void eahas_fit_opts_default(eahas_fit_opts *o) {
  memset(o, 0, sizeof *o);
  o->members = 5;
  o->degree = EAHAS_BEZIER_DEFAULT_DEGREE;
  o->hidden = 32;
  o->epochs = 300;
  o->batch = 32;
  o->lr = 1e-3;
  o->dropout = 0.1;
  o->xgb = (eahas_xgb_opts){.rounds = 60, .max_depth = 4, .eta = 0.15, .subsample = 0.8, .seed = 0};
}

void eahas_surrogate_free(eahas_surrogate *s) {
  if (!s) return;
  for (int k = 0; k < EAHAS_NUM_CURVES; k++)
    for (int m = 0; m < EAHAS_MAX_MEMBERS; m++) eahas_mlp_free(&s->mlp[k][m]);
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < EAHAS_MAX_MEMBERS; m++) {
      free(s->xgb[q][m]);
      s->xgb[q][m] = NULL;
      s->xgb_len[q][m] = 0;
    }
}

/* ---- helpers shared with eval and queries -------------------------------------------- */

const double *eahas__curve_of(const eahas_run_record *r, int kind) {
  switch (kind) {
  case EAHAS_CURVE_TEST_EMA: return r->test_acc_ema;
  case EAHAS_CURVE_TEST: return r->test_acc;
  case EAHAS_CURVE_VAL: return r->val_acc;
  default: return r->train_acc;
  }
}

int eahas__curve_usable(const eahas_run_record *r) {
  return strcmp(r->status, "ok") == 0 && r->epochs_trained == r->config.epochs && r->epochs_trained >= 2;
}

int eahas__tree_usable(const eahas_run_record *r) {
  return strcmp(r->status, "ok") == 0 && r->epochs_trained >= 2;
}

/* Tree targets of one run (see EAHAS_TQ_*); a target that the run cannot give is NaN. */
void eahas__tree_targets(const eahas_run_record *r, double t[EAHAS_NUM_TQ]) {
  int n = r->epochs_trained;
  double st = 0, se = 0;
  for (int e = 1; e < n; e++) {
    st += r->epoch_time_s[e];
    se += r->train_energy_j[e];
  }
  st /= n - 1;
  se /= n - 1;
  t[EAHAS_TQ_TIME] = st > 0 ? log(st) : NAN;
  t[EAHAS_TQ_TIME_FIRST] = st > 0 && r->epoch_time_s[0] > 0 ? log(r->epoch_time_s[0] / st) : NAN;
  t[EAHAS_TQ_ENERGY] = se > 0 ? log(se) : NAN;
  t[EAHAS_TQ_ENERGY_FIRST] = se > 0 && r->train_energy_j[0] > 0 ? log(r->train_energy_j[0] / se) : NAN;
  t[EAHAS_TQ_IEC] = r->iec_j_per_image > 0 ? log(r->iec_j_per_image) : NAN;
}

/* MLP target layout: [y0, yn, u1..u(n-1), y1..y(n-1)], accuracies as fractions. */
void eahas__bezier_to_target(const eahas_bezier *b, float *t) {
  int n = b->degree;
  t[0] = (float)(b->y[0] / 100);
  t[1] = (float)(b->y[n] / 100);
  for (int k = 1; k < n; k++) {
    t[1 + k] = (float)b->u[k];
    t[n + k] = (float)(b->y[k] / 100);
  }
}

void eahas__target_to_bezier(const float *t, int n, eahas_bezier *b) {
  b->degree = n;
  b->u[0] = 0;
  b->u[n] = 1;
  b->y[0] = 100.0 * t[0];
  b->y[n] = 100.0 * t[1];
  for (int k = 1; k < n; k++) {
    b->u[k] = t[1 + k];
    b->y[k] = 100.0 * t[n + k];
  }
}

typedef struct idkey {
  char id[17];
  int epochs;
  uint64_t h; /* the run's values (format 2's hash), 0 for format 1's */
} idkey;
static int cmp_idkey(const void *a, const void *b) {
  const idkey *x = a, *y = b;
  int c = strcmp(x->id, y->id);
  if (c) return c;
  if (x->epochs != y->epochs) return (x->epochs > y->epochs) - (x->epochs < y->epochs);
  return (x->h > y->h) - (x->h < y->h);
}

static uint64_t mix_double(uint64_t h, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  return eahas_mix64(h ^ bits);
}

/* What a fit reads of one run besides its id and length: status, energy method, the curves of
 * the BSC, the per-epoch time and training energy of the trees, IEC. */
static uint64_t run_values_hash(const eahas_run_record *r) {
  uint64_t h = eahas_mix64(eahas_hash64(r->status, strlen(r->status)) ^ 0x76616c756573ULL);
  h = eahas_mix64(h ^ eahas_hash64(r->energy_method, strlen(r->energy_method)));
  const double *arrays[] = {r->test_acc_ema, r->test_acc, r->val_acc, r->train_acc, r->epoch_time_s, r->train_energy_j};
  for (size_t a = 0; a < sizeof arrays / sizeof arrays[0]; a++)
    for (int e = 0; e < r->epochs_trained; e++) h = mix_double(h, arrays[a] ? arrays[a][e] : 0.0);
  return mix_double(h, r->iec_j_per_image);
}

static uint64_t runs_hash(const eahas_run_record *runs, int n, int values) {
  if (n <= 0) return eahas_hash64("", 0);
  idkey *k = calloc((size_t)n, sizeof *k);
  if (!k) return 0;
  for (int i = 0; i < n; i++) {
    memcpy(k[i].id, runs[i].id, 17);
    k[i].id[16] = 0;
    k[i].epochs = runs[i].epochs_trained;
    k[i].h = values ? run_values_hash(&runs[i]) : 0;
  }
  qsort(k, (size_t)n, sizeof *k, cmp_idkey);
  uint64_t h = 0x6561686173ULL;
  for (int i = 0; i < n; i++) {
    h = eahas_mix64(h ^ eahas_hash64(k[i].id, strlen(k[i].id)));
    h = eahas_mix64(h ^ (uint64_t)k[i].epochs);
    if (values) h = eahas_mix64(h ^ k[i].h);
  }
  free(k);
  return h;
}

uint64_t eahas_runs_hash(const eahas_run_record *runs, int n) { return runs_hash(runs, n, 1); }

uint64_t eahas__runs_hash_format1(const eahas_run_record *runs, int n) { return runs_hash(runs, n, 0); }

int eahas_split_is_holdout(const eahas_config *c, double holdout, uint64_t seed) {
  if (!(holdout > 0)) return 0;
  uint64_t h = eahas_mix64(eahas_config_hash(c) ^ eahas_mix64(seed ^ 0x686f6c646f7574ULL));
  return (double)(h >> 11) * 0x1.0p-53 < holdout;
}

/* The modelled kinds in kind order; returns their count nk. */
static int modelled_kinds(const eahas_surrogate *s, int kinds[EAHAS_NUM_CURVES]) {
  int nk = 0;
  for (int k = 0; k < EAHAS_NUM_CURVES; k++)
    if (s->curves_mask & (1 << k)) kinds[nk++] = k;
  return nk;
}

/* The first index of s->mlp of every group of K networks in use: 0 alone (shared), or every
 * modelled kind (per curve); returns their count. */
static int net_slots(const eahas_surrogate *s, int slots[EAHAS_NUM_CURVES]) {
  if (!s->shared) return modelled_kinds(s, slots);
  slots[0] = 0;
  return 1;
}

/* Output row of target value t (0..2n-1, eahas__bezier_to_target's layout) of the j-th modelled
 * kind in its network (see eahas_surrogate.shared). */
static int target_row(int shared, int nk, int n, int j, int t) {
  if (!shared) return t;
  return t < 2 ? 2 * j + t : 2 * nk + (2 * n - 2) * j + (t - 2);
}

/* Mean (and sd) of the control points from sums over members in member order of the outputs
 * (acc) and of their squares (acc2, used when sd != NULL). */
static void sums_to_bezier(const eahas_surrogate *s, const double *acc, const double *acc2, eahas_bezier *mean,
                           eahas_bezier *sd) {
  int n = s->degree, no = 2 * n, K = s->members;
  float mt[2 * EAHAS_BEZIER_MAX_DEGREE] = {0}, st[2 * EAHAS_BEZIER_MAX_DEGREE] = {0};
  for (int j = 0; j < no; j++) mt[j] = (float)(acc[j] / K);
  eahas__target_to_bezier(mt, n, mean);
  if (sd) {
    for (int j = 0; j < no; j++) {
      double mu = acc[j] / K, var = acc2[j] / K - mu * mu;
      st[j] = (float)(var > 0 ? sqrt(var) : 0);
    }
    eahas__target_to_bezier(st, n, sd);
    sd->u[n] = 0; /* the pinned x ends carry no spread */
  }
}

/* Mean (and sd) over members of the j-th modelled kind's control points, from the members' raw
 * outputs. */
static void members_to_bezier(const eahas_surrogate *s, int nk, int j, float *const *outs, eahas_bezier *mean,
                              eahas_bezier *sd) {
  int no = 2 * s->degree;
  double acc[2 * EAHAS_BEZIER_MAX_DEGREE] = {0}, acc2[2 * EAHAS_BEZIER_MAX_DEGREE] = {0};
  for (int m = 0; m < s->members; m++)
    for (int t = 0; t < no; t++) {
      double v = outs[m][target_row(s->shared, nk, s->degree, j, t)];
      acc[t] += v;
      if (sd) acc2[t] += v * v;
    }
  sums_to_bezier(s, acc, acc2, mean, sd);
}

void eahas_surrogate_predict_curve(const eahas_surrogate *s, int kind, const float *x26,
                                   const eahas_config *c, eahas_bezier *mean, eahas_bezier *sd) {
  (void)c;
  int kinds[EAHAS_NUM_CURVES], nk = modelled_kinds(s, kinds), j = 0;
  while (j < nk && kinds[j] != kind) j++;
  if (j == nk) { /* a kind not modelled: no network has its outputs */
    float nan[2 * EAHAS_BEZIER_MAX_DEGREE];
    for (int t = 0; t < 2 * s->degree; t++) nan[t] = NAN;
    eahas__target_to_bezier(nan, s->degree, mean);
    if (sd) {
      eahas__target_to_bezier(nan, s->degree, sd);
      sd->u[s->degree] = 0; /* as sums_to_bezier: the pinned x ends carry no spread */
    }
    return;
  }
  float buf[EAHAS_MAX_MEMBERS][EAHAS_NUM_CURVES * 2 * EAHAS_BEZIER_MAX_DEGREE];
  float *outs[EAHAS_MAX_MEMBERS];
  for (int m = 0; m < s->members; m++) {
    outs[m] = buf[m];
    eahas_mlp_forward(&s->mlp[s->shared ? 0 : kind][m], x26, outs[m]);
  }
  members_to_bezier(s, nk, j, outs, mean, sd);
}

void eahas__surrogate_predict_all(const eahas_surrogate *s, const float *x26, eahas_bezier mean[EAHAS_NUM_CURVES],
                                  eahas_bezier *sd) {
  /* either K networks of 2n nk outputs or K nk networks of 2n: at most this many floats */
  float buf[EAHAS_MAX_MEMBERS * EAHAS_NUM_CURVES * 2 * EAHAS_BEZIER_MAX_DEGREE];
  float *outs[EAHAS_NUM_CURVES * EAHAS_MAX_MEMBERS];
  const eahas_mlp *ms[EAHAS_NUM_CURVES * EAHAS_MAX_MEMBERS];
  int kinds[EAHAS_NUM_CURVES], nk = modelled_kinds(s, kinds), n = 0, K = s->members;
  int slots[EAHAS_NUM_CURVES], ng = net_slots(s, slots);
  for (int g = 0; g < ng; g++)
    for (int m = 0; m < K; m++) {
      ms[n] = &s->mlp[slots[g]][m];
      outs[n] = buf + (size_t)n * (size_t)ms[n]->n_out;
      n++;
    }
  if (n == 0) return; /* no kind modelled */
  eahas__mlp_forward_many(ms, n, x26, outs);
  for (int j = 0; j < nk; j++)
    members_to_bezier(s, nk, j, outs + (s->shared ? 0 : j * K), &mean[kinds[j]], sd ? &sd[kinds[j]] : NULL);
}

/* The networks of a block: every member's outputs summed in member order per output row and
 * query (acc[row * QB + q]; and their squares in acc2 when sd), then each kind's control
 * points as members_to_bezier gives them. */
int eahas__surrogate_predict_block(const eahas_surrogate *s, const float *xT,
                                   eahas_bezier mean[][EAHAS_NUM_CURVES], eahas_bezier (*sd)[EAHAS_NUM_CURVES]) {
  enum { QB = EAHAS__MLP_BLOCK, ROWS = EAHAS_NUM_CURVES * 2 * EAHAS_BEZIER_MAX_DEGREE };
  int kinds[EAHAS_NUM_CURVES], nk = modelled_kinds(s, kinds), K = s->members, n = s->degree, no = 2 * n;
  float outT[ROWS * QB];
  double acc[ROWS * QB], acc2[ROWS * QB];
  int slots[EAHAS_NUM_CURVES], ng = net_slots(s, slots);
  for (int g = 0; g < ng; g++) { /* networks of one shape: all, or one kind's */
    const eahas_mlp *nets = s->mlp[slots[g]];
    int rows = nets[0].n_out;
    for (int i = 0; i < rows * QB; i++) acc[i] = 0;
    if (sd)
      for (int i = 0; i < rows * QB; i++) acc2[i] = 0;
    for (int m = 0; m < K; m++) {
      if (eahas__mlp_forward_block(&nets[m], xT, outT)) return -1;
      for (int i = 0; i < rows * QB; i++) acc[i] += outT[i];
      if (sd)
        for (int i = 0; i < rows * QB; i++) acc2[i] += (double)outT[i] * outT[i];
    }
    for (int j = s->shared ? 0 : g; j < (s->shared ? nk : g + 1); j++) /* the kinds of this group */
      for (int q = 0; q < QB; q++) {
        double a[2 * EAHAS_BEZIER_MAX_DEGREE], a2[2 * EAHAS_BEZIER_MAX_DEGREE];
        for (int t = 0; t < no; t++) {
          int r = target_row(s->shared, nk, n, j, t);
          a[t] = acc[r * QB + q];
          if (sd) a2[t] = acc2[r * QB + q];
        }
        sums_to_bezier(s, a, a2, &mean[q][kinds[j]], sd ? &sd[q][kinds[j]] : NULL);
      }
  }
  return 0;
}

/* ---- fitting --------------------------------------------------------------------------- */

static int check_opts(const eahas_fit_opts *o, eahas_err *err) {
  if (o->members < 1 || o->members > EAHAS_MAX_MEMBERS)
    return eahas_err_set(err, EAHAS_EINVAL, "--members %d is outside [1, %d]", o->members, EAHAS_MAX_MEMBERS);
  if (o->degree < EAHAS_BEZIER_MIN_DEGREE || o->degree > EAHAS_BEZIER_MAX_DEGREE)
    return eahas_err_set(err, EAHAS_EINVAL, "--degree %d is outside [%d, %d]", o->degree, EAHAS_BEZIER_MIN_DEGREE,
                         EAHAS_BEZIER_MAX_DEGREE);
  if (!(o->holdout >= 0 && o->holdout < 1))
    return eahas_err_set(err, EAHAS_EINVAL, "--holdout %g is outside [0, 1)", o->holdout);
  if (o->hidden < 1 || o->hidden > EAHAS_MLP_MAX_HIDDEN)
    return eahas_err_set(err, EAHAS_EINVAL, "hidden width %d is outside [1, %d]", o->hidden, EAHAS_MLP_MAX_HIDDEN);
  /* checked before any model is trained, not by the tree trainer after all the MLPs */
  if (o->epochs < 1 || o->epochs > EAHAS_FIT_MAX_STEPS)
    return eahas_err_set(err, EAHAS_EINVAL, "--epochs %d is outside [1, %d]", o->epochs, EAHAS_FIT_MAX_STEPS);
  if (o->xgb.rounds < 1 || o->xgb.rounds > EAHAS_FIT_MAX_STEPS)
    return eahas_err_set(err, EAHAS_EINVAL, "--rounds %d is outside [1, %d]", o->xgb.rounds, EAHAS_FIT_MAX_STEPS);
  return 0;
}

/* Row indices of the training rows for member m: all, or a bootstrap resample. */
static void member_rows(int n, int m, const eahas_fit_opts *o, int *rows) {
  if (!o->bootstrap) {
    for (int i = 0; i < n; i++) rows[i] = i;
    return;
  }
  eahas_rng r;
  eahas_rng_seed_key(&r, o->seed, 0x626f6f74ULL + (uint64_t)m);
  for (int i = 0; i < n; i++) rows[i] = (int)eahas_rng_below(&r, (uint64_t)n);
}

static void progress(const eahas_fit_opts *o, int done, int total, const char *what) {
  if (o->progress) o->progress(o->progress_ctx, done, total, what);
}

int eahas_surrogate_fit(const eahas_run_record *runs, int n, const eahas_preset *p,
                        const eahas_fit_opts *o, eahas_surrogate *s, eahas_err *err) {
  memset(s, 0, sizeof *s);
  int rc = check_opts(o, err);
  if (rc) return rc;
  int deg = o->degree, no = 2 * deg, K = o->members;
  s->format_version = EAHAS_SURROGATE_FORMAT_VERSION;
  snprintf(s->feature_spec, sizeof s->feature_spec, "%s", EAHAS_SURROGATE_FEATURE_SPEC);
  snprintf(s->preset, sizeof s->preset, "%s", p->name);
  s->degree = deg;
  s->members = K;
  s->hidden = o->hidden;
  s->n_sigmoid = 2;
  s->runs_hash = eahas_runs_hash(runs, n);
  s->n_runs = n;
  s->holdout = o->holdout;
  s->seed = o->seed;

  /* room for the targets of every curve kind (a shared network's rows) */
  const size_t ny = (size_t)EAHAS_NUM_CURVES * (size_t)no * (size_t)(n ? n : 1);
  float *X = malloc(sizeof(float) * EAHAS_ENCODING_LEN * (size_t)(n ? n : 1));
  float *Y = malloc(sizeof(float) * ny), *Yb = malloc(2 * sizeof(float) * ny), *W = malloc(sizeof(float) * ny);
  float *Xb = malloc(sizeof(float) * EAHAS_ENCODING_LEN * (size_t)(n ? n : 1));
  float *yt = malloc(sizeof(float) * (size_t)(n ? n : 1));
  int *use = malloc(sizeof(int) * (size_t)(n ? n : 1)), *rows = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!X || !Y || !Xb || !Yb || !yt || !W || !use || !rows) {
    rc = eahas_err_set(err, EAHAS_ENOMEM, "fit buffers for %d runs", n);
    goto out;
  }
  /* Curve models. */
  int nc = 0;
  for (int i = 0; i < n; i++)
    if (eahas__curve_usable(&runs[i]) && !eahas_split_is_holdout(&runs[i].config, o->holdout, o->seed)) use[nc++] = i;
  s->n_fit_curves = nc;
  if (nc < 8) {
    rc = eahas_err_set(err, EAHAS_EINVAL,
                       "only %d complete runs with status ok outside the held-out part; at least 8 are needed", nc);
    goto out;
  }
  for (int i = 0; i < nc; i++) eahas_config_encode(&runs[use[i]].config, p, X + (size_t)i * EAHAS_ENCODING_LEN);
  /* A kind is modelled when most runs hold it (a curve of zeros means "not recorded"). */
  int kinds[EAHAS_NUM_CURVES], nk = 0;
  for (int kind = 0; kind < EAHAS_NUM_CURVES; kind++) {
    int have = 0;
    for (int i = 0; i < nc; i++) {
      const double *c = eahas__curve_of(&runs[use[i]], kind);
      for (int e = 0; e < runs[use[i]].epochs_trained; e++)
        if (c[e] != 0) {
          have++;
          break;
        }
    }
    if (2 * have >= nc) {
      s->curves_mask |= 1 << kind;
      kinds[nk++] = kind;
    }
  }
  s->shared = !o->per_curve && nk > 0; /* no kind modelled: no network at all */
  int slots[EAHAS_NUM_CURVES];
  const int nnet = net_slots(s, slots), nout = s->shared ? nk * no : no; /* networks per member, their outputs */
  /* Targets: row i holds run i's targets of every network, network g's at column g * nout. Loss
   * weights: the inner control x (u) get U_WEIGHT (1: the plain MSE of REFERENCE.md §6). 0.1 was
   * tried on 300 synthetic runs: held-out R² of the final accuracy 0.984 against 0.986. */
  const size_t ld = (size_t)nk * no;
  for (int j = 0; j < nk; j++)
    for (int i = 0; i < nc; i++) {
      const eahas_run_record *r = &runs[use[i]];
      eahas_bezier b;
      float t[2 * EAHAS_BEZIER_MAX_DEGREE];
      if ((rc = eahas_bezier_fit(eahas__curve_of(r, kinds[j]), r->epochs_trained, deg, &b, NULL, err))) {
        eahas_err_prefix(err, rc, "run %s, %s", r->id, EAHAS_CURVE_NAMES[kinds[j]]);
        goto out;
      }
      eahas__bezier_to_target(&b, t);
      size_t col = s->shared ? 0 : (size_t)j * no;
      for (int k = 0; k < no; k++) {
        size_t at = (size_t)i * ld + col + (size_t)target_row(s->shared, nk, deg, j, k);
        Y[at] = t[k];
        W[at] = (k >= 2 && k < deg + 1) ? (float)U_WEIGHT : 1.0f;
      }
    }
  /* the total the CLI expects from the options; networks not trained (kinds not modelled, or no
   * kind at all) count as done */
  int total = ((o->per_curve ? EAHAS_NUM_CURVES : 1) + EAHAS_NUM_TQ) * K;
  int done = o->per_curve ? (EAHAS_NUM_CURVES - nk) * K : nk ? 0 : K;
  for (int g = 0; g < nnet; g++) {
    int kind = slots[g];
    const char *what = s->shared ? "curves" : EAHAS_CURVE_NAMES[kind];
    float *Wb = Yb + (size_t)nc * nout; /* Yb holds nc x nout targets, then their weights */
    for (int m = 0; m < K; m++) {
      member_rows(nc, m, o, rows);
      for (int i = 0; i < nc; i++) {
        memcpy(Xb + (size_t)i * EAHAS_ENCODING_LEN, X + (size_t)rows[i] * EAHAS_ENCODING_LEN,
               sizeof(float) * EAHAS_ENCODING_LEN);
        const size_t from = (size_t)rows[i] * ld + (size_t)g * nout * !s->shared;
        memcpy(Yb + (size_t)i * nout, Y + from, sizeof(float) * (size_t)nout);
        memcpy(Wb + (size_t)i * nout, W + from, sizeof(float) * (size_t)nout);
      }
      /* per-curve networks keep format 1's seeds; the shared one has its own stream */
      uint64_t seed = s->shared ? eahas_mix64(o->seed ^ eahas_mix64(0x736861726564ULL + (uint64_t)m))
                                : eahas_mix64(o->seed ^ eahas_mix64(0x6d6c70ULL + 977u * (uint64_t)kind + (uint64_t)m));
      if ((rc = eahas_mlp_init(&s->mlp[kind][m], N_ARCH, N_HP, o->hidden, nout, s->shared ? 2 * nk : 2,
                               (float)o->dropout, seed, err)))
        goto out;
      eahas_mlp_train_opts to = {.epochs = o->epochs, .batch = o->batch, .lr = o->lr, .seed = seed ^ 1};
      if ((rc = eahas_mlp_train(&s->mlp[kind][m], Xb, Yb, Wb, nc, &to, err))) {
        eahas_err_prefix(err, rc, "%s member %d", what, m);
        goto out;
      }
      progress(o, ++done, total, what);
    }
  }
  /* Tree models: every ok run with >= 2 epochs, per target where the target is defined. */
  int counts[32] = {0}, best = -1;
  const char *methods[32];
  int nm = 0, ntq = 0;
  for (int q = 0; q < EAHAS_NUM_TQ; q++) {
    int nt = 0;
    for (int i = 0; i < n; i++) {
      const eahas_run_record *r = &runs[i];
      if (!eahas__tree_usable(r) || eahas_split_is_holdout(&r->config, o->holdout, o->seed)) continue;
      double t[EAHAS_NUM_TQ];
      eahas__tree_targets(r, t);
      if (!isfinite(t[q])) continue;
      eahas_config_encode(&r->config, p, X + (size_t)nt * EAHAS_ENCODING_LEN);
      yt[nt++] = (float)t[q];
      if (q == EAHAS_TQ_ENERGY) {
        int j = 0;
        while (j < nm && strcmp(methods[j], r->energy_method) != 0) j++;
        if (j == nm && nm < 32) methods[nm++] = r->energy_method;
        if (j < 32) counts[j]++;
      }
    }
    if (q == EAHAS_TQ_TIME) ntq = nt;
    if (nt < 8) {
      rc = eahas_err_set(err, EAHAS_EINVAL, "only %d runs define the %s target; at least 8 are needed", nt,
                         EAHAS_TQ_NAMES[q]);
      goto out;
    }
    for (int m = 0; m < K; m++) {
      member_rows(nt, m, o, rows);
      float *yb = (float *)Yb;
      for (int i = 0; i < nt; i++) {
        memcpy(Xb + (size_t)i * EAHAS_ENCODING_LEN, X + (size_t)rows[i] * EAHAS_ENCODING_LEN,
               sizeof(float) * EAHAS_ENCODING_LEN);
        yb[i] = yt[rows[i]];
      }
      eahas_xgb_opts xo = o->xgb;
      xo.seed = eahas_mix64(o->seed ^ (0x78676200ULL + 131u * (uint64_t)q + (uint64_t)m));
      if ((rc = eahas_xgb_train(Xb, yb, nt, EAHAS_ENCODING_LEN, &xo, &s->xgb[q][m], &s->xgb_len[q][m], err))) {
        eahas_err_prefix(err, rc, "%s member %d", EAHAS_TQ_NAMES[q], m);
        goto out;
      }
      progress(o, ++done, total, EAHAS_TQ_NAMES[q]);
    }
  }
  s->n_fit_tq = ntq;
  for (int j = 0; j < nm; j++)
    if (best < 0 || counts[j] > counts[best]) best = j;
  snprintf(s->energy_method, sizeof s->energy_method, "%s", best >= 0 ? methods[best] : "unknown");
out:
  free(X); free(Y); free(Xb); free(Yb); free(yt); free(W); free(use); free(rows);
  if (rc) eahas_surrogate_free(s);
  return rc;
}

/* ---- the blob ------------------------------------------------------------------------- */

typedef struct wbuf {
  unsigned char *p;
  size_t n, cap;
  int oom;
} wbuf;

static void put(wbuf *w, const void *d, size_t n) {
  if (w->oom) return;
  if (w->n + n > w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 4096;
    while (nc < w->n + n) nc *= 2;
    unsigned char *q = realloc(w->p, nc);
    if (!q) {
      w->oom = 1;
      return;
    }
    w->p = q;
    w->cap = nc;
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}
/* Little-endian integers so that a file moves between machines. */
static void put_u64(wbuf *w, uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 8);
}
static void put_u32(wbuf *w, uint32_t v) {
  unsigned char b[4];
  for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
  put(w, b, 4);
}
static void put_f64(wbuf *w, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  put_u64(w, v);
}
static void put_str(wbuf *w, const char *s) {
  put_u32(w, (uint32_t)strlen(s));
  put(w, s, strlen(s));
}

static const char MAGIC[8] = {'E', 'A', 'H', 'A', 'S', 'S', 'U', 'R'};

int eahas_surrogate_save(const eahas_surrogate *s, unsigned char **buf, size_t *len, eahas_err *err) {
  wbuf w = {0};
  put(&w, MAGIC, 8);
  put_u32(&w, EAHAS_SURROGATE_FORMAT_VERSION);
  put_str(&w, s->feature_spec);
  put_str(&w, s->preset);
  int32_t iv[] = {s->degree, s->members, s->hidden, s->n_sigmoid, s->curves_mask, s->n_runs, s->n_fit_curves,
                  s->n_fit_tq};
  for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) put_u32(&w, (uint32_t)iv[i]);
  put_u32(&w, (uint32_t)s->shared); /* format 2 */
  put_u64(&w, s->runs_hash);
  put_u64(&w, s->seed);
  put_f64(&w, s->holdout);
  put_str(&w, s->energy_method);
  int slots[EAHAS_NUM_CURVES], ng = net_slots(s, slots);
  for (int g = 0; g < ng; g++)
    for (int m = 0; m < s->members; m++) {
      const eahas_mlp *mm = &s->mlp[slots[g]][m];
      put_u32(&w, (uint32_t)mm->n_params);
      for (size_t i = 0; i < mm->n_params; i++) {
        uint32_t v;
        memcpy(&v, &mm->params[i], 4);
        put_u32(&w, v);
      }
    }
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < s->members; m++) {
      put_u32(&w, (uint32_t)s->xgb_len[q][m]);
      put(&w, s->xgb[q][m], s->xgb_len[q][m]);
    }
  if (!w.oom) put_u64(&w, eahas_hash64(w.p, w.n));
  if (w.oom) {
    free(w.p);
    return eahas_err_set(err, EAHAS_ENOMEM, "serializing the surrogate");
  }
  *buf = w.p;
  *len = w.n;
  return 0;
}

typedef struct rbuf {
  const unsigned char *p;
  size_t n, off;
  int bad;
} rbuf;

static int get(rbuf *r, void *d, size_t n) {
  if (r->bad || n > r->n - r->off) {
    r->bad = 1;
    return -1;
  }
  memcpy(d, r->p + r->off, n);
  r->off += n;
  return 0;
}
static uint64_t get_u64(rbuf *r) {
  unsigned char b[8] = {0};
  get(r, b, 8);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
  return v;
}
static uint32_t get_u32(rbuf *r) {
  unsigned char b[4] = {0};
  get(r, b, 4);
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static void get_str(rbuf *r, char *s, size_t cap) {
  uint32_t n = get_u32(r);
  if (n >= cap) {
    r->bad = 1;
    s[0] = 0;
    return;
  }
  get(r, s, n);
  s[r->bad ? 0 : n] = 0;
}

int eahas_surrogate_load(const unsigned char *buf, size_t len, eahas_surrogate *s, eahas_err *err) {
  memset(s, 0, sizeof *s);
  if (len < 8 + 4 + 8 || memcmp(buf, MAGIC, 8) != 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "surrogate blob of %zu bytes does not start with the magic EAHASSUR", len);
  rbuf r = {buf, len - 8, 8, 0};
  uint32_t ver = get_u32(&r);
  if (ver < 1 || ver > EAHAS_SURROGATE_FORMAT_VERSION)
    return eahas_err_set(err, EAHAS_EFORMAT,
                         "surrogate blob has format version %u; this eahas reads versions 1 to %d (run eahas fit "
                         "again)", ver, EAHAS_SURROGATE_FORMAT_VERSION);
  uint64_t want = 0;
  for (int i = 7; i >= 0; i--) want = (want << 8) | buf[len - 8 + (size_t)i];
  if (eahas_hash64(buf, len - 8) != want)
    return eahas_err_set(err, EAHAS_EFORMAT,
                         "surrogate blob of %zu bytes is truncated or corrupted (checksum mismatch); run eahas fit again",
                         len);
  s->format_version = (int)ver;
  get_str(&r, s->feature_spec, sizeof s->feature_spec);
  get_str(&r, s->preset, sizeof s->preset);
  int32_t *iv[] = {&s->degree, &s->members, &s->hidden, &s->n_sigmoid, &s->curves_mask, &s->n_runs,
                   &s->n_fit_curves, &s->n_fit_tq};
  for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++) *iv[i] = (int32_t)get_u32(&r);
  uint32_t shared = ver >= 2 ? get_u32(&r) : 0; /* format 1: per-curve networks */
  s->runs_hash = get_u64(&r);
  s->seed = get_u64(&r);
  uint64_t hv = get_u64(&r);
  memcpy(&s->holdout, &hv, 8);
  get_str(&r, s->energy_method, sizeof s->energy_method);
  int rc = 0;
  if (r.bad) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "surrogate blob header is truncated");
    goto fail;
  }
  if (strcmp(s->feature_spec, EAHAS_SURROGATE_FEATURE_SPEC) != 0) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "surrogate blob uses feature spec '%s'; this eahas encodes '%s'",
                       s->feature_spec, EAHAS_SURROGATE_FEATURE_SPEC);
    goto fail;
  }
  if (s->degree < EAHAS_BEZIER_MIN_DEGREE || s->degree > EAHAS_BEZIER_MAX_DEGREE || s->members < 1 ||
      s->members > EAHAS_MAX_MEMBERS || s->hidden < 1 || s->hidden > EAHAS_MLP_MAX_HIDDEN || s->n_sigmoid != 2 ||
      s->curves_mask < 0 || s->curves_mask >= (1 << EAHAS_NUM_CURVES) || shared > 1 ||
      (shared && s->curves_mask == 0)) {
    rc = eahas_err_set(err, EAHAS_EFORMAT,
                       "surrogate blob header out of range: degree %d, members %d, hidden %d, curves mask %d, "
                       "shared %u",
                       s->degree, s->members, s->hidden, s->curves_mask, shared);
    goto fail;
  }
  s->shared = (int)shared;
  int kinds[EAHAS_NUM_CURVES], nk = modelled_kinds(s, kinds), slots[EAHAS_NUM_CURVES], ng = net_slots(s, slots);
  for (int g = 0; g < ng; g++) {
    const int k = slots[g];
    const char *what = s->shared ? "curves" : EAHAS_CURVE_NAMES[k];
    for (int m = 0; m < s->members; m++) {
      eahas_mlp *mm = &s->mlp[k][m];
      if ((rc = eahas_mlp_init(mm, N_ARCH, N_HP, s->hidden, 2 * s->degree * (s->shared ? nk : 1),
                               s->shared ? 2 * nk : 2, 0.0f, 0, err)))
        goto fail;
      uint32_t np = get_u32(&r);
      if (np != mm->n_params || r.bad) {
        rc = eahas_err_set(err, EAHAS_EFORMAT, "%s member %d: %u parameters stored, %zu expected", what, m, np,
                           mm->n_params);
        goto fail;
      }
      for (size_t i = 0; i < mm->n_params; i++) {
        uint32_t v = get_u32(&r);
        memcpy(&mm->params[i], &v, 4);
        if (!isfinite(mm->params[i])) r.bad = 1;
      }
      if (r.bad) {
        rc = eahas_err_set(err, EAHAS_EFORMAT, "%s member %d: weights truncated or not finite", what, m);
        goto fail;
      }
    }
  }
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < s->members; m++) {
      uint32_t l = get_u32(&r);
      if (r.bad || l > r.n - r.off) {
        rc = eahas_err_set(err, EAHAS_EFORMAT, "%s member %d: tree model of %u bytes is truncated", EAHAS_TQ_NAMES[q],
                           m, l);
        goto fail;
      }
      s->xgb[q][m] = malloc((size_t)l + 1);
      if (!s->xgb[q][m]) {
        rc = eahas_err_set(err, EAHAS_ENOMEM, "tree model of %u bytes", l);
        goto fail;
      }
      get(&r, s->xgb[q][m], l);
      s->xgb[q][m][l] = 0;
      s->xgb_len[q][m] = l;
    }
  if (r.off != r.n) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "surrogate blob has %zu unexpected trailing bytes", r.n - r.off);
    goto fail;
  }
  return 0;
fail:
  eahas_surrogate_free(s);
  return rc;
}

int eahas_fit_file(const char *path, const eahas_fit_opts *o, eahas_surrogate *summary, eahas_err *err) {
  eahas_table *t = NULL;
  eahas_run_record *runs = NULL;
  int n = 0, rc;
  char preset[32];
  const eahas_preset *p;
  eahas_surrogate s;
  memset(&s, 0, sizeof s);
  unsigned char *blob = NULL;
  size_t len = 0;
  if ((rc = eahas_table_open(path, 0, 0, &t, err))) return rc;
  if ((rc = eahas_table_preset(t, preset, sizeof preset, err))) goto out;
  if (!preset[0]) {
    rc = eahas_err_set(err, EAHAS_EINVAL, "%s holds no runs: nothing to fit", path);
    goto out;
  }
  if ((rc = eahas_preset_lookup(preset, &p, err))) goto out;
  if ((rc = eahas_table_load_runs(t, &runs, &n, err))) goto out;
  if ((rc = eahas_surrogate_fit(runs, n, p, o, &s, err))) goto out;
  if ((rc = eahas_surrogate_save(&s, &blob, &len, err))) goto out;
  if ((rc = eahas_table_put_blob(t, EAHAS_SURROGATE_BLOB_NAME, blob, len, err))) goto out;
  if (summary) {
    *summary = s;
    memset(&s, 0, sizeof s); /* ownership moves to the caller */
  }
out:
  eahas_surrogate_free(&s);
  free(blob);
  for (int i = 0; i < n; i++) eahas_run_record_free(&runs[i]);
  free(runs);
  eahas_table_close(t);
  return rc;
}
