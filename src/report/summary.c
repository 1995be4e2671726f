/* Regret, the optimum, and the summary table of a multi-seed search. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/report.h"
#include "eahas/tabular.h"
#include "report/sb.h"

void eahas_optimum_synth(eahas_optimum *out) {
  memset(out, 0, sizeof *out);
  out->test_acc = EAHAS_SYNTH_BEST_TEST;
  eahas_config c = {.d = 10, .w0 = 64, .wa10 = 200, .wm1000 = 2700, .gw = 8, .lr_idx = 6,
                    .opt = EAHAS_OPT_SGD, .sched = EAHAS_SCHED_COS, .cutout = 0, .epochs = 50};
  out->config = c;
  out->epochs = 50;
  snprintf(out->method, sizeof out->method,
           "closed form of the synthetic benchmark: every config with lr 0.1, sgd, cos at its last epoch");
}

/* ---- the surrogate benchmark's optimum ------------------------------------------------- */

typedef struct opt_job {
  const eahas_bench *b;
  const eahas_config *cfgs;
  int n, next;
  pthread_mutex_t mu;
  double best;
  int best_i;
  int rc;
  eahas_err err;
} opt_job;

enum { OPT_BATCH = 64 }; /* configs per eahas_query_batch call */

static void *opt_worker(void *arg) {
  opt_job *J = arg;
  eahas_query_result *q = malloc(sizeof *q * OPT_BATCH);
  double best = -INFINITY;
  int best_i = -1, rc = 0;
  eahas_err e = {0};
  for (;;) {
    pthread_mutex_lock(&J->mu);
    int lo = J->next;
    J->next += 4 * OPT_BATCH;
    pthread_mutex_unlock(&J->mu);
    if (lo >= J->n || !q) break;
    int hi = lo + 4 * OPT_BATCH < J->n ? lo + 4 * OPT_BATCH : J->n;
    for (int i0 = lo; i0 < hi && !rc; i0 += OPT_BATCH) {
      int k = hi - i0 < OPT_BATCH ? hi - i0 : OPT_BATCH;
      if ((rc = eahas_query_batch(J->b, &J->cfgs[i0], k, NULL, q, NULL, &e))) {
        for (int j = 0; j < k; j++) /* the failing config's own message, without the batch index */
          if (eahas_query(J->b, &J->cfgs[i0 + j], NULL, q, &e)) break;
        break;
      }
      for (int j = 0; j < k; j++) {
        int i = i0 + j;
        if (q[j].final_test_acc > best || (q[j].final_test_acc == best && i < best_i)) best = q[j].final_test_acc, best_i = i;
      }
    }
    if (rc) break;
  }
  pthread_mutex_lock(&J->mu);
  if (!q && !J->rc) J->rc = eahas_err_set(&J->err, EAHAS_ENOMEM, "optimum: out of memory");
  if (rc && !J->rc) J->rc = rc, J->err = e;
  if (best > J->best || (best == J->best && best_i >= 0 && best_i < J->best_i)) J->best = best, J->best_i = best_i;
  pthread_mutex_unlock(&J->mu);
  free(q);
  return NULL;
}

