/* eahas eval: the surrogates against held-out runs, next to two baselines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/surrogate.h"
#include "eahas/tabular.h"

static const char *USAGE =
    "usage: eahas eval FILE.eahas [--holdout F] [--seed S] [--members K] [--degree N] [--hidden H]\n"
    "                  [--epochs E] [--rounds R] [--per-curve] [--json]\n"
    "\n"
    "Splits the runs of FILE.eahas deterministically by config hash (held-out fraction F, default\n"
    "0.2, seed S default 0), fits the surrogates on the rest and reports, per curve kind and per\n"
    "length group (50, 100, 200 epochs and all): R2, Kendall tau, Spearman rho and RMSE of the\n"
    "final-epoch accuracy, RMSE and R2 over all epochs; the same for train time, TEC and IEC.\n"
    "Models: bsc (the Bezier surrogate), bezier-fit (each held-out curve's own Bezier fit: the\n"
    "representation's floor), mlp-direct (an MLP predicting the L values), svd-xgb (truncated SVD\n"
    "of the curves, XGBoost per component), trees (time/energy), noise-ceiling (configs run twice).\n"
    "--members, --degree, --hidden, --epochs, --rounds and --per-curve are eahas fit's options (its\n"
    "defaults).\n"
    "  --json   the report as JSON\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

static void fmt(char *b, double v) {
  if (isfinite(v)) snprintf(b, 16, fabs(v) < 0.01 && v != 0 ? "%.3g" : "%.3f", v);
  else snprintf(b, 16, "-");
}

int cli_eval(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  eahas_fit_opts o;
  eahas_fit_opts_default(&o);
  o.holdout = 0.2;
  const char *path = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    }
    if (!strcmp(a, "--per-curve")) {
      o.per_curve = 1;
      continue;
    }
    if (a[0] == '-') {
      static const char *const known[] = {"--holdout", "--seed", "--members", "--degree", "--epochs", "--hidden", "--rounds"};
      int k = -1;
      for (int j = 0; j < (int)(sizeof known / sizeof known[0]); j++)
        if (!strcmp(a, known[j])) k = j;
      if (k < 0) {
        cli_error("unknown option '%s' (eahas eval --help)", a);
        return 1;
      }
      if (i + 1 >= argc) {
        cli_error("%s needs a value", a);
        return 1;
      }
      const char *v = argv[++i];
      char *end;
      double x = strtod(v, &end);
      if (*end || !*v || !isfinite(x)) {
        cli_error("%s=%s is not a number", a, v);
        return 1;
      }
      /* integer options: checked here, since converting 1e99, -5 or nan to an integer is
       * undefined (it printed "--members -2147483648"); the library checks the real ranges */
      if (k > 0 && (x != floor(x) || x < 0 || x > (k == 1 ? 9007199254740992.0 : 1e9))) {
        cli_error("%s=%s is not a non-negative integer%s", a, v, k == 1 ? " (at most 2^53)" : "");
        return 1;
      }
      if (!strcmp(a, "--holdout")) {
        if (!(x > 0 && x < 1)) {
          cli_error("--holdout=%s is outside (0, 1)", v);
          return 1;
        }
        o.holdout = x;
      } else if (!strcmp(a, "--seed")) o.seed = (uint64_t)x;
      else if (!strcmp(a, "--members")) o.members = (int)x;
      else if (!strcmp(a, "--degree")) o.degree = (int)x;
      else if (!strcmp(a, "--epochs")) o.epochs = (int)x;
      else if (!strcmp(a, "--hidden")) o.hidden = (int)x;
      else if (!strcmp(a, "--rounds")) o.xgb.rounds = (int)x;
      else {
        cli_error("unknown option '%s' (eahas eval --help)", a);
        return 1;
      }
    } else if (!path) path = a;
    else {
      cli_error("unexpected argument '%s'", a);
      return 1;
    }
  }
  if (!path) {
    fputs(USAGE, stderr);
    return 1;
  }
  eahas_err err = {0};
  eahas_table *t = NULL;
  eahas_run_record *runs = NULL;
  int n = 0, rc;
  char preset[32] = "";
  const eahas_preset *p = NULL;
  eahas_eval_report rep;
  memset(&rep, 0, sizeof rep);
  if ((rc = eahas_table_open(path, 0, 1, &t, &err)) || (rc = eahas_table_preset(t, preset, sizeof preset, &err)) ||
      (rc = eahas_preset_lookup(preset, &p, &err)) || (rc = eahas_table_load_runs(t, &runs, &n, &err)) ||
      (rc = eahas_eval_runs(runs, n, p, &o, &rep, &err))) {
    cli_error("%s", err.msg);
  } else if (json) {
    char *s = eahas_eval_report_to_json(&rep);
    if (s) puts(s);
    free(s);
  } else {
    printf("%s: %d runs, %d complete runs for fitting, %d held out (fraction %g, seed %llu); BSC networks %s\n",
           path, rep.n_runs, rep.n_train, rep.n_test, rep.holdout, (unsigned long long)rep.seed,
           rep.shared ? "shared" : "per-curve");
    printf("%-16s %5s %-13s %5s %8s %8s %8s %10s %9s %8s\n", "quantity", "len", "model", "n", "R2_final", "tau",
           "rho", "RMSE_final", "RMSE_all", "R2_all");
    for (int i = 0; i < rep.n_rows; i++) {
      const eahas_eval_row *w = &rep.rows[i];
      char a[16], b[16], c[16], d[16], e[16], f[16], g[8];
      fmt(a, w->r2_final), fmt(b, w->tau_final), fmt(c, w->rho_final), fmt(d, w->rmse_final);
      fmt(e, w->rmse_all), fmt(f, w->r2_all);
      if (w->group) snprintf(g, sizeof g, "%d", w->group);
      else snprintf(g, sizeof g, "all");
      printf("%-16s %5s %-13s %5d %8s %8s %8s %10s %9s %8s\n", w->quantity, g, w->model, w->n, a, b, c, d, e, f);
    }
  }
  eahas_eval_report_free(&rep);
  for (int i = 0; i < n; i++) eahas_run_record_free(&runs[i]);
  free(runs);
  eahas_table_close(t);
  return eahas_exit_status(rc);
}
