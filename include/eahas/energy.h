/* eahas energy: meters behind one interface (NVML, RAPL powercap, RAPL perf_event, a labelled
 * estimate), measuring this process or a child process (DESIGN.md; REFERENCE.md §5).
 * Every reading carries its method: "nvml-counter", "nvml-power", "rapl", "perf" or
 * "estimate:<model>", so that no consumer can mistake an estimate for a measurement.
 */
#ifndef EAHAS_ENERGY_H
#define EAHAS_ENERGY_H

#include <sys/types.h>

#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  EAHAS_METER_AUTO = 0,  /* the best available: nvml, then rapl, then perf, then estimate */
  EAHAS_METER_NVML,
  EAHAS_METER_RAPL,
  EAHAS_METER_PERF,
  EAHAS_METER_ESTIMATE
} eahas_meter_kind;

typedef struct eahas_meter_opts {
  eahas_meter_kind kind;
  const char *powercap_root; /* NULL = /sys/class/powercap (tests point it at a fake tree) */
  const char *nvml_lib;      /* NULL = "libnvidia-ml.so.1" */
  double interval_s;         /* polling / sampling interval; 0 = backend default */
  pid_t pid;                 /* process whose CPU time the estimate uses; 0 = this process */
} eahas_meter_opts;

#define EAHAS_MAX_DOMAINS 16

typedef struct eahas_energy_domain {
  char name[32];    /* "package-0", "dram-0", "gpu-0", "cpu-estimate" ... */
  double energy_j;
} eahas_energy_domain;

/* Energy since eahas_meter_start. */
typedef struct eahas_energy_reading {
  double duration_s;
  double energy_j;   /* sum over domains (never a domain added to its parent) */
  int n_domains;
  eahas_energy_domain domains[EAHAS_MAX_DOMAINS];
  char method[48];
} eahas_energy_reading;

typedef struct eahas_meter eahas_meter;

/* Opens the requested backend (or the best available for AUTO). Errors: EAHAS_EUNAVAIL (no
 * GPU / no RAPL: says which and why), EAHAS_EPERM (names the file and how to grant access). */
int eahas_meter_open(const eahas_meter_opts *o, eahas_meter **out, eahas_err *err);
void eahas_meter_close(eahas_meter *m);
/* Method string of the open meter, e.g. "rapl" or "estimate:cpu-tdp-v1". */
const char *eahas_meter_method(const eahas_meter *m);
/* Starts (or restarts) a measurement. */
int eahas_meter_start(eahas_meter *m, eahas_err *err);
/* Energy since start; the meter keeps running so that successive reads give cumulative figures
 * (per-epoch energy = difference of two reads). */
int eahas_meter_read(eahas_meter *m, eahas_energy_reading *out, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
