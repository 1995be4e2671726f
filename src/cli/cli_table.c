/* eahas table: statistics and exact lookups in a benchmark file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eahas/tabular.h"

static const char *USAGE =
    "usage: eahas table stats FILE.eahas [--json]\n"
    "       eahas table get FILE.eahas CONFIG|ID [--preset P] [--json]\n"
    "\n"
    "stats: counts of configs, runs and curve rows; ranges (min, mean, max) of the final train,\n"
    "       validation and test accuracy (%), epochs, training time (s), energy (J) and TEC (kWh);\n"
    "       the distribution of every config dimension.\n"
    "get:   the recorded run of one config (an exact tabular lookup, no surrogate): CONFIG in text\n"
    "       form (d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100), as\n"
    "       JSON, or a 16-hex-digit run id; the preset defaults to the file's. A config that is not\n"
    "       in the file is \"not recorded\" (exit status 1). --json prints the run record.\n";

static void range_json(const char *name, const eahas_table_range *r, int comma) {
  printf("\"%s\":{\"n\":%ld,\"min\":%.17g,\"mean\":%.17g,\"max\":%.17g}%s", name, r->n, r->min, r->mean, r->max,
         comma ? "," : "");
}

static void range_text(const char *name, const char *unit, const eahas_table_range *r) {
  if (r->n == 0) printf("  %-18s -\n", name);
  else printf("  %-18s min %-12.6g mean %-12.6g max %-12.6g %s\n", name, r->min, r->mean, r->max, unit);
}

static void print_stats(const char *file, const eahas_table_stats *s, int json) {
  const struct {
    const char *name, *unit;
    const eahas_table_range *r;
  } rg[] = {{"final_train_acc", "%", &s->final_train_acc}, {"final_val_acc", "%", &s->final_val_acc},
            {"final_test_acc", "%", &s->final_test_acc},   {"epochs_trained", "", &s->epochs_trained},
            {"train_time_s", "s", &s->train_time_s},       {"total_energy_j", "J", &s->total_energy_j},
            {"tec_kwh", "kWh", &s->tec_kwh}};
  int nr = (int)(sizeof rg / sizeof rg[0]);
  if (json) {
    printf("{\"file\":");
    cli_json_string(stdout, file);
    printf(",\"schema_version\":%d,\"preset\":\"%s\",\"configs\":%ld,\"runs\":%ld,\"ok\":%ld,"
           "\"diverged\":%ld,\"failed\":%ld,\"curve_rows\":%ld,\"blobs\":%ld,\"energy_shared\":%ld,"
           "\"energy_methods\":\"%s\",",
           s->schema_version, s->preset, s->configs, s->runs, s->ok, s->diverged, s->failed, s->curve_rows,
           s->blobs, s->energy_shared, s->energy_methods);
    for (int i = 0; i < nr; i++) range_json(rg[i].name, rg[i].r, 1);
    printf("\"dims\":{");
    for (int d = 0; d < EAHAS_TABLE_N_DIMS; d++) {
      const eahas_table_dim *x = &s->dims[d];
      printf("\"%s\":{", x->name);
      range_json("range", &x->range, 1);
      printf("\"counts\":{");
      for (int k = 0; k < x->n_values; k++) printf("%s\"%s\":%ld", k ? "," : "", x->values[k], x->counts[k]);
      printf("}}%s", d + 1 < EAHAS_TABLE_N_DIMS ? "," : "");
    }
    printf("}}\n");
    return;
  }
  printf("%s: benchmark schema %d, preset %s\n", file, s->schema_version, s->preset[0] ? s->preset : "(none yet)");
  printf("  %ld configs, %ld runs (%ld ok, %ld diverged, %ld failed), %ld curve rows, %ld blobs\n", s->configs, s->runs,
         s->ok, s->diverged, s->failed, s->curve_rows, s->blobs);
  printf("  energy methods: %s; %ld runs shared an energy domain\n", s->energy_methods[0] ? s->energy_methods : "-",
         s->energy_shared);
  printf("ranges over ok and diverged runs:\n");
  for (int i = 0; i < nr; i++) range_text(rg[i].name, rg[i].unit, rg[i].r);
  printf("config dimensions:\n");
  for (int d = 0; d < EAHAS_TABLE_N_DIMS; d++) {
    const eahas_table_dim *x = &s->dims[d];
    printf("  %-7s", x->name);
    if (x->n_values == 0) printf(" min %g mean %g max %g", x->range.min, x->range.mean, x->range.max);
    for (int k = 0; k < x->n_values; k++) printf(" %s:%ld", x->values[k], x->counts[k]);
    printf("\n");
  }
}

static int cmd_stats(const char *file, int json) {
  eahas_err err = {0};
  eahas_table *t;
  int rc = eahas_table_open(file, 0, 1, &t, &err);
  eahas_table_stats s;
  if (!rc) rc = eahas_table_stats_get(t, &s, &err);
  eahas_table_close(t);
  if (rc) {
    cli_error("%s", err.msg);
    return eahas_exit_status(rc);
  }
  print_stats(file, &s, json);
  return 0;
}

static void print_run(const eahas_run_record *r) {
  char cfg[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&r->config, cfg, sizeof cfg);
  int n = r->epochs_trained;
  printf("run %s  preset %s  status %s%s", r->id, r->preset, r->status, r->reason[0] ? ": " : "");
  cli_print_text(stdout, r->reason);
  printf("\n");
  printf("config  %s\n", cfg);
  printf("epochs  %d trained of %d (limit %d)   seed %llu   threads %d\n", n, r->epochs_planned, r->epochs_limit,
         (unsigned long long)r->seed, r->threads);
  printf("cx      flops %.6g  params %.6g  acts %.6g\n", r->cx.flops, r->cx.params, r->cx.acts);
  if (n > 0)
    printf("final   train %.2f %%  val %.2f %%  test %.2f %%  test (EMA) %.2f %%\n", r->train_acc[n - 1],
           r->val_acc[n - 1], r->test_acc[n - 1], r->test_acc_ema[n - 1]);
  printf("cost    time %.3f s  energy %.6g J  TEC %.6g kWh  IEC %.6g J/image  (%s%s%s%s)\n", r->train_time_s,
         r->total_energy_j, r->tec_kwh, r->iec_j_per_image, r->energy_method, r->energy_domains[0] ? ": " : "",
         r->energy_domains, r->energy_shared ? ", shared" : "");
  const char *from[] = {r->machine, ", ", r->cpu, ", ", r->versions, ", trainer ", r->trainer};
  printf("from    ");
  for (int i = 0; i < 7; i++) cli_print_text(stdout, from[i]); /* a file's strings may hold terminal escapes */
  printf("\n");
  printf("%5s %9s %9s %9s %9s %9s %10s %9s %11s\n", "epoch", "loss", "train%", "val%", "test%", "ema%", "lr", "time_s",
         "energy_j");
  for (int e = 0; e < n; e++)
    printf("%5d %9.4f %9.2f %9.2f %9.2f %9.2f %10.4g %9.3f %11.4g\n", e + 1, r->train_loss[e], r->train_acc[e],
           r->val_acc[e], r->test_acc[e], r->test_acc_ema[e], r->lr[e], r->epoch_time_s[e],
           r->train_energy_j[e] + r->eval_energy_j[e]);
}

