/* Tests of the search module: the budget ledger (never exceeded, truncation arithmetic, exact
 * partial charges, checkpoint reuse, --no-partial), Hyperband's brackets, the learning-curve
 * extrapolation, determinism of every optimizer, and the thread pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "eahas/search.h"
#include "search/internal.h"

/* ---- a stub objective with exactly known costs ------------------------------------------ */
/* Epoch e (1-based) of any config costs 0.1 kWh and 10 s, except that configs with lr_idx 0 cost
 * 0.25 kWh per epoch. val(e) = lr_idx * 5 + e / 10, test = val - 1. Counts its calls. */
typedef struct stub {
  int calls;
} stub;

static int stub_eval(void *ctx, const eahas_config *c, int epochs, eahas_query_result *out, eahas_err *err) {
  stub *s = ctx;
  s->calls++;
  if (epochs < 1 || epochs > c->epochs) return eahas_err_set(err, EAHAS_EINVAL, "stub: epochs=%d", epochs);
  double kwh = c->lr_idx == 0 ? 0.25 : 0.1;
  out->epochs = epochs;
  for (int i = 0; i < epochs; i++) {
    out->val_acc[i] = (float)(c->lr_idx * 5 + (i + 1) / 10.0);
    out->test_acc[i] = out->val_acc[i] - 1;
    out->tec_kwh_cum[i] = kwh * (i + 1);
    out->time_s_cum[i] = 10.0 * (i + 1);
  }
  return 0;
}

static eahas_config base_config(int lr_idx, int epochs) {
  eahas_config c = {.d = 10, .w0 = 64, .wa10 = 200, .wm1000 = 2700, .gw = 8, .lr_idx = lr_idx,
                    .opt = EAHAS_OPT_SGD, .sched = EAHAS_SCHED_COS, .cutout = 0, .epochs = epochs};
  return c;
}

static eahas_budget kwh_budget(double amount) {
  eahas_budget b = {.unit = EAHAS_BUDGET_KWH, .amount = amount, .partial = 1, .reuse = 1};
  return b;
}

static void test_ledger_truncation_arithmetic(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_budget b = kwh_budget(1.05);
  eahas_ledger *l;
  eahas_err e = {0};
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, &e), 0);
  eahas_config c = base_config(3, 50);
  eahas_ledger_result r;
  /* 20 epochs would cost 2.0 kWh: 1.05 pays for 10 (1.0 kWh); 11 would be 1.1. */
  assert_int_equal(eahas_ledger_train(l, &c, 20, &r, &e), EAHAS_LEDGER_TRUNCATED);
  assert_int_equal(r.epochs, 10);
  assert_true(r.charged);
  assert_true(fabs(r.val_acc - 16.0f) < 1e-5);
  eahas_trajectory *t = eahas_ledger_trajectory(l);
  assert_int_equal(t->n, 1);
  assert_int_equal(t->evals[0].epochs, 10);
  assert_int_equal(t->evals[0].epochs_requested, 20);
  assert_int_equal(t->evals[0].epochs_charged, 10);
  assert_int_equal(t->evals[0].truncated, 1);
  assert_true(t->evals[0].energy_kwh == 0.1 * 10);
  assert_true(t->evals[0].time_s == 100.0);
  assert_true(eahas_ledger_used(l) <= 1.05);
  assert_true(fabs(eahas_ledger_remaining(l) - 0.05) < 1e-12);
  assert_int_equal(t->stop, EAHAS_STOP_BUDGET);
  /* Everything after the truncation is refused without calling the objective. */
  int calls = s.calls;
  assert_int_equal(eahas_ledger_train(l, &c, 1, &r, &e), EAHAS_LEDGER_STOP);
  assert_int_equal(s.calls, calls);
  assert_int_equal(t->n, 1);
  eahas_ledger_free(l);
}

