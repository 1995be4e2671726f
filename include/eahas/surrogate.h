/* eahas surrogate: Bezier learning-curve surrogate (BSC), tree models for time and energy,
 * ensembles, and queries of any config (EA-HAS-Bench, ICLR 2023, §4; REFERENCE.md §6).
 */
#ifndef EAHAS_SURROGATE_H
#define EAHAS_SURROGATE_H

#include "eahas/space.h"
#include "eahas/train.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An opened benchmark file with its fitted surrogates. Read-only after open: eahas_query may be
 * called from many threads at once. */
typedef struct eahas_bench eahas_bench;

typedef struct eahas_query_opts {
  int epochs;           /* fidelity: length of the curves returned; 0 = config.epochs */
  int noise;            /* 1: add per-query noise drawn from the ensemble's spread */
  uint64_t noise_seed;  /* key of the counter-based noise stream (with config and epoch) */
  int tabular;          /* 1: return the recorded run if the config was trained */
} eahas_query_opts;

/* What a query returns. Arrays hold `epochs` valid entries (index i is epoch i+1). */
typedef struct eahas_query_result {
  int epochs;
  float test_acc[EAHAS_MAX_EPOCHS];     /* EMA model's test top-1 accuracy, % */
  float val_acc[EAHAS_MAX_EPOCHS];      /* validation accuracy, % */
  float train_acc[EAHAS_MAX_EPOCHS];    /* training accuracy, % */
  float test_acc_plain[EAHAS_MAX_EPOCHS]; /* test accuracy of the plain (non-EMA) model, % */
  double time_s_cum[EAHAS_MAX_EPOCHS];  /* cumulative training time after each epoch, s */
  double tec_kwh_cum[EAHAS_MAX_EPOCHS]; /* cumulative training energy after each epoch, kWh */
  float final_test_acc, final_val_acc, final_train_acc, final_test_acc_plain;
  double train_time_s;                  /* time_s_cum[epochs-1] */
  double tec_kwh;                       /* tec_kwh_cum[epochs-1] */
  double iec_j_per_image;
  eahas_complexity cx;
  char energy_method[48];
  int from_table;                       /* 1 if this is a recorded run (--tabular) */
} eahas_query_result;

/* Opens a benchmark file read-only, loads the fitted surrogate blob (eahas fit) and the recorded
 * runs (for --tabular), checks that the models match the file (format version, feature spec,
 * preset, hash of the runs fitted on) and compiles the tree models for fast evaluation. The
 * SQLite file is closed again before returning: queries never touch it.
 * Errors: EAHAS_EIO, EAHAS_EFORMAT (not a benchmark file; blob corrupted, truncated, of another
 * format version; models fitted on other runs or another preset: the message names both),
 * EAHAS_ENOTFOUND (no fitted models: "run eahas fit"), EAHAS_ENOMEM. */
int eahas_bench_open(const char *path, eahas_bench **out, eahas_err *err);
void eahas_bench_close(eahas_bench *b);
const eahas_preset *eahas_bench_preset(const eahas_bench *b);
/* Bytes of heap held by an opened bench (models, compiled trees, recorded runs). */
size_t eahas_bench_memory(const eahas_bench *b);

/* Predicts (or, with o->tabular, looks up) config c. o may be NULL (defaults: config.epochs,
 * no noise, surrogate). The curves are the mean of the ensemble members' Bezier control points
 * decoded at x = 1..config.epochs, clamped to [0, 100] %, and cut to o->epochs. Time and TEC are
 * cumulative sums of positive per-epoch predictions (first epoch: steady value times the modelled
 * first-epoch ratio), so they are positive and non-decreasing. With o->noise, every predicted
 * coefficient gets member-spread * N(0,1), drawn from eahas_rng_seed_key(noise_seed,
 * config hash): the same (seed, config) gives the same answer on any thread, at any fidelity.
 * Thread-safe: no shared mutable state; scratch lives on the stack; no allocation.
 * Errors: EAHAS_EINVAL (config invalid under the bench's preset; epochs outside
 * 1..config.epochs), EAHAS_ENOTFOUND (tabular requested and not recorded), EAHAS_EFORMAT (the
 * models give a NaN accuracy, or a per-epoch time, energy or IEC that is not positive and finite:
 * damaged models, never fitted ones). */
