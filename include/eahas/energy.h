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
  /* AUTO: the best available. GPU energy (nvml) and CPU energy (rapl, else perf) are measured
   * together when both exist (method e.g. "nvml-counter+rapl"); with neither, the estimate.
   * Forcing a kind opens that one only (a clear EAHAS_EUNAVAIL / EAHAS_EPERM if it cannot). */
  EAHAS_METER_AUTO = 0,
  EAHAS_METER_NVML,
  EAHAS_METER_RAPL,
  EAHAS_METER_PERF,
  EAHAS_METER_ESTIMATE
} eahas_meter_kind;

/* Parameters of the estimate "cpu-tdp-v1" (docs/energy.md gives the model and the sources):
 *   E_cpu  = (tdp_w (1 - idle_fraction) / tdp_cores) * cpu_s
 *          + (tdp_w idle_fraction / tdp_cores) * max(wall_s, cpu_s)
 *   E_dram = dram_w_per_gib * rss_gib * wall_s      (rss = peak resident set of the process)
 * so one fully busy core costs tdp_w / tdp_cores, the per-core power of the Green Algorithms
 * calculator (Lannelongue et al., Adv. Sci. 2021), of which the idle share is charged for every
 * wall second the process holds a core; DRAM power per GiB is the 0.3725 W/GB of that paper. */
typedef struct eahas_estimate_params {
  double tdp_w;          /* package TDP of the reference CPU, W (default 150: Xeon Gold 6248) */
  double tdp_cores;      /* its physical cores (default 20) */
  double idle_fraction;  /* package idle power / TDP, in [0, 1) (default 0.3) */
  double dram_w_per_gib; /* DRAM power per GiB resident, W (default 0.3725) */
} eahas_estimate_params;

/* Fills the defaults above. */
void eahas_estimate_params_default(eahas_estimate_params *p);
/* Parses "tdp_w=150,tdp_cores=20,idle_fraction=0.3,dram_w_per_gib=0.3725" (any subset, on top
 * of what *p holds, each key at most once). Errors: EAHAS_EINVAL naming the key or value and the
 * allowed range, or the key given twice. */
int eahas_estimate_params_parse(const char *text, eahas_estimate_params *p, eahas_err *err);

typedef struct eahas_meter_opts {
  eahas_meter_kind kind;
  const char *powercap_root; /* NULL = /sys/class/powercap (tests point it at a fake tree) */
  const char *nvml_lib;      /* NULL = "libnvidia-ml.so.1" */
  double interval_s;         /* polling / sampling interval; 0 = backend default (NVML power
                                sampling 0.05 s, capped at 0.1 s; RAPL polling 1 s, capped so
                                that at most one counter wrap can pass between reads) */
  pid_t pid;                 /* process whose CPU time the estimate uses; 0 = this process */
  /* Added by the energy module (zero-initialise the struct; NULL / 0 = the default): */
  const char *perf_root;     /* NULL = /sys/bus/event_source/devices (where the power PMU is) */
  const eahas_estimate_params *estimate; /* NULL = eahas_estimate_params_default() */
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
  /* Added by the energy module: for an estimate its parameters and inputs, e.g. "model=cpu-tdp-v1
   * tdp_w=150 tdp_cores=20 idle_fraction=0.3 dram_w_per_gib=0.3725 cpu_s=0.5100 rss_gib=0.1200";
   * for a measurement the backend's details (e.g. "rapl_interval_s=1", "nvml_interval_s=0.05"),
   * possibly "". Store it with the figure. */
  char params[256];
} eahas_energy_reading;

/* 1 if method names an estimate ("estimate:..."), else 0. */
int eahas_method_is_estimate(const char *method);

typedef struct eahas_meter eahas_meter;

/* Opens the requested backend (or the best available for AUTO; see eahas_meter_kind). o may be
 * NULL (AUTO, defaults). Errors: EAHAS_EUNAVAIL (no GPU / no RAPL / no power PMU: says which and
 * why), EAHAS_EPERM (names the file or event and how to grant access), EAHAS_EINVAL (bad kind,
 * interval outside [0, 3600] s, estimate parameters out of range), EAHAS_ENOTFOUND (o->pid is not
 * a process). docs/energy.md describes every method. */
int eahas_meter_open(const eahas_meter_opts *o, eahas_meter **out, eahas_err *err);
void eahas_meter_close(eahas_meter *m);
/* Method string of the open meter, e.g. "rapl" or "estimate:cpu-tdp-v1". */
const char *eahas_meter_method(const eahas_meter *m);
/* For AUTO: why the backends it did not use could not open, "name: reason; ..." (e.g. "nvml: no
 * NVIDIA GPU: ...; rapl: ... Permission denied ... grant read access ..."); "" when forced or
 * when every backend opened. Owned by the meter. Worth showing when the method is an estimate. */
