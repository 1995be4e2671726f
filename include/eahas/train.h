/* eahas train: datasets, augmentation, optimizers, lr schedules, EMA, the epoch loop, and the
 * run record (DESIGN.md). The run record is the unit of the benchmark: one JSON document per
 * trained config (schema: docs/run-record.md).
 */
#ifndef EAHAS_TRAIN_H
#define EAHAS_TRAIN_H

#include <stdint.h>

#include "eahas/space.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EAHAS_RECORD_SCHEMA_VERSION 1
#define EAHAS_MAX_EPOCHS 200

/* One trained run. Per-epoch arrays have epochs_trained entries, owned by the record (freed by
 * eahas_run_record_free). Accuracies in percent (0..100), times in s, energies in J. */
typedef struct eahas_run_record {
  int schema_version;          /* EAHAS_RECORD_SCHEMA_VERSION */
  char id[17];                 /* 16 hex digits: hash of preset name and canonical config */
  eahas_config config;
  char preset[32];
  uint64_t seed;
  int epochs_planned;          /* epochs of the lr schedule: config.epochs */
  int epochs_limit;            /* --epochs cap actually requested (== epochs_planned if none) */
  int epochs_trained;          /* epochs completed: the length of every per-epoch array */
  char status[16];             /* "ok", "diverged" or "failed" */
  char reason[256];            /* why, when status is not "ok" */
  eahas_complexity cx;         /* params, flops, acts of the network */
  /* per-epoch curves, length epochs_trained */
  double *train_loss, *train_acc, *val_acc, *test_acc, *test_acc_ema, *lr;
  double *epoch_time_s;        /* wall time of the epoch: training + evaluation */
  double *train_energy_j;      /* energy of the training part of the epoch */
  double *eval_energy_j;       /* energy of the evaluation part of the epoch */
  /* totals */
  double train_time_s;         /* sum of epoch_time_s */
  double total_energy_j;       /* sum of train and eval energy */
  double tec_kwh;              /* training energy cost: sum of train_energy_j / 3.6e6 */
  double iec_j_per_image;      /* inference energy per image with the final model */
  /* provenance */
  char energy_method[48];      /* "nvml-counter", "nvml-power", "rapl", "perf", "estimate:<model>" */
  char energy_domains[128];    /* comma-separated measured domains, e.g. "package-0,dram-0" */
  int energy_shared;           /* 1 if another training process shared a measured domain */
  char machine[128];           /* hostname */
  char cpu[128];               /* CPU model */
  int threads;
  char dataset[32];
  char versions[128];          /* "eahas 0.1.0; oneDNN 2.6.3" */
  char trainer[64];            /* "eahas" or the external trainer's name */
} eahas_run_record;

/* Allocates the per-epoch arrays for n epochs (zeroed) and sets schema_version; other fields
 * zeroed. Errors: EAHAS_ENOMEM, EAHAS_EINVAL for n outside [0, EAHAS_MAX_EPOCHS]. */
int eahas_run_record_init(eahas_run_record *r, int n, eahas_err *err);
void eahas_run_record_free(eahas_run_record *r);
/* The record id: 16 hex digits of hash64("<preset>|<canonical config>"). buf holds 17 bytes. */
void eahas_run_id(const char *preset, const eahas_config *c, char buf[17]);

/* JSON text of the record (malloc'd, NULL on ENOMEM). */
char *eahas_run_record_to_json(const eahas_run_record *r);
/* Parses and validates a record: schema version, known preset, valid config, curve lengths
 * equal to epochs_trained, finite values, accuracies in [0, 100], non-negative energies.
 * Errors: EAHAS_EFORMAT naming the field and the defect. */
int eahas_run_record_from_json(const char *text, eahas_run_record *out, eahas_err *err);
/* Atomic write / read of a record file. */
int eahas_run_record_write(const eahas_run_record *r, const char *path, eahas_err *err);
int eahas_run_record_read(const char *path, eahas_run_record *out, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
