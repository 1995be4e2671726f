/* The external trainer protocol (docs/sweeps.md): eahas writes the config as JSON to a file, runs
 * `/bin/sh -c 'exec CMD "$1"' sh FILE`, reads one JSON object per epoch from the trainer's
 * standard output, measures energy around the process itself, and builds the record. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "eahas/energy.h"
#include "sweep/internal.h"

#define MAX_LINE 65536

/* The file the trainer gets: everything it needs to train this config. */
static int write_config_file(const eahas_plan_entry *e, const eahas_sweep_opts *o, int limit, const char *path,
                             eahas_err *err) {
  const eahas_preset *p = eahas_preset_get(e->preset);
  char text[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&e->config, text, sizeof text);
  char *cj = eahas_config_to_json(&e->config);
  cJSON *o_ = cJSON_CreateObject();
  cJSON_AddStringToObject(o_, "id", e->id);
  cJSON_AddStringToObject(o_, "preset", e->preset);
  cJSON_AddStringToObject(o_, "dataset", p->dataset);
  cJSON_AddItemToObject(o_, "config", cj ? cJSON_Parse(cj) : cJSON_CreateNull());
  cJSON_AddStringToObject(o_, "config_text", text);
  cJSON_AddNumberToObject(o_, "epochs", limit);
  if (e->seed <= (1ull << 53)) cJSON_AddNumberToObject(o_, "seed", (double)e->seed);
  else { /* exact: a double holds integers up to 2^53 only */
    char sd[32];
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)e->seed);
    cJSON_AddStringToObject(o_, "seed", sd);
  }
  cJSON_AddNumberToObject(o_, "threads", o->threads > 0 ? o->threads : (p->threads > 0 ? p->threads : 1));
  if (o->data_dir) cJSON_AddStringToObject(o_, "data", o->data_dir);
  else cJSON_AddNullToObject(o_, "data");
  free(cj);
  char *s = cJSON_Print(o_);
  cJSON_Delete(o_);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", path);
  int rc = eahas_write_file_atomic(path, s, strlen(s), err);
  free(s);
  if (rc && err) err->code = EAHAS_EIO; /* the sweep's directory, not the run: not a failed attempt */
  return rc ? EAHAS_EIO : EAHAS_OK;
}

typedef struct epoch_line {
  int epoch;
  double train_acc, val_acc, test_acc, seconds;
  double train_loss, test_acc_ema, lr; /* optional: 0, test_acc, 0 when absent */
} epoch_line;

static int num_field(cJSON *o, const char *k, int required, double lo, double hi, double *out, eahas_err *err) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v) return required ? eahas_err_set(err, EAHAS_EFORMAT, "\"%s\" is missing", k) : 1;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return eahas_err_set(err, EAHAS_EFORMAT, "\"%s\" is not a finite number", k);
  if (v->valuedouble < lo || v->valuedouble > hi)
    return eahas_err_set(err, EAHAS_EFORMAT, "\"%s\"=%g is outside [%g, %g]", k, v->valuedouble, lo, hi);
  *out = v->valuedouble;
  return EAHAS_OK;
}

static int parse_epoch_line(const char *s, epoch_line *l, eahas_err *err) {
  memset(l, 0, sizeof *l);
  cJSON *o = cJSON_Parse(s);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    int n = (int)strcspn(s, "\r\n");
    return eahas_err_set(err, EAHAS_EFORMAT, "not a JSON object (NaN and Infinity are not JSON): \"%.*s%s\"",
                         n > 60 ? 60 : n, s, n > 60 ? "..." : "");
  }
  double ep = 0;
  int rc = eahas_json_unique_keys(o, err);
  if (!rc) rc = num_field(o, "epoch", 1, 1, EAHAS_MAX_EPOCHS, &ep, err);
  if (!rc && ep != floor(ep)) rc = eahas_err_set(err, EAHAS_EFORMAT, "\"epoch\"=%g is not an integer", ep);
  if (!rc) rc = num_field(o, "train_acc", 1, 0, 100, &l->train_acc, err);
  if (!rc) rc = num_field(o, "val_acc", 1, 0, 100, &l->val_acc, err);
  if (!rc) rc = num_field(o, "test_acc", 1, 0, 100, &l->test_acc, err);
  if (!rc) rc = num_field(o, "seconds", 1, 0, 1e9, &l->seconds, err);
  l->epoch = (int)ep;
  l->train_loss = 0;
  l->test_acc_ema = l->test_acc;
  l->lr = 0;
  if (!rc) rc = num_field(o, "train_loss", 0, 0, 1e30, &l->train_loss, err);
  if (rc == 1) rc = 0;
  if (!rc) rc = num_field(o, "test_acc_ema", 0, 0, 100, &l->test_acc_ema, err);
  if (rc == 1) rc = 0;
  if (!rc) rc = num_field(o, "lr", 0, 0, 1e30, &l->lr, err);
  if (rc == 1) rc = 0;
  cJSON_Delete(o);
  return rc;
}

