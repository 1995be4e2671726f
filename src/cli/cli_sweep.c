/* eahas sweep: plan, run, run-one, slurm (docs/sweeps.md). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "eahas/sweep.h"

static const char *USAGE =
    "usage: eahas sweep plan --preset P -n N --seed S -o PLAN.jsonl\n"
    "       eahas sweep run PLAN.jsonl --out DIR [--jobs K] [--retries R] [run options]\n"
    "       eahas sweep run-one PLAN.jsonl --index I --out DIR [run options]\n"
    "       eahas sweep slurm PLAN.jsonl --out DIR [--partition P] [--gpus-per-task G] [--time HH:MM:SS]\n"
    "                         [run options]\n"
    "       eahas sweep status PLAN.jsonl --out DIR [--retries R] [--json]\n"
    "\n"
    "Plans N distinct configs of a preset and trains them, one run record per config in\n"
    "DIR/records/<id>.json. A sweep killed at any moment resumes where it was: runs in progress\n"
    "are redone, finished ones never. Failures go to DIR/failed/<id>.json with their reason and are\n"
    "retried up to R times (default 1). By default one run at a time, so that its energy is\n"
    "attributable (one per measured energy domain); --jobs K overrides that and the records say\n"
    "energy_shared. Collect the records with `eahas collect DIR -o FILE.eahas`.\n"
    "\n"
    "run options:\n"
    "  --data DIR        dataset directory for the trainer (default: the trainer's default)\n"
    "  --epochs N        train at most N epochs of each config's schedule (fidelity)\n"
    "  --threads T       training threads per run (default: the preset's)\n"
    "  --trainer CMD     an external trainer: run as `CMD CONFIG.json`, it prints one JSON line per\n"
    "                    epoch {\"epoch\",\"train_acc\",\"val_acc\",\"test_acc\",\"seconds\"} (docs/sweeps.md)\n"
    "slurm options:\n"
    "  --partition P, --gpus-per-task G, --time [D-]HH:MM:SS; --threads T is also --cpus-per-task\n"
    "  Writes DIR/sweep.sbatch: an array 0..N-1, each task `eahas sweep run-one ... --index $SLURM_ARRAY_TASK_ID`.\n";

typedef struct args {
  const char *plan, *out, *preset, *data, *trainer, *partition, *time_limit, *o;
  long n, seed, epochs, threads, jobs, retries, index, gpus;
  int json, has_n, has_seed, has_index;
} args;

static int parse_long(const char *flag, const char *v, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) {
    cli_error("%s '%s' is not an integer in [%ld, %ld]", flag, v, lo, hi);
    return 1;
  }
  *out = x;
  return 0;
}

/* Parses argv[2..] (argv[1] is the subcommand). Returns 0, or 1 after printing the error. */
static int parse(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->retries = 1;
  for (int i = 2; i < argc; i++) {
    const char *f = argv[i];
    int has_v = i + 1 < argc;
    const char *v = has_v ? argv[i + 1] : NULL;
#define STR(name, field)                                                                                 \
  if (strcmp(f, name) == 0) {                                                                            \
    if (!has_v) return cli_error("%s needs a value", name), 1;                                           \
    a->field = v;                                                                                        \
    i++;                                                                                                 \
    continue;                                                                                            \
  }
#define NUM(name, field, lo, hi, flag)                                                                   \
  if (strcmp(f, name) == 0) {                                                                            \
    if (!has_v) return cli_error("%s needs a value", name), 1;                                           \
    if (parse_long(name, v, lo, hi, &a->field)) return 1;                                                \
    flag;                                                                                                \
    i++;                                                                                                 \
    continue;                                                                                            \
  }
    STR("--out", out) STR("--preset", preset) STR("--data", data) STR("--trainer", trainer)
    STR("--partition", partition) STR("--time", time_limit) STR("-o", o)
    NUM("-n", n, 1, 10000000, a->has_n = 1) NUM("--seed", seed, 0, LONG_MAX, a->has_seed = 1)
    NUM("--epochs", epochs, 1, EAHAS_MAX_EPOCHS, (void)0) NUM("--threads", threads, 1, 4096, (void)0)
    NUM("--jobs", jobs, 1, 4096, (void)0) NUM("--retries", retries, 0, 1000, (void)0)
    NUM("--index", index, 0, 100000000, a->has_index = 1) NUM("--gpus-per-task", gpus, 0, 64, (void)0)
#undef STR
#undef NUM
    if (strcmp(f, "--json") == 0) {
      a->json = 1;
      continue;
    }
    if (f[0] == '-' && f[1]) return cli_error("unknown option '%s' (see eahas sweep --help)", f), 1;
    if (a->plan) return cli_error("unexpected argument '%s'", f), 1;
    a->plan = f;
  }
  return 0;
}