int eahas_query(const eahas_bench *b, const eahas_config *c, const eahas_query_opts *o,
                eahas_query_result *out, eahas_err *err);

/* Answers n configs c[0..n) with the options o (may be NULL): out[i] is what eahas_query(b, &c[i],
 * o, &out[i], ...) gives, bit for bit, but computed in blocks of 32 configs, so that each MLP's
 * weights are read once per 16 configs and each tree step once per 32 (several times the
 * throughput of single queries on CPUs with AVX-512; elsewhere it answers one at a time). A
 * config that fails leaves its out[i] unspecified and does not stop the others. rcs (may be
 * NULL) gets each config's error code (0: answered). Returns 0 when all were answered, else the
 * first failing config's code, with err naming its index ("config 3 of the batch: ...").
 * Thread-safe like eahas_query; no allocation; scratch on the stack, up to about 190 KB (the
 * widest MLP allowed; glibc's 8 MB thread stacks are plenty, 128 KB ones are not). Errors:
 * EAHAS_EINVAL for n < 0, else those of eahas_query. */
int eahas_query_batch(const eahas_bench *b, const eahas_config *c, int n, const eahas_query_opts *o,
                      eahas_query_result *out, int *rcs, eahas_err *err);

/* ---- Bezier curves (REFERENCE.md §6) --------------------------------------------------- */

#define EAHAS_BEZIER_MIN_DEGREE 3
#define EAHAS_BEZIER_MAX_DEGREE 8
#define EAHAS_BEZIER_DEFAULT_DEGREE 5

/* A 2-D Bezier curve of degree n in normalized coordinates: u = (x - 1) / (L - 1) in [0, 1]
 * (x = epoch), y = accuracy in %. Control points k = 0..n; u[0] = 0 and u[n] = 1 always. */
typedef struct eahas_bezier {
  int degree;
  double u[EAHAS_BEZIER_MAX_DEGREE + 1];
  double y[EAHAS_BEZIER_MAX_DEGREE + 1];
} eahas_bezier;

/* Fits a Bezier curve of degree n (3..8) to one learning curve y[0..L) (epochs x = 1..L, L >= 2,
 * values in %): chord-length parameters (on u and y/100), least squares for the inner control
 * points with the endpoints pinned to (1, y[0]) and (L, y[L-1]), then parameter correction
 * (each point's t re-solved from u(t) = u_i) until the vertical RMSE stops improving. The inner
 * control u are projected onto a non-decreasing sequence in [0, 1] (so u(t) is monotone).
 * *rmse (may be NULL) gets the RMSE at x = 1..L of the decoded fit, in %.
 * Errors: EAHAS_EINVAL (degree outside 3..8, L < 2 or > EAHAS_MAX_EPOCHS, non-finite y). */
int eahas_bezier_fit(const double *y, int L, int degree, eahas_bezier *out, double *rmse, eahas_err *err);
/* Projects the inner control u onto a non-decreasing sequence within [0, 1] (pool adjacent
 * violators, then clamping), which makes u(t) monotone. Used on MLP outputs before decoding. */
void eahas_bezier_make_monotone(eahas_bezier *b);
/* The point at parameter t in [0, 1] (de Casteljau). */
void eahas_bezier_point(const eahas_bezier *b, double t, double *u, double *y);
/* Decodes to exactly L values: out[j-1] = y at the point where x(t) = j, j = 1..L (L >= 1;
 * L = 1 gives y[0]). Control u must be monotone (eahas_bezier_make_monotone) for the values to
 * be the curve's at x = j: the root of u(t) = (j-1)/(L-1) is bracketed in a table of u at
 * t = k/64, started by inverse linear interpolation and refined by two Newton steps kept in the
 * bracket: within 1e-4 points of bisection to convergence (test_bezier; worst measured 5.8e-5
 * over 3,000 curves of 200 epochs, about 10 float ulps at 100). The AVX-512, AVX2 and portable
 * paths give the same floats, except possibly the sign of a NaN (non-finite control points).
 * L above EAHAS_MAX_EPOCHS (longer than any run) solves each root by safeguarded Newton from the
 * previous one instead, to the same accuracy. No allocation. */
