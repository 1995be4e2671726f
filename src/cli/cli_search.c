/* eahas search: every optimizer x seed under an energy (or time) budget, in parallel; writes the
 * trajectories and prints the regret table. A thin client of search.h and report.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eahas/report.h"
#include "eahas/search.h"

static const char *USAGE =
    "usage: eahas search FILE.eahas|--synthetic --budget-kwh X|--budget-s X -o DIR [options]\n"
    "\n"
    "Runs every optimizer with every seed on the surrogate benchmark FILE.eahas (or on the synthetic\n"
    "benchmark with a known optimum), each until its budget is spent, on parallel threads. Writes\n"
    "DIR/trajectories.csv (one row per evaluation), DIR/trajectories.json, DIR/summary.json and\n"
    "DIR/summary.txt, and prints for each optimizer the mean +- sd test regret at 10 %, 50 % and\n"
    "100 % of the budget, the energy used, the evaluations made, and for each EA- variant the energy\n"
    "it saved against its base optimizer to reach the base's final regret (docs/search.md).\n"
    "\n"
    "  --optimizer LIST   comma-separated, from rs,re,ls,bananas,hb,bohb,ea-re,ea-ls,ea-bananas\n"
    "                     (default: all nine)\n"
    "  --budget-kwh X     energy budget per run, kWh (the sum of the TEC of every evaluation)\n"
    "  --budget-s X       time budget per run, seconds, instead\n"
    "  --seeds N          seeds per optimizer (default 5); --seed S: the first seed (default 0)\n"
    "  --jobs K           threads (default: the number of CPUs)\n"
    "  -o DIR             output directory (created)\n"
    "  --no-partial       skip (and end the run at) an evaluation that would overrun the budget,\n"
    "                     instead of cutting it to the epochs the remaining budget pays for\n"
    "  --no-reuse         charge a continued config from scratch (no checkpoint reuse)\n"
    "  --max-evals N      also stop a run after N evaluations (default 100000: a budget that\n"
    "                     pays for more, or models that predict no energy, cannot run forever)\n"
    "  --synthetic        the closed-form synthetic benchmark (optimum 91.5 %); --preset P sets its\n"
    "                     search space (default cifar10)\n"
    "  --noise            surrogate queries with the ensemble's noise (--noise-seed S, default 0)\n"
    "  --optimum-samples N  configs sampled to find the benchmark's best test accuracy (default 20000)\n"
    "  --json             print summary.json instead of the table\n"
    "  --quiet            no progress bar\n"
    "Optimizer parameters (defaults of REFERENCE.md section 7):\n"
    "  --re-population 20 --re-tournament 10 --ls-arch 10 --ls-hp 10\n"
    "  --bananas-init 10 --bananas-candidates 100 --bananas-parents 10 --bananas-select 10\n"
    "  --bananas-ensemble 5 --bananas-hidden 16 --bananas-steps 60\n"
    "  --hb-max 512 --hb-min 4 --hb-eta 3\n"
    "  --bohb-samples 128 --bohb-random-fraction 0.33 --bohb-top-percent 10 --bohb-bw-factor 3\n"
    "  --bohb-min-bw 0.001 --bohb-min-points 11\n"
    "  --ea-epochs 20 --ea-target 100\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

typedef struct param_opt {
  const char *flag;
  int *i;
  double *d;
} param_opt;

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || end == v || *end || errno || x < lo || x > hi) {
    cli_error("%s: '%s' is not an integer in [%ld, %ld]", flag, v ? v : "", lo, hi);
    return -1;
  }
  *out = x;
  return 0;
}

static int parse_double(const char *flag, const char *v, double *out) {
  char *end;
  errno = 0;
  double x = v ? strtod(v, &end) : 0;
  if (!v || end == v || *end || errno || !isfinite(x)) {
    cli_error("%s: '%s' is not a finite number", flag, v ? v : "");
    return -1;
  }
  *out = x;
  return 0;
}

typedef struct prog {
  eahas_progress bar;
  int quiet;
} prog;

static void on_progress(void *ud, int done, int total) {
  prog *p = ud;
  (void)total;
  if (!p->quiet) eahas_progress_update(&p->bar, done, NULL);
}

static int parse_kinds(const char *list, eahas_optim_kind *kinds, int *n) {
  char buf[512];
  if (strlen(list) >= sizeof buf) {
    cli_error("--optimizer: a list of %zu characters is too long (at most %zu)", strlen(list), sizeof buf - 1);
    return -1;
  }
  /* strtok would skip an empty item; a doubled or stray comma is more likely a typo */
  size_t len = strlen(list);
  if (len && (list[0] == ',' || list[len - 1] == ',' || strstr(list, ",,"))) {
    cli_error("--optimizer: '%s' has an empty item", list);
    return -1;
  }
  snprintf(buf, sizeof buf, "%s", list);
  *n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    eahas_err e = {0};
    eahas_optim_kind k;
    if (eahas_optim_parse(tok, &k, &e)) {
      cli_error("--optimizer: %s", e.msg);
      return -1;
    }
    for (int i = 0; i < *n; i++)
      if (kinds[i] == k) {
        cli_error("--optimizer: '%s' is listed twice", tok);
        return -1;
      }
    kinds[(*n)++] = k;
  }
  if (*n == 0) {
    cli_error("--optimizer: empty list");
    return -1;
  }
  return 0;
}

