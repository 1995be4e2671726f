/* Tests of the report module: regret at budget fractions, mean regret curves and the exact cost
 * to reach a regret, the summary with EA- savings on hand-built trajectories, the CSV round trip,
 * the Pareto front, and plots with and without gnuplot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <sys/stat.h>

#include "eahas/report.h"

/* A trajectory from (cost, incumbent test accuracy) pairs, kWh budget `amount`. */
static eahas_trajectory mk(eahas_optim_kind k, uint64_t seed, double amount, const double *cost, const float *inc,
                           int n) {
  eahas_trajectory t;
  memset(&t, 0, sizeof t);
  t.optim = k;
  t.seed = seed;
  t.budget.unit = EAHAS_BUDGET_KWH;
  t.budget.amount = amount;
  t.budget.partial = t.budget.reuse = 1;
  t.evals = calloc((size_t)n, sizeof *t.evals);
  t.n = t.cap = n;
  double prev = 0;
  for (int i = 0; i < n; i++) {
    eahas_eval *e = &t.evals[i];
    eahas_config c = {.d = 6 + i % 10, .w0 = 64, .wa10 = 200, .wm1000 = 2700, .gw = 8, .lr_idx = i % 10,
                      .opt = EAHAS_OPT_SGD, .sched = EAHAS_SCHED_COS, .cutout = 0, .epochs = 50};
    e->config = c;
    e->epochs = e->epochs_requested = e->epochs_charged = 50;
    e->cum_energy_kwh = cost[i];
    e->energy_kwh = cost[i] - prev;
    e->cum_time_s = 100 * cost[i];
    e->time_s = 100 * (cost[i] - prev);
    prev = cost[i];
    e->val_acc = e->test_acc = inc[i];
    e->inc_val_acc = e->inc_test_acc = inc[i];
    e->incumbent = i;
  }
  t.energy_kwh = prev;
  t.time_s = 100 * prev;
  return t;
}

static void test_regret_at_fractions(void **state) {
  (void)state;
  double cost[4] = {1, 3, 6, 9.5};
  float inc[4] = {80, 85, 88, 90};
  eahas_trajectory t = mk(EAHAS_OPTIM_RS, 0, 10, cost, inc, 4);
  assert_true(isnan(eahas_regret_at(&t, 91, 0.05))); /* nothing at 0.5 kWh */
  assert_true(fabs(eahas_regret_at(&t, 91, 0.1) - 11) < 1e-6); /* 1 kWh: exactly at the first */
  assert_true(fabs(eahas_regret_at(&t, 91, 0.5) - 6) < 1e-6);  /* 5 kWh: after the second */
  assert_true(fabs(eahas_regret_at(&t, 91, 1.0) - 1) < 1e-6);
  /* Mean of two seeds, and the step-function cost to reach a regret. */
  double c2[3] = {2, 4, 8};
  float i2[3] = {84, 86, 91};
  eahas_trajectory ts[2] = {t, mk(EAHAS_OPTIM_RS, 1, 10, c2, i2, 3)};
  double sd;
  assert_true(isinf(eahas_mean_regret_at(ts, 2, 91, 1.5, &sd)));
  assert_true(fabs(eahas_mean_regret_at(ts, 2, 91, 2, &sd) - (11 + 7) / 2.0) < 1e-6);
  assert_true(fabs(sd - sqrt(8.0)) < 1e-6);
  /* mean regret: x=3 -> (6+7)/2=6.5, x=4 -> (6+5)/2=5.5, x=6 -> 4, x=8 -> 1.5, x=9.5 -> 0.5 */
  assert_true(eahas_cost_to_regret(ts, 2, 91, 5.5) == 4);
  assert_true(eahas_cost_to_regret(ts, 2, 91, 2.0) == 8);
  assert_true(eahas_cost_to_regret(ts, 2, 91, 0.5) == 9.5);
  assert_true(isinf(eahas_cost_to_regret(ts, 2, 91, 0.1)));
  eahas_trajectory_free(&ts[0]);
  eahas_trajectory_free(&ts[1]);
}

