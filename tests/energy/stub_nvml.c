/* A stand-in for libnvidia-ml.so.1 with scripted GPUs, for the energy tests. Read at nvmlInit_v2:
 *   STUB_NVML_INIT=fail          nvmlInit_v2 returns NVML_ERROR_DRIVER_NOT_LOADED
 *   STUB_NVML_GPUS=n             number of GPUs (default 1)
 *   STUB_NVML_MODE=m[,m...]      per GPU: counter (default), power (no energy counter:
 *                                NOT_SUPPORTED, as on pre-Volta GPUs) or none (neither)
 *   STUB_NVML_POWER_MW=p         power of GPU i: p * (i + 1) mW (default 100000)
 *   STUB_NVML_RAMP_MW_PER_S=r    power grows by r * (i + 1) mW per second since init (default 0)
 *   STUB_NVML_FAIL_AFTER=k       after k successful energy/power calls, all fail (GPU is lost)
 * The energy counter is the exact integral of that power since init, plus 1e6 mJ, so a counter
 * and a power integration of the same GPU must agree. stub_nvml_energy_mj(i) gives the exact
 * integral now; stub_nvml_power_calls() counts power calls (for the sampling-rate check). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
enum { OK = 0, UNINIT = 1, INVALID = 2, NOT_SUPPORTED = 3, DRIVER_NOT_LOADED = 9, GPU_LOST = 15 };
enum { MAX_GPUS = 8, COUNTER = 0, POWER = 1, NONE = 2 };

static struct {
  int init, n, mode[MAX_GPUS];
  double p_mw, ramp, t0;
  long fail_after, calls, power_calls;
} st;
static char handles[MAX_GPUS]; /* device handles are pointers into this array */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double env_num(const char *k, double def) {
  const char *v = getenv(k);
  return v && v[0] ? atof(v) : def;
}

nvmlReturn_t nvmlInit_v2(void) {
  const char *f = getenv("STUB_NVML_INIT");
  if (f && strcmp(f, "fail") == 0) return DRIVER_NOT_LOADED;
  memset(&st, 0, sizeof st);
  st.n = (int)env_num("STUB_NVML_GPUS", 1);
  if (st.n > MAX_GPUS) st.n = MAX_GPUS;
  const char *m = getenv("STUB_NVML_MODE");
  for (int i = 0; i < st.n; i++) {
    st.mode[i] = COUNTER;
    if (m && *m) {
      if (strncmp(m, "power", 5) == 0) st.mode[i] = POWER;
      else if (strncmp(m, "none", 4) == 0) st.mode[i] = NONE;
      const char *c = strchr(m, ',');
      if (c) m = c + 1; /* the last mode repeats for the remaining GPUs */
    }
  }
  st.p_mw = env_num("STUB_NVML_POWER_MW", 100000);
  st.ramp = env_num("STUB_NVML_RAMP_MW_PER_S", 0);
  st.fail_after = (long)env_num("STUB_NVML_FAIL_AFTER", -1);
  st.t0 = now_s();
  st.init = 1;
  return OK;
}

nvmlReturn_t nvmlShutdown(void) {
  st.init = 0;
  return OK;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
  if (!st.init) return UNINIT;
  *n = (unsigned int)st.n;
  return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
  if (!st.init) return UNINIT;
  if (i >= (unsigned int)st.n) return INVALID;
  *d = (nvmlDevice_t)(void *)&handles[i];
  return OK;
}

static int index_of(nvmlDevice_t d) { return (int)((char *)(void *)d - handles); }

/* Exact energy of GPU i since init, mJ: integral of (p + ramp t) (i + 1) mW. */
double stub_nvml_energy_mj(int i) {
  double t = now_s() - st.t0;
  return (st.p_mw * t + 0.5 * st.ramp * t * t) * (i + 1);
}

long stub_nvml_power_calls(void) { return st.power_calls; }

static int failing(void) {
  if (st.fail_after >= 0 && st.calls >= st.fail_after) return 1;
  st.calls++;
  return 0;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj) {
  if (!st.init) return UNINIT;
  int i = index_of(d);
  if (st.mode[i] != COUNTER) return NOT_SUPPORTED;
  if (failing()) return GPU_LOST;
  *mj = 1000000ULL + (unsigned long long)stub_nvml_energy_mj(i);
  return OK;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw) {
  if (!st.init) return UNINIT;
  int i = index_of(d);
  if (st.mode[i] == NONE) return NOT_SUPPORTED;
  if (failing()) return GPU_LOST;
  st.power_calls++;
  *mw = (unsigned int)((st.p_mw + st.ramp * (now_s() - st.t0)) * (i + 1) + 0.5);
  return OK;
}

const char *nvmlErrorString(nvmlReturn_t r) {
  switch (r) {
  case OK: return "Success";
  case UNINIT: return "Uninitialized";
  case INVALID: return "Invalid Argument";
  case NOT_SUPPORTED: return "Not Supported";
  case DRIVER_NOT_LOADED: return "Driver Not Loaded";
  case GPU_LOST: return "GPU is lost";
  default: return "Unknown Error";
  }
}
