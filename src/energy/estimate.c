/* The estimate "cpu-tdp-v1" for machines without energy counters (docs/energy.md):
 *   E_cpu  = a * cpu_s + i * max(wall_s, cpu_s),  a = tdp (1 - idle) / cores, i = tdp idle / cores
 *   E_dram = dram_w_per_gib * rss_gib * wall_s
 * where cpu_s is the CPU time (user + system) of the measured process since start and rss_gib
 * its peak resident set. It is labelled "estimate:cpu-tdp-v1" everywhere, never "measured". */
#include "energy/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MODEL "cpu-tdp-v1"

typedef struct {
  eahas_estimate_params p;
  pid_t pid;          /* 0 = this process */
  double cpu0;        /* CPU seconds at start */
  double cpu_last;    /* last CPU seconds seen (kept when the process is gone) */
  double rss_gib;     /* last peak RSS seen */
  double t0;
  int have_final;     /* exact figures from wait4 */
  double final_cpu, final_rss;
} est_state;

void eahas_estimate_params_default(eahas_estimate_params *p) {
  /* Intel Xeon Gold 6248: 20 cores, 150 W TDP (Intel ARK), a typical 2019-2023 server CPU of
   * the kind GPU training nodes carry. Idle package power ~30 % of TDP: SPECpower_ssj2008 results
   * of two-socket Xeon servers of that generation put active idle at roughly 25-35 % of full
   * load. DRAM 0.3725 W per GB: Green Algorithms (Lannelongue et al., Adv. Sci. 2021). */
  p->tdp_w = 150.0;
  p->tdp_cores = 20.0;
  p->idle_fraction = 0.3;
  p->dram_w_per_gib = 0.3725;
}

static int check_range(const char *key, double v, double lo, double hi, int hi_open, eahas_err *err) {
  if (!(v >= lo) || (hi_open ? !(v < hi) : !(v <= hi)))
    return eahas_err_set(err, EAHAS_EINVAL, "estimate parameter %s=%g is outside [%g, %g%s", key, v, lo,
                         hi, hi_open ? ")" : "]");
  return 0;
}

static int validate(const eahas_estimate_params *p, eahas_err *err) {
  int rc;
  if ((rc = check_range("tdp_w", p->tdp_w, 1, 10000, 0, err))) return rc;
  if ((rc = check_range("tdp_cores", p->tdp_cores, 1, 4096, 0, err))) return rc;
  if ((rc = check_range("idle_fraction", p->idle_fraction, 0, 1, 1, err))) return rc;
  return check_range("dram_w_per_gib", p->dram_w_per_gib, 0, 100, 0, err);
}

int eahas_estimate_params_parse(const char *text, eahas_estimate_params *p, eahas_err *err) {
  eahas_estimate_params q = *p;
  const char *s = text;
  unsigned seen = 0;
  while (*s) {
    const char *eq = strchr(s, '='), *comma = strchr(s, ',');
    if (!comma) comma = s + strlen(s);
    if (!eq || eq > comma)
      return eahas_err_set(err, EAHAS_EINVAL, "estimate parameters '%s': expected key=value at '%.*s'",
                           text, (int)(comma - s), s);
    size_t klen = (size_t)(eq - s);
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || end != comma || errno != 0 || !isfinite(v))
      return eahas_err_set(err, EAHAS_EINVAL, "estimate parameter '%.*s': '%.*s' is not a number",
                           (int)klen, s, (int)(comma - eq - 1), eq + 1);
    static const char *const keys[] = {"tdp_w", "tdp_cores", "idle_fraction", "dram_w_per_gib"};
    double *const slots[] = {&q.tdp_w, &q.tdp_cores, &q.idle_fraction, &q.dram_w_per_gib};
    int k = 0;
    while (k < 4 && !(strlen(keys[k]) == klen && strncmp(s, keys[k], klen) == 0)) k++;
    if (k == 4)
      return eahas_err_set(err, EAHAS_EINVAL, "unknown estimate parameter '%.*s' (known: tdp_w, "
                           "tdp_cores, idle_fraction, dram_w_per_gib)", (int)klen, s);
    if (seen & (1u << k)) /* the last would win silently */
      return eahas_err_set(err, EAHAS_EINVAL, "estimate parameter '%.*s' is given twice in '%s'", (int)klen, s,
                           text);
    seen |= 1u << k;
    *slots[k] = v;
    s = *comma ? comma + 1 : comma;
  }
  int rc = validate(&q, err);
  if (rc == 0) *p = q;
  return rc;
}

void eahas_energy_estimate_model(const eahas_estimate_params *p, double cpu_s, double wall_s,
                                 double rss_gib, double *cpu_j, double *dram_j) {
  double active_w = p->tdp_w * (1 - p->idle_fraction) / p->tdp_cores;
  double idle_w = p->tdp_w * p->idle_fraction / p->tdp_cores;
  *cpu_j = active_w * cpu_s + idle_w * (wall_s > cpu_s ? wall_s : cpu_s);
  *dram_j = p->dram_w_per_gib * rss_gib * wall_s;
}

