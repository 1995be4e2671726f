/* Plots as gnuplot scripts plus data files, rendered to SVG and PNG when gnuplot is present. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eahas/report.h"
#include "eahas/tabular.h"
#include "report/sb.h"

const char *eahas_gnuplot_find(void) {
  static __thread char found[4096];
  const char *env = getenv("EAHAS_GNUPLOT");
  const char *name = env ? env : "gnuplot";
  if (!*name) return NULL;
  if (strchr(name, '/')) return access(name, X_OK) == 0 ? strncpy(found, name, sizeof found - 1) : NULL;
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    snprintf(found, sizeof found, "%.*s/%s", (int)len, path, name);
    if (len && access(found, X_OK) == 0) return found;
    path += len + (colon ? 1 : 0);
  }
  return NULL;
}

/* Writes outdir/name from b (consumes b). */
static int write_out(const char *outdir, const char *name, sb *b, eahas_err *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", outdir, name);
  if (b->oom) {
    sb_free(b);
    return eahas_err_set(err, EAHAS_ENOMEM, "%s: out of memory", path);
  }
  int rc = eahas_write_file_atomic(path, b->s ? b->s : "", b->n, err);
  sb_free(b);
  return rc;
}

/* The common head of every script: both terminals are set per output below. */
static void script_head(sb *g, const char *title, const char *xlabel, const char *ylabel) {
  sb_printf(g, "# written by eahas; run `gnuplot %s` in this directory to render again\n", "<this file>");
  sb_printf(g, "set datafile missing 'NaN'\nset key outside right top\nset grid\n");
  sb_printf(g, "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\n", title, xlabel, ylabel);
}

/* Adds the rendering of the script's `plot` (defined as macro PLOT) to SVG and PNG. */
static void script_render(sb *g, const char *stem) {
  sb_printf(g, "set terminal svg size 900,560 dynamic enhanced font 'Sans,11'\nset output '%s.svg'\n@PLOT\n", stem);
  sb_printf(g, "set terminal pngcairo size 900,560 enhanced font 'Sans,10'\nset output '%s.png'\n@PLOT\nset output\n", stem);
}

