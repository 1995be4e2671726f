/* Private pieces of the search module shared between its files. */
#ifndef EAHAS_SEARCH_INTERNAL_H
#define EAHAS_SEARCH_INTERNAL_H

#include "eahas/search.h"

/* ---- BOHB's kernel density estimator over the 10 dimensions of a config ---------------- */
#define SEARCH_KDE_DIMS 10
/* Vector form of a config: d w0 wa wm in [0,1] (continuous), then integer codes gw lr opt sched
 * cutout epochs. */
void search_kde_vector(const eahas_config *c, const eahas_preset *p, double v[SEARCH_KDE_DIMS]);
/* The config nearest to a vector (quantized to the space's grid). */
void search_kde_config(const double v[SEARCH_KDE_DIMS], const eahas_preset *p, eahas_config *c);

typedef struct search_kde {
  int n;
  const double *data; /* n x SEARCH_KDE_DIMS, borrowed */
  double bw[SEARCH_KDE_DIMS];
} search_kde;
/* Normal-reference bandwidths (1.06 sd n^(-1/(4+D)), as statsmodels' KDEMultivariate), at least
 * min_bw; categorical bandwidths at most 0.99. */
void search_kde_fit(search_kde *k, const double *data, int n, double min_bw);
double search_kde_pdf(const search_kde *k, const double *x);
/* One sample around a random datum of k (BOHB: continuous dims by a truncated normal with
 * bw * bw_factor, discrete dims kept with probability 1 - bw, else uniform). */
void search_kde_sample(const search_kde *k, double bw_factor, eahas_rng *rng, double *x);

/* eahas_extrapolate at several epochs from one set of fits. */
void search_extrapolate2(const float *y, int n, const int *epochs, int n_epochs, double *out);

/* ---- shared optimizer state ------------------------------------------------------------ */
typedef struct search_ctx {
  const eahas_objective *obj;
  const eahas_preset *preset;
  const eahas_search_params *prm;
  eahas_ledger *L;
  eahas_rng rng;
  int ea;         /* 1 for EA- variants */
  float *info;    /* accuracies at the target epoch of fully trained configs (EA-) */
  int n_info, cap_info;
  /* EA-: residuals (actual - extrapolated) at the target epoch of fully trained configs, per max
   * epoch (50, 100, 200): the bias correction of the extrapolation */
  double res_sum[EAHAS_NUM_EPOCHS];
  int res_n[EAHAS_NUM_EPOCHS];
  /* EA-: extrapolations of probed configs by config hash (a re-proposed config is answered from
   * its checkpoint for free; this makes the decision free too) */
  uint64_t *pc_key;
  double *pc_val; /* 2 per key: at the target epoch, at the full length */
  size_t pc_n, pc_cap;
  eahas_err *err;
} search_ctx;

/* Result of evaluating one new candidate. */
typedef struct search_outcome {
  float score;   /* val accuracy at full length; for a stopped EA- candidate its extrapolation */
  int full;      /* 1 if trained to its full length */
} search_outcome;

/* Status codes of the helpers below: 0 go on, 1 the run is over, < 0 error. */
int search_sample(search_ctx *S, eahas_config *c);
int search_mutate(search_ctx *S, const eahas_config *in, eahas_config *out);
/* Trains c to its full length (no EA- probing). */
int search_eval_full(search_ctx *S, const eahas_config *c, search_outcome *o);
/* A new candidate: full training, or for EA- variants the probe/extrapolate/continue rule. */
int search_eval_candidate(search_ctx *S, const eahas_config *c, search_outcome *o);

int search_run_rs(search_ctx *S);
int search_run_re(search_ctx *S);
int search_run_ls(search_ctx *S);
int search_run_bananas(search_ctx *S);
int search_run_hb(search_ctx *S, int bohb);

#endif