/* CPU seconds and peak RSS (GiB) of the process; -1 if it cannot be read. */
static int usage_of(pid_t pid, double *cpu_s, double *rss_gib) {
  if (pid == 0) {
    *cpu_s = eahas_cpu_time_s();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *rss_gib = (double)ru.ru_maxrss / (1024.0 * 1024.0);
    return 0;
  }
  char path[64], buf[1024];
  eahas_err e;
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  if (eahas_energy_read_text(path, buf, sizeof buf, &e) != 0) return -1;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p) return -1;
  unsigned long long v[4];
  /* Fields after ')': 3 state ... 14 utime 15 stime 16 cutime 17 cstime (proc(5)). */
  if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &v[0], &v[1],
             &v[2], &v[3]) != 4)
    return -1;
  *cpu_s = (double)(v[0] + v[1] + v[2] + v[3]) / (double)sysconf(_SC_CLK_TCK);
  *rss_gib = 0;
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  char st[4096];
  if (eahas_energy_read_text(path, st, sizeof st, &e) == 0) {
    const char *h = strstr(st, "VmHWM:");
    if (h) *rss_gib = strtod(h + 6, NULL) / (1024.0 * 1024.0);
  }
  return 0;
}

static void refresh(eahas_energy_backend *b, double now) {
  est_state *s = b->state;
  double cpu = s->cpu_last, rss = s->rss_gib;
  if (s->have_final) {
    cpu = s->final_cpu;
    rss = s->final_rss;
  } else if (usage_of(s->pid, &cpu, &rss) != 0) {
    cpu = s->cpu_last, rss = s->rss_gib; /* the process is gone: keep what we last saw */
  }
  s->cpu_last = cpu;
  if (rss > s->rss_gib) s->rss_gib = rss;
  double cpu_s = cpu - s->cpu0;
  if (cpu_s < 0) cpu_s = 0;
  double wall = now - s->t0;
  eahas_energy_estimate_model(&s->p, cpu_s, wall, s->rss_gib, &b->energy_j[0], &b->energy_j[1]);
  snprintf(b->params, sizeof b->params,
           "model=" MODEL " tdp_w=%g tdp_cores=%g idle_fraction=%g dram_w_per_gib=%g cpu_s=%.4f "
           "rss_gib=%.4f", s->p.tdp_w, s->p.tdp_cores, s->p.idle_fraction, s->p.dram_w_per_gib, cpu_s,
           s->rss_gib);
}

static int est_start(eahas_energy_backend *b, double now, eahas_err *err) {
  est_state *s = b->state;
  double rss;
  if (usage_of(s->pid, &s->cpu0, &rss) != 0)
    return eahas_err_set(err, EAHAS_ENOTFOUND, "estimate: process %ld not found (/proc/%ld/stat)",
                         (long)s->pid, (long)s->pid);
  s->cpu_last = s->cpu0;
  s->rss_gib = rss;
  s->have_final = 0;
  s->t0 = now;
  refresh(b, now);
  return 0;
}

static int est_poll(eahas_energy_backend *b, double now, eahas_err *err) {
  (void)err;
  refresh(b, now);
  return 0;
}

static void est_close(eahas_energy_backend *b) {
  free(b->state);
  b->state = NULL;
}

void eahas_energy_estimate_set_usage(eahas_energy_backend *b, double cpu_s, double max_rss_gib) {
  est_state *s = b->state;
  /* wait4 gives the child's whole CPU time, on the same clock as /proc's utime + stime. */
  s->final_cpu = cpu_s;
  s->final_rss = max_rss_gib;
  s->have_final = 1;
}

void eahas_energy_estimate_set_pid(eahas_energy_backend *b, pid_t pid) {
  ((est_state *)b->state)->pid = pid;
}

int eahas_energy_estimate_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err) {
  est_state *s = calloc(1, sizeof *s);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening the estimate");
  if (o->estimate) s->p = *o->estimate;
  else eahas_estimate_params_default(&s->p);
  int rc = validate(&s->p, err);
  if (rc != 0) {
    free(s);
    return rc;
  }
  s->pid = o->pid;
  double cpu, rss;
  if (s->pid != 0 && usage_of(s->pid, &cpu, &rss) != 0) {
    free(s);
    return eahas_err_set(err, EAHAS_ENOTFOUND, "estimate: process %ld not found (/proc/%ld/stat)",
                         (long)o->pid, (long)o->pid);
  }
  snprintf(b->method, sizeof b->method, "estimate:" MODEL);
  b->update_period_s = 0.01; /* CPU time in /proc moves in clock ticks (USER_HZ = 100) */
  b->n_domains = 2;
  snprintf(b->names[0], sizeof b->names[0], "cpu-estimate");
  snprintf(b->names[1], sizeof b->names[1], "dram-estimate");
  b->state = s;
  b->start = est_start;
  b->poll = est_poll;
  b->close = est_close;
  return 0;
}
