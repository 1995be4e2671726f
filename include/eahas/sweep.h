/* eahas sweep: sampling a plan of configs, training it (built-in or external trainer, local
 * workers or Slurm array tasks), resumably, and collecting the run records into a benchmark file
 * (DESIGN.md; protocol and layout: docs/sweeps.md).
 *
 * A sweep directory DIR holds:
 *   DIR/records/<id>.json   one finished run record per config (written atomically, never redone)
 *   DIR/failed/<id>.json    the last failure of a config: {"id","attempts","reason",...}
 *   DIR/logs/<id>.log       the trainer's standard error (and output, for the built-in trainer)
 *   DIR/tmp/                trainer inputs and outputs in flight, lock files
 * Only finished records count, so a sweep killed at any moment (even SIGKILL) resumes by redoing
 * the runs that were in progress.
 */
#ifndef EAHAS_SWEEP_H
#define EAHAS_SWEEP_H

#include <stdint.h>

#include "eahas/space.h"
#include "eahas/train.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- plans ----------------------------------------------------------------------------- */

/* One line of a plan: {"id":..., "preset":..., "seed":..., "config":{...}}. */
typedef struct eahas_plan_entry {
  char id[17];        /* eahas_run_id(preset, config) */
  char preset[32];
  uint64_t seed;      /* training seed of this config */
  eahas_config config;
} eahas_plan_entry;

/* n distinct configs drawn from preset p under its constraints (eahas_config_sample) with the
 * stream of `seed`; every entry's training seed is `seed`. *out malloc'd (caller frees).
 * Errors: EAHAS_EINVAL (n < 1), EAHAS_ECONSTRAINT (the sampler or distinctness gave up: at most
 * 100 n + 1000 draws), EAHAS_ENOMEM. */
int eahas_sweep_plan(const eahas_preset *p, int n, uint64_t seed, eahas_plan_entry **out, eahas_err *err);
/* Writes entries as JSON lines, atomically. */
int eahas_plan_write(const char *path, const eahas_plan_entry *e, int n, eahas_err *err);
/* Reads a plan: every line a JSON object with a known preset, a config valid under it, an id equal
 * to eahas_run_id(preset, config), and no id twice. Blank lines are skipped. Errors:
 * EAHAS_ENOTFOUND (no such file), EAHAS_EINVAL (a directory), EAHAS_EPERM, EAHAS_EIO (a read
 * failure), EAHAS_EFORMAT naming the line ("line 3 of plan.jsonl: ..."). *out malloc'd. */
int eahas_plan_read(const char *path, eahas_plan_entry **out, int *n, eahas_err *err);

/* ---- running --------------------------------------------------------------------------- */

typedef struct eahas_sweep_opts {
  const char *out_dir;   /* the sweep directory (created if missing) */
  const char *exe;       /* the eahas binary, for the built-in trainer (`eahas train`) */
  const char *trainer;   /* external trainer command (run by /bin/sh with the config path
                            appended), or NULL for the built-in trainer */
  const char *data_dir;  /* --data for the built-in trainer / "data" for external ones; NULL = default */
  int epochs;            /* epoch cap (fidelity); 0 = the config's own max epochs */
  int threads;           /* training threads per run; 0 = the preset's default (at least 1) */
  int jobs;              /* concurrent runs of eahas_sweep_run; 0 = eahas_sweep_default_jobs() */
  int retries;           /* a failed config is tried at most 1 + retries times */
  int energy_shared;     /* mark records as sharing an energy domain (set by eahas_sweep_run
                            when jobs exceeds the default) */
} eahas_sweep_opts;

/* Runs at once that keep every run's energy attributable: one per measured energy domain.
 * Training (built-in, CPU) uses every package, so this is 1. */
int eahas_sweep_default_jobs(void);

/* Trains one config unless DIR/records/<id>.json already holds a valid record (then returns 0
 * at once). The trainer runs as a child process that dies with the caller (PR_SET_PDEATHSIG).
 * On success the record (validated by eahas_run_record_from_json) is written atomically and any
 * DIR/failed/<id>.json removed. On failure DIR/failed/<id>.json gets the reason and the attempt
 * count, and the error is returned: EAHAS_EINTERNAL (trainer crashed, exited non-zero, malformed
 * output, missing epochs, record invalid), EAHAS_EUNAVAIL (another process holds this config's
 * lock), EAHAS_EIO (the sweep directory). SIGINT, SIGTERM or SIGHUP during the run kill the
 * trainer and return EAHAS_EINTERNAL ("interrupted") without recording a failure: the run is
 * redone next time. *attempts (may be NULL) gets the attempt count so far. */
