/* Synthetic run records for surrogate tests and the query benchmark: plausible learning curves
 * (saturating rise whose level and speed depend on the config, an lr-schedule knee, noise),
 * per-epoch time and energy proportional to flops with a first-epoch overhead, and IEC. */
#ifndef EAHAS_TESTS_SYNTH_H
#define EAHAS_TESTS_SYNTH_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eahas/space.h"
#include "eahas/train.h"

/* Fills r (allocated here; free with eahas_run_record_free) for a config drawn from rng. */
static int synth_run(eahas_rng *rng, const eahas_preset *p, eahas_run_record *r) {
  eahas_config c;
  eahas_err e;
  if (eahas_config_sample(rng, p, 0, &c, &e)) return -1;
  if (eahas_run_record_init(r, c.epochs, &e)) return -1;
  r->config = c;
  snprintf(r->preset, sizeof r->preset, "%s", p->name);
  eahas_run_id(p->name, &c, r->id);
  r->seed = eahas_rng_u64(rng) & 0xffff;
  r->epochs_planned = r->epochs_limit = r->epochs_trained = c.epochs;
  snprintf(r->status, sizeof r->status, "ok");
  eahas_config_complexity(&c, p, NULL, &r->cx, &e);
  double lr = eahas_config_lr(&c);
  /* the best lr depends on the optimizer: sgd likes 0.1, adam 0.001 */
  double best = c.opt == EAHAS_OPT_SGD ? log10(0.1) : log10(0.001);
  double miss = fabs(log10(lr) - best);
  double top = 93.0 - 6.0 * miss * miss - 0.5 * (c.d - 6) / 9.0 + 1.5 * (c.w0 - 48) / 80.0 + (c.cutout ? 0.8 : 0)
               + (c.epochs == 200 ? 1.5 : c.epochs == 100 ? 0.8 : 0);
  if (top < 12) top = 12;
  double tau = (2.0 + 3.0 * miss) * c.epochs / 50.0;
  double t_ep = 1.0 + 2.0 * r->cx.flops / 1e8 * (1 + 0.02 * eahas_rng_normal(rng));
  double watts = 60 + 10 * (c.gw > 8) + 3 * eahas_rng_normal(rng);
  double tt = 0, te = 0;
  for (int ep = 1; ep <= c.epochs; ep++) {
    double x = (double)ep;
    double base = 10 + (top - 12) * (1 - exp(-x / tau));
    double knee = (c.sched == EAHAS_SCHED_COS ? 2.0 : 1.2) * (1 - cos(M_PI * x / c.epochs)) / 2;
    double acc = base + knee + 0.25 * eahas_rng_normal(rng);
    acc = fmin(100, fmax(0, acc));
    r->test_acc_ema[ep - 1] = acc;
    r->test_acc[ep - 1] = fmin(100, fmax(0, acc - 0.8 + 0.4 * eahas_rng_normal(rng)));
    r->val_acc[ep - 1] = fmin(100, fmax(0, acc + 0.5 + 0.3 * eahas_rng_normal(rng)));
    r->train_acc[ep - 1] = fmin(100, fmax(0, acc + 4 * (1 - exp(-x / (2 * tau))) + 0.2 * eahas_rng_normal(rng)));
    r->train_loss[ep - 1] = 2.3 * (1 - acc / 100);
    r->lr[ep - 1] = lr;
    double tep = t_ep * (ep == 1 ? 1.3 : 1.0) * (1 + 0.01 * eahas_rng_normal(rng));
    r->epoch_time_s[ep - 1] = tep;
    r->train_energy_j[ep - 1] = tep * watts;
    r->eval_energy_j[ep - 1] = 0.1 * tep * watts;
    tt += tep;
    te += tep * watts;
  }
  r->train_time_s = tt;
  r->total_energy_j = 1.1 * te;
  r->tec_kwh = te / 3.6e6;
  r->iec_j_per_image = 1e-9 * r->cx.flops * (1 + 0.02 * eahas_rng_normal(rng));
  snprintf(r->energy_method, sizeof r->energy_method, "estimate:synthetic");
  snprintf(r->dataset, sizeof r->dataset, "%s", p->dataset);
  snprintf(r->trainer, sizeof r->trainer, "synthetic");
  r->threads = 1;
  return 0;
}

/* n distinct runs from seed into runs[] (caller frees each). Returns 0 or -1. */
static int synth_runs(const eahas_preset *p, uint64_t seed, int n, eahas_run_record *runs) {
  eahas_rng rng;
  eahas_rng_seed(&rng, seed);
  for (int i = 0; i < n; i++) {
    for (;;) {
      if (synth_run(&rng, p, &runs[i])) return -1;
      int dup = 0;
      for (int j = 0; j < i && !dup; j++) dup = strcmp(runs[j].id, runs[i].id) == 0;
      if (!dup) break;
      eahas_run_record_free(&runs[i]);
    }
  }
  return 0;
}
#endif