/* The trainer's name for the record: the base name of the command's first word, or of the
 * script it runs when that word is an interpreter ("sh train.sh", "python3 train.py"). */
static void trainer_name(const char *cmd, char *buf, size_t n) {
  static const char *const interp[] = {"sh", "bash", "dash", "python", "python3", "env", "perl", "Rscript", "julia", "node"};
  const char *s = cmd;
  for (int word = 0; word < 3; word++) {
    s += strspn(s, " \t");
    size_t len = strcspn(s, " \t");
    const char *base = s;
    for (size_t i = 0; i < len; i++)
      if (s[i] == '/') base = s + i + 1;
    size_t bl = (size_t)(s + len - base);
    if (bl >= n) bl = n - 1;
    memcpy(buf, base, bl);
    buf[bl] = '\0';
    int is_interp = 0;
    for (size_t i = 0; i < sizeof interp / sizeof interp[0]; i++) is_interp |= strcmp(buf, interp[i]) == 0;
    const char *next = s + len + strspn(s + len, " \t");
    if (!is_interp || !*next || *next == '-') break;
    s = next;
  }
  if (!buf[0]) snprintf(buf, n, "external");
}

/* Energy around the trainer: a meter on the child and the domain-share locks of the energy
 * module, so that the record says whether another run shared the measured domains. */
typedef struct metering {
  eahas_meter *m;
  eahas_domain_share *share;
  double last_j;
} metering;

static void meter_begin(metering *mt, pid_t pid) {
  memset(mt, 0, sizeof *mt);
  eahas_meter_opts mo;
  memset(&mo, 0, sizeof mo);
  mo.kind = EAHAS_METER_AUTO;
  mo.pid = pid;
  if (eahas_meter_open(&mo, &mt->m, NULL) != 0) {
    mt->m = NULL;
    return;
  }
  const char *names[EAHAS_MAX_DOMAINS];
  int nd = eahas_meter_domain_names(mt->m, names, EAHAS_MAX_DOMAINS);
  if (nd > 0 && eahas_domain_share_begin(names, nd, NULL, &mt->share, NULL) != 0) mt->share = NULL;
  if (eahas_meter_start(mt->m, NULL) != 0) {
    eahas_meter_close(mt->m);
    mt->m = NULL;
  }
}

/* Energy since the previous call, J (0 without a meter). */
static double meter_delta(metering *mt) {
  eahas_energy_reading rd;
  if (!mt->m || eahas_meter_read(mt->m, &rd, NULL) != 0) return 0;
  double d = rd.energy_j - mt->last_j;
  mt->last_j = rd.energy_j;
  return d > 0 ? d : 0;
}

static void meter_end(metering *mt, eahas_run_record *r) {
  snprintf(r->energy_method, sizeof r->energy_method, "none");
  r->energy_domains[0] = '\0';
  if (mt->m) {
    eahas_energy_reading rd;
    if (eahas_meter_stop(mt->m, &rd, NULL) == 0) {
      snprintf(r->energy_method, sizeof r->energy_method, "%s", rd.method);
      size_t k = 0;
      for (int i = 0; i < rd.n_domains; i++) {
        int w = snprintf(r->energy_domains + k, sizeof r->energy_domains - k, "%s%s", i ? "," : "",
                         rd.domains[i].name);
        if (w < 0 || (size_t)w >= sizeof r->energy_domains - k) break;
        k += (size_t)w;
      }
    }
    eahas_meter_close(mt->m);
  }
  if (mt->share) {
    int shared = 0;
    if (eahas_domain_share_end(mt->share, &shared, NULL, NULL) == 0 && shared) r->energy_shared = 1;
  }
  mt->m = NULL;
  mt->share = NULL;
}

/* Fills the record's fixed part: identity, complexity, provenance. */
static void record_head(const eahas_plan_entry *e, const eahas_sweep_opts *o, int limit, eahas_run_record *r) {
  const eahas_preset *p = eahas_preset_get(e->preset);
  memcpy(r->id, e->id, sizeof r->id);
  snprintf(r->preset, sizeof r->preset, "%s", e->preset);
  r->config = e->config;
  r->seed = e->seed;
  r->epochs_planned = e->config.epochs;
  r->epochs_limit = limit;
  snprintf(r->status, sizeof r->status, "ok");
  eahas_regnet net;
  if (eahas_config_complexity(&e->config, p, &net, &r->cx, NULL) != 0) memset(&r->cx, 0, sizeof r->cx);
  sweep_machine(r->machine, sizeof r->machine, r->cpu, sizeof r->cpu);
  r->threads = o->threads > 0 ? o->threads : (p->threads > 0 ? p->threads : 1);
  snprintf(r->dataset, sizeof r->dataset, "%s", p->dataset);
  snprintf(r->versions, sizeof r->versions, "eahas %s; external trainer", eahas_version());
  trainer_name(o->trainer, r->trainer, sizeof r->trainer);
}