int eahas_optimum_bench(const char *path, const eahas_bench *b, int n_samples, uint64_t seed, int threads,
                        eahas_optimum *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  const eahas_preset *p = eahas_bench_preset(b);
  eahas_table *t = NULL;
  eahas_run_record *runs = NULL;
  int n_runs = 0, rc = eahas_table_open(path, 0, 1, &t, err);
  if (!rc) rc = eahas_table_load_runs(t, &runs, &n_runs, err);
  if (t) eahas_table_close(t);
  if (rc) return rc;
  int n = n_runs + (n_samples > 0 ? n_samples : 0);
  eahas_config *cfgs = malloc((size_t)(n > 0 ? n : 1) * sizeof *cfgs);
  if (!cfgs) rc = eahas_err_set(err, EAHAS_ENOMEM, "optimum: out of memory for %d configs", n);
  int m = 0;
  for (int i = 0; i < n_runs; i++) {
    if (!rc && eahas_config_validate(&runs[i].config, p, 0, NULL) == 0) cfgs[m++] = runs[i].config;
    eahas_run_record_free(&runs[i]);
  }
  free(runs);
  int recorded = m;
  eahas_rng rng;
  eahas_rng_seed_key(&rng, seed, 0x0b7e5ULL);
  for (int i = 0; i < n_samples && !rc; i++) rc = eahas_config_sample(&rng, p, 0, &cfgs[m++], err);
  if (rc) {
    free(cfgs);
    return rc < 0 ? rc : EAHAS_ECONSTRAINT;
  }
  opt_job J;
  memset(&J, 0, sizeof J);
  J.b = b;
  J.cfgs = cfgs;
  J.n = m;
  J.best = -INFINITY;
  J.best_i = -1;
  pthread_mutex_init(&J.mu, NULL);
  if (threads < 1) threads = 1;
  pthread_t th[64];
  int started = 0;
  for (int i = 1; i < threads && i < 64; i++)
    if (pthread_create(&th[started], NULL, opt_worker, &J) == 0) started++;
  opt_worker(&J);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&J.mu);
  if (J.rc) {
    free(cfgs);
    if (err) *err = J.err;
    return J.rc;
  }
  if (J.best_i < 0) {
    free(cfgs);
    return eahas_err_set(err, EAHAS_EINVAL, "optimum: no config to query (0 recorded, %d samples)", n_samples);
  }
  out->test_acc = J.best;
  out->config = cfgs[J.best_i];
  out->epochs = cfgs[J.best_i].epochs;
  snprintf(out->method, sizeof out->method,
           "max of the surrogate's final-epoch test accuracy over the %d recorded configs and %d configs sampled "
           "with seed %llu",
           recorded, n_samples, (unsigned long long)seed);
  free(cfgs);
  return 0;
}

int eahas_optimum_update(eahas_optimum *o, const eahas_trajectory *trajs, int n) {
  double best = o->test_acc;
  const eahas_eval *arg = NULL;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < trajs[i].n; j++)
      if (trajs[i].evals[j].test_acc > best) best = trajs[i].evals[j].test_acc, arg = &trajs[i].evals[j];
  if (!arg) return 0;
  o->test_acc = best;
  o->config = arg->config;
  o->epochs = arg->epochs;
  size_t k = strlen(o->method);
  snprintf(o->method + k, sizeof o->method - k, "; raised to the best test accuracy a search evaluation reached");
  return 1;
}

/* ---- regret ------------------------------------------------------------------------------ */

double eahas_eval_cum_cost(const eahas_eval *e, eahas_budget_unit u) {
  return u == EAHAS_BUDGET_SECONDS ? e->cum_time_s : e->cum_energy_kwh;
}

/* Index of the last evaluation with cumulative cost <= x, or -1 (binary search: costs are
 * non-decreasing). */
static int last_at(const eahas_trajectory *t, double x) {
  int lo = 0, hi = t->n - 1, ans = -1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (eahas_eval_cum_cost(&t->evals[mid], t->budget.unit) <= x) ans = mid, lo = mid + 1;
    else hi = mid - 1;
  }
  return ans;
}

double eahas_regret_at(const eahas_trajectory *t, double optimum, double frac) {
  int i = last_at(t, frac * t->budget.amount * (1 + 1e-12));
  return i < 0 ? NAN : optimum - t->evals[i].inc_test_acc;
}

double eahas_mean_regret_at(const eahas_trajectory *t, int n, double optimum, double x, double *sd) {
  double s = 0, s2 = 0;
  for (int k = 0; k < n; k++) {
    int i = last_at(&t[k], x);
    if (i < 0) {
      if (sd) *sd = NAN;
      return INFINITY;
    }
    double r = optimum - t[k].evals[i].inc_test_acc;
    s += r;
    s2 += r * r;
  }
  double m = s / n;
  if (sd) *sd = n > 1 ? sqrt(fmax(0.0, (s2 - n * m * m) / (n - 1))) : 0;
  return m;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double eahas_cost_to_regret(const eahas_trajectory *t, int n, double optimum, double target) {
  size_t total = 0;
  for (int k = 0; k < n; k++) total += (size_t)t[k].n;
  if (!total) return INFINITY;
  double *xs = malloc(total * sizeof *xs);
  if (!xs) return NAN;
  size_t m = 0;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < t[k].n; i++) xs[m++] = eahas_eval_cum_cost(&t[k].evals[i], t[k].budget.unit);
  qsort(xs, m, sizeof *xs, cmp_double);
  double ans = INFINITY;
  for (size_t i = 0; i < m; i++) {
    if (i && xs[i] == xs[i - 1]) continue;
    if (eahas_mean_regret_at(t, n, optimum, xs[i], NULL) <= target + 1e-9) {
      ans = xs[i];
      break;
    }
  }
  free(xs);
  return ans;
}

