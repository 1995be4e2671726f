/* eahas fit: fit the surrogates (BSC ensembles, tree models) and store them in the file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/surrogate.h"

static const char *USAGE =
    "usage: eahas fit FILE.eahas [--members K] [--degree N] [--holdout F] [--seed S] [--bootstrap]\n"
    "                 [--hidden H] [--epochs E] [--rounds R] [--per-curve] [--json]\n"
    "\n"
    "Fits the surrogate benchmark on the runs of FILE.eahas and stores the models inside it (blob\n"
    "'surrogate', versioned, with the feature spec, preset, degree and the hash of the runs fitted\n"
    "on; queries refuse it once the runs change):\n"
    "  - per curve kind (test_acc of the EMA model, test_acc_plain, val_acc, train_acc): a Bezier\n"
    "    curve of degree N (default 5, 3..8) fitted to each complete run;\n"
    "  - an ensemble of K MLPs (default 5, 1..32, differing by seed) mapping the 26 features to\n"
    "    the control points of every curve kind: one network per member with a head per kind, or\n"
    "    with --per-curve one network per member and kind (the form of format 1: 3x the\n"
    "    multiply-adds, queries 1.2-1.3x slower);\n"
    "  - XGBoost ensembles for per-epoch time, per-epoch training energy (each with a first-epoch\n"
    "    ratio) and inference energy per image.\n"
    "  --holdout F   leave out a deterministic fraction F of configs (default 0)\n"
    "  --seed S      seed of members, shuffling, split (default 0)\n"
    "  --bootstrap   each member fits a bootstrap resample\n"
    "  --per-curve   one network per curve kind and member instead of one shared per member\n"
    "  --hidden H    MLP width (default 32)   --epochs E  MLP passes (default 300)\n"
    "  --rounds R    boosting rounds (default 60)\n"
    "  --json        print the summary as JSON\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

static void on_progress(void *ctx, int done, int total, const char *what) {
  eahas_progress *p = ctx;
  eahas_progress_update(p, done, what);
  (void)total;
}

static int parse_int(const char *name, const char *v, int lo, int hi, int *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < lo || x > hi) {
    cli_error("%s=%s is not an integer in [%d, %d]", name, v, lo, hi);
    return 1;
  }
  *out = (int)x;
  return 0;
}

int cli_fit(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  eahas_fit_opts o;
  eahas_fit_opts_default(&o);
  const char *path = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (!strcmp(a, "--json")) json = 1;
    else if (!strcmp(a, "--bootstrap")) o.bootstrap = 1;
    else if (!strcmp(a, "--per-curve")) o.per_curve = 1;
    else if (a[0] == '-' && a[1] == '-' && !v) {
      cli_error("%s needs a value", a);
      return 1;
    } else if (!strcmp(a, "--members")) bad = parse_int(a, argv[++i], 1, EAHAS_MAX_MEMBERS, &o.members);
    else if (!strcmp(a, "--degree")) bad = parse_int(a, argv[++i], EAHAS_BEZIER_MIN_DEGREE, EAHAS_BEZIER_MAX_DEGREE, &o.degree);
    else if (!strcmp(a, "--hidden")) bad = parse_int(a, argv[++i], 1, EAHAS_MLP_MAX_HIDDEN, &o.hidden);
    else if (!strcmp(a, "--epochs")) bad = parse_int(a, argv[++i], 1, EAHAS_FIT_MAX_STEPS, &o.epochs);
    else if (!strcmp(a, "--rounds")) bad = parse_int(a, argv[++i], 1, EAHAS_FIT_MAX_STEPS, &o.xgb.rounds);
    else if (!strcmp(a, "--holdout")) {
      char *end;
      o.holdout = strtod(argv[++i], &end);
      if (*end || !(o.holdout >= 0 && o.holdout < 1)) {
        cli_error("--holdout=%s is outside [0, 1)", argv[i]);
        return 1;
      }
    } else if (!strcmp(a, "--seed")) {
      char *end;
      const char *v = argv[++i];
      errno = 0; /* "-5" would wrap to 2^64-5 and a 30-digit seed clamp to 2^64-1: refused */
      o.seed = strtoull(v, &end, 10);
      if (*end || !*v || errno || v[strspn(v, " \t")] == '-') {
        cli_error("--seed=%s is not a non-negative integer", argv[i]);
        return 1;
      }
    } else if (a[0] == '-') {
      cli_error("unknown option '%s' (eahas fit --help)", a);
      return 1;
    } else if (!path) path = a;
    else {
      cli_error("unexpected argument '%s'", a);
      return 1;
    }
    if (bad) return 1;
  }
  if (!path) {
    fputs(USAGE, stderr);
    return 1;
  }
  eahas_progress pr;
  eahas_progress_begin(&pr, stderr, "fit", (long)((o.per_curve ? EAHAS_NUM_CURVES : 1) + EAHAS_NUM_TQ) * o.members);
  o.progress = on_progress;
  o.progress_ctx = &pr;
  eahas_surrogate s;
  eahas_err err = {0};
  int rc = eahas_fit_file(path, &o, &s, &err);
  eahas_progress_end(&pr, rc ? "failed" : "done");
  if (rc) {
    cli_error("%s", err.msg);
    return eahas_exit_status(rc);
  }
  char kinds[128] = "";
  for (int k = 0; k < EAHAS_NUM_CURVES; k++)
    if (s.curves_mask & (1 << k)) {
      if (kinds[0]) strcat(kinds, json ? "\",\"" : ", ");
      strcat(kinds, EAHAS_CURVE_NAMES[k]);
    }
  if (json) {
    printf("{\"file\":");
    cli_json_string(stdout, path); /* a user's file name may hold quotes */
    printf(",\"preset\":\"%s\",\"runs\":%d,\"runs_hash\":\"%016llx\",\"curve_runs\":%d,"
           "\"tree_runs\":%d,\"members\":%d,\"degree\":%d,\"networks\":\"%s\",\"holdout\":%g,\"seed\":%llu,"
           "\"curves\":[\"%s\"],\"energy_method\":\"%s\"}\n",
           s.preset, s.n_runs, (unsigned long long)s.runs_hash, s.n_fit_curves, s.n_fit_tq, s.members, s.degree,
           s.shared ? "shared" : "per-curve", s.holdout, (unsigned long long)s.seed, kinds, s.energy_method);
  } else
    printf("fitted %s (preset %s): %d runs (hash %016llx), curves on %d, trees on %d; %d members, degree %d, "
           "%s networks, holdout %g, seed %llu\ncurves: %s; energy: %s\n",
           path, s.preset, s.n_runs, (unsigned long long)s.runs_hash, s.n_fit_curves, s.n_fit_tq, s.members, s.degree,
           s.shared ? "shared" : "per-curve", s.holdout, (unsigned long long)s.seed, kinds, s.energy_method);
  eahas_surrogate_free(&s);
  return 0;
}