static void test_summary_and_ea_savings(void **state) {
  (void)state;
  /* RE reaches regret 1 at 8 kWh (its final); EA-RE reaches it at 5 kWh: saving 3 kWh, 37.5 %. */
  double cb[3] = {2, 5, 8}, ce[3] = {1, 5, 9};
  float ib[3] = {85, 88, 90}, ie[3] = {86, 90, 90.5};
  eahas_trajectory tr[4] = {mk(EAHAS_OPTIM_RE, 0, 10, cb, ib, 3), mk(EAHAS_OPTIM_RE, 1, 10, cb, ib, 3),
                            mk(EAHAS_OPTIM_EA_RE, 0, 10, ce, ie, 3), mk(EAHAS_OPTIM_EA_RE, 1, 10, ce, ie, 3)};
  eahas_optim_kind kinds[2] = {EAHAS_OPTIM_RE, EAHAS_OPTIM_EA_RE};
  eahas_summary_row rows[2];
  eahas_summary(tr, kinds, 2, 2, 91, rows);
  assert_true(isnan(rows[0].regret_mean[0])); /* no evaluation by 1 kWh */
  assert_int_equal(rows[0].regret_n[0], 0);
  assert_true(fabs(rows[0].regret_mean[1] - 3) < 1e-6);
  assert_true(fabs(rows[0].regret_mean[2] - 1) < 1e-6);
  assert_true(fabs(rows[0].regret_sd[2]) < 1e-9);
  assert_true(fabs(rows[0].energy_mean - 8) < 1e-9);
  assert_true(fabs(rows[0].evals_mean - 3) < 1e-9);
  assert_int_equal(rows[0].base, -1);
  assert_int_equal(rows[1].base, 0);
  assert_true(fabs(rows[1].regret_mean[0] - 5) < 1e-6);
  assert_true(fabs(rows[1].base_final_regret - 1) < 1e-6);
  assert_true(rows[1].base_cost == 8 && rows[1].ea_cost == 5);
  assert_true(fabs(rows[1].saved - 3) < 1e-12 && fabs(rows[1].saved_frac - 0.375) < 1e-12);
  eahas_budget b = tr[0].budget;
  char *table = eahas_summary_table(rows, 2, &b);
  assert_non_null(strstr(table, "3.000 kWh (37.5 %) vs re to regret 1.000"));
  assert_non_null(strstr(table, "n/a"));
  /* a tiny negative saving (EA used a hair more energy) prints as 0, never as -0.000 */
  eahas_summary_row neg[2] = {rows[0], rows[1]};
  neg[1].saved = -2e-6;
  neg[1].saved_frac = -1e-7;
  char *t2 = eahas_summary_table(neg, 2, &b);
  assert_non_null(strstr(t2, " 0.000 kWh (0.0 %) vs re"));
  assert_null(strstr(t2, "-0.0"));
  free(t2);
  neg[1].saved = -0.25; /* a real loss keeps its sign */
  neg[1].saved_frac = -0.03125;
  t2 = eahas_summary_table(neg, 2, &b);
  assert_non_null(strstr(t2, "-0.250 kWh (-3.1 %) vs re"));
  free(t2);
  eahas_optimum o;
  eahas_optimum_synth(&o);
  assert_true(o.test_acc == 91.5);
  char *js = eahas_summary_json(rows, 2, &b, &o);
  cJSON *j = cJSON_Parse(js);
  assert_non_null(j);
  const cJSON *arr = cJSON_GetObjectItem(j, "optimizers");
  assert_int_equal(cJSON_GetArraySize(arr), 2);
  const cJSON *r1 = cJSON_GetArrayItem(arr, 1);
  assert_string_equal(cJSON_GetObjectItem(r1, "base")->valuestring, "re");
  assert_true(fabs(cJSON_GetObjectItem(r1, "saved")->valuedouble - 3) < 1e-12);
  assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(arr, 0), "regret_mean_10")));
  assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "optimum"), "test_acc")->valuedouble == 91.5);
  cJSON_Delete(j);
  free(js);
  free(table);
  /* The optimum is raised when an evaluation beats it. */
  o.test_acc = 89.0;
  assert_int_equal(eahas_optimum_update(&o, tr, 4), 1);
  assert_true(fabs(o.test_acc - 90.5) < 1e-6);
  assert_non_null(strstr(o.method, "raised"));
  assert_int_equal(eahas_optimum_update(&o, tr, 4), 0);
  for (int i = 0; i < 4; i++) eahas_trajectory_free(&tr[i]);
}