/* ---- summary ------------------------------------------------------------------------------ */

static void mean_sd(const double *v, int n, double *m, double *sd, int *cnt) {
  double s = 0, s2 = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(v[i])) s += v[i], s2 += v[i] * v[i], k++;
  *m = k ? s / k : NAN;
  *sd = k > 1 ? sqrt(fmax(0.0, (s2 - k * *m * *m) / (k - 1))) : (k ? 0 : NAN);
  if (cnt) *cnt = k;
}

void eahas_summary(const eahas_trajectory *trajs, const eahas_optim_kind *kinds, int n_kinds, int n_seeds,
                   double optimum, eahas_summary_row *rows) {
  static const double frac[3] = {0.1, 0.5, 1.0};
  double *v = malloc((size_t)n_seeds * sizeof *v);
  if (!v) return;
  for (int i = 0; i < n_kinds; i++) {
    eahas_summary_row *r = &rows[i];
    memset(r, 0, sizeof *r);
    r->optim = kinds[i];
    r->n_seeds = n_seeds;
    const eahas_trajectory *t = &trajs[(size_t)i * n_seeds];
    for (int f = 0; f < 3; f++) {
      for (int s = 0; s < n_seeds; s++) v[s] = eahas_regret_at(&t[s], optimum, frac[f]);
      mean_sd(v, n_seeds, &r->regret_mean[f], &r->regret_sd[f], &r->regret_n[f]);
    }
    for (int s = 0; s < n_seeds; s++) v[s] = t[s].energy_kwh;
    mean_sd(v, n_seeds, &r->energy_mean, &r->energy_sd, NULL);
    double dummy;
    for (int s = 0; s < n_seeds; s++) v[s] = t[s].time_s;
    mean_sd(v, n_seeds, &r->time_mean, &dummy, NULL);
    for (int s = 0; s < n_seeds; s++) v[s] = t[s].n;
    mean_sd(v, n_seeds, &r->evals_mean, &r->evals_sd, NULL);
    r->base = -1;
    r->saved = r->saved_frac = r->base_cost = r->ea_cost = r->base_final_regret = NAN;
  }
  /* EA- savings: the cost at which the variant's mean regret first reaches the base's final mean
   * regret, against the cost at which the base itself first reached it. */
  for (int i = 0; i < n_kinds; i++) {
    int base = eahas_optim_base(kinds[i]);
    for (int j = 0; j < n_kinds && base >= 0; j++) {
      if ((int)kinds[j] != base) continue;
      eahas_summary_row *r = &rows[i];
      const eahas_trajectory *tb = &trajs[(size_t)j * n_seeds], *te = &trajs[(size_t)i * n_seeds];
      r->base = j;
      r->base_final_regret = rows[j].regret_mean[2];
      if (!isfinite(r->base_final_regret)) break;
      r->base_cost = eahas_cost_to_regret(tb, n_seeds, optimum, r->base_final_regret);
      r->ea_cost = eahas_cost_to_regret(te, n_seeds, optimum, r->base_final_regret);
      if (isfinite(r->base_cost) && isfinite(r->ea_cost)) {
        r->saved = r->base_cost - r->ea_cost;
        r->saved_frac = r->base_cost > 0 ? r->saved / r->base_cost : NAN;
      }
      break;
    }
  }
  free(v);
}

static void pm(sb *b, double m, double sd) {
  if (isfinite(m)) sb_printf(b, " %7.3f +- %-7.3f", m, sd);
  else sb_printf(b, " %17s", "n/a");
}

