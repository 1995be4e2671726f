/* eahas tabular: the benchmark file, an SQLite database of configs, runs, per-epoch curves,
 * provenance and fitted surrogate blobs (schema: docs/benchmark-file.md). Every change happens
 * inside one SQLite transaction.
 */
#ifndef EAHAS_TABULAR_H
#define EAHAS_TABULAR_H

#include <stddef.h>

#include "eahas/space.h"
#include "eahas/train.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EAHAS_TABLE_SCHEMA_VERSION 1

typedef struct eahas_table eahas_table;

/* Opens (create = 1: creates if missing, and makes an empty file a benchmark file) a benchmark
 * file. readonly = 1 opens it read-only. The handle may be used from many threads (SQLite
 * serialized mode). Errors: EAHAS_ENOTFOUND (path missing without create, or its directory
 * missing with create), EAHAS_EINVAL (path is a directory), EAHAS_EIO (cannot open), EAHAS_EFORMAT (not SQLite, an SQLite file
 * of another application, an empty file opened without create, or another schema version: the
 * message names both versions). Schema: docs/benchmark-file.md. */
int eahas_table_open(const char *path, int create, int readonly, eahas_table **out, eahas_err *err);
void eahas_table_close(eahas_table *t);

/* Inserts records (validated ones: eahas_run_record_from_json) in one transaction, skipping ids
 * already present, so inserting the same records twice changes nothing. The first record ever
 * inserted fixes the file's preset. *added (may be NULL) gets the number inserted. All or
 * nothing. Errors: EAHAS_EINVAL (file open read-only; a record of another preset than the
 * file's, naming both), EAHAS_EIO (SQLite). */
int eahas_table_insert(eahas_table *t, const eahas_run_record *recs, int n, int *added, eahas_err *err);

/* Loads every run (status ok or diverged) into a malloc'd array (*out, *n); free each with
 * eahas_run_record_free and the array with free(). */
int eahas_table_load_runs(eahas_table *t, eahas_run_record **out, int *n, eahas_err *err);

/* The recorded run of config c under preset (exact lookup). EAHAS_ENOTFOUND: "not recorded". */
int eahas_table_get(eahas_table *t, const char *preset, const eahas_config *c, eahas_run_record *out, eahas_err *err);

/* The preset name of the file's runs ("" if empty). */
int eahas_table_preset(eahas_table *t, char *buf, size_t n, eahas_err *err);

/* Named blobs (fitted surrogate models), replaced atomically inside a transaction. */
int eahas_table_put_blob(eahas_table *t, const char *name, const void *data, size_t n, eahas_err *err);
/* *data malloc'd, caller frees. EAHAS_ENOTFOUND if absent. */
int eahas_table_get_blob(eahas_table *t, const char *name, void **data, size_t *n, eahas_err *err);

/* Like eahas_table_get, by run id (16 hex digits, eahas_run_id). EAHAS_ENOTFOUND: "not recorded". */
int eahas_table_get_id(eahas_table *t, const char *id, eahas_run_record *out, eahas_err *err);

/* ---- statistics (eahas table stats) ---------------------------------------------------- */

typedef struct eahas_table_range {
  long n;                 /* values summarized (0: min, max, mean are 0) */
  double min, max, mean;
} eahas_table_range;

#define EAHAS_TABLE_HIST_MAX 16
/* Distribution of one config dimension over the runs (status ok or diverged). Discrete
 * dimensions (all but wa, wm) list each value seen with its count, in increasing order; every
 * dimension has its numeric range (opt, sched: index into the name tables). */
typedef struct eahas_table_dim {
  char name[8];           /* "d" "w0" "wa" "wm" "gw" "lr" "opt" "sched" "cutout" "epochs" */
  int n_values;           /* 0 for the continuous wa, wm */
  char values[EAHAS_TABLE_HIST_MAX][16];
  long counts[EAHAS_TABLE_HIST_MAX];
  eahas_table_range range;
} eahas_table_dim;

#define EAHAS_TABLE_N_DIMS 10
typedef struct eahas_table_stats {
  char preset[32];
  int schema_version;
  long configs, runs, ok, diverged, failed;  /* failed: records with status "failed" */
  long curve_rows, blobs, energy_shared;     /* energy_shared: runs whose energy domain was shared */
  char energy_methods[128];                  /* distinct methods, comma-separated */
  /* over runs with status ok or diverged and at least one epoch: value at the last epoch */
  eahas_table_range final_train_acc, final_val_acc, final_test_acc; /* percent */
  eahas_table_range epochs_trained, train_time_s, total_energy_j, tec_kwh; /* -, s, J, kWh */
  eahas_table_dim dims[EAHAS_TABLE_N_DIMS];
} eahas_table_stats;

/* Counts, ranges and per-hyperparameter distributions of the file. Errors: EAHAS_EIO. */
int eahas_table_stats_get(eahas_table *t, eahas_table_stats *out, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