const char *eahas_meter_note(const eahas_meter *m);
/* How often the meter's slowest source changes its value, s: a measurement shorter than a few of
 * these is mostly quantisation (issue 4: measure IEC over at least ten). rapl/perf 0.001 (RAPL
 * MSRs update about every 1 ms: Haehnel et al., SIGMETRICS PER 2012), nvml-counter 0.1,
 * nvml-power 1.0 (recent GPUs report a 1 s power average), estimate 0.01 (CPU time in clock
 * ticks); for a combined meter, the largest. */
double eahas_meter_update_period_s(const eahas_meter *m);
/* Starts (or restarts) a measurement: takes every counter's baseline and starts the polling
 * thread if the backend needs one (NVML power sampling, RAPL wraparound). Errors: EAHAS_EIO,
 * EAHAS_EPERM, EAHAS_EFORMAT from reading the counters. All meter calls are thread-safe. */
int eahas_meter_start(eahas_meter *m, eahas_err *err);
/* Energy since start; the meter keeps running so that successive reads give cumulative figures
 * (per-epoch energy = difference of two reads, so epochs add up exactly to the total). Errors:
 * EAHAS_EINVAL (not started), EAHAS_EIO / EAHAS_EPERM when a counter failed at any time since start
 * (naming the GPU or file); a failed measurement stays failed until the next start. */
int eahas_meter_read(eahas_meter *m, eahas_energy_reading *out, eahas_err *err);
/* Final reading: like eahas_meter_read, then stops the polling/sampling thread; later reads
 * return the same figures until the next eahas_meter_start. */
int eahas_meter_stop(eahas_meter *m, eahas_energy_reading *out, eahas_err *err);
/* Names of the meter's domains (the same as in its readings), for eahas_domain_share_begin.
 * Fills names[0..max) with pointers owned by the meter; returns the number of domains. */
int eahas_meter_domain_names(const eahas_meter *m, const char **names, int max);

/* ---- measuring a command ------------------------------------------------------------------ */

typedef struct eahas_energy_run_result {
  int exit_status;   /* the command's exit status; 128 + signal if a signal ended it; 127 if it
                        could not be found, 126 if it could not be executed */
  int term_signal;   /* the signal that ended it, or 0 */
  double cpu_s;      /* user + system CPU seconds of the command and its waited-for children */
  double max_rss_gib;/* its peak resident set, GiB */
  eahas_energy_reading reading;
  char note[768];    /* eahas_meter_note of the meter used */
} eahas_energy_run_result;

/* Opens the meter o (o->pid is ignored: the command is measured), runs argv[0] with arguments
 * argv (NULL-terminated, found on PATH) as a child process with stdin/stdout/stderr inherited,
 * measures from just before exec to just after it ends (wait4), and fills *res. SIGINT and
 * SIGQUIT are ignored by this process meanwhile (as time(1) does) so ^C reaches the command.
 * Errors: those of eahas_meter_open (the command is then not run); EAHAS_ENOTFOUND when the
 * command cannot be executed (res->exit_status 127 or 126, res->reading still filled);
 * EAHAS_EIO when the meter fails during the run. */
int eahas_energy_run(const eahas_meter_opts *o, char *const argv[], eahas_energy_run_result *res,
                     eahas_err *err);

/* ---- shared measurement domains (issue 4, item 5) ----------------------------------------- */

/* Energy counters cover a whole package or GPU, so a figure is attributable to one run only if no
 * other run used the domain meanwhile. Every eahas run holds, per measured domain, a shared flock
 * on <lockdir>/<domain>.lock, and counts its start in <lockdir>/<domain>.seq (under an exclusive
 * flock of that file). A run shared its domain iff at begin another run held the .lock (it began
 * earlier and was still running) or at end the start count moved past our own (another began
 * during our run). Locks die with their process, so a crash leaves nothing stale. */
typedef struct eahas_domain_share eahas_domain_share;

/* Default lock directory: $EAHAS_LOCK_DIR if set, else /tmp/eahas-locks (machine-wide, since the
 * domains are hardware shared by all users; created with mode 01777 and files 0666). */
const char *eahas_domain_share_default_dir(void);
/* Begins a run over domains[0..n) (names such as "package-0", "gpu-1": letters, digits, '-',
 * '_', '.'; 1 <= n <= EAHAS_MAX_DOMAINS) with lock files in lockdir (NULL = the default).
 * Errors: EAHAS_EINVAL (bad name or n), EAHAS_EIO / EAHAS_EPERM (lock dir or files, naming them). */
int eahas_domain_share_begin(const char *const *domains, int n, const char *lockdir,
                             eahas_domain_share **out, eahas_err *err);
/* Whether another run shared any domain since begin, so far (*shared 0/1); shared_per_domain
 * (may be NULL) gets n entries. The run goes on. Errors: EAHAS_EIO. */
int eahas_domain_share_check(eahas_domain_share *s, int *shared, int *shared_per_domain,
                             eahas_err *err);
/* Ends the run: like _check, then releases the locks and frees s (also on error). */
int eahas_domain_share_end(eahas_domain_share *s, int *shared, int *shared_per_domain,
                           eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