/* Runs gnuplot on outdir/script; EAHAS_EUNAVAIL when it is absent. */
static int render(const char *outdir, const char *script, eahas_err *err) {
  const char *gp = eahas_gnuplot_find();
  if (!gp)
    return eahas_err_set(err, EAHAS_EUNAVAIL, "gnuplot not found (install gnuplot-nox); wrote %s/%s and its data",
                         outdir, script);
  char gpbuf[4096];
  snprintf(gpbuf, sizeof gpbuf, "%s", gp);
  pid_t pid = fork();
  if (pid < 0) return eahas_err_set(err, EAHAS_EINTERNAL, "cannot start gnuplot: fork failed");
  if (pid == 0) {
    if (chdir(outdir) != 0) _exit(126);
    int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execl(gpbuf, gpbuf, script, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return eahas_err_set(err, EAHAS_EINTERNAL, "gnuplot %s failed (status %d); see %s/gnuplot.log", script,
                         WIFEXITED(st) ? WEXITSTATUS(st) : -1, outdir);
  return 0;
}

static int ensure_dir(const char *outdir, eahas_err *err) { return eahas_mkdir_p(outdir, err); }

/* ---- regret against cost ------------------------------------------------------------------ */

static int read_budget(const char *dir, eahas_budget *b, eahas_err *err) {
  char path[4096], *text;
  snprintf(path, sizeof path, "%s/summary.json", dir);
  int rc = eahas_read_file(path, 0, &text, NULL, err);
  if (rc) return rc;
  cJSON *j = cJSON_Parse(text);
  free(text);
  const cJSON *bu = cJSON_GetObjectItemCaseSensitive(j, "budget");
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(bu, "unit"), *a = cJSON_GetObjectItemCaseSensitive(bu, "amount");
  if (!cJSON_IsString(u) || !cJSON_IsNumber(a) || !(a->valuedouble > 0)) {
    cJSON_Delete(j);
    return eahas_err_set(err, EAHAS_EFORMAT, "%s: no budget {unit, amount > 0}", path);
  }
  memset(b, 0, sizeof *b);
  b->unit = strcmp(u->valuestring, "s") == 0 ? EAHAS_BUDGET_SECONDS : EAHAS_BUDGET_KWH;
  b->amount = a->valuedouble;
  cJSON_Delete(j);
  return 0;
}

int eahas_plot_regret(const char *dir, const char *outdir, eahas_err *err) {
  eahas_budget bu;
  int rc = read_budget(dir, &bu, err);
  if (rc) return rc;
  char path[4096];
  snprintf(path, sizeof path, "%s/trajectories.csv", dir);
  eahas_trajectory *t;
  int n;
  double optimum = NAN;
  if ((rc = eahas_read_trajectories_csv(path, &bu, &t, &n, &optimum, err))) return rc;
  if ((rc = ensure_dir(outdir, err))) goto out;
  if (n == 0) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: no evaluations to plot", path);
    goto out;
  }
  /* x grid: log-spaced from the first evaluation's cost to the budget */
  double lo = INFINITY;
  for (int i = 0; i < n; i++)
    if (t[i].n && eahas_eval_cum_cost(&t[i].evals[0], bu.unit) < lo) lo = eahas_eval_cum_cost(&t[i].evals[0], bu.unit);
  if (!(lo > 0)) lo = bu.amount * 1e-4;
  const int G = 160;
  const double floor_r = 1e-3;
  sb d = {0}, g = {0};
  const char *unit = bu.unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh";
  script_head(&g, "Test regret against cumulative search cost (mean, band = +-1 sd over seeds)",
              bu.unit == EAHAS_BUDGET_SECONDS ? "cumulative search time (s)" : "cumulative search energy (kWh)",
              "test regret (percent points)");
  sb_printf(&g, "set logscale xy\nset format x '%%g'\nset format y '%%g'\nPLOT = \"plot ");
  int block = 0;
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && t[j].optim == t[i].optim) j++;
    sb_printf(&d, "# %s: %s mean sd lo hi over %d seeds (optimum %.6g %%)\n", eahas_optim_name(t[i].optim), unit,
              j - i, optimum);
    for (int k = 0; k < G; k++) {
      double x = lo * pow(bu.amount / lo, (double)k / (G - 1)), sd;
      double m = eahas_mean_regret_at(&t[i], j - i, optimum, x, &sd);
      if (!isfinite(m)) continue;
      sb_printf(&d, "%.9g %.9g %.9g %.9g %.9g\n", x, fmax(m, floor_r), sd, fmax(m - sd, floor_r), fmax(m + sd, floor_r));
    }
    sb_printf(&d, "\n\n");
    /* An EA- variant takes its base optimizer's colour, dashed. */
    static const char *const colour[6] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
    int base = eahas_optim_base(t[i].optim), ci = base >= 0 ? base : (int)t[i].optim;
    sb_printf(&g, "%s'regret.dat' index %d using 1:4:5 with filledcurves fs transparent solid 0.12 noborder "
                  "lc rgb '%s' notitle, 'regret.dat' index %d using 1:2 with steps lw 2 dt %d lc rgb '%s' title '%s'",
              block ? ", " : "", block, colour[ci % 6], block, base >= 0 ? 2 : 1, colour[ci % 6],
              eahas_optim_name(t[i].optim));
    block++;
    i = j;
  }
  sb_printf(&g, "\"\n");
  script_render(&g, "regret");
  if (!(rc = write_out(outdir, "regret.dat", &d, err)) && !(rc = write_out(outdir, "regret.gp", &g, err)))
    rc = render(outdir, "regret.gp", err);
  sb_free(&d);
  sb_free(&g);
out:
  for (int i = 0; i < n; i++) eahas_trajectory_free(&t[i]);
  free(t);
  return rc;
}

/* ---- learning curves ----------------------------------------------------------------------- */

/* The recorded run of c in the file at bench_path, if any: 1 found, 0 not recorded, or a negative
 * error when the file cannot be read (reported only when nothing else can be plotted). */