static int fail(const eahas_err *err, int rc) {
  cli_error("%s", err->msg);
  return eahas_exit_status(rc);
}

static int cmd_plan(args *a) {
  if (!a->preset || !a->has_n || !a->o || !a->has_seed || a->plan)
    return cli_error("usage: eahas sweep plan --preset P -n N --seed S -o PLAN.jsonl"), 1;
  eahas_err err = {0};
  const eahas_preset *p;
  int rc = eahas_preset_lookup(a->preset, &p, &err);
  eahas_plan_entry *e = NULL;
  if (!rc) rc = eahas_sweep_plan(p, (int)a->n, (uint64_t)a->seed, &e, &err);
  if (!rc) rc = eahas_plan_write(a->o, e, (int)a->n, &err);
  free(e);
  if (rc) return fail(&err, rc);
  if (a->json) {
    printf("{\"plan\":");
    cli_json_string(stdout, a->o);
    printf(",\"preset\":\"%s\",\"configs\":%ld,\"seed\":%ld}\n", p->name, a->n, a->seed);
  } else printf("wrote %ld distinct %s configs to %s\n", a->n, p->name, a->o);
  return 0;
}

/* The running binary: workers and the Slurm script run this same eahas. */
static int self_exe(char *buf, size_t n) {
  ssize_t k = readlink("/proc/self/exe", buf, n - 1);
  if (k <= 0) return cli_error("cannot find this program's path (/proc/self/exe): %s", strerror(errno)), 1;
  buf[k] = '\0';
  return 0;
}

static int load_plan(args *a, eahas_plan_entry **e, int *n) {
  if (!a->plan) return cli_error("no plan given (see eahas sweep --help)"), 1;
  if (!a->out) return cli_error("--out DIR is required"), 1;
  if (cli_check_outdir("sweep", "--out", a->out)) return 1;
  eahas_err err = {0};
  int rc = eahas_plan_read(a->plan, e, n, &err);
  return rc ? fail(&err, rc) : 0;
}

static void fill_opts(const args *a, eahas_sweep_opts *o, const char *exe) {
  memset(o, 0, sizeof *o);
  o->out_dir = a->out;
  o->exe = exe;
  o->trainer = a->trainer;
  o->data_dir = a->data;
  o->epochs = (int)a->epochs;
  o->threads = (int)a->threads;
  o->jobs = (int)a->jobs;
  o->retries = (int)a->retries;
}

static int cmd_run_one(args *a) {
  if (!a->has_index) return cli_error("--index I is required"), 1;
  eahas_plan_entry *e;
  int n;
  char exe[4096];
  if (self_exe(exe, sizeof exe)) return 2;
  int st = load_plan(a, &e, &n);
  if (st) return st;
  if (a->index >= n) {
    free(e);
    return cli_error("--index %ld is outside [0, %d] (the plan has %d entries)", a->index, n - 1, n), 1;
  }
  eahas_sweep_opts o;
  fill_opts(a, &o, exe);
  eahas_err err = {0};
  int attempts = 0;
  int rc = eahas_sweep_run_one(&e[a->index], &o, &attempts, &err);
  if (rc) cli_error("config %s (index %ld): %s", e[a->index].id, a->index, err.msg);
  else fprintf(stderr, "eahas: config %s (index %ld) is done: %s/records/%s.json\n", e[a->index].id, a->index, a->out,
               e[a->index].id);
  free(e);
  return eahas_exit_status(rc);
}

static void on_progress(void *ctx, const eahas_sweep_progress *p) {
  eahas_progress *bar = ctx;
  char status[160];
  snprintf(status, sizeof status, "done %d failed %d running %d", p->done, p->failed, p->running);
  if (p->event && (strncmp(p->event, "failed", 6) == 0 || strncmp(p->event, "retrying", 8) == 0))
    fprintf(stderr, "%s%s\n", bar->is_tty ? "\r\033[K" : "", p->event);
  /* the ETA counts only runs done by this invocation: earlier ones took no time now */
  bar->total = p->total - p->started_done;
  eahas_progress_update(bar, p->done + p->failed - p->started_done, status);
}

