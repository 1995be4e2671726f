/* Running a plan locally: K worker processes, each a fork running eahas_sweep_run_one. The
 * sweep directory is the only state, so a sweep killed at any moment resumes where it was. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sweep/internal.h"

/* The pid a temporary file name carries, or 0: "<name>.tmp.<pid>.<n>" (an atomic write in
 * flight) or "<id>.<pid>.record.json" (the built-in trainer's output before validation). */
static long temp_owner(const char *name) {
  const char *t = strstr(name, ".tmp.");
  if (t) return strtol(t + 5, NULL, 10);
  if (strstr(name, ".record.json") && strlen(name) > 17 && name[16] == '.') return strtol(name + 17, NULL, 10);
  return 0;
}

/* Removes the temporary files of writers that are dead (killed between create and rename). */
static void clean_stale(const char *dir) {
  static const char *const subs[] = {"records", "failed", "tmp"};
  for (int s = 0; s < 3; s++) {
    char p[SWEEP_PATH_MAX];
    if (sweep_path(p, sizeof p, dir, subs[s], NULL, NULL, NULL)) continue;
    DIR *d = opendir(p);
    if (!d) continue;
    struct dirent *de;
    while ((de = readdir(d))) {
      long pid = temp_owner(de->d_name);
      if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        char f[SWEEP_PATH_MAX];
        if (snprintf(f, sizeof f, "%s/%s", p, de->d_name) < (int)sizeof f) unlink(f);
      }
    }
    closedir(d);
  }
}

enum { ST_TODO, ST_RUNNING, ST_DONE, ST_FAILED };
#define EXIT_LOCKED 3

/* A worker: a fork that dies with the sweep and trains one config. */
static pid_t start_worker(const eahas_plan_entry *e, const eahas_sweep_opts *o) {
  pid_t parent = getpid();
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(2);
  int rc = eahas_sweep_run_one(e, o, NULL, NULL);
  _exit(rc == 0 ? 0 : rc == EAHAS_EUNAVAIL ? EXIT_LOCKED : 1);
}

static void notify(eahas_sweep_progress_fn cb, void *ctx, eahas_sweep_progress *p, const char *event) {
  p->event = event;
  if (cb) cb(ctx, p);
  p->event = NULL;
}

/* After a worker ended: what the directory now says about entry i. */
static void settle(const eahas_plan_entry *e, const eahas_sweep_opts *o, int exit_code, int attempts_before,
                   int *state, eahas_sweep_progress *pr, char *event, size_t n) {
  int attempts = 0;
  eahas_sweep_state s = eahas_sweep_state_of(o->out_dir, e->id, o->retries, &attempts);
  char reason[400];
  sweep_failed_attempts(o->out_dir, e->id, reason, sizeof reason);
  if (s == EAHAS_SWEEP_DONE) {
    *state = ST_DONE;
    pr->done++;
    snprintf(event, n, "done %s", e->id);
  } else if (exit_code == EXIT_LOCKED) {
    *state = ST_FAILED;
    pr->failed++;
    snprintf(event, n, "failed %s: another process is training it", e->id);
  } else if (attempts == attempts_before) {
    /* the worker could not even record a failure (sweep directory unwritable, worker killed):
     * retrying would loop forever */
    *state = ST_FAILED;
    pr->failed++;
    snprintf(event, n, "failed %s: the worker ended (exit status %d) without a record or a recorded failure",
             e->id, exit_code);
  } else if (s == EAHAS_SWEEP_FAILED) {
    *state = ST_FAILED;
    pr->failed++;
    snprintf(event, n, "failed %s after %d attempt%s: %s", e->id, attempts, attempts == 1 ? "" : "s", reason);
  } else {
    *state = ST_TODO; /* retried */
    snprintf(event, n, "retrying %s (attempt %d failed: %s)", e->id, attempts, reason);
  }
}