void eahas_bezier_decode(const eahas_bezier *b, int L, float *out);
/* The first E values of eahas_bezier_decode(b, L, .), bit for bit, computing only those
 * (out[0..min(E, L))): a low fidelity of a long curve costs its own length. Nothing for E <= 0. */
void eahas_bezier_decode_prefix(const eahas_bezier *b, int L, int E, float *out);

/* ---- the MLP of the BSC (REFERENCE.md §6) ---------------------------------------------- */

#define EAHAS_MLP_MAX_HIDDEN 256
#define EAHAS_MLP_MAX_OUT 256

/* arch = ReLU(Wa x[0..n_arch) + ba), hp = ReLU(Wh x[n_arch..n_arch+n_hp) + bh), both h wide;
 * z1 = ReLU(W1 [arch, hp] + b1), z2 = ReLU(W2 z1 + b2), z3 = ReLU(W3 z2 + b3), dropout(z3)
 * during training, out = Wo z3 + bo; outputs [0, n_sigmoid) pass through a sigmoid, the rest
 * are free. Weights are stored input-major: W[i * n_out_of_layer + o]. Units of the targets are
 * the caller's (the BSC uses fractions: accuracy / 100 and u). */
typedef struct eahas_mlp {
  int n_arch, n_hp, hidden, n_out, n_sigmoid;
  float dropout;
  size_t n_params;
  float *params; /* all weights and biases, one allocation */
  float *Wa, *ba, *Wh, *bh, *W1, *b1, *W2, *b2, *W3, *b3, *Wo, *bo; /* views into params */
} eahas_mlp;

/* Allocates and initializes (PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights
 * and biases) from seed. Errors: EAHAS_EINVAL (hidden 1..256, n_out 1..256, n_sigmoid <= n_out,
 * dropout in [0, 1)), EAHAS_ENOMEM. */
int eahas_mlp_init(eahas_mlp *m, int n_arch, int n_hp, int hidden, int n_out, int n_sigmoid,
                   float dropout, uint64_t seed, eahas_err *err);
void eahas_mlp_free(eahas_mlp *m);
/* Inference (no dropout): out[n_out] from x[n_arch + n_hp]. Thread-safe, no allocation. */
void eahas_mlp_forward(const eahas_mlp *m, const float *x, float *out);
/* Mean over n samples of the masked squared error sum_o mask*(out - y)^2 / sum(mask) (mask may
 * be NULL: all ones), and its gradient added into grad[n_params] (may be NULL). X is n x
 * (n_arch+n_hp), Y and mask n x n_out. rng != NULL applies inverted dropout with p = dropout.
 * Returns the loss. */
double eahas_mlp_loss_grad(const eahas_mlp *m, const float *X, const float *Y, const float *mask,
                           int n, eahas_rng *rng, float *grad);

typedef struct eahas_mlp_train_opts {
  int epochs;        /* passes over the data */
  int batch;         /* minibatch size */
  double lr;         /* Adam step size (betas 0.9, 0.999, eps 1e-8) */
  double weight_decay; /* L2 added to the gradient */
  uint64_t seed;     /* shuffling and dropout */
} eahas_mlp_train_opts;

/* Minibatch Adam on the masked MSE. Errors: EAHAS_EINVAL (n < 1), EAHAS_ENOMEM,
 * EAHAS_EDIVERGED (non-finite loss). */
int eahas_mlp_train(eahas_mlp *m, const float *X, const float *Y, const float *mask, int n,
                    const eahas_mlp_train_opts *o, eahas_err *err);

/* ---- tree models (XGBoost) ------------------------------------------------------------- */

typedef struct eahas_xgb_opts {
  int rounds;        /* boosting rounds */
  int max_depth;
  double eta;
  double subsample;  /* row subsampling per tree (1 = none) */
  uint64_t seed;
} eahas_xgb_opts;

