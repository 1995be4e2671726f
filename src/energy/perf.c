/* RAPL through perf_event_open on the "power" PMU, for machines where the powercap energy files
 * are root-only but perf is allowed (CAP_PERFMON, or kernel.perf_event_paranoid <= 0).
 * The PMU describes itself in sysfs: power/type (the PMU number), power/cpumask (one CPU per
 * package), power/events/energy-pkg ("event=0x02") with energy-pkg.scale (J per count) and
 * energy-pkg.unit ("Joules"), likewise energy-ram. The kernel extends the 32-bit RAPL MSRs to
 * 64-bit counts, so no wraparound polling is needed (linux arch/x86/events/rapl.c). */
#include "energy/internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_ROOT "/sys/bus/event_source/devices"
#define MAX_PACKAGES 8

typedef struct {
  int n;
  int fd[EAHAS_MAX_DOMAINS];
  double scale[EAHAS_MAX_DOMAINS];
  uint64_t c0[EAHAS_MAX_DOMAINS];
} perf_state;

typedef struct {
  const char *event;  /* sysfs event name */
  const char *prefix; /* our domain name prefix */
  int required;
} event_kind;

static const event_kind EVENTS[] = {{"energy-pkg", "package", 1}, {"energy-ram", "dram", 0}};

static void perf_free(perf_state *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++)
    if (s->fd[i] >= 0) close(s->fd[i]);
  free(s);
}