static void test_ledger_partial_charges_exact_with_reuse(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_budget b = kwh_budget(100);
  eahas_ledger *l;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, NULL), 0);
  eahas_config c = base_config(0, 200), d = base_config(4, 100);
  eahas_ledger_result r;
  assert_int_equal(eahas_ledger_train(l, &c, 20, &r, NULL), EAHAS_LEDGER_OK);
  assert_int_equal(eahas_ledger_epochs_done(l, &c), 20);
  /* Continuing to 56 charges only epochs 21..56: 36 * 0.25 kWh. */
  assert_int_equal(eahas_ledger_train(l, &c, 56, &r, NULL), EAHAS_LEDGER_OK);
  eahas_trajectory *t = eahas_ledger_trajectory(l);
  assert_int_equal(t->n, 2);
  assert_int_equal(t->evals[1].epochs_charged, 36);
  assert_true(fabs(t->evals[1].energy_kwh - 36 * 0.25) < 1e-12);
  assert_true(fabs(t->evals[1].time_s - 360.0) < 1e-9);
  assert_true(fabs(t->evals[1].cum_energy_kwh - 56 * 0.25) < 1e-12);
  /* Asking for fewer epochs than trained is free and not recorded. */
  assert_int_equal(eahas_ledger_train(l, &c, 30, &r, NULL), EAHAS_LEDGER_OK);
  assert_int_equal(r.charged, 0);
  assert_int_equal(r.epochs, 30);
  assert_int_equal(t->n, 2);
  assert_int_equal(t->free_evals, 1);
  /* Epochs beyond the config's max are capped at it. */
  assert_int_equal(eahas_ledger_train(l, &d, 150, &r, NULL), EAHAS_LEDGER_OK);
  assert_int_equal(r.epochs, 100);
  assert_true(fabs(t->evals[2].energy_kwh - 10.0) < 1e-12);
  /* Incumbent on validation: d (lr_idx 4) beats c; test accuracy follows the incumbent. */
  assert_int_equal(t->evals[2].incumbent, 2);
  assert_true(fabs(t->evals[2].inc_test_acc - (20 + 10.0f - 1)) < 1e-4);
  assert_int_equal(t->evals[1].incumbent, 1);
  /* The total charged for c is exactly its cumulative cost at 56 epochs. */
  double sum = 0;
  for (int i = 0; i < t->n; i++) sum += t->evals[i].energy_kwh;
  assert_true(fabs(sum - (56 * 0.25 + 10.0)) < 1e-12);
  assert_true(fabs(t->energy_kwh - sum) < 1e-12);
  eahas_ledger_free(l);
}

static void test_ledger_without_reuse_charges_from_scratch(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_budget b = kwh_budget(100);
  b.reuse = 0;
  eahas_ledger *l;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, NULL), 0);
  eahas_config c = base_config(2, 100);
  eahas_ledger_result r;
  assert_int_equal(eahas_ledger_train(l, &c, 20, &r, NULL), 0);
  assert_int_equal(eahas_ledger_train(l, &c, 50, &r, NULL), 0);
  eahas_trajectory *t = eahas_ledger_trajectory(l);
  assert_int_equal(t->evals[1].epochs_charged, 50);
  assert_true(fabs(t->evals[1].energy_kwh - 5.0) < 1e-12);
  assert_true(fabs(t->energy_kwh - 7.0) < 1e-12);
  assert_int_equal(eahas_ledger_epochs_done(l, &c), 0);
  eahas_ledger_free(l);
}

static void test_ledger_no_partial_skips(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_budget b = kwh_budget(3.0);
  b.partial = 0;
  eahas_ledger *l;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, NULL), 0);
  eahas_config c = base_config(2, 50);
  eahas_ledger_result r;
  assert_int_equal(eahas_ledger_train(l, &c, 20, &r, NULL), EAHAS_LEDGER_OK); /* 2.0 kWh */
  assert_int_equal(eahas_ledger_train(l, &c, 40, &r, NULL), EAHAS_LEDGER_STOP); /* +2.0 > 3.0 */
  eahas_trajectory *t = eahas_ledger_trajectory(l);
  assert_int_equal(t->n, 1);
  assert_int_equal(t->stop, EAHAS_STOP_SKIPPED);
  assert_true(eahas_ledger_used(l) == 2.0);
  eahas_ledger_free(l);
}

