/* eahas query: the surrogate benchmark's answer for configs (one, or many from stdin). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/surrogate.h"

static const char *USAGE =
    "usage: eahas query FILE.eahas CONFIG [--epochs E] [--json] [--noise-seed S] [--tabular]\n"
    "       eahas query FILE.eahas - [options]      (one config per line on stdin)\n"
    "\n"
    "Predicts, for any config of the file's preset, the learning curves (test accuracy of the EMA\n"
    "model, of the plain model, validation and training accuracy, %), the final accuracies, the\n"
    "training time (s) and energy (TEC, kWh) after E epochs (default: the config's max epochs;\n"
    "E <= max epochs), the inference energy per image (IEC, J), params, flops and activations.\n"
    "Needs 'eahas fit FILE.eahas' first. CONFIG as in 'eahas space', e.g.\n"
    "  d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100\n"
    "  --noise-seed S  add noise drawn from the ensemble's spread (same S and config, same answer)\n"
    "  --tabular       the recorded run instead (error if the config was not trained)\n"
    "  --json          JSON: test_acc (curve), test_acc_plain, val_acc, train_acc, final_test_acc,\n"
    "                  final_val_acc, final_train_acc, train_time_s, tec_kwh, iec_j_per_image,\n"
    "                  params, flops, acts, energy_method, epochs, from_table, config\n"
    "Exit status: 0 success, 1 bad input (in batch mode: any line), 2 internal failure.\n";

static void print_curve(FILE *f, const char *key, const float *v, int n) {
  fprintf(f, "\"%s\":", key);
  if (isnan(v[0])) {
    fputs("null", f);
    return;
  }
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%.3f", i ? "," : "", (double)v[i]);
  fputc(']', f);
}

static void print_num(FILE *f, const char *key, double v, const char *fmt) {
  fprintf(f, ",\"%s\":", key);
  if (isfinite(v)) fprintf(f, fmt, v);
  else fputs("null", f);
}

static void print_result(const eahas_config *c, const eahas_query_result *r, int json) {
  char txt[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(c, txt, sizeof txt);
  int E = r->epochs;
  if (json) {
    printf("{\"config\":\"%s\",\"epochs\":%d,", txt, E);
    print_curve(stdout, "test_acc", r->test_acc, E);
    fputc(',', stdout);
    print_curve(stdout, "test_acc_plain", r->test_acc_plain, E);
    fputc(',', stdout);
    print_curve(stdout, "val_acc", r->val_acc, E);
    fputc(',', stdout);
    print_curve(stdout, "train_acc", r->train_acc, E);
    print_num(stdout, "final_test_acc", r->final_test_acc, "%.3f");
    print_num(stdout, "final_test_acc_plain", r->final_test_acc_plain, "%.3f");
    print_num(stdout, "final_val_acc", r->final_val_acc, "%.3f");
    print_num(stdout, "final_train_acc", r->final_train_acc, "%.3f");
    print_num(stdout, "train_time_s", r->train_time_s, "%.6g");
    print_num(stdout, "tec_kwh", r->tec_kwh, "%.6g");
    print_num(stdout, "iec_j_per_image", r->iec_j_per_image, "%.6g");
    print_num(stdout, "params", r->cx.params, "%.0f");
    print_num(stdout, "flops", r->cx.flops, "%.0f");
    print_num(stdout, "acts", r->cx.acts, "%.0f");
    printf(",\"energy_method\":\"%s\",\"from_table\":%s}\n", r->energy_method, r->from_table ? "true" : "false");
  } else {
    printf("%s\n  %s, %d epochs: test acc %.2f %% (plain %.2f, val %.2f, train %.2f)\n"
           "  train time %.6g s, TEC %.6g kWh, IEC %.6g J/image (%s)\n"
           "  params %.0f, flops %.0f, acts %.0f\n",
           txt, r->from_table ? "recorded" : "surrogate", E, (double)r->final_test_acc, (double)r->final_test_acc_plain,
           (double)r->final_val_acc, (double)r->final_train_acc, r->train_time_s, r->tec_kwh, r->iec_j_per_image,
           r->energy_method, r->cx.params, r->cx.flops, r->cx.acts);
  }
}

static int one(const eahas_bench *b, const char *text, const eahas_query_opts *o, int json, const char *where) {
  eahas_config c;
  eahas_err err = {0};
  static eahas_query_result r; /* 6 KB: keep it off the stack of deep callers */
  int rc = eahas_config_parse(text, &c, &err);
  if (!rc) rc = eahas_query(b, &c, o, &r, &err);
  if (rc) {
    if (where) cli_error("%s: %s", where, err.msg);
    else cli_error("%s", err.msg);
    return rc;
  }
  print_result(&c, &r, json);
  return 0;
}

