/* GPU energy through NVML, loaded with dlopen so that eahas builds and runs without the NVIDIA
 * driver. Per GPU: the cumulative counter nvmlDeviceGetTotalEnergyConsumption (mJ since the
 * driver loaded; Volta and later) where the GPU has it, else nvmlDeviceGetPowerUsage (mW)
 * sampled by the meter's thread at >= 10 Hz and integrated with the trapezoid rule.
 * The few NVML declarations we need are written out here (NVML API reference, nvml.h). */
#include "energy/internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
enum { NVML_SUCCESS = 0, NVML_ERROR_NOT_SUPPORTED = 3 };

#define DEFAULT_LIB "libnvidia-ml.so.1"
#define DEFAULT_INTERVAL_S 0.05
#define MAX_INTERVAL_S 0.1 /* >= 10 Hz (issue 4) */

typedef struct {
  void *lib;
  nvmlReturn_t (*init)(void);
  nvmlReturn_t (*shutdown)(void);
  nvmlReturn_t (*count)(unsigned int *);
  nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);
  const char *(*errstr)(nvmlReturn_t);
  int n;
  nvmlDevice_t dev[EAHAS_MAX_DOMAINS];
  int use_counter[EAHAS_MAX_DOMAINS];
  unsigned long long e0_mj[EAHAS_MAX_DOMAINS]; /* counter at start */
  double p_prev_w[EAHAS_MAX_DOMAINS];          /* last power sample */
  double t_prev;                               /* its time */
  int initialised;
} nvml_state;

static const char *nv_err(const nvml_state *s, nvmlReturn_t r) {
  const char *e = s->errstr ? s->errstr(r) : NULL;
  return e ? e : "unknown NVML error";
}

static void nvml_free(nvml_state *s) {
  if (!s) return;
  if (s->initialised && s->shutdown) s->shutdown();
  if (s->lib) dlclose(s->lib);
  free(s);
}