static int paranoid_level(void) {
  char buf[32];
  eahas_err e;
  if (eahas_energy_read_text("/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf, &e) != 0) return 99;
  return atoi(buf);
}

/* Reads the event's config and scale; 1 if the event exists, 0 if not, < 0 on error. */
static int read_event(const char *pmu, const char *ev, uint64_t *config, double *scale, eahas_err *err) {
  char p[PATH_MAX + 64], buf[128];
  snprintf(p, sizeof p, "%s/events/%s", pmu, ev);
  eahas_err ignored;
  if (eahas_energy_read_text(p, buf, sizeof buf, &ignored) != 0) return 0;
  if (eahas_energy_parse_perf_event(buf, config) != 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s holds '%s', expected 'event=0x..'", p, buf);
  snprintf(p, sizeof p, "%s/events/%s.scale", pmu, ev);
  int rc = eahas_energy_read_text(p, buf, sizeof buf, err);
  if (rc != 0) return rc;
  char *end;
  *scale = strtod(buf, &end);
  if (end == buf || *end != '\0' || !(*scale > 0))
    return eahas_err_set(err, EAHAS_EFORMAT, "%s holds '%s', expected a positive number", p, buf);
  snprintf(p, sizeof p, "%s/events/%s.unit", pmu, ev);
  rc = eahas_energy_read_text(p, buf, sizeof buf, err);
  if (rc != 0) return rc;
  if (strcmp(buf, "Joules") != 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s holds '%s', expected 'Joules'", p, buf);
  return 1;
}

static int open_counter(const char *pmu, int type, uint64_t config, int cpu, const char *ev, int *fd,
                        eahas_err *err) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.type = (uint32_t)type;
  a.size = sizeof a;
  a.config = config;
  long r = syscall(SYS_perf_event_open, &a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (r >= 0) {
    *fd = (int)r;
    return 0;
  }
  int e = errno;
  if (e == EACCES || e == EPERM)
    return eahas_err_set(err, EAHAS_EPERM,
                         "perf_event_open(%s/%s, cpu %d) denied: %s; system-wide energy events need "
                         "root, CAP_PERFMON, or kernel.perf_event_paranoid <= 0 (it is %d here: "
                         "`sudo sysctl kernel.perf_event_paranoid=0`)",
                         pmu, ev, cpu, strerror(e), paranoid_level());
  return eahas_err_set(err, EAHAS_EUNAVAIL, "no RAPL perf events: perf_event_open(%s/%s, type %d, "
                       "cpu %d) failed: %s", pmu, ev, type, cpu, strerror(e));
}

static int read_count(perf_state *s, int i, uint64_t *v, eahas_err *err) {
  ssize_t got = read(s->fd[i], v, sizeof *v);
  if (got != (ssize_t)sizeof *v)
    return eahas_err_set(err, EAHAS_EIO, "reading RAPL perf counter %d failed: %s", i,
                         got < 0 ? strerror(errno) : "short read");
  return 0;
}

static int perf_start(eahas_energy_backend *b, double now, eahas_err *err) {
  (void)now;
  perf_state *s = b->state;
  for (int i = 0; i < s->n; i++) {
    int rc = read_count(s, i, &s->c0[i], err);
    if (rc != 0) return rc;
  }
  return 0;
}

static int perf_poll(eahas_energy_backend *b, double now, eahas_err *err) {
  (void)now;
  perf_state *s = b->state;
  for (int i = 0; i < s->n; i++) {
    uint64_t v;
    int rc = read_count(s, i, &v, err);
    if (rc != 0) return rc;
    b->energy_j[i] = (double)(v - s->c0[i]) * s->scale[i];
  }
  return 0;
}

static void perf_close(eahas_energy_backend *b) {
  perf_free(b->state);
  b->state = NULL;
}

int eahas_energy_perf_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err) {
  const char *root = o->perf_root ? o->perf_root : DEFAULT_ROOT;
  char pmu[PATH_MAX], p[PATH_MAX + 16], buf[256];
  snprintf(pmu, sizeof pmu, "%s/power", root);
  snprintf(p, sizeof p, "%s/type", pmu);
  eahas_err e;
  if (eahas_energy_read_text(p, buf, sizeof buf, &e) != 0)
    return eahas_err_set(err, EAHAS_EUNAVAIL, "no RAPL perf events: %s (kernel without the power "
                         "PMU, or not an Intel/AMD CPU)", e.msg);
  int type = atoi(buf);
  snprintf(p, sizeof p, "%s/cpumask", pmu);
  int rc = eahas_energy_read_text(p, buf, sizeof buf, err);
  if (rc != 0) return rc;
  int cpus[MAX_PACKAGES];
  int ncpu = eahas_energy_parse_cpulist(buf, cpus, MAX_PACKAGES);
  if (ncpu <= 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s holds '%s', expected a CPU list of 1 to %d CPUs", p,
                         buf, MAX_PACKAGES);
  perf_state *s = calloc(1, sizeof *s);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening RAPL perf events");
  for (size_t k = 0; k < sizeof EVENTS / sizeof EVENTS[0]; k++) {
    uint64_t config = 0;
    double scale = 0;
    rc = read_event(pmu, EVENTS[k].event, &config, &scale, err);
    if (rc < 0) goto fail;
    if (rc == 0) {
      if (!EVENTS[k].required) continue;
      rc = eahas_err_set(err, EAHAS_EUNAVAIL, "no RAPL perf events: %s/events/%s is missing", pmu,
                         EVENTS[k].event);
      goto fail;
    }
    int first = s->n;
    for (int c = 0; c < ncpu && s->n < EAHAS_MAX_DOMAINS; c++) {
      s->fd[s->n] = -1;
      rc = open_counter(pmu, type, config, cpus[c], EVENTS[k].event, &s->fd[s->n], err);
      if (rc == EAHAS_EUNAVAIL && !EVENTS[k].required) { /* listed but not counting: skip dram */
        while (s->n > first) close(s->fd[--s->n]);
        rc = 0;
        break;
      }
      if (rc != 0) {
        s->n++;
        goto fail;
      }
      s->scale[s->n] = scale;
      snprintf(b->names[s->n], sizeof b->names[s->n], "%s-%d", EVENTS[k].prefix, c);
      s->n++;
    }
  }
  b->n_domains = s->n;
  snprintf(b->method, sizeof b->method, "perf");
  b->update_period_s = 0.001; /* the same RAPL MSRs as the sysfs reader */
  b->state = s;
  b->start = perf_start;
  b->poll = perf_poll;
  b->close = perf_close;
  return 0;
fail:
  perf_free(s);
  return rc;
}
