/* Training one planned config into DIR/records/<id>.json: the unit of every sweep, local or on
 * Slurm. The trainer always runs as a child process, so a crash in it fails one run only. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep/internal.h"

int sweep_path(char *buf, size_t n, const char *dir, const char *sub, const char *id, const char *suffix,
               eahas_err *err) {
  int k = snprintf(buf, n, "%s%s%s%s%s%s", dir, sub ? "/" : "", sub ? sub : "", id ? "/" : "", id ? id : "",
                   suffix ? suffix : "");
  if (k < 0 || (size_t)k >= n) return eahas_err_set(err, EAHAS_EINVAL, "path under %s is too long", dir);
  return EAHAS_OK;
}

int sweep_dirs(const char *dir, eahas_err *err) {
  static const char *const subs[] = {"records", "failed", "logs", "tmp"};
  char p[SWEEP_PATH_MAX];
  for (int i = 0; i < 4; i++) {
    int rc = sweep_path(p, sizeof p, dir, subs[i], NULL, NULL, err);
    if (!rc) rc = eahas_mkdir_p(p, err);
    if (rc) return rc;
  }
  return EAHAS_OK;
}

int sweep_failed_attempts(const char *dir, const char *id, char *reason, size_t n) {
  char p[SWEEP_PATH_MAX], *text = NULL;
  if (reason && n) reason[0] = '\0';
  if (sweep_path(p, sizeof p, dir, "failed", id, ".json", NULL) || eahas_read_file(p, 1 << 20, &text, NULL, NULL))
    return 0;
  cJSON *o = cJSON_Parse(text);
  free(text);
  cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "attempts");
  cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reason");
  int k = cJSON_IsNumber(a) && a->valuedouble >= 0 && a->valuedouble < 1e6 ? (int)a->valuedouble : 0;
  if (reason && n && cJSON_IsString(r)) snprintf(reason, n, "%s", r->valuestring);
  cJSON_Delete(o);
  return k;
}

pid_t sweep_spawn(char *const argv[], int out_fd, int err_fd) {
  pid_t parent = getpid();
  fflush(NULL); /* nothing buffered may be written twice */
  pid_t pid = fork();
  if (pid != 0) return pid;
  /* The child dies with whoever started it: a SIGKILLed sweep leaves no orphan training on. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  signal(SIGPIPE, SIG_DFL);
  if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
  if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
  execv(argv[0], argv);
  dprintf(STDERR_FILENO, "eahas: cannot execute %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

void sweep_describe_status(int st, char *buf, size_t n) {
  if (WIFEXITED(st)) snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
  else snprintf(buf, n, "ended with wait status %d", st);
}

void sweep_last_line(const char *path, char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' ')) line[--l] = '\0';
    if (l && strncmp(line, "=== ", 4) != 0) snprintf(buf, n, "%s", line);
  }
  fclose(f);
}

void sweep_machine(char *host, size_t nh, char *cpu, size_t nc) {
  if (gethostname(host, nh) != 0) snprintf(host, nh, "unknown");
  host[nh - 1] = '\0';
  snprintf(cpu, nc, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *c = strchr(line, ':');
    if (!c) continue;
    c += 1 + strspn(c + 1, " \t");
    c[strcspn(c, "\n")] = '\0';
    snprintf(cpu, nc, "%s", c);
    break;
  }
  fclose(f);
}

/* ---- interruption --------------------------------------------------------------------- */

/* SIGINT (^C), SIGTERM (kill, Slurm's time limit, scancel) or SIGHUP while a run is in flight
 * interrupt it: the trainer is killed and the run is redone next time, not counted as a failure
 * of the config. */
static volatile sig_atomic_t g_interrupted;
static volatile pid_t g_child;

void sweep_set_child(pid_t pid) {
  g_child = pid;
  if (pid > 0 && g_interrupted) kill(pid, SIGKILL); /* the signal came before the child was known */
}

static void on_terminate(int sig) {
  g_interrupted = sig;
  if (g_child > 0) kill(g_child, SIGKILL);
}

static const int TERM_SIGNALS[3] = {SIGINT, SIGTERM, SIGHUP};

static void catch_terminate(struct sigaction old[3]) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_terminate; /* no SA_RESTART: waitpid and reads return EINTR, then resume */
  sigemptyset(&sa.sa_mask);
  g_interrupted = 0;
  g_child = 0;
  for (int i = 0; i < 3; i++) sigaction(TERM_SIGNALS[i], &sa, &old[i]);
}

static void restore_terminate(const struct sigaction old[3]) {
  for (int i = 0; i < 3; i++) sigaction(TERM_SIGNALS[i], &old[i], NULL);
  g_child = 0;
}