/* The four files of a search's output, in the order they are written. */
static const char *const OUT_FILES[4] = {"trajectories.csv", "trajectories.json", "summary.json", "summary.txt"};

/* Writes the output set: every file first under "<name>.new" (each atomically), then renamed
 * over the old ones only when all four were written; a failure removes the new ones, so a
 * directory never holds a mix of an earlier search's files and this one's. */
static int write_outputs(const char *dir, const eahas_trajectory *trajs, int total, const eahas_optimum *opt,
                         const char *sjson, const char *table, eahas_err *e) {
  char tmp[4][4096], path[4096];
  for (int k = 0; k < 4; k++) snprintf(tmp[k], sizeof tmp[k], "%s/%s.new", dir, OUT_FILES[k]);
  int rc = eahas_write_trajectories_csv(tmp[0], trajs, total, opt->test_acc, e), done = 0;
  if (!rc) done++, rc = eahas_write_trajectories_json(tmp[1], trajs, total, opt, e);
  if (!rc) done++, rc = eahas_write_file_atomic(tmp[2], sjson, strlen(sjson), e);
  if (!rc) done++, rc = eahas_write_file_atomic(tmp[3], table, strlen(table), e);
  if (!rc) done++;
  for (int k = 0; k < 4 && !rc; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, OUT_FILES[k]);
    if (rename(tmp[k], path) != 0)
      rc = eahas_err_set(e, EAHAS_EIO, "cannot rename %s to %s: %s", tmp[k], path, strerror(errno));
  }
  if (rc)
    for (int k = 0; k < done; k++) unlink(tmp[k]); /* those not renamed yet; the rest fail harmlessly */
  return rc;
}

/* Evaluations per run unless --max-evals says otherwise: far more than any budget of the bundled
 * benchmark pays for (a 1 kWh budget there is about 2,500), and about 12 MB of trajectory (120 bytes an evaluation). */
enum { DEFAULT_MAX_EVALS = 100000 };

/* Tells (on stderr) how many runs spent nothing: a budget below the cost of the first evaluation
 * leaves no incumbent, and the summary shows n/a for them. */