int eahas_sweep_run(const eahas_plan_entry *e, int n, const eahas_sweep_opts *o_in, eahas_sweep_progress_fn cb,
                    void *ctx, eahas_sweep_progress *final, eahas_err *err) {
  eahas_sweep_opts o = *o_in;
  if (final) *final = (eahas_sweep_progress){.total = n}; /* defined counts on every error path */
  int rc = sweep_dirs(o.out_dir, err);
  if (rc) return rc;
  clean_stale(o.out_dir);
  int jobs = o.jobs > 0 ? o.jobs : eahas_sweep_default_jobs();
  if (jobs > eahas_sweep_default_jobs()) o.energy_shared = 1; /* runs share the measured domains */
  int *state = calloc((size_t)n, sizeof *state);
  pid_t *pids = calloc((size_t)jobs, sizeof *pids);
  int *slot_entry = calloc((size_t)jobs, sizeof *slot_entry);
  int *slot_attempts = calloc((size_t)jobs, sizeof *slot_attempts);
  if (!state || !pids || !slot_entry || !slot_attempts) {
    free(slot_attempts);
    free(state);
    free(pids);
    free(slot_entry);
    return eahas_err_set(err, EAHAS_ENOMEM, "out of memory for a sweep of %d configs", n);
  }
  eahas_sweep_progress pr = {.total = n};
  for (int i = 0; i < n; i++) {
    eahas_sweep_state s = eahas_sweep_state_of(o.out_dir, e[i].id, o.retries, NULL);
    state[i] = s == EAHAS_SWEEP_DONE ? ST_DONE : s == EAHAS_SWEEP_FAILED ? ST_FAILED : ST_TODO;
    pr.done += state[i] == ST_DONE;
    pr.failed += state[i] == ST_FAILED;
  }
  pr.started_done = pr.done;
  notify(cb, ctx, &pr, NULL);
  char event[600];
  for (;;) {
    /* fill the free slots, in plan order (retries go to the back of the line naturally) */
    for (int j = 0; j < jobs; j++) {
      if (pids[j] > 0) continue;
      int next = -1;
      for (int i = 0; i < n && next < 0; i++)
        if (state[i] == ST_TODO) next = i;
      if (next < 0) break;
      int attempts_before = 0;
      eahas_sweep_state_of(o.out_dir, e[next].id, o.retries, &attempts_before);
      pid_t pid = start_worker(&e[next], &o);
      if (pid < 0) {
        rc = eahas_err_set(err, EAHAS_EINTERNAL, "cannot fork a worker: %s", strerror(errno));
        break;
      }
      pids[j] = pid;
      slot_entry[j] = next;
      slot_attempts[j] = attempts_before;
      state[next] = ST_RUNNING;
      pr.running++;
      snprintf(event, sizeof event, "started %s", e[next].id);
      notify(cb, ctx, &pr, event);
    }
    if (pr.running == 0) break;
    int st;
    pid_t pid = waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      rc = eahas_err_set(err, EAHAS_EINTERNAL, "waiting for workers: %s", strerror(errno));
      break;
    }
    for (int j = 0; j < jobs; j++) {
      if (pids[j] != pid) continue;
      pids[j] = 0;
      pr.running--;
      int code = WIFEXITED(st) ? WEXITSTATUS(st) : 2;
      settle(&e[slot_entry[j]], &o, code, slot_attempts[j], &state[slot_entry[j]], &pr, event, sizeof event);
      notify(cb, ctx, &pr, event);
    }
    if (rc) break;
  }
  /* on an internal error, stop the workers still running (their runs are redone next time) */
  for (int j = 0; j < jobs; j++)
    if (pids[j] > 0) {
      kill(pids[j], SIGKILL);
      waitpid(pids[j], NULL, 0);
    }
  free(state);
  free(pids);
  free(slot_entry);
  free(slot_attempts);
  if (final) *final = pr;
  if (!rc && pr.failed > 0)
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "%d of %d configs failed (reasons in %s/failed/)", pr.failed, n, o.out_dir);
  return rc;
}