static int cmd_run(args *a) {
  eahas_plan_entry *e;
  int n;
  char exe[4096];
  if (self_exe(exe, sizeof exe)) return 2;
  int st = load_plan(a, &e, &n);
  if (st) return st;
  eahas_sweep_opts o;
  fill_opts(a, &o, exe);
  int jobs = o.jobs > 0 ? o.jobs : eahas_sweep_default_jobs();
  if (jobs > eahas_sweep_default_jobs())
    fprintf(stderr, "eahas: %d runs at once share measured energy domains; records will say energy_shared\n", jobs);
  eahas_progress bar;
  eahas_progress_begin(&bar, stderr, "sweep", n);
  eahas_err err = {0};
  eahas_sweep_progress fin = {0};
  int rc = eahas_sweep_run(e, n, &o, on_progress, &bar, &fin, &err);
  char status[160];
  snprintf(status, sizeof status, "%sdone %d failed %d", rc ? "stopped: " : "", fin.done, fin.failed);
  eahas_progress_end(&bar, status);
  free(e);
  if (rc) return fail(&err, rc);
  if (a->json) printf("{\"total\":%d,\"done\":%d,\"failed\":%d,\"already_done\":%d}\n", fin.total, fin.done, fin.failed,
                      fin.started_done);
  else printf("%d of %d configs done (%d were already), records in %s/records\n", fin.done, fin.total,
              fin.started_done, a->out);
  return 0;
}

static int cmd_status(args *a) {
  eahas_plan_entry *e;
  int n;
  int st = load_plan(a, &e, &n);
  if (st) return st;
  int done = 0, failed = 0, todo = 0;
  for (int i = 0; i < n; i++) {
    eahas_sweep_state s = eahas_sweep_state_of(a->out, e[i].id, (int)a->retries, NULL);
    done += s == EAHAS_SWEEP_DONE;
    failed += s == EAHAS_SWEEP_FAILED;
    todo += s == EAHAS_SWEEP_TODO;
  }
  free(e);
  if (a->json) printf("{\"total\":%d,\"done\":%d,\"failed\":%d,\"todo\":%d}\n", n, done, failed, todo);
  else printf("%d configs: %d done, %d failed for good, %d to do\n", n, done, failed, todo);
  return 0;
}

static int cmd_slurm(args *a) {
  eahas_plan_entry *e;
  int n;
  char exe[4096], plan[PATH_MAX], dir[PATH_MAX];
  if (self_exe(exe, sizeof exe)) return 2;
  int st = load_plan(a, &e, &n);
  if (st) return st;
  free(e);
  eahas_err err = {0};
  int rc = eahas_mkdir_p(a->out, &err);
  if (rc) return fail(&err, rc);
  if (!realpath(a->plan, plan) || !realpath(a->out, dir))
    return cli_error("cannot resolve %s or %s: %s", a->plan, a->out, strerror(errno)), 2;
  char data[PATH_MAX], cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return cli_error("cannot get the working directory: %s", strerror(errno)), 2;
  if (a->data && !realpath(a->data, data)) return cli_error("--data %s: %s", a->data, strerror(errno)), 1;
  eahas_slurm_opts so = {.exe = exe, .plan_path = plan, .out_dir = dir, .n = n, .partition = a->partition,
                         .gpus_per_task = (int)a->gpus, .time_limit = a->time_limit, .cpus_per_task = (int)a->threads,
                         .data_dir = a->data ? data : NULL, .epochs = (int)a->epochs, .trainer = a->trainer,
                         .workdir = cwd};
  char *script;
  rc = eahas_slurm_script(&so, &script, &err);
  char path[PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/sweep.sbatch", dir);
  if (!rc) {
    char logs[PATH_MAX + 16];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    rc = eahas_mkdir_p(logs, &err); /* Slurm does not create the --output directory */
  }
  if (!rc) rc = eahas_write_file_atomic(path, script, strlen(script), &err);
  free(script);
  if (rc) return fail(&err, rc);
  if (a->json) {
    printf("{\"script\":");
    cli_json_string(stdout, path);
    printf(",\"tasks\":%d}\n", n);
  } else {
    printf("wrote %s: an array of %d tasks (0-%d), one config each\n", path, n, n - 1);
    printf("submit it with:   sbatch %s\n", path);
    printf("then collect:     %s collect %s -o FILE.eahas\n", exe, dir);
    if (n > 1000) printf("note: arrays above the cluster's MaxArraySize (often 1001) need splitting: sbatch --array=A-B\n");
  }
  return 0;
}

int cli_sweep(int argc, char **argv) {
  if (argc < 2 || cli_wants_help(argc, argv)) {
    fputs(USAGE, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  args a;
  if (parse(argc, argv, &a)) return 1;
  const char *sub = argv[1];
  if (strcmp(sub, "plan") == 0) return cmd_plan(&a);
  if (strcmp(sub, "run") == 0) return cmd_run(&a);
  if (strcmp(sub, "run-one") == 0) return cmd_run_one(&a);
  if (strcmp(sub, "slurm") == 0) return cmd_slurm(&a);
  if (strcmp(sub, "status") == 0) return cmd_status(&a);
  cli_error("unknown sweep command '%s' (plan, run, run-one, slurm, status)", sub);
  return 1;
}