/* Trains a gradient-boosted tree regressor (XGBoost C API, reg:squarederror, exact tree method,
 * one thread) on X (n x n_feat, row-major) and y, and returns the model as XGBoost's JSON
 * (XGBoosterSaveModelToBuffer, malloc'd in *model, *len bytes).
 * Errors: EAHAS_EINVAL (n < 2), EAHAS_EINTERNAL (XGBoost's message), EAHAS_ENOMEM. */
int eahas_xgb_train(const float *X, const float *y, int n, int n_feat, const eahas_xgb_opts *o,
                    char **model, size_t *len, eahas_err *err);
/* XGBoost's own prediction of a saved model (XGBoosterLoadModelFromBuffer + XGBoosterPredict)
 * for n rows. Used by tests and eval. Errors: EAHAS_EFORMAT (XGBoost refuses the buffer). */
int eahas_xgb_predict(const char *model, size_t len, const float *X, int n, int n_feat, float *out,
                      eahas_err *err);

/* A tree ensemble compiled for fast evaluation: nodes of every tree in one array. Leaves loop
 * to themselves and every tree is walked exactly `depth` steps, so trees can be walked in
 * lockstep without branches (the walks of different trees overlap in the CPU). */
typedef struct eahas_forest_node {
  float value;   /* split threshold (go left when x < value); +inf for a leaf (always "left") */
  uint32_t bits; /* left child index (bits 0..22; the right child is left + 1, siblings are
                  * stored side by side; a leaf points to itself), split feature (bits 23..30),
                  * 1 in bit 31 when a missing (NaN) value goes right */
} eahas_forest_node;

#define EAHAS_FOREST_LOCKSTEP 8
#define EAHAS_FOREST_MAX_NODES (1 << 23)
typedef struct eahas_forest {
  int n_trees, n_nodes, n_features, depth;
  float base_score;
  int32_t *roots;              /* n_trees, padded to a multiple of EAHAS_FOREST_LOCKSTEP with a
                                * zero leaf (adding 0.0f leaves a float sum unchanged) */
  eahas_forest_node *nodes;    /* n_nodes (+ the zero leaf), 8 bytes each, breadth first */
  float *leaf;                 /* leaf value per node (0 for inner nodes) */
} eahas_forest;

/* Parses an XGBoost JSON model (gbtree, reg:squarederror, numeric splits, <= 255 features).
 * Errors:
 * EAHAS_EFORMAT naming the defect (not JSON, missing field, categorical split, bad index). */
int eahas_forest_from_json(const char *json, size_t len, eahas_forest *out, eahas_err *err);
void eahas_forest_free(eahas_forest *f);
/* base_score + sum of the leaves reached, accumulated in float as XGBoost does. */
float eahas_forest_predict(const eahas_forest *f, const float *x);

/* ---- metrics --------------------------------------------------------------------------- */

/* Coefficient of determination 1 - SS_res / SS_tot (NaN if n < 2 or y constant). */
double eahas_r2(const double *y, const double *pred, int n);
double eahas_rmse(const double *y, const double *pred, int n);
/* Kendall tau-b (ties handled) and Spearman rho (average ranks); NaN if n < 2 or constant. */
double eahas_kendall_tau(const double *a, const double *b, int n);
double eahas_spearman_rho(const double *a, const double *b, int n);

/* ---- fitting and the stored model set -------------------------------------------------- */

/* Curve kinds modelled (run record fields). */
enum {
  EAHAS_CURVE_TEST_EMA = 0, /* test_acc_ema */
  EAHAS_CURVE_TEST = 1,     /* test_acc (plain model) */
  EAHAS_CURVE_VAL = 2,      /* val_acc */
  EAHAS_CURVE_TRAIN = 3,    /* train_acc */
  EAHAS_NUM_CURVES = 4
};
extern const char *const EAHAS_CURVE_NAMES[EAHAS_NUM_CURVES];

/* Tree-modelled quantities. Targets: log of the steady per-epoch time / train energy (mean of
 * epochs 2..n), log of first-epoch / steady ratio, log IEC. */
enum {
  EAHAS_TQ_TIME = 0, EAHAS_TQ_TIME_FIRST = 1, EAHAS_TQ_ENERGY = 2, EAHAS_TQ_ENERGY_FIRST = 3,
  EAHAS_TQ_IEC = 4, EAHAS_NUM_TQ = 5
};
extern const char *const EAHAS_TQ_NAMES[EAHAS_NUM_TQ];