static int load_symbols(nvml_state *s, const char *lib, eahas_err *err) {
  struct { void **slot; const char *name; } syms[] = {
      {(void **)&s->init, "nvmlInit_v2"},
      {(void **)&s->shutdown, "nvmlShutdown"},
      {(void **)&s->count, "nvmlDeviceGetCount_v2"},
      {(void **)&s->handle, "nvmlDeviceGetHandleByIndex_v2"},
      {(void **)&s->energy, "nvmlDeviceGetTotalEnergyConsumption"},
      {(void **)&s->power, "nvmlDeviceGetPowerUsage"},
      {(void **)&s->errstr, "nvmlErrorString"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    *syms[i].slot = dlsym(s->lib, syms[i].name);
    if (!*syms[i].slot)
      return eahas_err_set(err, EAHAS_EUNAVAIL, "no usable NVML: %s lacks %s (driver too old?)", lib,
                           syms[i].name);
  }
  return 0;
}

/* Chooses counter or power sampling for GPU i. */
static int probe_device(nvml_state *s, unsigned int i, eahas_err *err) {
  nvmlReturn_t r = s->handle(i, &s->dev[i]);
  if (r != NVML_SUCCESS)
    return eahas_err_set(err, EAHAS_EUNAVAIL, "gpu-%u: nvmlDeviceGetHandleByIndex_v2 failed: %s", i,
                         nv_err(s, r));
  unsigned long long e;
  r = s->energy(s->dev[i], &e);
  if (r == NVML_SUCCESS) {
    s->use_counter[i] = 1;
    return 0;
  }
  unsigned int mw;
  nvmlReturn_t rp = s->power(s->dev[i], &mw);
  if (rp == NVML_SUCCESS) return 0;
  return eahas_err_set(err, EAHAS_EUNAVAIL,
                       "gpu-%u has neither an energy counter (%s) nor a power reading (%s)", i,
                       nv_err(s, r), nv_err(s, rp));
}

static int sample_power(nvml_state *s, int i, double *w, eahas_err *err) {
  unsigned int mw;
  nvmlReturn_t r = s->power(s->dev[i], &mw);
  if (r != NVML_SUCCESS)
    return eahas_err_set(err, EAHAS_EIO, "gpu-%d: nvmlDeviceGetPowerUsage failed during the measurement: %s",
                         i, nv_err(s, r));
  *w = mw * 1e-3;
  return 0;
}

static int read_counter(nvml_state *s, int i, unsigned long long *mj, eahas_err *err) {
  nvmlReturn_t r = s->energy(s->dev[i], mj);
  if (r != NVML_SUCCESS)
    return eahas_err_set(err, EAHAS_EIO,
                         "gpu-%d: nvmlDeviceGetTotalEnergyConsumption failed during the measurement: %s",
                         i, nv_err(s, r));
  return 0;
}

static int nvml_start(eahas_energy_backend *b, double now, eahas_err *err) {
  nvml_state *s = b->state;
  for (int i = 0; i < s->n; i++) {
    int rc = s->use_counter[i] ? read_counter(s, i, &s->e0_mj[i], err) : sample_power(s, i, &s->p_prev_w[i], err);
    if (rc != 0) return rc;
  }
  s->t_prev = now;
  return 0;
}

static int nvml_poll(eahas_energy_backend *b, double now, eahas_err *err) {
  nvml_state *s = b->state;
  double dt = now - s->t_prev;
  for (int i = 0; i < s->n; i++) {
    if (s->use_counter[i]) {
      unsigned long long e;
      int rc = read_counter(s, i, &e, err);
      if (rc != 0) return rc;
      /* The counter only grows while the driver stays loaded; a smaller value means a reset. */
      if (e < s->e0_mj[i])
        return eahas_err_set(err, EAHAS_EIO, "gpu-%d: energy counter went back from %llu to %llu mJ "
                             "(driver reloaded?)", i, s->e0_mj[i], e);
      b->energy_j[i] = (double)(e - s->e0_mj[i]) * 1e-3;
    } else {
      double w = 0;
      int rc = sample_power(s, i, &w, err);
      if (rc != 0) return rc;
      if (dt > 0) b->energy_j[i] += eahas_energy_trapezoid(s->p_prev_w[i], w, dt);
      s->p_prev_w[i] = w;
    }
  }
  s->t_prev = now;
  return 0;
}

static void nvml_close(eahas_energy_backend *b) {
  nvml_free(b->state);
  b->state = NULL;
}

int eahas_energy_nvml_open(const eahas_meter_opts *o, eahas_energy_backend *b, eahas_err *err) {
  const char *lib = o->nvml_lib ? o->nvml_lib : DEFAULT_LIB;
  nvml_state *s = calloc(1, sizeof *s);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening NVML");
  s->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
  if (!s->lib) {
    const char *why = dlerror();
    nvml_free(s);
    return eahas_err_set(err, EAHAS_EUNAVAIL, "no NVIDIA GPU: cannot load %s (%s)", lib,
                         why ? why : "dlopen failed");
  }
  int rc = load_symbols(s, lib, err);
  if (rc != 0) goto fail;
  nvmlReturn_t r = s->init();
  if (r != NVML_SUCCESS) {
    rc = eahas_err_set(err, EAHAS_EUNAVAIL, "no NVIDIA GPU: nvmlInit_v2 failed: %s", nv_err(s, r));
    goto fail;
  }
  s->initialised = 1;
  unsigned int n = 0;
  r = s->count(&n);
  if (r != NVML_SUCCESS || n == 0) {
    rc = eahas_err_set(err, EAHAS_EUNAVAIL, "no NVIDIA GPU: NVML reports %u devices%s%s", n,
                       r != NVML_SUCCESS ? ": " : "", r != NVML_SUCCESS ? nv_err(s, r) : "");
    goto fail;
  }
  if (n > EAHAS_MAX_DOMAINS) {
    rc = eahas_err_set(err, EAHAS_EUNAVAIL, "%u GPUs, at most %d are supported", n, EAHAS_MAX_DOMAINS);
    goto fail;
  }
  int all_counter = 1;
  for (unsigned int i = 0; i < n; i++) {
    if ((rc = probe_device(s, i, err)) != 0) goto fail;
    all_counter &= s->use_counter[i];
    snprintf(b->names[i], sizeof b->names[i], "gpu-%u", i);
  }
  s->n = (int)n;
  b->n_domains = (int)n;
  /* One GPU without the counter makes the whole reading a power integration: label the weaker. */
  snprintf(b->method, sizeof b->method, all_counter ? "nvml-counter" : "nvml-power");
  /* NVML documents no refresh rate; drivers refresh power and energy every 20-100 ms, and on
   * recent GPUs the power value is a 1 s average, which a power integration inherits. */
  b->update_period_s = all_counter ? 0.1 : 1.0;
  if (!all_counter) {
    double iv = o->interval_s > 0 ? o->interval_s : DEFAULT_INTERVAL_S;
    b->interval_s = iv < MAX_INTERVAL_S ? iv : MAX_INTERVAL_S;
    snprintf(b->params, sizeof b->params, "nvml_interval_s=%g", b->interval_s);
  }
  b->state = s;
  b->start = nvml_start;
  b->poll = nvml_poll;
  b->close = nvml_close;
  return 0;
fail:
  nvml_free(s);
  return rc;
}
