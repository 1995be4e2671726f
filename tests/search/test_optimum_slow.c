/* Every optimizer reaches the synthetic benchmark's known optimum (test accuracy 91.5 %: lr 0.1,
 * sgd, cos, at the config's last epoch) within its budget, for two seeds each, on the cifar10
 * preset (its flops band makes a 200-epoch run cost about 2 kWh). Budgets: 600 kWh (about 500
 * full evaluations), 300 kWh for BANANAS and EA-BANANAS (model-based, and slow per evaluation). Also checks that the budget
 * was used up without being exceeded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "eahas/search.h"

static void test_every_optimizer_reaches_optimum(void **state) {
  (void)state;
  eahas_synth syn;
  eahas_objective obj = eahas_synth_objective(&syn, eahas_preset_get("cifar10"));
  eahas_search_params p;
  eahas_search_params_default(&p);
  static const double kwh[EAHAS_OPTIM_COUNT] = {600, 600, 600, 300, 600, 600, 600, 600, 300};
  for (int k = 0; k < EAHAS_OPTIM_COUNT; k++) {
    eahas_budget b = {.unit = EAHAS_BUDGET_KWH, .amount = kwh[k], .partial = 1, .reuse = 1};
    for (uint64_t seed = 2; seed <= 3; seed++) {
      eahas_trajectory t;
      eahas_err e = {0};
      double t0 = eahas_now_s();
      assert_int_equal(eahas_search_run(&obj, (eahas_optim_kind)k, &p, &b, seed, &t, &e), 0);
      const eahas_eval *last = &t.evals[t.n - 1];
      printf("%-11s seed %llu: %d evaluations, %.2f kWh, incumbent test %.3f %% (%.1f s)\n",
             eahas_optim_name((eahas_optim_kind)k), (unsigned long long)seed, t.n, t.energy_kwh,
             (double)last->inc_test_acc, eahas_now_s() - t0);
      assert_true(fabs(last->inc_test_acc - EAHAS_SYNTH_BEST_TEST) < 1e-4);
      /* The incumbent is an optimal config, trained to its last epoch. */
      const eahas_eval *inc = &t.evals[last->incumbent];
      assert_int_equal(inc->config.lr_idx, 6);
      assert_int_equal(inc->config.opt, EAHAS_OPT_SGD);
      assert_int_equal(inc->config.sched, EAHAS_SCHED_COS);
      assert_int_equal(inc->epochs, inc->config.epochs);
      assert_true(t.energy_kwh <= b.amount);
      assert_true(t.energy_kwh > 0.95 * b.amount);
      eahas_trajectory_free(&t);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_optimizer_reaches_optimum)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
