/* eahas search: the energy budget ledger, the optimizers of EA-HAS-Bench (ICLR 2023, §5 and
 * REFERENCE.md §7): RS, RE, LS, BANANAS, Hyperband, BOHB and the energy-aware EA- variants of
 * RE, LS and BANANAS, multi-seed runs and trajectories (docs/search.md).
 *
 * Optimizers see the benchmark only through an eahas_objective, so that they run on the
 * surrogate benchmark (eahas_bench_objective_init) or on a closed-form synthetic benchmark with a
 * known optimum (eahas_synth_objective) alike.
 */
#ifndef EAHAS_SEARCH_H
#define EAHAS_SEARCH_H

#include <stdint.h>

#include "eahas/space.h"
#include "eahas/surrogate.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- objective ------------------------------------------------------------------------- */

/* What an optimizer may ask: "train config c for `epochs` epochs (of its own lr schedule of
 * c->epochs epochs) and give me the curves". evaluate fills out->epochs = epochs entries of
 * val_acc, test_acc (percent), time_s_cum (s) and tec_kwh_cum (kWh), cumulative from epoch 1,
 * and returns 0 or a negative EAHAS_E* code. It must be callable from several threads at once
 * with the same ctx. */
typedef struct eahas_objective {
  void *ctx;
  const eahas_preset *preset;
  int (*evaluate)(void *ctx, const eahas_config *c, int epochs, eahas_query_result *out, eahas_err *err);
} eahas_objective;

/* The surrogate benchmark as an objective: each evaluation is eahas_query with opts.epochs set
 * to the fidelity (noise and noise_seed as given). The struct must outlive the objective. */
typedef struct eahas_bench_objective {
  const eahas_bench *bench;
  eahas_query_opts opts;
} eahas_bench_objective;
eahas_objective eahas_bench_objective_init(eahas_bench_objective *bo, const eahas_bench *b, int noise,
                                           uint64_t noise_seed);

/* A closed-form synthetic benchmark with a known optimum (docs/search.md "synthetic benchmark").
 * Validation accuracy at epoch e of a config with max epoch E (k = 3):
 *   val(e) = 10 + (A(c) - 10) * (1 - exp(-k e / E)) / (1 - exp(-k)),   test = val - 0.5
 *   A(c) = 92 - 1.5 |lr_idx - 6| - {sgd 0, adamw 1, adam 2} - {cos 0, lin 0.5, exp 1.5}
 * so the best test accuracy is 91.5 %, reached by every config with lr 0.1, sgd and cos (1 in 90
 * of the hyperparameter combinations) at its last epoch, and only there. Energy is
 * proportional to flops x epochs: 0.08 kWh per GFLOP and epoch, x1.1 with cutout; time is
 * 30 s per GFLOP and epoch plus 4e-6 s per activation and epoch. Pure function: thread-safe. */
typedef struct eahas_synth {
  const eahas_preset *preset;
} eahas_synth;
#define EAHAS_SYNTH_BEST_TEST 91.5
eahas_objective eahas_synth_objective(eahas_synth *s, const eahas_preset *p);
/* A(c): the final validation accuracy of c (%). */
double eahas_synth_final_val(const eahas_config *c);

/* ---- budget ledger --------------------------------------------------------------------- */

typedef enum { EAHAS_BUDGET_KWH = 0, EAHAS_BUDGET_SECONDS = 1 } eahas_budget_unit;

typedef struct eahas_budget {
  eahas_budget_unit unit;
  double amount;  /* kWh or s, > 0 */
  int partial;    /* 1 (default): an evaluation that would overrun is cut to the epochs the
                     remaining budget pays for; 0 (--no-partial): it is skipped */
  int reuse;      /* 1 (default): continuing a config (HB promotion, EA- continuation) resumes from
                     its checkpoint and is charged only the additional epochs; 0: from scratch */
  long max_evals; /* 0 = unlimited: stop after this many charged evaluations */
  int max_free;   /* stop after this many consecutive evaluations that trained nothing (configs
                     already trained that far); 0 = 10000 */
} eahas_budget;

/* One evaluation in a trajectory. Energies in kWh, times in s, accuracies in percent. */
typedef struct eahas_eval {
  eahas_config config;
  int epochs;            /* epochs the config has been trained to after this evaluation */
  int epochs_requested;  /* what the optimizer asked for */
  int epochs_charged;    /* epochs trained (and charged) by this evaluation */
  int truncated;         /* 1: cut short by the budget (the last evaluation of the run) */
  int early_stopped;     /* 1: an EA- candidate stopped after its partial training */
  double energy_kwh, time_s;         /* charged for this evaluation */
  double cum_energy_kwh, cum_time_s; /* charged so far, this evaluation included */
  float val_acc, test_acc;           /* at `epochs` */
  int incumbent;                     /* index of the incumbent evaluation after this one */
  float inc_val_acc, inc_test_acc;   /* its validation and test accuracy */
} eahas_eval;

