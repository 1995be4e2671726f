/* A valid run record for the tabular and record tests: a deterministic function of (config
 * variant k, epochs n), so tests can assert exact values after a round trip. */
#ifndef EAHAS_TEST_TABULAR_FIXTURE_H
#define EAHAS_TEST_TABULAR_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "eahas/train.h"

static inline eahas_config fixture_config(int k) {
  eahas_config c = {.d = 6 + k % 10, .w0 = 48 + 8 * (k % 11), .wa10 = 203, .wm1000 = 2712, .gw = 8,
                    .lr_idx = k % EAHAS_NUM_LR, .opt = (eahas_opt_kind)(k % 3), .sched = (eahas_sched_kind)((k / 3) % 3),
                    .cutout = (k % 2) * 16, .epochs = 50};
  return c;
}

/* Fills r (initialised for n epochs) as a finished run of fixture_config(k) under preset. */
static inline int fixture_record(eahas_run_record *r, const char *preset, int k, int n) {
  if (eahas_run_record_init(r, n, NULL)) return -1;
  r->config = fixture_config(k);
  snprintf(r->preset, sizeof r->preset, "%s", preset);
  eahas_run_id(preset, &r->config, r->id);
  r->seed = 7 + (uint64_t)k;
  r->epochs_planned = r->config.epochs;
  r->epochs_limit = n;
  strcpy(r->status, "ok");
  /* the real complexity: records are checked against it when read */
  if (eahas_config_complexity(&r->config, eahas_preset_get(preset), NULL, &r->cx, NULL)) {
    eahas_run_record_free(r);
    return -1;
  }
  for (int e = 0; e < n; e++) {
    r->train_loss[e] = 2.0 / (e + 1);
    r->train_acc[e] = 10.0 + 8.0 * e + 0.1 * k;
    r->val_acc[e] = 9.5 + 7.0 * e + 0.1 * k;
    r->test_acc[e] = 9.0 + 7.5 * e + 0.1 * k;
    r->test_acc_ema[e] = 8.0 + 7.7 * e;
    r->lr[e] = 0.1 / (e + 1);
    r->epoch_time_s[e] = 1.5 + 0.25 * e;
    r->train_energy_j[e] = 100.0 + e;
    r->eval_energy_j[e] = 10.0 + 0.5 * e;
    r->train_time_s += r->epoch_time_s[e];
    r->total_energy_j += r->train_energy_j[e] + r->eval_energy_j[e];
    r->tec_kwh += r->train_energy_j[e] / 3.6e6;
  }
  r->iec_j_per_image = 1.5e-4;
  strcpy(r->energy_method, "rapl");
  strcpy(r->energy_domains, "package-0,dram-0");
  strcpy(r->machine, "testhost");
  strcpy(r->cpu, "Test CPU @ 2GHz");
  r->threads = 1;
  snprintf(r->dataset, sizeof r->dataset, "%s", preset);
  strcpy(r->versions, "eahas 0.1.0; oneDNN 2.6.3");
  strcpy(r->trainer, "eahas");
  return 0;
}

#endif
