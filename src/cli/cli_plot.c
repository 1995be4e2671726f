/* eahas plot: regret against cumulative energy, learning curves, accuracy against TEC with the
 * Pareto front, as gnuplot scripts rendered to SVG and PNG. A thin client of report.h. */
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/report.h"

static const char *USAGE =
    "usage: eahas plot regret DIR [-o OUTDIR]\n"
    "       eahas plot curves FILE.eahas|--synthetic --config CONFIG [--preset P] [-o OUTDIR]\n"
    "       eahas plot pareto FILE.eahas|DIR [-o OUTDIR]\n"
    "\n"
    "  regret  test regret against cumulative search energy (or time), log-log, the mean over seeds\n"
    "          with a +-1 sd band, one line per optimizer, from the output DIR of `eahas search`\n"
    "          (default OUTDIR: DIR/plots)\n"
    "  curves  a config's learning curves: recorded (if the benchmark file has the run) and the\n"
    "          surrogate's (the recorded ones alone if the file is not fitted); --synthetic plots the\n"
    "          synthetic benchmark's (--preset, default cifar10)\n"
    "  pareto  test accuracy against training energy (TEC) with the Pareto front, for the recorded\n"
    "          runs of a benchmark file or every config evaluated in a search DIR\n"
    "\n"
    "Each writes NAME.dat and NAME.gp into OUTDIR (default ./plots, created) and renders NAME.svg\n"
    "and NAME.png with gnuplot. Without gnuplot (or with EAHAS_GNUPLOT set to an empty string) the\n"
    "scripts and data are still written, a message says so, and the exit status is 0.\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

static int finish(int rc, const eahas_err *e, const char *outdir, const char *stem) {
  if (rc == EAHAS_EUNAVAIL) {
    fprintf(stderr, "eahas: %s; render later with: cd %s && gnuplot %s.gp\n", e->msg, outdir, stem);
    return 0;
  }
  if (rc) {
    cli_error("%s", e->msg);
    return eahas_exit_status(rc);
  }
  printf("%s/%s.svg\n%s/%s.png\n", outdir, stem, outdir, stem);
  return 0;
}

int cli_plot(int argc, char **argv) {
  if (cli_wants_help(argc, argv) || argc < 2) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const char *what = argv[1], *src = NULL, *outdir = NULL, *config = NULL, *preset = "cifar10";
  int synthetic = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-o") == 0 && v) outdir = argv[++i];
    else if (strcmp(a, "--config") == 0 && v) config = argv[++i];
    else if (strcmp(a, "--preset") == 0 && v) preset = argv[++i];
    else if (strcmp(a, "--synthetic") == 0) synthetic = 1;
    else if (a[0] != '-' && !src) src = a;
    else {
      cli_error("plot: unknown or incomplete option '%s' (see eahas plot --help)", a);
      return 1;
    }
  }
  eahas_err e = {0};
  char defdir[4096];
  if (src && !*src) {
    cli_error("plot %s: the input path is an empty string", what);
    return 1;
  }
  if (outdir && cli_check_outdir("plot", "-o", outdir)) return 1;
  if (strcmp(what, "regret") == 0) {
    if (!src) {
      cli_error("plot regret: give the output DIR of eahas search");
      return 1;
    }
    if (!outdir) {
      snprintf(defdir, sizeof defdir, "%s/plots", src);
      outdir = defdir;
    }
    return finish(eahas_plot_regret(src, outdir, &e), &e, outdir, "regret");
  }
  if (!outdir) outdir = "plots";
  if (strcmp(what, "pareto") == 0) {
    if (!src) {
      cli_error("plot pareto: give a benchmark file or a search output DIR");
      return 1;
    }
    int k = 0;
    int rc = eahas_plot_pareto(src, outdir, &k, &e);
    if (!rc || rc == EAHAS_EUNAVAIL) fprintf(stderr, "eahas: Pareto front of %d points\n", k);
    return finish(rc, &e, outdir, "pareto");
  }
  if (strcmp(what, "curves") == 0) {
    if (!config || !src == !synthetic) {
      cli_error("plot curves: give --config and one of FILE.eahas or --synthetic");
      return 1;
    }
    eahas_config c;
    if (eahas_config_parse(config, &c, &e)) {
      cli_error("--config: %s", e.msg);
      return 1;
    }
    if (synthetic) {
      const eahas_preset *p;
      if (eahas_preset_lookup(preset, &p, &e)) {
        cli_error("--preset: %s", e.msg);
        return 1;
      }
      if (eahas_config_validate(&c, p, 0, &e)) {
        cli_error("--config: %s", e.msg);
        return 1;
      }
      eahas_synth s;
      eahas_objective obj = eahas_synth_objective(&s, p);
      return finish(eahas_plot_curves(NULL, NULL, &obj, &c, outdir, &e), &e, outdir, "curves");
    }
    eahas_bench *b = NULL;
    int rc = eahas_bench_open(src, &b, &e);
    if (rc == EAHAS_ENOTFOUND && access(src, F_OK) == 0) {
      /* The file exists but holds no fitted surrogate: plot the recorded run alone (an
       * unrecorded config is then reported by eahas_plot_curves). */
      fprintf(stderr, "eahas: %s; plotting the recorded curves only\n", e.msg);
      b = NULL;
    } else if (rc) {
      cli_error("%s: %s", src, e.msg);
      return eahas_exit_status(rc);
    }
    rc = eahas_plot_curves(src, b, NULL, &c, outdir, &e);
    eahas_bench_close(b);
    return finish(rc, &e, outdir, "curves");
  }
  cli_error("plot: unknown plot '%s'; allowed: regret, curves, pareto", what);
  return 1;
}