static void test_ledger_seconds_and_exact_fit(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_budget b = {.unit = EAHAS_BUDGET_SECONDS, .amount = 500, .partial = 1, .reuse = 1};
  eahas_ledger *l;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, NULL), 0);
  eahas_config c = base_config(2, 50), d = base_config(3, 50);
  eahas_ledger_result r;
  /* 50 epochs cost exactly 500 s: it fits exactly, not truncated. */
  assert_int_equal(eahas_ledger_train(l, &c, 50, &r, NULL), EAHAS_LEDGER_OK);
  assert_true(eahas_ledger_used(l) == 500.0);
  assert_true(fabs(eahas_ledger_trajectory(l)->energy_kwh - 5.0) < 1e-12);
  /* Nothing more fits: not even one epoch. */
  assert_int_equal(eahas_ledger_train(l, &d, 1, &r, NULL), EAHAS_LEDGER_STOP);
  assert_int_equal(eahas_ledger_trajectory(l)->stop, EAHAS_STOP_BUDGET);
  assert_int_equal(eahas_ledger_trajectory(l)->n, 1);
  eahas_ledger_free(l);
}

static void test_ledger_caps_and_errors(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_ledger *l;
  eahas_err e = {0};
  eahas_budget b = kwh_budget(0);
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "budget 0 kWh is not a positive finite number");
  b = kwh_budget(NAN);
  b.unit = EAHAS_BUDGET_SECONDS;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "budget nan s is not a positive finite number");
  b = kwh_budget(10);
  b.max_evals = 2;
  b.max_free = 3;
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, &e), 0);
  eahas_config c = base_config(2, 50), d = base_config(3, 50), f = base_config(4, 50);
  eahas_ledger_result r;
  assert_int_equal(eahas_ledger_train(l, &c, 0, &r, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "ledger: epochs=0 is below 1");
  assert_int_equal(eahas_ledger_train(l, &c, 5, &r, &e), 0);
  assert_int_equal(eahas_ledger_train(l, &c, 5, &r, &e), 0); /* free 1 */
  assert_int_equal(eahas_ledger_train(l, &c, 4, &r, &e), 0); /* free 2 */
  assert_int_equal(eahas_ledger_train(l, &c, 3, &r, &e), EAHAS_LEDGER_STOP); /* free 3: stalled */
  assert_int_equal(eahas_ledger_trajectory(l)->stop, EAHAS_STOP_STALLED);
  eahas_ledger_free(l);
  assert_int_equal(eahas_ledger_new(&obj, &b, &l, &e), 0);
  assert_int_equal(eahas_ledger_train(l, &c, 5, &r, &e), 0);
  assert_int_equal(eahas_ledger_train(l, &d, 5, &r, &e), 0);
  assert_int_equal(eahas_ledger_trajectory(l)->stop, EAHAS_STOP_MAX_EVALS);
  assert_int_equal(eahas_ledger_train(l, &f, 5, &r, &e), EAHAS_LEDGER_STOP);
  assert_int_equal(eahas_ledger_trajectory(l)->n, 2);
  eahas_ledger_free(l);
}

/* Random evaluations of random lengths against many budgets: the budget is never exceeded, the
 * cumulative column is the running sum, and the last evaluation is the only truncated one. */
static void test_ledger_never_exceeded(void **state) {
  (void)state;
  stub s = {0};
  eahas_objective obj = {&s, eahas_preset_get("cifar10"), stub_eval};
  eahas_rng rng;
  eahas_rng_seed(&rng, 7);
  for (int trial = 0; trial < 200; trial++) {
    eahas_budget b = kwh_budget(0.05 + 30 * eahas_rng_uniform(&rng));
    b.reuse = trial % 2;
    eahas_ledger *l;
    assert_int_equal(eahas_ledger_new(&obj, &b, &l, NULL), 0);
    int rc = 0;
    while (rc == 0) {
      eahas_config c = base_config((int)eahas_rng_below(&rng, 10), EAHAS_EPOCH_VALUES[eahas_rng_below(&rng, 3)]);
      eahas_ledger_result r;
      rc = eahas_ledger_train(l, &c, 1 + (int)eahas_rng_below(&rng, 200), &r, NULL);
      assert_true(rc >= 0);
      assert_true(eahas_ledger_used(l) <= b.amount);
    }
    eahas_trajectory *t = eahas_ledger_trajectory(l);
    double sum = 0;
    for (int i = 0; i < t->n; i++) {
      sum += t->evals[i].energy_kwh;
      assert_true(fabs(t->evals[i].cum_energy_kwh - sum) < 1e-9);
      assert_true(t->evals[i].cum_energy_kwh <= b.amount);
      assert_int_equal(t->evals[i].truncated, rc == EAHAS_LEDGER_TRUNCATED && i == t->n - 1);
    }
    eahas_ledger_free(l);
  }
}

