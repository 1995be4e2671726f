/* eahas train: train one config for real and write its run record. A thin client of
 * include/eahas/train.h: argument parsing, the progress display, the summary, exit statuses. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eahas/train.h"

static const char *USAGE =
    "usage: eahas train CONFIG --preset P [--data DIR] [--epochs N] [--seed S] [--threads T]\n"
    "                   [--meter auto|nvml|rapl|perf|estimate] [--json] -o FILE\n"
    "\n"
    "Trains CONFIG (canonical text form, e.g.\n"
    "  d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50)\n"
    "under the preset's protocol (data subset, resolution, batch size, augmentation) on the CPU,\n"
    "and writes the run record (JSON, docs/run-record.md) to FILE atomically: per-epoch train loss\n"
    "and accuracy, validation accuracy, test accuracy of the model and of its EMA, lr, time, and\n"
    "training / evaluation energy, then TEC, IEC, complexity and provenance.\n"
    "\n"
    "  --preset P    cifar10, tinyimagenet or fashion-mnist (required)\n"
    "  --data DIR    dataset directory (default for fashion-mnist: /usr/share/datasets/fashion-mnist)\n"
    "  --epochs N    train only the first N epochs of the config's schedule (the lr schedule stays\n"
    "                the one of the config's max epochs; N is written into the record)\n"
    "  --seed S      seed of the split, initialization, shuffling and augmentation (default 0)\n"
    "  --threads T   compute threads (default: the preset's)\n"
    "  --meter M     energy meter (default auto: the best available; estimate is labelled as such)\n"
    "  --json        print the record to stdout as well\n"
    "  -o FILE       record file (required)\n"
    "\n"
    "A run whose loss becomes NaN or Inf stops and is recorded as diverged (exit status 0).\n"
    "Exit status: 0 success, 1 bad input, 2 internal failure.\n";

typedef struct {
  const char *config, *preset, *data, *out;
  long epochs, threads;
  uint64_t seed;
  eahas_meter_kind meter;
  int json;
} train_args;

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || *end || end == v || x < lo || x > hi) {
    cli_error("%s: '%s' is not an integer in [%ld, %ld]", flag, v ? v : "", lo, hi);
    return 1;
  }
  *out = x;
  return 0;
}

static int parse_meter(const char *v, eahas_meter_kind *k) {
  static const char *names[] = {"auto", "nvml", "rapl", "perf", "estimate"};
  for (int i = 0; i < 5; i++)
    if (v && strcmp(v, names[i]) == 0) {
      *k = (eahas_meter_kind)i;
      return 0;
    }
  cli_error("--meter: '%s' is not one of auto, nvml, rapl, perf, estimate", v ? v : "");
  return 1;
}

static int parse_args(int argc, char **argv, train_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (strcmp(f, "--preset") == 0) a->preset = v;
    else if (strcmp(f, "--data") == 0) a->data = v;
    else if (strcmp(f, "-o") == 0 || strcmp(f, "--output") == 0) a->out = v;
    else if (strcmp(f, "--epochs") == 0) {
      if (parse_long(f, v, 1, EAHAS_MAX_EPOCHS, &a->epochs)) return 1;
    } else if (strcmp(f, "--threads") == 0) {
      if (parse_long(f, v, 1, 1024, &a->threads)) return 1;
    } else if (strcmp(f, "--seed") == 0) {
      char *end;
      errno = 0;
      unsigned long long s = v ? strtoull(v, &end, 10) : 0;
      if (!v || errno || *end || end == v || v[0] == '-') {
        cli_error("--seed: '%s' is not a non-negative integer", v ? v : "");
        return 1;
      }
      a->seed = s;
    } else if (strcmp(f, "--meter") == 0) {
      if (parse_meter(v, &a->meter)) return 1;
    } else {
      takes = 0;
      if (strcmp(f, "--json") == 0) a->json = 1;
      else if (f[0] == '-' && f[1] != '\0') {
        cli_error("train: unknown option '%s' (eahas train --help)", f);
        return 1;
      } else if (!a->config) a->config = f;
      else {
        cli_error("train: more than one CONFIG ('%s' and '%s')", a->config, f);
        return 1;
      }
    }
    if (takes) {
      if (!v) {
        cli_error("%s needs a value", f);
        return 1;
      }
      i++;
    }
  }
  if (!a->config) return cli_error("train: CONFIG is missing (eahas train --help)"), 1;
  if (!a->preset) return cli_error("train: --preset is missing"), 1;
  if (!a->out) return cli_error("train: -o FILE is missing"), 1;
  return 0;
}

/* Progress display: a bar on a terminal, plain lines otherwise (one per epoch). */
typedef struct {
  eahas_progress bar;
  int started, tty;
  char label[64];
} display;

