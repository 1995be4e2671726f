/* eahas_meter: up to two backends (a GPU one and a CPU one) behind one start/read/stop
 * interface, with one polling thread for the backends that need polling (NVML power sampling,
 * RAPL wraparound). Every figure carries its method (DESIGN.md "Units"). */
#include "energy/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BACKENDS 2

struct eahas_meter {
  eahas_energy_backend b[MAX_BACKENDS];
  int nb;
  char method[48];
  pthread_mutex_t mu;
  pthread_cond_t cv;  /* wakes the thread early when stopping */
  pthread_t thread;
  int thread_on, quit;
  double interval_s;  /* the thread's period: the smallest backend interval; 0 = no thread */
  double t_start;
  int started, stopped;
  int thread_code;    /* first error met by the thread, reported by the next read */
  eahas_err thread_err;
  eahas_energy_reading frozen; /* the final reading after stop */
  char note[768];     /* AUTO: why the backends it did not use could not open */
};

int eahas_method_is_estimate(const char *method) {
  return method && strncmp(method, "estimate:", 9) == 0;
}

static void close_backends(eahas_meter *m) {
  for (int i = 0; i < m->nb; i++)
    if (m->b[i].close) m->b[i].close(&m->b[i]);
  m->nb = 0;
}

typedef int (*open_fn)(const eahas_meter_opts *, eahas_energy_backend *, eahas_err *);

/* Tries one backend into the next slot; returns its status. */
static int try_open(eahas_meter *m, open_fn fn, const eahas_meter_opts *o, eahas_err *err) {
  eahas_energy_backend *b = &m->b[m->nb];
  memset(b, 0, sizeof *b);
  int rc = fn(o, b, err);
  if (rc == 0) m->nb++;
  return rc;
}

/* Tries a backend for AUTO; on failure appends "what: why" to m->note. */
static int try_auto(eahas_meter *m, open_fn fn, const char *what, const eahas_meter_opts *o) {
  eahas_err e = {0};
  int rc = try_open(m, fn, o, &e);
  if (rc != 0) {
    size_t l = strlen(m->note);
    snprintf(m->note + l, sizeof m->note - l, "%s%s: %s", l ? "; " : "", what, e.msg);
  }
  return rc;
}

/* AUTO: a GPU meter and a CPU meter together when present; the estimate when neither is.
 * Why both: the original counted GPU board power only (REFERENCE.md §5). */
static int open_auto(eahas_meter *m, const eahas_meter_opts *o, eahas_err *err) {
  try_auto(m, eahas_energy_nvml_open, "nvml", o);
  if (try_auto(m, eahas_energy_rapl_open, "rapl", o) != 0) try_auto(m, eahas_energy_perf_open, "perf", o);
  if (m->nb == 0) return try_open(m, eahas_energy_estimate_open, o, err);
  return 0;
}

