/* eahas report: summaries of search runs (test regret at budget fractions, energy, evaluations,
 * EA- savings), trajectory files (CSV, JSON), and plots written as gnuplot scripts rendered to
 * SVG and PNG (docs/search.md). The library never prints: plotting returns EAHAS_EUNAVAIL when
 * gnuplot is absent, after writing the scripts and data.
 */
#ifndef EAHAS_REPORT_H
#define EAHAS_REPORT_H

#include <stddef.h>

#include "eahas/search.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The best test accuracy the benchmark can reach, and how it was found (for the report). */
typedef struct eahas_optimum {
  double test_acc;      /* percent */
  eahas_config config;  /* a config that reaches it */
  int epochs;           /* at this epoch */
  char method[256];     /* e.g. "max over 20000 sampled configs and 40 recorded configs ..." */
} eahas_optimum;

/* The synthetic benchmark's optimum (closed form: 91.5 %). */
void eahas_optimum_synth(eahas_optimum *out);
/* The surrogate benchmark's optimum: the maximum final-epoch test accuracy of the surrogate over
 * every config recorded in the file at `path` and n_samples configs sampled with seed (threads
 * workers). Errors: those of eahas_table_open / eahas_query / sampling. */
int eahas_optimum_bench(const char *path, const eahas_bench *b, int n_samples, uint64_t seed, int threads,
                        eahas_optimum *out, eahas_err *err);
/* Raises the optimum to the best test accuracy any evaluation in trajs reached (so that regret is
 * never negative) and says so in method. Returns 1 if it was raised. */
int eahas_optimum_update(eahas_optimum *o, const eahas_trajectory *trajs, int n);

/* Cost of an evaluation in the budget's unit (cumulative kWh or s). */
double eahas_eval_cum_cost(const eahas_eval *e, eahas_budget_unit u);
/* Test regret (optimum - incumbent test accuracy, percent points) after the last evaluation whose
 * cumulative cost is <= frac * budget; NaN if there is none. */
double eahas_regret_at(const eahas_trajectory *t, double optimum, double frac);
/* Mean incumbent regret over n trajectories at cost x (INFINITY while any has no evaluation at
 * or below x); *sd (may be NULL) gets the sample standard deviation. */
double eahas_mean_regret_at(const eahas_trajectory *t, int n, double optimum, double x, double *sd);
/* The smallest cost at which the mean regret over n trajectories is <= target; INFINITY if never.
 * Exact: the mean is a step function that changes only at the trajectories' evaluation costs. */
double eahas_cost_to_regret(const eahas_trajectory *t, int n, double optimum, double target);

/* One line of the summary table. */
typedef struct eahas_summary_row {
  eahas_optim_kind optim;
  int n_seeds;
  double regret_mean[3], regret_sd[3]; /* at 10 %, 50 %, 100 % of the budget */
  int regret_n[3];                     /* seeds with an incumbent at that point */
  double energy_mean, energy_sd;       /* kWh charged */
  double time_mean;                    /* s charged */
  double evals_mean, evals_sd;
  int base;                            /* EA- variants: index of the base optimizer's row, else -1 */
  double base_final_regret;            /* the base's mean regret at 100 % */
  double base_cost, ea_cost;           /* cost (budget unit) for the mean regret to reach it */
  double saved, saved_frac;            /* base_cost - ea_cost and that over base_cost; NaN if the
                                          EA- variant never reaches it (or no base row) */
} eahas_summary_row;

/* trajs[i * n_seeds + s] as eahas_search_many lays them out. rows holds n_kinds rows. */
void eahas_summary(const eahas_trajectory *trajs, const eahas_optim_kind *kinds, int n_kinds, int n_seeds,
                   double optimum, eahas_summary_row *rows);
/* The summary as an aligned text table (malloc'd) and as JSON (malloc'd; NULL on ENOMEM). */
char *eahas_summary_table(const eahas_summary_row *rows, int n, const eahas_budget *b);
char *eahas_summary_json(const eahas_summary_row *rows, int n, const eahas_budget *b, const eahas_optimum *o);