static int cmd_get(const char *file, const char *what, const char *preset_arg, int json) {
  eahas_err err = {0};
  eahas_table *t;
  int rc = eahas_table_open(file, 0, 1, &t, &err);
  char preset[32];
  eahas_run_record r;
  memset(&r, 0, sizeof r);
  int is_id = strlen(what) == 16 && strspn(what, "0123456789abcdef") == 16;
  if (!rc && is_id) {
    rc = eahas_table_get_id(t, what, &r, &err);
  } else if (!rc) {
    eahas_config c;
    const eahas_preset *p;
    rc = eahas_table_preset(t, preset, sizeof preset, &err);
    /* an unknown --preset is bad input, not "not recorded (preset bogus)" */
    if (!rc && preset_arg) rc = eahas_preset_lookup(preset_arg, &p, &err);
    if (!rc && preset_arg) snprintf(preset, sizeof preset, "%s", preset_arg);
    if (!rc) rc = eahas_config_parse(what, &c, &err);
    if (!rc) rc = eahas_table_get(t, preset[0] ? preset : "(none)", &c, &r, &err);
    if (rc == EAHAS_ENOTFOUND) eahas_err_set(&err, rc, "not recorded: %s is not in %s (preset %s)", what, file,
                                             preset[0] ? preset : "none: the file is empty");
  }
  eahas_table_close(t);
  if (rc) {
    cli_error("%s", err.msg);
    return eahas_exit_status(rc);
  }
  if (json) {
    char *s = eahas_run_record_to_json(&r);
    if (s) puts(s);
    free(s);
  } else {
    print_run(&r);
  }
  eahas_run_record_free(&r);
  return 0;
}

int cli_table(int argc, char **argv) {
  if (argc < 2 || cli_wants_help(argc, argv)) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const char *pos[3] = {0}, *preset = NULL;
  int np = 0, json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0) json = 1;
    else if (strcmp(argv[i], "--preset") == 0) {
      if (i + 1 >= argc) return cli_error("--preset needs a value (cifar10, tinyimagenet, fashion-mnist)"), 1;
      preset = argv[++i];
    }
    else if (argv[i][0] == '-' && argv[i][1]) return cli_error("unknown option '%s' (see eahas table --help)", argv[i]), 1;
    else if (np < 3) pos[np++] = argv[i];
    else return cli_error("unexpected argument '%s'", argv[i]), 1;
  }
  if (pos[0] && strcmp(pos[0], "stats") == 0 && np == 2) return cmd_stats(pos[1], json);
  if (pos[0] && strcmp(pos[0], "get") == 0 && np == 3) return cmd_get(pos[1], pos[2], preset, json);
  if (pos[0] && strcmp(pos[0], "stats") != 0 && strcmp(pos[0], "get") != 0)
    return cli_error("table: '%s' is not a subcommand (stats, get)", pos[0]), 1;
  cli_error("usage: eahas table stats FILE [--json] | eahas table get FILE CONFIG [--json]");
  return 1;
}