static int worst(int a, int b) { return a > b ? a : b; }

/* Batch mode: configs parsed from stdin wait here and are answered together by
 * eahas_query_batch, then printed in input order. */
enum { PENDING = 64 };
typedef struct pending {
  eahas_config c[PENDING];
  long line[PENDING];
  int n;
} pending;

/* Answers and prints the pending configs; returns the worst exit status among them. */
static int flush(const eahas_bench *b, pending *p, const eahas_query_opts *o, int json) {
  static eahas_query_result r[PENDING]; /* 400 KB: static, not on the stack */
  int rcs[PENDING], status = 0;
  eahas_query_batch(b, p->c, p->n, o, r, rcs, NULL);
  for (int i = 0; i < p->n; i++) {
    if (!rcs[i]) {
      print_result(&p->c[i], &r[i], json);
      continue;
    }
    eahas_err err = {0}; /* the failing config's own message */
    static eahas_query_result tmp;
    int rc = eahas_query(b, &p->c[i], o, &tmp, &err);
    cli_error("line %ld of stdin: %s", p->line[i], rc ? err.msg : "failed in the batch but not alone");
    int st = eahas_exit_status(rc ? rc : EAHAS_EINTERNAL);
    if (st > status) status = st;
  }
  p->n = 0;
  return status;
}

int cli_query(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  const char *path = NULL, *cfg = NULL;
  eahas_query_opts o = {0};
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json")) json = 1;
    else if (!strcmp(a, "--tabular")) o.tabular = 1;
    else if (!strcmp(a, "--epochs") || !strcmp(a, "--noise-seed")) {
      if (i + 1 >= argc) {
        cli_error("%s needs a value", a);
        return 1;
      }
      const char *v = argv[++i];
      char *end;
      errno = 0; /* a seed beyond 2^64-1 would silently clamp */
      unsigned long long x = strtoull(v, &end, 10);
      if (!*v || *end || v[0] == '-' || errno) {
        if (!strcmp(a, "--epochs")) cli_error("--epochs=%s is not an integer in [1, %d]", v, EAHAS_MAX_EPOCHS);
        else cli_error("%s=%s is not an integer in [0, 2^64 - 1]", a, v);
        return 1;
      }
      if (!strcmp(a, "--epochs")) {
        if (x < 1 || x > EAHAS_MAX_EPOCHS) {
          cli_error("--epochs=%s is outside [1, %d]", v, EAHAS_MAX_EPOCHS);
          return 1;
        }
        o.epochs = (int)x;
      } else {
        o.noise = 1;
        o.noise_seed = x;
      }
    } else if (a[0] == '-' && a[1] == '-') {
      cli_error("unknown option '%s' (eahas query --help)", a);
      return 1;
    } else if (!path) path = a;
    else if (!cfg) cfg = a;
    else {
      cli_error("unexpected argument '%s'", a);
      return 1;
    }
  }
  if (!path || !cfg) {
    fputs(USAGE, stderr);
    return 1;
  }
  eahas_bench *b;
  eahas_err err = {0};
  int rc = eahas_bench_open(path, &b, &err);
  if (rc) {
    cli_error("%s", err.msg);
    return eahas_exit_status(rc);
  }
  int status = 0;
  if (strcmp(cfg, "-") != 0) {
    status = eahas_exit_status(one(b, cfg, &o, json, NULL));
  } else {
    /* getline, not a fixed buffer: a long line is one (bad) line, not many with wrong numbers. */
    char *line = NULL, where[64];
    size_t cap = 0;
    ssize_t len;
    long ln = 0;
    static pending p;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
      ln++;
      long kept = cli_config_line(line, (long)len, ln);
      if (kept < 0) continue;
      size_t l = (size_t)kept;
      snprintf(where, sizeof where, "line %ld of stdin", ln);
      int bad = strlen(line) != l;
      if (!bad && eahas_config_parse(line, &p.c[p.n], &err) == 0) {
        p.line[p.n++] = ln;
        if (p.n == PENDING) status = worst(status, flush(b, &p, &o, json));
        continue;
      }
      status = worst(status, flush(b, &p, &o, json)); /* keep the output in input order */
      if (bad) cli_error("%s: contains a NUL byte", where);
      else cli_error("%s: %s", where, err.msg);
      status = worst(status, 1);
    }
    int e = errno, read_failed = ferror(stdin); /* before the flush's printing can change errno */
    status = worst(status, flush(b, &p, &o, json));
    free(line);
    if (read_failed) { /* stdin redirected from a directory is bad input */
      cli_error("reading stdin failed after line %ld: %s", ln, strerror(e));
      status = e == EISDIR ? 1 : 2;
    }
  }
  eahas_bench_close(b);
  return status;
}