/* Version 2 adds the networks' form (shared or per curve); version 1 blobs (always per curve)
 * are still read. */
#define EAHAS_SURROGATE_FORMAT_VERSION 2
#define EAHAS_SURROGATE_FEATURE_SPEC "regnet5+hp21/v1"
#define EAHAS_SURROGATE_BLOB_NAME "surrogate"
#define EAHAS_MAX_MEMBERS 32
#define EAHAS_FIT_MAX_STEPS 100000 /* upper bound of MLP epochs and boosting rounds */

typedef struct eahas_fit_opts {
  int members;        /* ensemble size K (default 5, 1..32) */
  int degree;         /* Bezier degree (default 5, 3..8) */
  int hidden;         /* MLP width h (default 32, 1..256) */
  int epochs;         /* MLP training passes (default 300, 1..EAHAS_FIT_MAX_STEPS) */
  int batch;          /* default 32 */
  double lr;          /* Adam step (default 1e-3) */
  double dropout;     /* default 0.1 */
  double holdout;     /* fraction of configs held out from fitting (default 0: fit on all) */
  int bootstrap;      /* 1: each member fits a bootstrap resample */
  int per_curve;      /* 1: one network per curve kind and member (format 1's form); default 0:
                       * one network per member with a head for every curve kind (see
                       * eahas_surrogate.shared) */
  uint64_t seed;      /* default 0 */
  eahas_xgb_opts xgb; /* default 60 rounds (1..EAHAS_FIT_MAX_STEPS), depth 4, eta 0.15, subsample 0.8 */
  /* optional progress: called after each fitted model */
  void (*progress)(void *ctx, int done, int total, const char *what);
  void *progress_ctx;
} eahas_fit_opts;

/* The defaults above. */
void eahas_fit_opts_default(eahas_fit_opts *o);

/* A fitted model set (what `eahas fit` stores). */
typedef struct eahas_surrogate {
  int format_version;
  char feature_spec[32];
  char preset[32];
  int degree, members, hidden, n_sigmoid;
  int curves_mask;           /* bit k: curve kind k was present and is modelled */
  uint64_t runs_hash;        /* eahas_runs_hash of every run in the file when fitted (format 1:
                              * of ids and epochs only) */
  int n_runs;                /* runs in the file when fitted */
  int n_fit_curves, n_fit_tq;/* runs used for the curve and the tree models */
  double holdout;
  uint64_t seed;
  char energy_method[48];    /* most common method of the fitted runs' energies */
  /* shared = 0: mlp[k][m] is member m's network for curve kind k (2n outputs, the first 2
   * through a sigmoid). shared = 1: mlp[0][m] is member m's one network for all nk modelled
   * kinds (those of curves_mask, in kind order), a shared trunk with 2n nk outputs: the start and
   * end of every kind first (2 nk sigmoid outputs), then the 2n - 2 inner values of every kind.
   * The per-kind layout of 2n values is the one eahas__bezier_to_target writes. */
  int shared;
  eahas_mlp mlp[EAHAS_NUM_CURVES][EAHAS_MAX_MEMBERS];
  char *xgb[EAHAS_NUM_TQ][EAHAS_MAX_MEMBERS]; /* XGBoost JSON models */
  size_t xgb_len[EAHAS_NUM_TQ][EAHAS_MAX_MEMBERS];
} eahas_surrogate;

void eahas_surrogate_free(eahas_surrogate *s);

/* Order-independent hash of a set of runs (surrogate format 2): the sorted run ids with their
 * epochs_trained and, per run, its status, energy method, the four accuracy curves, per-epoch
 * time and training energy, and IEC (bit patterns of the doubles): a run edited in the file
 * changes it, as an added or removed one does. Format 1 blobs hold a hash of ids and epochs
 * only, and are checked against that. 0 only when out of memory. */
uint64_t eahas_runs_hash(const eahas_run_record *runs, int n);

/* 1 if the run is in the held-out part of a split with this fraction and seed: decided by the
 * hash of the config (so repeated runs of one config fall on the same side). */