static void test_csv_round_trip_and_errors(void **state) {
  (void)state;
  char dir[] = "/tmp/eahas_report_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/trajectories.csv", dir);
  double c1[3] = {0.5, 1.25, 3}, c2[2] = {1, 2};
  float i1[3] = {70.25f, 80, 80}, i2[2] = {60, 75.5f};
  eahas_trajectory tr[2] = {mk(EAHAS_OPTIM_BOHB, 7, 10, c1, i1, 3), mk(EAHAS_OPTIM_EA_LS, 8, 10, c2, i2, 2)};
  tr[0].evals[1].truncated = 1;
  tr[1].evals[0].early_stopped = 1;
  tr[1].evals[1].config.cutout = 16;
  assert_int_equal(eahas_write_trajectories_csv(path, tr, 2, 91.5, NULL), 0);
  eahas_budget b = tr[0].budget;
  eahas_trajectory *back;
  int n;
  double opt = 0;
  assert_int_equal(eahas_read_trajectories_csv(path, &b, &back, &n, &opt, NULL), 0);
  assert_int_equal(n, 2);
  assert_true(opt == 91.5);
  for (int k = 0; k < 2; k++) {
    assert_int_equal(back[k].optim, tr[k].optim);
    assert_true(back[k].seed == tr[k].seed);
    assert_int_equal(back[k].n, tr[k].n);
    for (int i = 0; i < tr[k].n; i++) {
      const eahas_eval *x = &tr[k].evals[i], *y = &back[k].evals[i];
      assert_true(eahas_config_equal(&x->config, &y->config));
      assert_true(x->cum_energy_kwh == y->cum_energy_kwh && x->energy_kwh == y->energy_kwh);
      assert_true(x->inc_test_acc == y->inc_test_acc && x->val_acc == y->val_acc);
      assert_int_equal(x->truncated, y->truncated);
      assert_int_equal(x->early_stopped, y->early_stopped);
    }
    eahas_trajectory_free(&back[k]);
  }
  free(back);
  eahas_optimum o;
  eahas_optimum_synth(&o);
  snprintf(path, sizeof path, "%s/trajectories.json", dir);
  assert_int_equal(eahas_write_trajectories_json(path, tr, 2, &o, NULL), 0);
  char *text;
  assert_int_equal(eahas_read_file(path, 0, &text, NULL, NULL), 0);
  cJSON *j = cJSON_Parse(text);
  assert_non_null(j);
  const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "runs"), 0);
  assert_string_equal(cJSON_GetObjectItem(r0, "optimizer")->valuestring, "bohb");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(r0, "cum_energy_kwh")), 3);
  assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "cum_energy_kwh"), 1)->valuedouble == 1.25);
  cJSON_Delete(j);
  free(text);
  /* A damaged file names the line and column. */
  snprintf(path, sizeof path, "%s/bad.csv", dir);
  const char *bad = "optimizer,seed,index,config,epochs,epochs_requested,epochs_charged,truncated,early_stopped,"
                    "energy_kwh,time_s,cum_energy_kwh,cum_time_s,val_acc,test_acc,incumbent,inc_val_acc,"
                    "inc_test_acc,regret\nrs,0,0,\"d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,"
                    "cutout=16,epochs=100\",100,100,100,0,0,x,1,1,1,1,1,0,1,1,1\n";
  assert_int_equal(eahas_write_file_atomic(path, bad, strlen(bad), NULL), 0);
  eahas_err e = {0};
  assert_int_equal(eahas_read_trajectories_csv(path, &b, &back, &n, NULL, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "line 2 column energy_kwh: 'x' is not a finite number"));
  for (int i = 0; i < 2; i++) eahas_trajectory_free(&tr[i]);
}