static void on_progress(void *ctx, const eahas_train_progress *p) {
  display *d = ctx;
  char status[160];
  if (strcmp(p->phase, "data") == 0) {
    if (!d->tty) fprintf(stderr, "loading data\n");
    return;
  }
  if (strcmp(p->phase, "train") == 0) {
    if (!d->started) {
      eahas_progress_begin(&d->bar, stderr, "train", (long)p->epochs * p->iters);
      d->started = 1;
    }
    snprintf(status, sizeof status, "epoch %d/%d loss %.4f acc %.1f%%", p->epoch + 1, p->epochs, p->loss, p->acc);
    eahas_progress_update(&d->bar, (long)p->epoch * p->iters + p->iter, status);
    return;
  }
  if (strcmp(p->phase, "epoch") == 0) {
    /* On a terminal the line goes above the bar (cleared first; the bar redraws below it). */
    fprintf(stderr, "%sepoch %d/%d: loss %.4f train %.2f%% val %.2f%% test %.2f%% ema %.2f%% lr %.6g %.1f s\n",
            d->tty ? "\r\033[K" : "", p->epoch + 1, p->epochs, p->loss, p->acc, p->val_acc, p->test_acc,
            p->test_acc_ema, p->lr, p->epoch_time_s);
    return;
  }
  if (strcmp(p->phase, "iec") == 0) {
    if (d->started) eahas_progress_end(&d->bar, "measuring inference energy");
    d->started = 0;
  }
}

int cli_train(int argc, char **argv) {
  if (cli_wants_help(argc, argv)) {
    fputs(USAGE, stdout);
    return 0;
  }
  train_args a;
  if (parse_args(argc, argv, &a)) return 1;
  eahas_err err = {0};
  const eahas_preset *p;
  eahas_config c;
  if (eahas_preset_lookup(a.preset, &p, &err) || eahas_config_parse(a.config, &c, &err)) {
    cli_error("%s", err.msg);
    return eahas_exit_status(err.code);
  }
  if (cli_check_output("train", a.out)) return 1;
  if (!a.data) {
    if (strcmp(p->dataset, "fashion-mnist") != 0) {
      cli_error("train: --data DIR is required for preset %s", p->name);
      return 1;
    }
    a.data = "/usr/share/datasets/fashion-mnist";
  }
  eahas_meter_opts mo = {.kind = a.meter};
  display d = {0};
  d.tty = isatty(fileno(stderr));
  eahas_train_opts o = {.epochs_limit = (int)a.epochs, .seed = a.seed, .threads = (int)a.threads, .meter = &mo,
                        .progress = on_progress, .progress_ctx = &d};
  eahas_run_record r;
  int rc = eahas_train_run(&c, p, a.data, &o, &r, &err);
  if (d.started) eahas_progress_end(&d.bar, NULL);
  if (rc) {
    cli_error("%s", err.msg);
    eahas_run_record_free(&r);
    return eahas_exit_status(rc);
  }
  rc = eahas_run_record_write(&r, a.out, &err);
  if (rc) {
    cli_error("%s", err.msg);
    eahas_run_record_free(&r);
    return eahas_exit_status(rc);
  }
  if (a.json) {
    char *json = eahas_run_record_to_json(&r);
    if (!json) {
      cli_error("out of memory");
      eahas_run_record_free(&r);
      return 2;
    }
    printf("%s\n", json);
    free(json);
  }
  int last = r.epochs_trained - 1;
  fprintf(a.json ? stderr : stdout,
          "%s: %s after %d/%d epochs (schedule of %d); test acc %.2f%%, EMA %.2f%%; TEC %.3g kWh "
          "(%s), IEC %.3g J/image; %.1f s; record %s\n",
          r.id, r.status, r.epochs_trained, r.epochs_limit, r.epochs_planned, last >= 0 ? r.test_acc[last] : 0.0,
          last >= 0 ? r.test_acc_ema[last] : 0.0, r.tec_kwh, r.energy_method, r.iec_j_per_image, r.train_time_s,
          a.out);
  if (strcmp(r.status, "ok") != 0) fprintf(stderr, "eahas: %s\n", r.reason);
  eahas_run_record_free(&r);
  return 0;
}