/* Writes every evaluation of every trajectory: CSV (one row per evaluation, header first, config
 * in its canonical text form, quoted) and JSON (per run: optimizer, seed, stop reason, totals and
 * column arrays of the evaluations). Atomic writes. Errors: EAHAS_EIO, EAHAS_ENOMEM. */
int eahas_write_trajectories_csv(const char *path, const eahas_trajectory *t, int n, double optimum,
                                 eahas_err *err);
int eahas_write_trajectories_json(const char *path, const eahas_trajectory *t, int n, const eahas_optimum *o,
                                  eahas_err *err);
/* Reads the CSV back into trajectories (grouped by optimizer and seed in file order; *out
 * malloc'd, free each with eahas_trajectory_free, then free()). *optimum gets optimum + regret of
 * the first row. The budget is not in the CSV: pass it (it sets t->budget). Errors:
 * EAHAS_ENOTFOUND (no such file), EAHAS_EINVAL (a directory), EAHAS_EPERM, EAHAS_EIO (a read
 * failure), EAHAS_EFORMAT naming the line and column. */
int eahas_read_trajectories_csv(const char *path, const eahas_budget *b, eahas_trajectory **out, int *n,
                                double *optimum, eahas_err *err);

/* ---- plots ------------------------------------------------------------------------------ */

/* The gnuplot to run: $EAHAS_GNUPLOT if set (empty = none), else "gnuplot" on PATH. Returns the
 * path found (static buffer) or NULL. */
const char *eahas_gnuplot_find(void);

/* Regret against cumulative cost, log-log, mean and a +-1 sd band over seeds, one line per
 * optimizer, from a search output directory (its trajectories.csv and summary.json). Writes
 * outdir/regret.dat, regret.gp and, with gnuplot, regret.svg and regret.png. Regret is floored at
 * 1e-3 points for the log axis. Returns 0, or EAHAS_EUNAVAIL (gnuplot absent: the message says
 * so; scripts and data are written), or an error. */
int eahas_plot_regret(const char *search_dir, const char *outdir, eahas_err *err);

/* Learning curves of one config c (accuracy in percent against epoch 1..L): recorded (if the
 * benchmark file at bench_path has the run: val, test, test EMA) and predicted (val, test) by b,
 * or by obj when b is NULL. With b and obj both NULL only the recorded run is plotted (a file
 * without fitted surrogates). Writes outdir/curves.dat (one row per epoch, "nan" where a
 * curve is absent), curves.gp (+ .svg, .png with gnuplot). Returns 0, EAHAS_EUNAVAIL (gnuplot
 * absent; data and script written), EAHAS_EINVAL (bench_path, b and obj all NULL),
 * EAHAS_ENOTFOUND (recorded-only mode and c not recorded), a table-open error in that mode,
 * or the query's / writing's error. Curves as EA-HAS-Bench's per-epoch records. */
int eahas_plot_curves(const char *bench_path, const eahas_bench *b, const eahas_objective *obj,
                      const eahas_config *c, const char *outdir, eahas_err *err);

/* Accuracy against TEC with the Pareto front (max accuracy, min TEC). Points: the recorded runs of
 * a benchmark file (final test accuracy of the EMA model, TEC) when src is a file, or every config
 * of a search output directory (its last test accuracy, total energy charged for it). Writes
 * pareto.dat, front.dat, pareto.gp (+ .svg, .png); *n_front (may be NULL) gets the front's size. */
int eahas_plot_pareto(const char *src, const char *outdir, int *n_front, eahas_err *err);

/* The Pareto front of n points (x = cost, minimized; y = accuracy, maximized): writes the indices
 * of the non-dominated points in increasing x into idx and returns their number. */
int eahas_pareto_front(const double *x, const double *y, int n, int *idx);

#ifdef __cplusplus
}
#endif
#endif