static int recorded_run(const char *bench_path, const eahas_preset *p, const eahas_config *c, eahas_run_record *rec,
                        eahas_err *err) {
  eahas_table *t;
  int rc = eahas_table_open(bench_path, 0, 1, &t, err);
  if (rc) return rc;
  char preset[64];
  if (p) snprintf(preset, sizeof preset, "%s", p->name);
  else if ((rc = eahas_table_preset(t, preset, sizeof preset, err))) {
    eahas_table_close(t);
    return rc;
  }
  eahas_err e2 = {0};
  int found = eahas_table_get(t, preset, c, rec, &e2) == 0;
  eahas_table_close(t);
  return found;
}

int eahas_plot_curves(const char *bench_path, const eahas_bench *b, const eahas_objective *obj,
                      const eahas_config *c, const char *outdir, eahas_err *err) {
  if (!b && !obj && !bench_path) return eahas_err_set(err, EAHAS_EINVAL, "curves: no benchmark file and no objective");
  eahas_query_result *q = calloc(1, sizeof *q);
  if (!q) return eahas_err_set(err, EAHAS_ENOMEM, "curves: out of memory");
  int surrogate = b || obj, rc = 0;
  if (b) rc = eahas_query(b, c, NULL, q, err);
  else if (obj) rc = obj->evaluate(obj->ctx, c, c->epochs, q, err);
  eahas_run_record rec;
  memset(&rec, 0, sizeof rec);
  int have_rec = 0;
  if (!rc && bench_path) {
    eahas_err e2 = {0};
    int found = recorded_run(bench_path, b ? eahas_bench_preset(b) : obj ? obj->preset : NULL, c, &rec,
                             surrogate ? &e2 : err);
    if (found < 0 && !surrogate) rc = found; /* a file that cannot be read matters only when nothing else is plotted */
    have_rec = found > 0;
    if (!rc && !surrogate && !have_rec) {
      char cfg[EAHAS_CONFIG_TEXT_MAX];
      eahas_config_format(c, cfg, sizeof cfg);
      rc = eahas_err_set(err, EAHAS_ENOTFOUND,
                         "%s: config %s is not recorded there and the file holds no fitted surrogate "
                         "(run 'eahas fit %s' to plot predicted curves)", bench_path, cfg, bench_path);
    }
  }
  if (!rc) rc = ensure_dir(outdir, err);
  if (rc) {
    free(q);
    if (have_rec) eahas_run_record_free(&rec);
    return rc;
  }
  sb d = {0}, g = {0};
  char cfg[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(c, cfg, sizeof cfg);
  sb_printf(&d, "# %s\n# epoch rec_val rec_test rec_test_ema sur_val sur_test (accuracy %%, NaN = absent)\n", cfg);
  int L = q->epochs > (have_rec ? rec.epochs_trained : 0) ? q->epochs : rec.epochs_trained;
  for (int e = 0; e < L; e++) {
    double rv = have_rec && e < rec.epochs_trained && rec.val_acc ? rec.val_acc[e] : NAN;
    double rt = have_rec && e < rec.epochs_trained && rec.test_acc ? rec.test_acc[e] : NAN;
    double re = have_rec && e < rec.epochs_trained && rec.test_acc_ema ? rec.test_acc_ema[e] : NAN;
    double sv = e < q->epochs ? q->val_acc[e] : NAN, st = e < q->epochs ? q->test_acc[e] : NAN;
    sb_printf(&d, "%d %.6g %.6g %.6g %.6g %.6g\n", e + 1, rv, rt, re, sv, st);
  }
  char title[256];
  snprintf(title, sizeof title, "Learning curves of %s%s", cfg,
           have_rec ? (surrogate ? "" : " (recorded; no fitted surrogate)") : " (not recorded: surrogate only)");
  script_head(&g, title, "epoch", "accuracy (%)");
  sb_printf(&g, "PLOT = \"plot ");
  if (surrogate)
    sb_printf(&g, "'curves.dat' using 1:5 with lines lw 2 lc 1 title 'val (%s)', 'curves.dat' using 1:6 "
                  "with lines lw 2 lc 2 title 'test (%s)'%s",
              b ? "surrogate" : "synthetic", b ? "surrogate" : "synthetic", have_rec ? ", " : "");
  if (have_rec)
    sb_printf(&g, "'curves.dat' using 1:2 with points pt 7 ps 0.5 lc 1 title 'val (recorded)', 'curves.dat' using "
                  "1:3 with points pt 7 ps 0.5 lc 2 title 'test (recorded)', 'curves.dat' using 1:4 with points pt 6 "
                  "ps 0.5 lc 3 title 'test EMA (recorded)'");
  sb_printf(&g, "\"\n");
  script_render(&g, "curves");
  free(q);
  if (have_rec) eahas_run_record_free(&rec);
  if (!(rc = write_out(outdir, "curves.dat", &d, err)) && !(rc = write_out(outdir, "curves.gp", &g, err)))
    rc = render(outdir, "curves.gp", err);
  sb_free(&d);
  sb_free(&g);
  return rc;
}

/* ---- accuracy against TEC ------------------------------------------------------------------- */

typedef struct pt {
  double x, y;
  int i;
} pt;

/* x ascending, then y descending, then input order: a total order, so any qsort agrees. */
static int cmp_pt(const void *a, const void *b) {
  const pt *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  if (p->y != q->y) return p->y > q->y ? -1 : 1;
  return p->i - q->i;
}

int eahas_pareto_front(const double *x, const double *y, int n, int *idx) {
  pt *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
  if (!p) return 0;
  for (int i = 0; i < n; i++) p[i].x = x[i], p[i].y = y[i], p[i].i = i;
  qsort(p, (size_t)n, sizeof *p, cmp_pt);
  int k = 0;
  double best = -INFINITY;
  for (int i = 0; i < n; i++)
    if (p[i].y > best) best = p[i].y, idx[k++] = p[i].i;
  free(p);
  return k;
}

typedef struct cfg_acc {
  uint64_t h;
  int run, order;
  double e, acc;
  int epochs;
} cfg_acc;

static int cmp_cfg(const void *a, const void *b) {
  const cfg_acc *p = a, *q = b;
  if (p->run != q->run) return p->run < q->run ? -1 : 1;
  if (p->h != q->h) return p->h < q->h ? -1 : 1;
  return p->order - q->order;
}

/* Points of a search directory: per run and config, its total charged energy and its last test
 * accuracy (at the most epochs it reached). */
static int dir_points(const char *dir, double **xs, double **ys, int *n_out, eahas_err *err) {
  eahas_budget bu = {.unit = EAHAS_BUDGET_KWH, .amount = 1};
  char path[4096];
  snprintf(path, sizeof path, "%s/trajectories.csv", dir);
  eahas_trajectory *t;
  int n, rc = eahas_read_trajectories_csv(path, &bu, &t, &n, NULL, err);
  if (rc) return rc;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (size_t)t[i].n;
  cfg_acc *a = malloc((total ? total : 1) * sizeof *a);
  *xs = malloc((total ? total : 1) * sizeof **xs);
  *ys = malloc((total ? total : 1) * sizeof **ys);
  if (!a || !*xs || !*ys) rc = eahas_err_set(err, EAHAS_ENOMEM, "pareto: out of memory");
  size_t m = 0;
  for (int i = 0; i < n && !rc; i++)
    for (int j = 0; j < t[i].n; j++) {
      const eahas_eval *e = &t[i].evals[j];
      cfg_acc c = {eahas_config_hash(&e->config), i, j, e->energy_kwh, e->test_acc, e->epochs};
      a[m++] = c;
    }
  if (!rc) qsort(a, m, sizeof *a, cmp_cfg);
  int k = 0;
  for (size_t i = 0; i < m && !rc;) {
    size_t j = i;
    double e = 0, acc = 0;
    int ep = -1;
    while (j < m && a[j].run == a[i].run && a[j].h == a[i].h) {
      e += a[j].e;
      if (a[j].epochs >= ep) ep = a[j].epochs, acc = a[j].acc;
      j++;
    }
    (*xs)[k] = e;
    (*ys)[k] = acc;
    k++;
    i = j;
  }
  free(a);
  for (int i = 0; i < n; i++) eahas_trajectory_free(&t[i]);
  free(t);
  *n_out = k;
  return rc;
}

static int file_points(const char *file, double **xs, double **ys, int *n_out, eahas_err *err) {
  eahas_table *t;
  eahas_run_record *runs;
  int n, rc = eahas_table_open(file, 0, 1, &t, err);
  if (rc) return rc;
  rc = eahas_table_load_runs(t, &runs, &n, err);
  eahas_table_close(t);
  if (rc) return rc;
  *xs = malloc((size_t)(n ? n : 1) * sizeof **xs);
  *ys = malloc((size_t)(n ? n : 1) * sizeof **ys);
  int k = 0;
  for (int i = 0; i < n; i++) {
    eahas_run_record *r = &runs[i];
    if (*xs && *ys && r->epochs_trained > 0 && strcmp(r->status, "ok") == 0) {
      const double *acc = r->test_acc_ema ? r->test_acc_ema : r->test_acc;
      (*xs)[k] = r->tec_kwh;
      (*ys)[k++] = acc[r->epochs_trained - 1];
    }
    eahas_run_record_free(r);
  }
  free(runs);
  if (!*xs || !*ys) return eahas_err_set(err, EAHAS_ENOMEM, "pareto: out of memory");
  *n_out = k;
  return 0;
}

int eahas_plot_pareto(const char *src, const char *outdir, int *n_front, eahas_err *err) {
  struct stat st;
  if (stat(src, &st) != 0) return eahas_err_set(err, EAHAS_EIO, "%s: no such file or directory", src);
  double *xs = NULL, *ys = NULL;
  int n = 0, is_dir = S_ISDIR(st.st_mode);
  int rc = is_dir ? dir_points(src, &xs, &ys, &n, err) : file_points(src, &xs, &ys, &n, err);
  if (!rc && n == 0) rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: no finished runs to plot", src);
  if (!rc) rc = ensure_dir(outdir, err);
  int *idx = rc ? NULL : malloc((size_t)n * sizeof *idx);
  if (!rc && !idx) rc = eahas_err_set(err, EAHAS_ENOMEM, "pareto: out of memory");
  if (rc) {
    free(xs);
    free(ys);
    return rc;
  }
  int k = eahas_pareto_front(xs, ys, n, idx);
  if (n_front) *n_front = k;
  sb d = {0}, f = {0}, g = {0};
  sb_printf(&d, "# tec_kwh test_acc (%s)\n", is_dir ? "every config of the search runs" : "recorded runs");
  for (int i = 0; i < n; i++) sb_printf(&d, "%.9g %.6g\n", xs[i], ys[i]);
  sb_printf(&f, "# Pareto front: tec_kwh test_acc, increasing TEC\n");
  for (int i = 0; i < k; i++) sb_printf(&f, "%.9g %.6g\n", xs[idx[i]], ys[idx[i]]);
  script_head(&g, is_dir ? "Test accuracy against training energy (configs of the search)"
                         : "Test accuracy against training energy (recorded runs)",
              "training energy cost TEC (kWh)", "test accuracy (%)");
  sb_printf(&g, "set logscale x\nPLOT = \"plot 'pareto.dat' using 1:2 with points pt 7 ps 0.4 lc rgb '#7f7f7f' "
                "title 'configs', 'front.dat' using 1:2 with steps lw 2 lc rgb '#d62728' title 'Pareto front', "
                "'front.dat' using 1:2 with points pt 7 ps 0.8 lc rgb '#d62728' notitle\"\n");
  script_render(&g, "pareto");
  free(xs);
  free(ys);
  free(idx);
  if (!(rc = write_out(outdir, "pareto.dat", &d, err)) && !(rc = write_out(outdir, "front.dat", &f, err)) &&
      !(rc = write_out(outdir, "pareto.gp", &g, err)))
    rc = render(outdir, "pareto.gp", err);
  sb_free(&d);
  sb_free(&f);
  sb_free(&g);
  return rc;
}