/* Reads the epoch lines; returns 0 with *got epochs, or the first protocol violation. */
static int read_epochs(FILE *in, int limit, metering *mt, eahas_run_record *r, int *got, eahas_err *err) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int lineno = 0, rc = EAHAS_OK;
  *got = 0;
  while ((len = getline(&line, &cap, in)) >= 0) {
    lineno++;
    if (len > MAX_LINE) {
      rc = eahas_err_set(err, EAHAS_EFORMAT, "line %d of the trainer's output is longer than %d bytes", lineno, MAX_LINE);
      break;
    }
    if (strspn(line, " \t\r\n") == (size_t)len) continue;
    epoch_line l;
    rc = parse_epoch_line(line, &l, err);
    if (!rc && l.epoch != *got + 1)
      rc = eahas_err_set(err, EAHAS_EFORMAT, "reported epoch %d where epoch %d was due", l.epoch, *got + 1);
    if (!rc && l.epoch > limit)
      rc = eahas_err_set(err, EAHAS_EFORMAT, "reported epoch %d but only %d were asked for", l.epoch, limit);
    if (rc) {
      eahas_err_prefix(err, rc, "line %d of the trainer's output", lineno);
      break;
    }
    int i = (*got)++;
    r->train_loss[i] = l.train_loss;
    r->train_acc[i] = l.train_acc;
    r->val_acc[i] = l.val_acc;
    r->test_acc[i] = l.test_acc;
    r->test_acc_ema[i] = l.test_acc_ema;
    r->lr[i] = l.lr;
    r->epoch_time_s[i] = l.seconds;
    r->train_energy_j[i] = meter_delta(mt);
  }
  free(line);
  return rc;
}

int sweep_run_external(const eahas_plan_entry *e, const eahas_sweep_opts *o, int limit, int log_fd,
                       eahas_run_record *r, eahas_err *err) {
  char cfgp[SWEEP_PATH_MAX];
  int rc = sweep_path(cfgp, sizeof cfgp, o->out_dir, "tmp", e->id, ".config.json", err);
  if (!rc) rc = write_config_file(e, o, limit, cfgp, err);
  if (!rc) rc = eahas_run_record_init(r, limit, err);
  if (rc) return rc;
  record_head(e, o, limit, r);
  dprintf(log_fd, "=== %s %s\n", o->trainer, cfgp);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    eahas_run_record_free(r);
    return eahas_err_set(err, EAHAS_EINTERNAL, "cannot create a pipe: %s", strerror(errno));
  }
  char script[64 + 4096];
  snprintf(script, sizeof script, "exec %s \"$1\"", o->trainer);
  char *argv[] = {"/bin/sh", "-c", script, "sh", cfgp, NULL};
  pid_t pid = sweep_spawn(argv, fds[1], log_fd);
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    eahas_run_record_free(r);
    return eahas_err_set(err, EAHAS_EINTERNAL, "cannot fork the trainer: %s", strerror(errno));
  }
  sweep_set_child(pid);
  metering mt;
  meter_begin(&mt, pid);
  FILE *in = fdopen(fds[0], "r");
  int got = 0;
  rc = in ? read_epochs(in, limit, &mt, r, &got, err) : eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
  if (rc) kill(pid, SIGKILL); /* a protocol violation ends the run */
  if (in) fclose(in);
  else close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  sweep_set_child(0);
  meter_end(&mt, r);
  if (!rc && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    char how[96];
    sweep_describe_status(st, how, sizeof how);
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "the trainer %s after %d of %d epochs", how, got, limit);
  }
  if (!rc && got < limit)
    rc = eahas_err_set(err, EAHAS_EINTERNAL, "the trainer reported %d of %d epochs: epoch %d is missing", got, limit,
                       got + 1);
  if (rc) {
    if (err) err->code = EAHAS_EINTERNAL;
    eahas_run_record_free(r);
    return EAHAS_EINTERNAL;
  }
  unlink(cfgp);
  for (int i = 0; i < got; i++) {
    r->train_time_s += r->epoch_time_s[i];
    r->total_energy_j += r->train_energy_j[i] + r->eval_energy_j[i];
    r->tec_kwh += r->train_energy_j[i] / 3.6e6;
  }
  return EAHAS_OK;
}
