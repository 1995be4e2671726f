/* Objectives: the surrogate benchmark through eahas_query, and a closed-form synthetic
 * benchmark with a known optimum for tests and for running before a benchmark is fitted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/search.h"

static int bench_eval(void *ctx, const eahas_config *c, int epochs, eahas_query_result *out, eahas_err *err) {
  eahas_bench_objective *bo = ctx;
  eahas_query_opts o = bo->opts;
  o.epochs = epochs;
  return eahas_query(bo->bench, c, &o, out, err);
}

eahas_objective eahas_bench_objective_init(eahas_bench_objective *bo, const eahas_bench *b, int noise,
                                           uint64_t noise_seed) {
  memset(bo, 0, sizeof *bo);
  bo->bench = b;
  bo->opts.noise = noise;
  bo->opts.noise_seed = noise_seed;
  eahas_objective o = {bo, eahas_bench_preset(b), bench_eval};
  return o;
}

/* ---- synthetic benchmark --------------------------------------------------------------- */

double eahas_synth_final_val(const eahas_config *c) {
  static const double opt_pen[3] = {0.0, 2.0, 1.0};   /* sgd adam adamw */
  static const double sched_pen[3] = {0.0, 1.5, 0.5}; /* cos exp lin */
  return 92.0 - 1.5 * fabs((double)(c->lr_idx - 6)) - opt_pen[c->opt % 3] - sched_pen[c->sched % 3];
}

static int synth_eval(void *ctx, const eahas_config *c, int epochs, eahas_query_result *out, eahas_err *err) {
  const eahas_synth *s = ctx;
  if (epochs < 1 || epochs > EAHAS_MAX_EPOCHS)
    return eahas_err_set(err, EAHAS_EINVAL, "synthetic benchmark: epochs=%d is outside [1, %d]", epochs,
                         EAHAS_MAX_EPOCHS);
  eahas_complexity cx;
  int rc = eahas_config_complexity(c, s->preset, NULL, &cx, err);
  if (rc) return rc;
  memset(out, 0, sizeof *out);
  const double k = 3.0, a = eahas_synth_final_val(c), E = c->epochs;
  const double kwh_per_epoch = 0.08 * cx.flops / 1e9 * (c->cutout ? 1.1 : 1.0);
  const double s_per_epoch = 30.0 * cx.flops / 1e9 + 4e-6 * cx.acts;
  out->epochs = epochs;
  for (int i = 0; i < epochs; i++) {
    double e = i + 1;
    double v = 10.0 + (a - 10.0) * (1.0 - exp(-k * e / E)) / (1.0 - exp(-k));
    out->val_acc[i] = (float)v;
    out->test_acc[i] = (float)(v - 0.5);
    out->train_acc[i] = (float)fmin(100.0, v + 3.0);
    out->tec_kwh_cum[i] = kwh_per_epoch * e;
    out->time_s_cum[i] = s_per_epoch * e;
  }
  out->final_val_acc = out->val_acc[epochs - 1];
  out->final_test_acc = out->test_acc[epochs - 1];
  out->final_train_acc = out->train_acc[epochs - 1];
  out->tec_kwh = out->tec_kwh_cum[epochs - 1];
  out->train_time_s = out->time_s_cum[epochs - 1];
  out->iec_j_per_image = 2.0 * cx.flops / 1e9;
  out->cx = cx;
  strcpy(out->energy_method, "estimate:synthetic");
  return 0;
}

eahas_objective eahas_synth_objective(eahas_synth *s, const eahas_preset *p) {
  s->preset = p;
  eahas_objective o = {s, p, synth_eval};
  return o;
}