int eahas_split_is_holdout(const eahas_config *c, double holdout, uint64_t seed);

/* Fits the BSC MLPs (every curve kind present in the runs), the tree models and ensembles on the
 * runs (preset p) not held out. The BSC networks are shared across curve kinds unless
 * o->per_curve (docs/surrogate.md says why). Curve models use complete runs with status "ok"; tree models
 * every run with status "ok" and >= 2 epochs. The result must be freed with
 * eahas_surrogate_free. Errors: EAHAS_EINVAL (options out of range, fewer than 8 usable runs),
 * EAHAS_ENOMEM, EAHAS_EINTERNAL (XGBoost), EAHAS_EDIVERGED. */
int eahas_surrogate_fit(const eahas_run_record *runs, int n, const eahas_preset *p,
                        const eahas_fit_opts *o, eahas_surrogate *out, eahas_err *err);

/* Serializes to a versioned blob: magic "EAHASSUR", format version, header fields, MLP weights,
 * XGBoost JSON models, and a trailing 64-bit checksum of everything before it. *buf malloc'd. */
int eahas_surrogate_save(const eahas_surrogate *s, unsigned char **buf, size_t *len, eahas_err *err);
/* Parses a blob with bounds checks everywhere. Errors: EAHAS_EFORMAT (wrong magic, other format
 * version or feature spec, truncated, checksum mismatch, value out of range: each named). */
int eahas_surrogate_load(const unsigned char *buf, size_t len, eahas_surrogate *out, eahas_err *err);

/* Per-member predictions for one encoded config (used by queries and eval): Bezier control
 * points of curve kind k averaged over members (*mean) and their standard deviation (*sd, may be
 * NULL). c is unused. A kind not in s->curves_mask gets NaN control points. */
void eahas_surrogate_predict_curve(const eahas_surrogate *s, int kind, const float *x26,
                                   const eahas_config *c, eahas_bezier *mean, eahas_bezier *sd);

/* `eahas fit`: opens the file, loads its runs, fits, stores the blob (EAHAS_SURROGATE_BLOB_NAME).
 * *summary (may be NULL) gets the fitted set's header fields. */
int eahas_fit_file(const char *path, const eahas_fit_opts *o, eahas_surrogate *summary, eahas_err *err);

/* ---- evaluation ------------------------------------------------------------------------ */

/* One row of the evaluation: a quantity (curve kind, "train_time_s", "tec_kwh",
 * "iec_j_per_image"), a length group (50, 100, 200, 0 = all) and a model ("bsc", "mlp-direct",
 * "svd-xgb", "trees", "noise-ceiling"). Final = final-epoch value (curves) or the scalar. */
typedef struct eahas_eval_row {
  char quantity[24];
  int group;
  char model[16];
  int n;
  double r2_final, tau_final, rho_final, rmse_final;
  double rmse_all, r2_all; /* over every epoch of every held-out curve (curves only, else NaN) */
} eahas_eval_row;

typedef struct eahas_eval_report {
  int n_runs, n_train, n_test;
  double holdout;
  uint64_t seed;
  int used_stored;          /* always 0 here: eval fits its own models on the split (the stored
                             * ones may have seen the held-out runs) */
  int shared;               /* the BSC networks of the fit evaluated: 1 shared, 0 per curve */
  int n_rows;
  eahas_eval_row *rows;     /* malloc'd */
} eahas_eval_report;

/* Evaluates on the deterministic held-out split (eahas_split_is_holdout with o->holdout, default
 * 0.2 when o->holdout is 0, and o->seed): fits BSC, trees and the two baselines (direct MLP over
 * the L values, truncated SVD of resampled curves + XGBoost per component) on the rest and
 * reports every row; adds noise-ceiling rows where a config was run more than once. */
int eahas_eval_runs(const eahas_run_record *runs, int n, const eahas_preset *p,
                    const eahas_fit_opts *o, eahas_eval_report *out, eahas_err *err);
void eahas_eval_report_free(eahas_eval_report *r);
/* JSON text of the report (malloc'd, NULL on ENOMEM). */
char *eahas_eval_report_to_json(const eahas_eval_report *r);
#ifdef __cplusplus
}
#endif
#endif