/* Why a run stopped. */
typedef enum {
  EAHAS_STOP_BUDGET = 0,    /* the budget is spent (last evaluation truncated or none affordable) */
  EAHAS_STOP_SKIPPED = 1,   /* --no-partial: the next evaluation did not fit and was skipped */
  EAHAS_STOP_STALLED = 2,   /* max_free consecutive evaluations trained nothing */
  EAHAS_STOP_MAX_EVALS = 3  /* max_evals reached */
} eahas_stop_reason;

typedef enum {
  EAHAS_OPTIM_RS = 0, EAHAS_OPTIM_RE, EAHAS_OPTIM_LS, EAHAS_OPTIM_BANANAS, EAHAS_OPTIM_HB,
  EAHAS_OPTIM_BOHB, EAHAS_OPTIM_EA_RE, EAHAS_OPTIM_EA_LS, EAHAS_OPTIM_EA_BANANAS, EAHAS_OPTIM_COUNT
} eahas_optim_kind;

typedef struct eahas_trajectory {
  eahas_optim_kind optim;
  uint64_t seed;
  eahas_budget budget;
  int n, cap;
  eahas_eval *evals;           /* n evaluations, in order */
  double energy_kwh, time_s;   /* totals charged */
  eahas_stop_reason stop;
  long free_evals;             /* evaluations answered from checkpoints without training */
} eahas_trajectory;
void eahas_trajectory_free(eahas_trajectory *t);

/* The ledger: the only way optimizers train. Not thread-safe (one per run). */
typedef struct eahas_ledger eahas_ledger;

/* Results of eahas_ledger_train (non-negative); negative values are EAHAS_E* errors. */
enum {
  EAHAS_LEDGER_OK = 0,        /* trained to the requested epochs (or already there: free) */
  EAHAS_LEDGER_TRUNCATED = 1, /* trained fewer epochs than requested; the budget is spent */
  EAHAS_LEDGER_STOP = 2       /* nothing trained; the run is over (see trajectory.stop) */
};

typedef struct eahas_ledger_result {
  int epochs;                  /* epochs trained to now */
  float val_acc, test_acc;     /* at `epochs` */
  const eahas_query_result *curve; /* the objective's curves up to `epochs` (owned by the ledger,
                                      valid until the next call) */
  int charged;                 /* 1 if this call trained and was recorded */
} eahas_ledger_result;

/* Errors: EAHAS_EINVAL (amount not > 0 or not finite, unit unknown), EAHAS_ENOMEM. */
int eahas_ledger_new(const eahas_objective *obj, const eahas_budget *b, eahas_ledger **out, eahas_err *err);
void eahas_ledger_free(eahas_ledger *l);
/* Trains c to `epochs` (1..c->epochs, larger values are capped at c->epochs) and charges it.
 * Charging rule (docs/search.md): with reuse, a config already trained to t epochs is charged
 * cum[epochs-1] - cum[t-1] of the objective's cumulative TEC (or time) arrays, so that every
 * config is charged in total exactly its cumulative cost at the epochs it reached; without
 * reuse, cum[epochs-1]. If used + charge > budget: with partial, the evaluation is cut to the
 * largest epoch count e whose charge fits (e > t; TRUNCATED), and if none fits nothing is trained
 * (STOP); without partial it is skipped (STOP). After TRUNCATED or STOP every call returns STOP.
 * Every call that trains appends one eahas_eval to the trajectory, incumbent updated on
 * validation accuracy (ties keep the earlier). Errors: those of the objective, EAHAS_EINVAL for
 * epochs < 1, EAHAS_ENOMEM. */
int eahas_ledger_train(eahas_ledger *l, const eahas_config *c, int epochs, eahas_ledger_result *out,
                       eahas_err *err);
/* Remaining budget (kWh or s) and amount used. */
double eahas_ledger_remaining(const eahas_ledger *l);
double eahas_ledger_used(const eahas_ledger *l);
/* Epochs c has been trained to so far (0 if never; always 0 without reuse). */
int eahas_ledger_epochs_done(const eahas_ledger *l, const eahas_config *c);
/* The trajectory so far (owned by the ledger). */
eahas_trajectory *eahas_ledger_trajectory(eahas_ledger *l);
/* Moves the trajectory out (the ledger keeps an empty one). */
void eahas_ledger_take(eahas_ledger *l, eahas_trajectory *out);

/* ---- optimizers ------------------------------------------------------------------------ */

