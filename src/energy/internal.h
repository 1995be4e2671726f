/* energy module internals: the backend interface behind eahas_meter, and test hooks.
 * Not part of the public API; tests include it to reach the pure helpers. */
#ifndef EAHAS_ENERGY_INTERNAL_H
#define EAHAS_ENERGY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "eahas/energy.h"

/* One source of energy figures (NVML, RAPL sysfs, RAPL perf, the estimate). The meter calls
 * start once per measurement, then poll from its thread every interval_s (if > 0) and on every
 * read, always under the meter's mutex, so backends need no locking of their own. */
typedef struct eahas_energy_backend eahas_energy_backend;
struct eahas_energy_backend {
  char method[48];                         /* "rapl", "nvml-counter", "estimate:cpu-tdp-v1" */
  char params[200];                        /* details printed with the result, may be "" */
  int n_domains;
  char names[EAHAS_MAX_DOMAINS][32];
  double energy_j[EAHAS_MAX_DOMAINS];      /* accumulated since start */
  double interval_s;                       /* how often it must be polled; 0 = never */
  double update_period_s;                  /* how often the source itself changes (energy.h) */
  void *state;
  int (*start)(eahas_energy_backend *b, double now, eahas_err *err);
  int (*poll)(eahas_energy_backend *b, double now, eahas_err *err);
  void (*close)(eahas_energy_backend *b);
};

/* Backend constructors: each fills *b (zeroed by the caller) or returns an error naming what is
 * missing. */
int eahas_energy_nvml_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err);
int eahas_energy_rapl_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err);
int eahas_energy_perf_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err);
int eahas_energy_estimate_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err);

/* Final CPU time and peak RSS of a measured child, known exactly from wait4 once it has been
 * reaped (when /proc/<pid> is gone): the estimate uses them from then on. No-op for meters
 * without an estimate. */
void eahas_meter_set_child_usage(eahas_meter *m, double cpu_s, double max_rss_gib);
/* Makes the estimate follow process pid (a child started after the meter was opened). */
void eahas_meter_set_pid(eahas_meter *m, pid_t pid);
/* The estimate backend's side of the two above (estimate.c). */
void eahas_energy_estimate_set_usage(eahas_energy_backend *b, double cpu_s, double max_rss_gib);
void eahas_energy_estimate_set_pid(eahas_energy_backend *b, pid_t pid);

/* ---- helpers shared by backends, exposed for tests -------------------------------------- */

/* open(2) used by the sysfs readers. Tests replace it to make an open fail as a root user
 * cannot make it fail with chmod (root reads mode-000 files). NULL = open(2). */
extern int (*eahas_energy_open_hook)(const char *path, int flags);

/* Reads a small sysfs text file into buf (NUL-terminated, trailing newline removed).
 * Errors: EAHAS_EPERM (EACCES/EPERM, naming the file; hint appended by the caller),
 * EAHAS_EIO (other failures, naming the file and the system error). */
int eahas_energy_read_text(const char *path, char *buf, size_t n, eahas_err *err);
/* Reads a file holding one unsigned decimal integer. Errors: as above, EAHAS_EFORMAT. */
int eahas_energy_read_u64(const char *path, uint64_t *out, eahas_err *err);

/* Difference of two readings of a counter that wraps to 0 after max (RAPL energy_uj in
 * [0, max_energy_range_uj]): cur - prev, or (max - prev) + cur when cur < prev. */
uint64_t eahas_energy_wrap_delta(uint64_t prev, uint64_t cur, uint64_t max);

/* Longest RAPL polling interval, s, such that at most one wrap can pass between two reads of a
 * counter with range max_range_uj at power max_power_w: half the wrap period. */
double eahas_energy_rapl_safe_interval(uint64_t max_range_uj, double max_power_w);

/* Parses a Linux CPU list ("0", "0,28", "0-3,8") into cpus[0..max); returns the count or -1. */
int eahas_energy_parse_cpulist(const char *s, int *cpus, int max);
/* Parses a perf event spec "event=0x02" into *config; -1 if malformed. */
int eahas_energy_parse_perf_event(const char *s, uint64_t *config);

/* Trapezoid rule for one step: energy J from power p0 W at t0 to p1 W at t1 (s). */
static inline double eahas_energy_trapezoid(double p0, double p1, double dt) {
  return 0.5 * (p0 + p1) * dt;
}

/* The estimate model (energy.h): fills cpu and dram energy in J. */
void eahas_energy_estimate_model(const eahas_estimate_params *p, double cpu_s, double wall_s,
                                 double rss_gib, double *cpu_j, double *dram_j);

#endif