static void test_pareto_front(void **state) {
  (void)state;
  double x[7] = {5, 1, 3, 2, 3, 8, 1};
  double y[7] = {90, 70, 85, 60, 80, 89, 65};
  int idx[7];
  int k = eahas_pareto_front(x, y, 7, idx);
  /* by cost: (1,70) (1,65) (2,60) (3,85) (3,80) (5,90) (8,89) -> front 1:70, 3:85, 5:90 */
  assert_int_equal(k, 3);
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 2);
  assert_int_equal(idx[2], 0);
}

static int exists(const char *dir, const char *name) {
  char p[1024];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0 && st.st_size > 0;
}

static void test_plots_with_and_without_gnuplot(void **state) {
  (void)state;
  char dir[] = "/tmp/eahas_report_XXXXXX";
  assert_non_null(mkdtemp(dir));
  double c1[3] = {0.5, 1.25, 3};
  float i1[3] = {70, 80, 85};
  eahas_trajectory tr[1] = {mk(EAHAS_OPTIM_RS, 0, 10, c1, i1, 3)};
  char path[512];
  snprintf(path, sizeof path, "%s/trajectories.csv", dir);
  assert_int_equal(eahas_write_trajectories_csv(path, tr, 1, 90, NULL), 0);
  eahas_summary_row rows[1];
  eahas_optim_kind kinds[1] = {EAHAS_OPTIM_RS};
  eahas_summary(tr, kinds, 1, 1, 90, rows);
  eahas_optimum o;
  eahas_optimum_synth(&o);
  char *js = eahas_summary_json(rows, 1, &tr[0].budget, &o);
  snprintf(path, sizeof path, "%s/summary.json", dir);
  assert_int_equal(eahas_write_file_atomic(path, js, strlen(js), NULL), 0);
  free(js);
  char out[512];
  snprintf(out, sizeof out, "%s/noplot", dir);
  eahas_err e = {0};
  setenv("EAHAS_GNUPLOT", "", 1);
  assert_null(eahas_gnuplot_find());
  assert_int_equal(eahas_plot_regret(dir, out, &e), EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "gnuplot not found"));
  assert_true(exists(out, "regret.gp") && exists(out, "regret.dat"));
  assert_false(exists(out, "regret.svg"));
  int k = 0;
  assert_int_equal(eahas_plot_pareto(dir, out, &k, &e), EAHAS_EUNAVAIL);
  assert_int_equal(k, 3);
  assert_true(exists(out, "front.dat"));
  unsetenv("EAHAS_GNUPLOT");
  if (eahas_gnuplot_find()) {
    snprintf(out, sizeof out, "%s/plot", dir);
    assert_int_equal(eahas_plot_regret(dir, out, &e), 0);
    assert_true(exists(out, "regret.svg") && exists(out, "regret.png"));
    eahas_synth s;
    eahas_objective obj = eahas_synth_objective(&s, eahas_preset_get("cifar10"));
    eahas_config c = tr[0].evals[0].config;
    assert_int_equal(eahas_plot_curves(NULL, NULL, &obj, &c, out, &e), 0);
    assert_true(exists(out, "curves.svg") && exists(out, "curves.png"));
  }
  assert_int_equal(eahas_plot_regret("/nonexistent-dir", out, &e), EAHAS_ENOTFOUND);
  eahas_trajectory_free(&tr[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regret_at_fractions),     cmocka_unit_test(test_summary_and_ea_savings),
      cmocka_unit_test(test_csv_round_trip_and_errors), cmocka_unit_test(test_pareto_front),
      cmocka_unit_test(test_plots_with_and_without_gnuplot),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