/* ---- Hyperband brackets ------------------------------------------------------------------ */

static void test_hb_brackets_reference(void **state) {
  (void)state;
  /* Li et al.: s_max = floor(log3(512/4)) = 4; n = ceil(5 * 3^s / (s+1)); n_i = floor(n / 3^i);
   * r_i = min(floor(512 * 3^(i-s)), 200). */
  static const int want_n[5][5] = {{81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5}};
  static const int want_r[5][5] = {{6, 18, 56, 170, 200}, {18, 56, 170, 200}, {56, 170, 200}, {170, 200}, {200}};
  static const int want_rungs[5] = {5, 4, 3, 2, 1};
  int sizes[EAHAS_HB_MAX_RUNGS][EAHAS_HB_MAX_RUNGS], ep[EAHAS_HB_MAX_RUNGS][EAHAS_HB_MAX_RUNGS], nr[EAHAS_HB_MAX_RUNGS];
  assert_int_equal(eahas_hb_brackets(512, 4, 3, 200, sizes, ep, nr, NULL), 5);
  for (int b = 0; b < 5; b++) {
    assert_int_equal(nr[b], want_rungs[b]);
    for (int i = 0; i < nr[b]; i++) {
      assert_int_equal(sizes[b][i], want_n[b][i]);
      assert_int_equal(ep[b][i], want_r[b][i]);
    }
  }
  /* Without the cap the last rung is the max budget. */
  assert_int_equal(eahas_hb_brackets(512, 4, 3, 1000, sizes, ep, nr, NULL), 5);
  assert_int_equal(ep[0][4], 512);
  eahas_err e = {0};
  assert_int_equal(eahas_hb_brackets(4, 8, 3, 200, sizes, ep, nr, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "Hyperband: need 1 <= min (8) <= max (4), eta (3) >= 2 and cap (200) >= 1");
}

/* ---- extrapolation ------------------------------------------------------------------------ */

static void test_extrapolation(void **state) {
  (void)state;
  float y[20];
  /* An exponential-saturation curve (exp3's own family): the ensemble mean lands near it. */
  for (int i = 0; i < 20; i++) y[i] = (float)(90 - 60 * exp(-0.08 * (i + 1)));
  double truth = 90 - 60 * exp(-0.08 * 100);
  double p = eahas_extrapolate(y, 20, 100);
  assert_true(fabs(p - truth) < 5.0);
  assert_true(p > y[19]);
  /* A power-law curve. */
  for (int i = 0; i < 20; i++) y[i] = (float)(80 - 50 * pow(i + 1, -0.7));
  p = eahas_extrapolate(y, 20, 100);
  assert_true(fabs(p - (80 - 50 * pow(100, -0.7))) < 4.0);
  /* Inside the observed range: the observation itself; flat: the last value; clipped. */
  assert_true(eahas_extrapolate(y, 20, 7) == y[6]);
  for (int i = 0; i < 20; i++) y[i] = 42.0f;
  assert_true(fabs(eahas_extrapolate(y, 20, 100) - 42.0) < 1e-9);
  for (int i = 0; i < 20; i++) y[i] = (float)(4.0 * (i + 1));
  p = eahas_extrapolate(y, 20, 100);
  assert_true(p <= 100.0 && p > 80.0);
  /* Ranking: a curve that is higher and rising faster extrapolates higher. */
  float lo[20], hi[20];
  for (int i = 0; i < 20; i++) {
    lo[i] = (float)(70 - 50 * exp(-0.05 * (i + 1)));
    hi[i] = (float)(85 - 60 * exp(-0.05 * (i + 1)));
  }
  assert_true(eahas_extrapolate(hi, 20, 100) > eahas_extrapolate(lo, 20, 100));
}

/* ---- optimizers --------------------------------------------------------------------------- */

static int same_traj(const eahas_trajectory *a, const eahas_trajectory *b) {
  if (a->n != b->n || a->stop != b->stop) return 0;
  for (int i = 0; i < a->n; i++) {
    const eahas_eval *x = &a->evals[i], *y = &b->evals[i];
    if (!eahas_config_equal(&x->config, &y->config) || x->epochs != y->epochs || x->energy_kwh != y->energy_kwh ||
        x->cum_energy_kwh != y->cum_energy_kwh || x->val_acc != y->val_acc || x->incumbent != y->incumbent ||
        x->early_stopped != y->early_stopped)
      return 0;
  }
  return 1;
}

static void test_optimizers_deterministic(void **state) {
  (void)state;
  eahas_synth syn;
  eahas_objective obj = eahas_synth_objective(&syn, eahas_preset_get("cifar10"));
  eahas_search_params p;
  eahas_search_params_default(&p);
  p.bananas_steps = 5;
  p.bananas_hidden = 8;
  eahas_budget b = kwh_budget(60);
  for (int k = 0; k < EAHAS_OPTIM_COUNT; k++) {
    eahas_trajectory t1, t2, t3;
    eahas_err e = {0};
    assert_int_equal(eahas_search_run(&obj, (eahas_optim_kind)k, &p, &b, 11, &t1, &e), 0);
    assert_int_equal(eahas_search_run(&obj, (eahas_optim_kind)k, &p, &b, 11, &t2, &e), 0);
    assert_int_equal(eahas_search_run(&obj, (eahas_optim_kind)k, &p, &b, 12, &t3, &e), 0);
    assert_true(t1.n > 5);
    assert_true(same_traj(&t1, &t2));
    assert_false(same_traj(&t1, &t3));
    assert_true(t1.energy_kwh <= b.amount);
    assert_int_equal(t1.optim, k);
    assert_true(t1.seed == 11);
    /* EA- variants stop some candidates after 20 epochs; the others never do. */
    int stopped = 0;
    for (int i = 0; i < t1.n; i++) stopped += t1.evals[i].early_stopped;
    if (eahas_optim_base((eahas_optim_kind)k) >= 0) assert_true(stopped > 0);
    else assert_int_equal(stopped, 0);
    eahas_trajectory_free(&t1);
    eahas_trajectory_free(&t2);
    eahas_trajectory_free(&t3);
  }
}

static void test_many_equals_serial(void **state) {
  (void)state;
  eahas_synth syn;
  eahas_objective obj = eahas_synth_objective(&syn, eahas_preset_get("cifar10"));
  eahas_search_params p;
  eahas_search_params_default(&p);
  p.bananas_steps = 5;
  eahas_budget b = kwh_budget(40);
  eahas_optim_kind kinds[3] = {EAHAS_OPTIM_RS, EAHAS_OPTIM_HB, EAHAS_OPTIM_EA_RE};
  uint64_t seeds[2] = {3, 4};
  eahas_trajectory tr[6];
  assert_int_equal(eahas_search_many(&obj, kinds, 3, seeds, 2, &p, &b, 3, NULL, NULL, tr, NULL), 0);
  for (int i = 0; i < 3; i++)
    for (int s = 0; s < 2; s++) {
      eahas_trajectory t;
      assert_int_equal(eahas_search_run(&obj, kinds[i], &p, &b, seeds[s], &t, NULL), 0);
      assert_true(same_traj(&t, &tr[i * 2 + s]));
      eahas_trajectory_free(&t);
    }
  for (int i = 0; i < 6; i++) eahas_trajectory_free(&tr[i]);
  eahas_err e = {0};
  assert_int_equal(eahas_search_many(&obj, kinds, 3, seeds, 2, &p, &b, 0, NULL, NULL, tr, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "search: jobs=0 is below 1");
}

static void test_names_and_params(void **state) {
  (void)state;
  eahas_optim_kind k;
  eahas_err e = {0};
  for (int i = 0; i < EAHAS_OPTIM_COUNT; i++) {
    assert_int_equal(eahas_optim_parse(eahas_optim_name((eahas_optim_kind)i), &k, &e), 0);
    assert_int_equal(k, i);
  }
  assert_int_equal(eahas_optim_parse("sa", &k, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg,
                      "optimizer 'sa' is unknown; allowed: rs, re, ls, bananas, hb, bohb, ea-re, ea-ls, ea-bananas");
  assert_int_equal(eahas_optim_base(EAHAS_OPTIM_EA_LS), EAHAS_OPTIM_LS);
  assert_int_equal(eahas_optim_base(EAHAS_OPTIM_BOHB), -1);
  eahas_search_params p;
  eahas_search_params_default(&p);
  assert_int_equal(p.re_population, 20);
  assert_int_equal(p.re_tournament, 10);
  assert_int_equal(p.bohb_samples, 128);
  assert_true(p.bohb_random_fraction == 0.33);
  assert_int_equal(eahas_search_params_check(&p, &e), 0);
  p.hb_eta = 1;
  assert_int_equal(eahas_search_params_check(&p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "search parameter hb_eta=1 is outside [2, 100]");
  eahas_search_params_default(&p);
  p.bohb_random_fraction = 1.5;
  assert_int_equal(eahas_search_params_check(&p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "search parameter bohb_random_fraction=1.5 is outside [0, 1]");
  /* pairs that bound each other: the message names both */
  eahas_search_params_default(&p);
  p.re_tournament = 21;
  assert_int_equal(eahas_search_params_check(&p, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "re_tournament=21 is above re_population=20"));
  p.re_tournament = 20;
  assert_int_equal(eahas_search_params_check(&p, &e), 0);
  p.bananas_select = p.bananas_candidates + 1;
  assert_int_equal(eahas_search_params_check(&p, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "bananas_select=101 is above bananas_candidates=100"));
  eahas_search_params_default(&p);
  p.hb_min = 600;
  assert_int_equal(eahas_search_params_check(&p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "search parameter hb_min=600 is above hb_max=512");
}

static void test_kde(void **state) {
  (void)state;
  const eahas_preset *pr = eahas_preset_get("cifar10");
  eahas_config c = base_config(6, 200), back;
  double v[SEARCH_KDE_DIMS];
  search_kde_vector(&c, pr, v);
  search_kde_config(v, pr, &back);
  assert_true(eahas_config_equal(&c, &back));
  /* Two data points: the density at a datum beats the density far from both; a sample keeps
   * discrete values with probability 1 - bw. */
  double data[2 * SEARCH_KDE_DIMS];
  memcpy(data, v, sizeof v);
  eahas_config c2 = base_config(2, 50);
  c2.d = 6;
  search_kde_vector(&c2, pr, data + SEARCH_KDE_DIMS);
  search_kde k;
  search_kde_fit(&k, data, 2, 1e-3);
  for (int j = 0; j < SEARCH_KDE_DIMS; j++) assert_true(k.bw[j] >= 1e-3);
  double far[SEARCH_KDE_DIMS] = {0.5, 0.5, 0.5, 0.5, 0, 9, 2, 2, 1, 1};
  assert_true(search_kde_pdf(&k, v) > 10 * search_kde_pdf(&k, far));
  eahas_rng rng;
  eahas_rng_seed(&rng, 1);
  for (int i = 0; i < 100; i++) {
    double x[SEARCH_KDE_DIMS];
    search_kde_sample(&k, 3, &rng, x);
    for (int j = 0; j < 4; j++) assert_true(x[j] >= 0 && x[j] <= 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ledger_truncation_arithmetic),
      cmocka_unit_test(test_ledger_partial_charges_exact_with_reuse),
      cmocka_unit_test(test_ledger_without_reuse_charges_from_scratch),
      cmocka_unit_test(test_ledger_no_partial_skips),
      cmocka_unit_test(test_ledger_seconds_and_exact_fit),
      cmocka_unit_test(test_ledger_caps_and_errors),
      cmocka_unit_test(test_ledger_never_exceeded),
      cmocka_unit_test(test_hb_brackets_reference),
      cmocka_unit_test(test_extrapolation),
      cmocka_unit_test(test_names_and_params),
      cmocka_unit_test(test_kde),
      cmocka_unit_test(test_optimizers_deterministic),
      cmocka_unit_test(test_many_equals_serial),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