int eahas_sweep_run_one(const eahas_plan_entry *e, const eahas_sweep_opts *o, int *attempts, eahas_err *err);

/* What a sweep directory says about one config. */
typedef enum { EAHAS_SWEEP_TODO = 0, EAHAS_SWEEP_DONE = 1, EAHAS_SWEEP_FAILED = 2 } eahas_sweep_state;
/* DONE: a record file exists; FAILED: failed/<id>.json records *attempts >= 1 + retries; else TODO. */
eahas_sweep_state eahas_sweep_state_of(const char *out_dir, const char *id, int retries, int *attempts);

typedef struct eahas_sweep_progress {
  int total, done, failed, running; /* done includes records found at start */
  int started_done;                 /* records already present when the sweep started */
  const char *event;                /* what just happened ("done <id>", "failed <id>: reason") or NULL */
} eahas_sweep_progress;
typedef void (*eahas_sweep_progress_fn)(void *ctx, const eahas_sweep_progress *p);

/* Trains every entry that has no record in out_dir, with o->jobs concurrent worker processes
 * (each a fork running eahas_sweep_run_one), retrying failures up to o->retries times. Calls
 * cb (may be NULL) after every change. *final (may be NULL) gets the last counts. Returns 0
 * when every entry has a record, EAHAS_EINTERNAL when some failed for good (the others are
 * done), EAHAS_EIO when the directory cannot be used. */
int eahas_sweep_run(const eahas_plan_entry *e, int n, const eahas_sweep_opts *o, eahas_sweep_progress_fn cb,
                    void *ctx, eahas_sweep_progress *final, eahas_err *err);

/* ---- Slurm ----------------------------------------------------------------------------- */

typedef struct eahas_slurm_opts {
  const char *exe;        /* absolute path of eahas on the cluster */
  const char *plan_path;  /* absolute path of the plan */
  const char *out_dir;    /* absolute path of the sweep directory */
  int n;                  /* plan entries: the array is 0..n-1 */
  const char *partition;  /* NULL = the cluster's default */
  int gpus_per_task;      /* 0 = none requested */
  const char *time_limit; /* "HH:MM:SS" or NULL */
  int cpus_per_task;      /* 0 = not requested; also passed as --threads */
  const char *data_dir;   /* NULL = default */
  int epochs;             /* 0 = the config's */
  const char *trainer;    /* NULL = built-in */
  const char *workdir;    /* the task cds here first (relative paths in trainer mean what they
                             meant where the script was written); NULL = no cd */
} eahas_slurm_opts;

/* The sbatch array script (malloc'd text): one array task per plan entry, each running
 * `eahas sweep run-one PLAN --index $SLURM_ARRAY_TASK_ID --out DIR ...`. Every path and value is
 * shell-quoted. Errors: EAHAS_EINVAL (n < 1, a time that is not [D-]HH:MM:SS, a partition with
 * characters other than letters, digits, '-', '_', ',', '.'). */
int eahas_slurm_script(const eahas_slurm_opts *o, char **out, eahas_err *err);

/* ---- collecting ------------------------------------------------------------------------ */

typedef struct eahas_collect_summary {
  int files;      /* record files looked at */
  int valid;      /* passed validation */
  int rejected;   /* failed validation (each reported through the callback) */
  int duplicates; /* valid, but an earlier file in this collection had the same id */
  int added;      /* inserted into the benchmark file */
  int present;    /* valid, but already in the benchmark file */
} eahas_collect_summary;
typedef void (*eahas_collect_reject_fn)(void *ctx, const char *path, const char *reason);

/* Validates every record file under each path (a sweep directory: its records/ folder; another
 * directory: its *.json files; a file: that file), reports each bad one with its reason through
 * reject (may be NULL), de-duplicates by id (first in path order, then file-name order, wins),
 * and inserts the good ones into the benchmark file out_path (created if missing) in one
 * transaction. Records of a preset other than the file's (or, for a new file, the first good
 * record's) are rejected too. Returns 0 even when some files were rejected (see summary);
 * errors: EAHAS_EIO / EAHAS_EFORMAT for the benchmark file or an unreadable directory. */
int eahas_collect(const char *const *paths, int n_paths, const char *out_path, eahas_collect_reject_fn reject,
                  void *ctx, eahas_collect_summary *sum, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