static void note_empty(const eahas_trajectory *trajs, int total, const eahas_budget *b) {
  int empty = 0;
  for (int i = 0; i < total; i++) empty += trajs[i].n == 0;
  if (empty)
    fprintf(stderr, "eahas: %d of %d runs made no evaluation: the budget of %g %s is below the cost of their first "
                    "one (their regret is n/a); raise the budget\n", empty, total, b->amount,
            b->unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh");
}

/* Tells (on stderr) how many runs the default evaluation cap ended before their budget did. */
static void note_capped(const eahas_trajectory *trajs, int total, long max_evals) {
  int capped = 0;
  for (int i = 0; i < total; i++) capped += trajs[i].stop == EAHAS_STOP_MAX_EVALS;
  if (capped && max_evals == DEFAULT_MAX_EVALS)
    fprintf(stderr, "eahas: %d of %d runs stopped at the default cap of %d evaluations before spending the budget; "
                    "raise it with --max-evals\n", capped, total, DEFAULT_MAX_EVALS);
}

int cli_search(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  eahas_search_params p;
  eahas_search_params_default(&p);
  const param_opt params[] = {
      {"--re-population", &p.re_population, NULL}, {"--re-tournament", &p.re_tournament, NULL},
      {"--ls-arch", &p.ls_arch, NULL}, {"--ls-hp", &p.ls_hp, NULL},
      {"--bananas-init", &p.bananas_init, NULL}, {"--bananas-candidates", &p.bananas_candidates, NULL},
      {"--bananas-parents", &p.bananas_parents, NULL}, {"--bananas-select", &p.bananas_select, NULL},
      {"--bananas-ensemble", &p.bananas_ensemble, NULL}, {"--bananas-hidden", &p.bananas_hidden, NULL},
      {"--bananas-steps", &p.bananas_steps, NULL}, {"--hb-max", &p.hb_max, NULL}, {"--hb-min", &p.hb_min, NULL},
      {"--hb-eta", &p.hb_eta, NULL}, {"--bohb-samples", &p.bohb_samples, NULL},
      {"--bohb-random-fraction", NULL, &p.bohb_random_fraction}, {"--bohb-top-percent", NULL, &p.bohb_top_percent},
      {"--bohb-bw-factor", NULL, &p.bohb_bw_factor}, {"--bohb-min-bw", NULL, &p.bohb_min_bw},
      {"--bohb-min-points", &p.bohb_min_points, NULL}, {"--ea-epochs", &p.ea_epochs, NULL},
      {"--ea-target", &p.ea_target, NULL},
  };
  const char *file = NULL, *outdir = NULL, *preset_name = "cifar10";
  const char *optlist = "rs,re,ls,bananas,hb,bohb,ea-re,ea-ls,ea-bananas";
  eahas_budget b = {.unit = EAHAS_BUDGET_KWH, .amount = 0, .partial = 1, .reuse = 1, .max_evals = DEFAULT_MAX_EVALS};
  int have_budget = 0, synthetic = 0, json = 0, quiet = 0, noise = 0;
  long seeds = 5, seed0 = 0, jobs = sysconf(_SC_NPROCESSORS_ONLN), samples = 20000, noise_seed = 0;
  if (jobs < 1) jobs = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int matched = 0;
    for (size_t k = 0; k < sizeof params / sizeof params[0]; k++) {
      if (strcmp(a, params[k].flag) != 0) continue;
      matched = 1;
      if (params[k].i) {
        long x;
        if (parse_long(a, v, -1000000000L, 1000000000L, &x)) return 1;
        *params[k].i = (int)x;
      } else if (parse_double(a, v, params[k].d)) {
        return 1;
      }
      i++;
    }
    if (matched) continue;
    if (strcmp(a, "--optimizer") == 0 && v) optlist = argv[++i];
    else if ((strcmp(a, "--budget-kwh") == 0 || strcmp(a, "--budget-s") == 0)) {
      if (have_budget) {
        cli_error("give one budget: --budget-kwh or --budget-s");
        return 1;
      }
      if (parse_double(a, v, &b.amount)) return 1;
      if (!(b.amount > 0)) {
        cli_error("%s: %s is not a positive number", a, v);
        return 1;
      }
      b.unit = strcmp(a, "--budget-s") == 0 ? EAHAS_BUDGET_SECONDS : EAHAS_BUDGET_KWH;
      have_budget = 1;
      i++;
    } else if (strcmp(a, "--seeds") == 0) {
      if (parse_long(a, v, 1, 100000, &seeds)) return 1;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_long(a, v, 0, 1L << 62, &seed0)) return 1;
      i++;
    } else if (strcmp(a, "--jobs") == 0) {
      if (parse_long(a, v, 1, 4096, &jobs)) return 1;
      i++;
    } else if (strcmp(a, "--max-evals") == 0) {
      if (parse_long(a, v, 1, 1L << 40, &b.max_evals)) return 1;
      i++;
    } else if (strcmp(a, "--optimum-samples") == 0) {
      if (parse_long(a, v, 0, 100000000L, &samples)) return 1;
      i++;
    } else if (strcmp(a, "--noise-seed") == 0) {
      if (parse_long(a, v, 0, 1L << 62, &noise_seed)) return 1;
      i++;
    } else if (strcmp(a, "-o") == 0 && v) outdir = argv[++i];
    else if (strcmp(a, "--preset") == 0 && v) preset_name = argv[++i];
    else if (strcmp(a, "--no-partial") == 0) b.partial = 0;
    else if (strcmp(a, "--no-reuse") == 0) b.reuse = 0;
    else if (strcmp(a, "--synthetic") == 0) synthetic = 1;
    else if (strcmp(a, "--noise") == 0) noise = 1;
    else if (strcmp(a, "--json") == 0) json = 1;
    else if (strcmp(a, "--quiet") == 0) quiet = 1;
    else if (a[0] != '-' && !file) file = a;
    else {
      cli_error("search: unknown or incomplete option '%s' (see eahas search --help)", a);
      return 1;
    }
  }
  if (!file == !synthetic) {
    cli_error("search: give a benchmark file or --synthetic (one of them)");
    return 1;
  }
  if (!have_budget) {
    cli_error("search: a budget is required: --budget-kwh X or --budget-s X");
    return 1;
  }
  if (!outdir) {
    cli_error("search: an output directory is required: -o DIR");
    return 1;
  }
  if (cli_check_outdir("search", "-o", outdir)) return 1;
  eahas_optim_kind kinds[EAHAS_OPTIM_COUNT];
  int n_kinds;
  if (parse_kinds(optlist, kinds, &n_kinds)) return 1;
  eahas_err e = {0};
  if (eahas_search_params_check(&p, &e)) {
    cli_error("%s", e.msg);
    return 1;
  }
  eahas_bench *bench = NULL;
  eahas_bench_objective bo;
  eahas_synth syn;
  eahas_objective obj;
  eahas_optimum opt;
  int rc;
  if (synthetic) {
    const eahas_preset *pr;
    if ((rc = eahas_preset_lookup(preset_name, &pr, &e))) {
      cli_error("--preset: %s", e.msg);
      return 1;
    }
    obj = eahas_synth_objective(&syn, pr);
    eahas_optimum_synth(&opt);
  } else {
    if ((rc = eahas_bench_open(file, &bench, &e))) {
      cli_error("%s", e.msg); /* the message names the file */
      return eahas_exit_status(rc);
    }
    obj = eahas_bench_objective_init(&bo, bench, noise, (uint64_t)noise_seed);
    if (!quiet) fprintf(stderr, "eahas: finding the benchmark's best test accuracy (%ld samples)...\n", samples);
    if ((rc = eahas_optimum_bench(file, bench, (int)samples, 0, (int)jobs, &opt, &e))) {
      cli_error("%s: %s", file, e.msg);
      eahas_bench_close(bench);
      return eahas_exit_status(rc);
    }
  }
  if ((rc = eahas_mkdir_p(outdir, &e))) {
    cli_error("%s", e.msg);
    if (bench) eahas_bench_close(bench);
    return eahas_exit_status(rc);
  }
  uint64_t *seedv = malloc((size_t)seeds * sizeof *seedv);
  eahas_trajectory *trajs = calloc((size_t)seeds * (size_t)n_kinds, sizeof *trajs);
  eahas_summary_row rows[EAHAS_OPTIM_COUNT];
  if (!seedv || !trajs) {
    cli_error("out of memory");
    free(seedv);
    free(trajs);
    if (bench) eahas_bench_close(bench);
    return 2;
  }
  for (long s = 0; s < seeds; s++) seedv[s] = (uint64_t)(seed0 + s);
  prog pg = {.quiet = quiet};
  if (!quiet) eahas_progress_begin(&pg.bar, stderr, "search", (long)seeds * n_kinds);
  double t0 = eahas_now_s();
  rc = eahas_search_many(&obj, kinds, n_kinds, seedv, (int)seeds, &p, &b, (int)jobs, on_progress, &pg, trajs, &e);
  double wall = eahas_now_s() - t0;
  if (!quiet) eahas_progress_end(&pg.bar, rc ? "failed" : "done");
  if (!rc) note_capped(trajs, (int)seeds * n_kinds, b.max_evals);
  if (!rc) note_empty(trajs, (int)seeds * n_kinds, &b);
  char *table = NULL, *sjson = NULL;
  int total = (int)seeds * n_kinds;
  if (!rc) {
    if (eahas_optimum_update(&opt, trajs, total) && !quiet)
      fprintf(stderr, "eahas: a search evaluation beat the sampled optimum; regret is measured against it\n");
    eahas_summary(trajs, kinds, n_kinds, (int)seeds, opt.test_acc, rows);
    table = eahas_summary_table(rows, n_kinds, &b);
    sjson = eahas_summary_json(rows, n_kinds, &b, &opt);
    if (!table || !sjson) rc = eahas_err_set(&e, EAHAS_ENOMEM, "out of memory formatting the summary");
    if (!rc) rc = write_outputs(outdir, trajs, total, &opt, sjson, table, &e);
  }
  if (rc) {
    cli_error("%s", e.msg);
  } else if (json) {
    fputs(sjson, stdout);
  } else {
    char cfg[EAHAS_CONFIG_TEXT_MAX];
    eahas_config_format(&opt.config, cfg, sizeof cfg);
    printf("benchmark: %s; budget %g %s per run (%s, %s); %d optimizers x %ld seeds in %.1f s on %ld threads\n",
           synthetic ? "synthetic" : file, b.amount, b.unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh",
           b.partial ? "last evaluation cut to fit" : "no partial evaluations",
           b.reuse ? "checkpoint reuse" : "no reuse", n_kinds, seeds, wall, jobs);
    printf("optimum: test accuracy %.4f %% (%s), %s\n", opt.test_acc, cfg, opt.method);
    printf("regret = optimum - test accuracy of the incumbent (best validation accuracy), percent points\n\n");
    fputs(table, stdout);
    printf("\nwritten: %s/trajectories.csv, trajectories.json, summary.json, summary.txt\n", outdir);
  }
  free(table);
  free(sjson);
  for (int i = 0; i < total; i++) eahas_trajectory_free(&trajs[i]);
  free(trajs);
  free(seedv);
  if (bench) eahas_bench_close(bench);
  return eahas_exit_status(rc);
}