eahas_sweep_state eahas_sweep_state_of(const char *out_dir, const char *id, int retries, int *attempts) {
  char p[SWEEP_PATH_MAX];
  int a = sweep_failed_attempts(out_dir, id, NULL, 0);
  if (attempts) *attempts = a;
  if (!sweep_path(p, sizeof p, out_dir, "records", id, ".json", NULL) && access(p, F_OK) == 0) return EAHAS_SWEEP_DONE;
  return a >= 1 + (retries > 0 ? retries : 0) ? EAHAS_SWEEP_FAILED : EAHAS_SWEEP_TODO;
}

int eahas_sweep_default_jobs(void) { return 1; }

static int threads_of(const eahas_sweep_opts *o, const eahas_preset *p) {
  if (o->threads > 0) return o->threads;
  return p->threads > 0 ? p->threads : 1;
}

/* ---- the built-in trainer: `eahas train` in a child process ---------------------------- */

static int run_builtin(const eahas_plan_entry *e, const eahas_sweep_opts *o, int limit, int log_fd,
                       eahas_run_record *r, eahas_err *err) {
  const eahas_preset *p = eahas_preset_get(e->preset);
  char cfg[EAHAS_CONFIG_TEXT_MAX], seed[32], thr[16], ep[16], out[SWEEP_PATH_MAX];
  eahas_config_format(&e->config, cfg, sizeof cfg);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)e->seed);
  snprintf(thr, sizeof thr, "%d", threads_of(o, p));
  snprintf(ep, sizeof ep, "%d", limit);
  char tag[64];
  snprintf(tag, sizeof tag, ".%ld.record.json", (long)getpid());
  int rc = sweep_path(out, sizeof out, o->out_dir, "tmp", e->id, tag, err);
  if (rc) return rc;
  if (!o->exe) return eahas_err_set(err, EAHAS_EINVAL, "no eahas binary given for the built-in trainer");
  char *argv[20];
  int k = 0;
  argv[k++] = (char *)o->exe;
  argv[k++] = "train";
  argv[k++] = cfg;
  argv[k++] = "--preset";
  argv[k++] = (char *)e->preset;
  if (o->data_dir) {
    argv[k++] = "--data";
    argv[k++] = (char *)o->data_dir;
  }
  argv[k++] = "--epochs";
  argv[k++] = ep;
  argv[k++] = "--seed";
  argv[k++] = seed;
  argv[k++] = "--threads";
  argv[k++] = thr;
  argv[k++] = "-o";
  argv[k++] = out;
  argv[k] = NULL;
  dprintf(log_fd, "=== %s train %s --preset %s --epochs %s --seed %s --threads %s\n", o->exe, cfg, e->preset, ep, seed,
          thr);
  unlink(out);
  pid_t pid = sweep_spawn(argv, log_fd, log_fd);
  if (pid < 0) return eahas_err_set(err, EAHAS_EINTERNAL, "cannot fork the trainer: %s", strerror(errno));
  sweep_set_child(pid);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  sweep_set_child(0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    char how[96];
    sweep_describe_status(st, how, sizeof how);
    unlink(out);
    return eahas_err_set(err, EAHAS_EINTERNAL, "eahas train %s", how);
  }
  rc = eahas_run_record_read(out, r, err);
  unlink(out);
  if (rc) return eahas_err_prefix(err, EAHAS_EINTERNAL, "eahas train wrote a bad record");
  if (strcmp(r->id, e->id) != 0) {
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "eahas train wrote a record of id %s, expected %s", r->id, e->id);
    eahas_run_record_free(r);
  }
  return rc;
}

/* ---- bookkeeping ----------------------------------------------------------------------- */

static int write_failed(const eahas_plan_entry *e, const char *dir, int attempts, const char *reason, eahas_err *err) {
  char p[SWEEP_PATH_MAX], when[32], cfg[EAHAS_CONFIG_TEXT_MAX];
  int rc = sweep_path(p, sizeof p, dir, "failed", e->id, ".json", err);
  if (rc) return rc;
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  eahas_config_format(&e->config, cfg, sizeof cfg);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", e->id);
  cJSON_AddStringToObject(o, "preset", e->preset);
  cJSON_AddStringToObject(o, "config", cfg);
  cJSON_AddNumberToObject(o, "attempts", attempts);
  cJSON_AddStringToObject(o, "reason", reason);
  cJSON_AddStringToObject(o, "last_attempt_at", when);
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", p);
  rc = eahas_write_file_atomic(p, s, strlen(s), err);
  free(s);
  return rc;
}