char *eahas_summary_table(const eahas_summary_row *rows, int n, const eahas_budget *bu) {
  sb b = {0};
  const char *unit = bu->unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh";
  sb_printf(&b, "%-11s %5s %17s %17s %17s %21s %15s  %s\n", "optimizer", "seeds", "regret@10%", "regret@50%",
            "regret@100%", "energy kWh", "evaluations", "EA- saving");
  for (int i = 0; i < n; i++) {
    const eahas_summary_row *r = &rows[i];
    sb_printf(&b, "%-11s %5d", eahas_optim_name(r->optim), r->n_seeds);
    for (int f = 0; f < 3; f++) pm(&b, r->regret_mean[f], r->regret_sd[f]);
    sb_printf(&b, " %9.3f +- %-8.3f %6.0f +- %-6.0f", r->energy_mean, r->energy_sd, r->evals_mean, r->evals_sd);
    if (r->base >= 0) {
      const char *bn = eahas_optim_name(rows[r->base].optim);
      if (isfinite(r->saved)) {
        /* a saving that rounds to zero prints as 0, not -0.000 */
        double sv = fabs(r->saved) < 5e-4 ? 0.0 : r->saved, pc = fabs(100 * r->saved_frac) < 0.05 ? 0.0 : 100 * r->saved_frac;
        sb_printf(&b, "  %.3f %s (%.1f %%) vs %s to regret %.3f", sv, unit, pc, bn, r->base_final_regret);
      }
      else if (isfinite(r->base_final_regret))
        sb_printf(&b, "  never reached %s's final regret %.3f", bn, r->base_final_regret);
    }
    sb_printf(&b, "\n");
  }
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.s;
}

static void jnum(sb *b, const char *k, double v, int comma) {
  if (isfinite(v)) sb_printf(b, "\"%s\": %.17g%s", k, v, comma ? ", " : "");
  else sb_printf(b, "\"%s\": null%s", k, comma ? ", " : "");
}

char *eahas_summary_json(const eahas_summary_row *rows, int n, const eahas_budget *bu, const eahas_optimum *o) {
  sb b = {0};
  char cfg[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&o->config, cfg, sizeof cfg);
  sb_printf(&b, "{\"budget\": {\"unit\": \"%s\", ", bu->unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh");
  jnum(&b, "amount", bu->amount, 1);
  sb_printf(&b, "\"partial\": %s, \"reuse\": %s},\n", bu->partial ? "true" : "false", bu->reuse ? "true" : "false");
  sb_printf(&b, " \"optimum\": {");
  jnum(&b, "test_acc", o->test_acc, 1);
  sb_printf(&b, "\"config\": \"%s\", \"epochs\": %d, \"method\": \"%s\"},\n \"optimizers\": [", cfg, o->epochs,
            o->method);
  for (int i = 0; i < n; i++) {
    const eahas_summary_row *r = &rows[i];
    sb_printf(&b, "%s\n  {\"optimizer\": \"%s\", \"seeds\": %d, ", i ? "," : "", eahas_optim_name(r->optim), r->n_seeds);
    static const char *const names[3] = {"10", "50", "100"};
    for (int f = 0; f < 3; f++) {
      char k[40];
      snprintf(k, sizeof k, "regret_mean_%s", names[f]);
      jnum(&b, k, r->regret_mean[f], 1);
      snprintf(k, sizeof k, "regret_sd_%s", names[f]);
      jnum(&b, k, r->regret_sd[f], 1);
    }
    jnum(&b, "energy_kwh_mean", r->energy_mean, 1);
    jnum(&b, "energy_kwh_sd", r->energy_sd, 1);
    jnum(&b, "time_s_mean", r->time_mean, 1);
    jnum(&b, "evaluations_mean", r->evals_mean, 1);
    jnum(&b, "evaluations_sd", r->evals_sd, r->base >= 0);
    if (r->base >= 0) {
      sb_printf(&b, "\"base\": \"%s\", ", eahas_optim_name(rows[r->base].optim));
      jnum(&b, "base_final_regret", r->base_final_regret, 1);
      jnum(&b, "base_cost", r->base_cost, 1);
      jnum(&b, "ea_cost", r->ea_cost, 1);
      jnum(&b, "saved", r->saved, 1);
      jnum(&b, "saved_frac", r->saved_frac, 0);
    }
    sb_printf(&b, "}");
  }
  sb_printf(&b, "\n ]\n}\n");
  if (b.oom) {
    sb_free(&b);
    return NULL;
  }
  return b.s;
}