int eahas_meter_open(const eahas_meter_opts *o, eahas_meter **out, eahas_err *err) {
  *out = NULL;
  eahas_meter_opts defaults = {0};
  if (!o) o = &defaults;
  if (!(o->interval_s >= 0) || o->interval_s > 3600)
    return eahas_err_set(err, EAHAS_EINVAL, "meter interval %g s is outside [0, 3600] (0 = default)",
                         o->interval_s);
  eahas_meter *m = calloc(1, sizeof *m);
  if (!m) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening an energy meter");
  int rc;
  switch (o->kind) {
  case EAHAS_METER_AUTO: rc = open_auto(m, o, err); break;
  case EAHAS_METER_NVML: rc = try_open(m, eahas_energy_nvml_open, o, err); break;
  case EAHAS_METER_RAPL: rc = try_open(m, eahas_energy_rapl_open, o, err); break;
  case EAHAS_METER_PERF: rc = try_open(m, eahas_energy_perf_open, o, err); break;
  case EAHAS_METER_ESTIMATE: rc = try_open(m, eahas_energy_estimate_open, o, err); break;
  default:
    rc = eahas_err_set(err, EAHAS_EINVAL, "meter kind %d is not one of auto, nvml, rapl, perf, estimate",
                       (int)o->kind);
  }
  if (rc != 0) {
    close_backends(m);
    free(m);
    return rc;
  }
  int n_dom = 0;
  for (int i = 0; i < m->nb; i++) {
    if (i) strncat(m->method, "+", sizeof m->method - strlen(m->method) - 1);
    strncat(m->method, m->b[i].method, sizeof m->method - strlen(m->method) - 1);
    double iv = m->b[i].interval_s;
    if (iv > 0 && (m->interval_s == 0 || iv < m->interval_s)) m->interval_s = iv;
    n_dom += m->b[i].n_domains;
  }
  if (n_dom > EAHAS_MAX_DOMAINS) {
    close_backends(m);
    free(m);
    return eahas_err_set(err, EAHAS_EUNAVAIL, "%d energy domains found, at most %d are supported",
                         n_dom, EAHAS_MAX_DOMAINS);
  }
  pthread_mutex_init(&m->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = m;
  return 0;
}

const char *eahas_meter_method(const eahas_meter *m) { return m->method; }

const char *eahas_meter_note(const eahas_meter *m) { return m->note; }

double eahas_meter_update_period_s(const eahas_meter *m) {
  double p = 0;
  for (int i = 0; i < m->nb; i++)
    if (m->b[i].update_period_s > p) p = m->b[i].update_period_s;
  return p;
}

int eahas_meter_domain_names(const eahas_meter *m, const char **names, int max) {
  int k = 0;
  for (int i = 0; i < m->nb; i++)
    for (int d = 0; d < m->b[i].n_domains; d++) {
      if (k < max) names[k] = m->b[i].names[d];
      k++;
    }
  return k;
}

/* Polls every backend; mu held. */
static int poll_all(eahas_meter *m, double now, eahas_err *err) {
  for (int i = 0; i < m->nb; i++) {
    int rc = m->b[i].poll(&m->b[i], now, err);
    if (rc != 0) return rc;
  }
  return 0;
}

static void *poll_thread(void *arg) {
  eahas_meter *m = arg;
  pthread_mutex_lock(&m->mu);
  double next = eahas_now_s() + m->interval_s;
  while (!m->quit) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now_mono = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    double wait = next - now_mono;
    if (wait > 0) {
      double t = now_mono + wait;
      ts.tv_sec = (time_t)t;
      ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
      int rc = pthread_cond_timedwait(&m->cv, &m->mu, &ts);
      if (m->quit) break;
      if (rc != ETIMEDOUT) continue; /* spurious wakeup: recompute the wait */
    }
    if (m->thread_code == 0) {
      eahas_err e = {0};
      int rc = poll_all(m, eahas_now_s(), &e);
      if (rc != 0) {
        m->thread_code = rc;
        m->thread_err = e;
      }
    }
    /* Fixed-rate schedule; if we fell behind (a stalled machine), restart from now. */
    next += m->interval_s;
    double now = eahas_now_s();
    if (next < now) next = now + m->interval_s;
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

static void stop_thread(eahas_meter *m) {
  if (!m->thread_on) return;
  pthread_mutex_lock(&m->mu);
  m->quit = 1;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
  pthread_join(m->thread, NULL);
  m->thread_on = 0;
  m->quit = 0;
}

int eahas_meter_start(eahas_meter *m, eahas_err *err) {
  stop_thread(m);
  pthread_mutex_lock(&m->mu);
  m->thread_code = 0;
  m->started = 0;
  m->stopped = 0;
  double now = eahas_now_s();
  int rc = 0;
  for (int i = 0; i < m->nb && rc == 0; i++) {
    memset(m->b[i].energy_j, 0, sizeof m->b[i].energy_j);
    rc = m->b[i].start(&m->b[i], now, err);
  }
  if (rc == 0) {
    m->t_start = now;
    m->started = 1;
  }
  pthread_mutex_unlock(&m->mu);
  if (rc != 0) return rc;
  if (m->interval_s > 0) {
    if (pthread_create(&m->thread, NULL, poll_thread, m) != 0)
      return eahas_err_set(err, EAHAS_EINTERNAL, "cannot start the energy polling thread: %s",
                           strerror(errno));
    m->thread_on = 1;
  }
  return 0;
}

/* Fills *out from the backends' accumulators; mu held. */
static void compose(eahas_meter *m, double now, eahas_energy_reading *out) {
  memset(out, 0, sizeof *out);
  out->duration_s = now - m->t_start;
  snprintf(out->method, sizeof out->method, "%s", m->method);
  for (int i = 0; i < m->nb; i++) {
    const eahas_energy_backend *b = &m->b[i];
    for (int d = 0; d < b->n_domains && out->n_domains < EAHAS_MAX_DOMAINS; d++) {
      eahas_energy_domain *dom = &out->domains[out->n_domains++];
      snprintf(dom->name, sizeof dom->name, "%s", b->names[d]);
      dom->energy_j = b->energy_j[d];
      out->energy_j += b->energy_j[d];
    }
    if (b->params[0]) {
      size_t l = strlen(out->params);
      snprintf(out->params + l, sizeof out->params - l, "%s%s", l ? " " : "", b->params);
    }
  }
}

static int read_locked(eahas_meter *m, eahas_energy_reading *out, eahas_err *err) {
  if (m->stopped) {
    *out = m->frozen;
    return 0;
  }
  if (!m->started)
    return eahas_err_set(err, EAHAS_EINVAL, "energy meter %s read before eahas_meter_start", m->method);
  if (m->thread_code != 0) {
    if (err) *err = m->thread_err;
    return m->thread_code;
  }
  double now = eahas_now_s();
  int rc = poll_all(m, now, err);
  if (rc != 0) {
    m->thread_code = rc; /* a backend that failed once stays failed until the next start */
    if (err) m->thread_err = *err;
    return rc;
  }
  compose(m, now, out);
  return 0;
}

int eahas_meter_read(eahas_meter *m, eahas_energy_reading *out, eahas_err *err) {
  pthread_mutex_lock(&m->mu);
  int rc = read_locked(m, out, err);
  pthread_mutex_unlock(&m->mu);
  return rc;
}

int eahas_meter_stop(eahas_meter *m, eahas_energy_reading *out, eahas_err *err) {
  pthread_mutex_lock(&m->mu);
  int rc = read_locked(m, out, err);
  if (rc == 0 && !m->stopped) {
    m->frozen = *out;
    m->stopped = 1;
  }
  pthread_mutex_unlock(&m->mu);
  stop_thread(m);
  return rc;
}

void eahas_meter_close(eahas_meter *m) {
  if (!m) return;
  stop_thread(m);
  close_backends(m);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
}

void eahas_meter_set_pid(eahas_meter *m, pid_t pid) {
  pthread_mutex_lock(&m->mu);
  for (int i = 0; i < m->nb; i++)
    if (eahas_method_is_estimate(m->b[i].method)) eahas_energy_estimate_set_pid(&m->b[i], pid);
  pthread_mutex_unlock(&m->mu);
}

void eahas_meter_set_child_usage(eahas_meter *m, double cpu_s, double max_rss_gib) {
  pthread_mutex_lock(&m->mu);
  for (int i = 0; i < m->nb; i++)
    if (eahas_method_is_estimate(m->b[i].method))
      eahas_energy_estimate_set_usage(&m->b[i], cpu_s, max_rss_gib);
  pthread_mutex_unlock(&m->mu);
}