/* Validates the record by its own reader, then writes it atomically. */
static int write_record(const eahas_run_record *r, const char *dir, eahas_err *err) {
  char p[SWEEP_PATH_MAX];
  int rc = sweep_path(p, sizeof p, dir, "records", r->id, ".json", err);
  if (rc) return rc;
  char *s = eahas_run_record_to_json(r);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory formatting record %s", r->id);
  eahas_run_record chk;
  rc = eahas_run_record_from_json(s, &chk, err);
  if (rc) eahas_err_prefix(err, EAHAS_EINTERNAL, "the run's record is invalid");
  else eahas_run_record_free(&chk);
  if (!rc && eahas_write_file_atomic(p, s, strlen(s), err)) rc = EAHAS_EIO; /* any write failure */
  free(s);
  return rc ? (err ? (err->code = rc == EAHAS_EIO ? EAHAS_EIO : EAHAS_EINTERNAL) : rc) : EAHAS_OK;
}

static int already_done(const char *dir, const char *id) {
  char p[SWEEP_PATH_MAX];
  if (sweep_path(p, sizeof p, dir, "records", id, ".json", NULL)) return 0;
  eahas_run_record r;
  if (eahas_run_record_read(p, &r, NULL) != 0) return 0;
  int ok = strcmp(r.id, id) == 0;
  eahas_run_record_free(&r);
  return ok;
}

/* The trainer run proper, with the log open; fills r or returns the failure. */
static int train(const eahas_plan_entry *e, const eahas_sweep_opts *o, int attempt, eahas_run_record *r,
                 eahas_err *err) {
  char logp[SWEEP_PATH_MAX];
  int rc = sweep_path(logp, sizeof logp, o->out_dir, "logs", e->id, ".log", err);
  if (rc) return rc;
  int log_fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return eahas_err_set(err, EAHAS_EIO, "cannot open %s: %s", logp, strerror(errno));
  dprintf(log_fd, "=== attempt %d of %s (pid %ld)\n", attempt, e->id, (long)getpid());
  int limit = o->epochs > 0 && o->epochs < e->config.epochs ? o->epochs : e->config.epochs;
  rc = o->trainer ? sweep_run_external(e, o, limit, log_fd, r, err) : run_builtin(e, o, limit, log_fd, r, err);
  close(log_fd);
  /* when the trainer died, its own last words are usually the real reason */
  if (rc && err && (strstr(err->msg, "exited with") || strstr(err->msg, "killed by signal"))) {
    char last[200];
    sweep_last_line(logp, last, sizeof last);
    if (last[0] && !strstr(err->msg, last)) {
      size_t l = strlen(err->msg);
      snprintf(err->msg + l, sizeof err->msg - l, " (last log line: %s)", last);
    }
  }
  if (!rc && strcmp(r->status, "failed") == 0) {
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "the trainer recorded a failure: %s", r->reason);
    eahas_run_record_free(r);
  }
  return rc;
}

int eahas_sweep_run_one(const eahas_plan_entry *e, const eahas_sweep_opts *o, int *attempts, eahas_err *err) {
  int rc = sweep_dirs(o->out_dir, err);
  if (rc) return rc;
  int prev = sweep_failed_attempts(o->out_dir, e->id, NULL, 0);
  if (attempts) *attempts = prev;
  if (already_done(o->out_dir, e->id)) return EAHAS_OK;
  /* One process per config: the lock dies with its holder, so a kill leaves nothing stale. */
  char lockp[SWEEP_PATH_MAX];
  if ((rc = sweep_path(lockp, sizeof lockp, o->out_dir, "tmp", e->id, ".lock", err))) return rc;
  int lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) return eahas_err_set(err, EAHAS_EIO, "cannot open %s: %s", lockp, strerror(errno));
  if (flock(lock, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    close(lock);
    return eahas_err_set(err, EAHAS_EUNAVAIL, "config %s is being trained by another process (%s is locked)", e->id,
                         lockp);
  }
  if (already_done(o->out_dir, e->id)) { /* finished while we waited for the lock */
    close(lock);
    return EAHAS_OK;
  }
  eahas_run_record r;
  eahas_err terr = {0};
  struct sigaction old[3];
  catch_terminate(old);
  rc = train(e, o, prev + 1, &r, &terr);
  restore_terminate(old);
  if (rc && g_interrupted) {
    int sig = g_interrupted;
    close(lock);
    return eahas_err_set(err, EAHAS_EINTERNAL, "interrupted by signal %d (%s): the run will be redone", sig,
                         strsignal(sig));
  }
  if (!rc) {
    r.energy_shared |= o->energy_shared != 0;
    rc = write_record(&r, o->out_dir, &terr);
    eahas_run_record_free(&r);
  }
  if (!rc) {
    char fp[SWEEP_PATH_MAX];
    if (!sweep_path(fp, sizeof fp, o->out_dir, "failed", e->id, ".json", NULL)) unlink(fp);
  } else if (rc != EAHAS_EIO) {
    if (attempts) *attempts = prev + 1;
    write_failed(e, o->out_dir, prev + 1, terr.msg, NULL);
  }
  close(lock);
  if (rc && err) *err = terr;
  return rc;
}