/* Parameters of every optimizer (defaults: REFERENCE.md §7, EA-HAS-Bench's NASLib settings). */
typedef struct eahas_search_params {
  int re_population, re_tournament;   /* 20, 10 */
  int ls_arch, ls_hp;                 /* 10, 10 neighbours per step */
  int bananas_init;                   /* 10 random configs before the first model */
  int bananas_candidates;             /* 100 candidates per iteration, by mutation */
  int bananas_parents;                /* 10: candidates mutate the best this many configs */
  int bananas_select;                 /* 10 evaluations per iteration */
  int bananas_ensemble;               /* 5 MLPs */
  int bananas_hidden;                 /* 16: width of the surrogate module's MLP (eahas_mlp) */
  int bananas_steps;                  /* 60: about this many Adam minibatches of 32 per member and
                                         iteration (epochs = ceil(60 * 32 / history size)),
                                         warm-started from the previous iteration's weights */
  int hb_max, hb_min, hb_eta;         /* 512, 4, 3 */
  int bohb_samples;                   /* 128 */
  double bohb_random_fraction;        /* 0.33 */
  double bohb_top_percent;            /* 10 */
  double bohb_bw_factor;              /* 3 */
  double bohb_min_bw;                 /* 1e-3 */
  int bohb_min_points;                /* 11: dimensions + 1 */
  int ea_epochs;                      /* 20: partial training of a new EA- candidate */
  int ea_target;                      /* 100: the epoch whose accuracy is predicted (the
                                         original's index 99), capped at the config's max */
} eahas_search_params;
void eahas_search_params_default(eahas_search_params *p);
/* EAHAS_EINVAL naming the first parameter out of range. */
int eahas_search_params_check(const eahas_search_params *p, eahas_err *err);

/* "rs" "re" "ls" "bananas" "hb" "bohb" "ea-re" "ea-ls" "ea-bananas". */
const char *eahas_optim_name(eahas_optim_kind k);
int eahas_optim_parse(const char *name, eahas_optim_kind *out, eahas_err *err);
/* The base optimizer of an EA- variant (EA-RE -> RE ...), or -1. */
int eahas_optim_base(eahas_optim_kind k);

/* Runs one optimizer with one seed until the budget stops it; *out receives the trajectory
 * (free with eahas_trajectory_free). Deterministic for (objective, kind, params, budget, seed).
 * Errors: EAHAS_EINVAL (params, budget), the objective's errors, EAHAS_ECONSTRAINT (sampling). */
int eahas_search_run(const eahas_objective *obj, eahas_optim_kind k, const eahas_search_params *p,
                     const eahas_budget *b, uint64_t seed, eahas_trajectory *out, eahas_err *err);

/* Every (optimizer, seed) pair, on `jobs` threads (pthreads). trajs[i * n_seeds + s] is
 * optimizer kinds[i] with seed seeds[s]. progress (may be NULL) is called after each run from
 * the finishing thread, serialized by a mutex. On error the first error is returned and every
 * trajectory freed. */
typedef void (*eahas_search_progress_fn)(void *ud, int done, int total);
int eahas_search_many(const eahas_objective *obj, const eahas_optim_kind *kinds, int n_kinds,
                      const uint64_t *seeds, int n_seeds, const eahas_search_params *p,
                      const eahas_budget *b, int jobs, eahas_search_progress_fn progress, void *ud,
                      eahas_trajectory *trajs, eahas_err *err);

/* ---- pieces exposed for tests ------------------------------------------------------------ */

/* Hyperband brackets (Li et al. 2018, as in EA-HAS-Bench's NASLib): s_max = floor(log_eta(max/min)),
 * bracket b = 0..s_max runs s = s_max - b: n = ceil((s_max+1) eta^s / (s+1)), rung i = 0..s has
 * n_i = floor(n / eta^i) configs and r_i = min(floor(max eta^(i-s)), cap) epochs.
 * sizes/epochs are [bracket][rung] arrays of EAHAS_HB_MAX_RUNGS; returns the number of brackets
 * (<= EAHAS_HB_MAX_RUNGS) or EAHAS_EINVAL. */
#define EAHAS_HB_MAX_RUNGS 16
int eahas_hb_brackets(int max_budget, int min_budget, int eta, int cap, int sizes[][EAHAS_HB_MAX_RUNGS],
                      int epochs[][EAHAS_HB_MAX_RUNGS], int *n_rungs, eahas_err *err);

/* Learning-curve extrapolation (docs/search.md): least-squares fits of pow3 y = c - a x^-alpha,
 * exp3 y = c - a exp(-b x) and ilog2 y = c - a / ln(x + 1) to y[0..n) at epochs 1..n, each solved
 * exactly for its linear parameters over a 1-D search of the nonlinear one; the prediction at
 * `epoch` is the mean of the fits' predictions, clipped to [0, 100]. n >= 3. */
double eahas_extrapolate(const float *y, int n, int epoch);

#ifdef __cplusplus
}
#endif
#endif
