/* Slurm: an sbatch array script, one array task per plan entry, each `eahas sweep run-one`. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/sweep.h"

typedef struct sbuf {
  char *s;
  size_t len, cap;
  int oom;
} sbuf;

static void add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (b->len + (size_t)n + 1 > cap) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->oom = 1;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* Single-quoted for the shell: ' becomes '\''. */
static void add_quoted(sbuf *b, const char *s) {
  add(b, "'");
  for (const char *p = s; *p; p++) {
    if (*p == '\'') add(b, "'\\''");
    else add(b, "%c", *p);
  }
  add(b, "'");
}

/* [D-]HH:MM:SS with minutes and seconds below 60. */
static int valid_time(const char *t) {
  int d = 0, h, m, s, k = 0;
  if (strchr(t, '-')) {
    if (sscanf(t, "%d-%d:%d:%d%n", &d, &h, &m, &s, &k) != 4 || t[k] || d < 0) return 0;
  } else if (sscanf(t, "%d:%d:%d%n", &h, &m, &s, &k) != 3 || t[k]) {
    return 0;
  }
  return h >= 0 && m >= 0 && m < 60 && s >= 0 && s < 60 && strspn(t, "0123456789-:") == strlen(t);
}

int eahas_slurm_script(const eahas_slurm_opts *o, char **out, eahas_err *err) {
  *out = NULL;
  if (o->n < 1) return eahas_err_set(err, EAHAS_EINVAL, "the plan has %d entries; an array needs at least 1", o->n);
  if (o->time_limit && !valid_time(o->time_limit))
    return eahas_err_set(err, EAHAS_EINVAL, "--time '%s' is not [D-]HH:MM:SS (minutes and seconds 0..59)",
                         o->time_limit);
  if (o->partition && (!o->partition[0] || strspn(o->partition, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                               "0123456789-_,.") != strlen(o->partition)))
    return eahas_err_set(err, EAHAS_EINVAL, "--partition '%s' has characters other than letters, digits, - _ , .",
                         o->partition);
  if (o->gpus_per_task < 0 || o->cpus_per_task < 0 || o->epochs < 0)
    return eahas_err_set(err, EAHAS_EINVAL, "negative --gpus-per-task, --threads or --epochs");
  sbuf b = {0};
  add(&b, "#!/bin/bash\n");
  add(&b, "# Written by eahas %s: one array task per entry of the plan (docs/sweeps.md).\n", eahas_version());
  add(&b, "# Each task trains one config into the sweep directory; finished configs are skipped,\n");
  add(&b, "# so resubmitting the script redoes only what is missing. Then: eahas collect DIR -o FILE.eahas\n");
  add(&b, "#SBATCH --job-name=eahas-sweep\n");
  add(&b, "#SBATCH --array=0-%d\n", o->n - 1);
  add(&b, "#SBATCH --ntasks=1\n");
  /* #SBATCH lines are not shell: no quoting is possible, so the directory must be plain */
  if (!strpbrk(o->out_dir, " \t\n'\"$\\")) add(&b, "#SBATCH --output=%s/logs/slurm-%%A_%%a.out\n", o->out_dir);
  if (o->partition) add(&b, "#SBATCH --partition=%s\n", o->partition);
  if (o->gpus_per_task > 0) add(&b, "#SBATCH --gpus-per-task=%d\n", o->gpus_per_task);
  if (o->cpus_per_task > 0) add(&b, "#SBATCH --cpus-per-task=%d\n", o->cpus_per_task);
  if (o->time_limit) add(&b, "#SBATCH --time=%s\n", o->time_limit);
  add(&b, "set -eu\n");
  add(&b, ": \"${SLURM_ARRAY_TASK_ID:?this script is an array job: sbatch it, or set SLURM_ARRAY_TASK_ID}\"\n");
  if (o->workdir) {
    add(&b, "cd ");
    add_quoted(&b, o->workdir);
    add(&b, "\n");
  }
  add(&b, "exec ");
  add_quoted(&b, o->exe);
  add(&b, " sweep run-one ");
  add_quoted(&b, o->plan_path);
  add(&b, " --index \"$SLURM_ARRAY_TASK_ID\" --out ");
  add_quoted(&b, o->out_dir);
  if (o->data_dir) {
    add(&b, " --data ");
    add_quoted(&b, o->data_dir);
  }
  if (o->epochs > 0) add(&b, " --epochs %d", o->epochs);
  if (o->cpus_per_task > 0) add(&b, " --threads %d", o->cpus_per_task);
  if (o->trainer) {
    add(&b, " --trainer ");
    add_quoted(&b, o->trainer);
  }
  add(&b, "\n");
  if (b.oom) {
    free(b.s);
    return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing the sbatch script");
  }
  *out = b.s;
  return EAHAS_OK;
}
