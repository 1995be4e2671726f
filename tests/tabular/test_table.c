/* The benchmark file: create, insert (all or nothing, de-duplicated), exact lookups, loading,
 * blobs, statistics, and refusing foreign files and other schema versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/tabular.h"
#include "tabular/fixture.h"

static char g_path[64];

static int setup(void **state) {
  (void)state;
  strcpy(g_path, "/tmp/eahas_test_table_XXXXXX");
  int fd = mkstemp(g_path);
  if (fd < 0) return -1;
  close(fd);
  unlink(g_path); /* a fresh path: the table creates it */
  return 0;
}

static int teardown(void **state) {
  (void)state;
  unlink(g_path);
  return 0;
}

static void make_records(eahas_run_record *r, int n, const char *preset) {
  for (int i = 0; i < n; i++) assert_int_equal(fixture_record(&r[i], preset, i, 2 + i), 0);
}
static void free_records(eahas_run_record *r, int n) {
  for (int i = 0; i < n; i++) eahas_run_record_free(&r[i]);
}

static void test_insert_get_load(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  assert_int_equal(eahas_table_open(g_path, 0, 0, &t, &err), EAHAS_ENOTFOUND); /* no create: missing */
  assert_non_null(strstr(err.msg, "does not exist"));
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  char preset[32];
  assert_int_equal(eahas_table_preset(t, preset, sizeof preset, &err), 0);
  assert_string_equal(preset, "");
  eahas_run_record recs[4];
  make_records(recs, 4, "fashion-mnist");
  strcpy(recs[3].status, "diverged");
  recs[3].epochs_trained = 2; /* a diverged run stops early: 2 of its 5 epochs, and its totals */
  recs[3].train_time_s = recs[3].epoch_time_s[0] + recs[3].epoch_time_s[1];
  recs[3].total_energy_j = 0;
  recs[3].tec_kwh = 0;
  for (int e = 0; e < 2; e++) {
    recs[3].total_energy_j += recs[3].train_energy_j[e] + recs[3].eval_energy_j[e];
    recs[3].tec_kwh += recs[3].train_energy_j[e] / 3.6e6;
  }
  int added = -1;
  assert_int_equal(eahas_table_insert(t, recs, 3, &added, &err), 0);
  assert_int_equal(added, 3);
  assert_int_equal(eahas_table_insert(t, recs, 4, &added, &err), 0); /* again: only the new one */
  assert_int_equal(added, 1);
  assert_int_equal(eahas_table_insert(t, recs, 4, &added, &err), 0);
  assert_int_equal(added, 0);
  assert_int_equal(eahas_table_preset(t, preset, sizeof preset, &err), 0);
  assert_string_equal(preset, "fashion-mnist");

  eahas_run_record got;
  assert_int_equal(eahas_table_get(t, "fashion-mnist", &recs[2].config, &got, &err), 0);
  assert_string_equal(got.id, recs[2].id);
  assert_int_equal(got.epochs_trained, 4);
  assert_true(got.test_acc[3] == recs[2].test_acc[3]);
  assert_true(got.eval_energy_j[1] == recs[2].eval_energy_j[1]);
  assert_true(got.tec_kwh == recs[2].tec_kwh);
  assert_true(got.seed == recs[2].seed);
  assert_string_equal(got.energy_domains, "package-0,dram-0");
  assert_string_equal(got.cpu, "Test CPU @ 2GHz");
  assert_true(eahas_config_equal(&got.config, &recs[2].config));
  /* it is a valid record: it survives the record's own validation */
  char *json = eahas_run_record_to_json(&got);
  eahas_run_record back;
  assert_int_equal(eahas_run_record_from_json(json, &back, &err), 0);
  free(json);
  eahas_run_record_free(&back);
  eahas_run_record_free(&got);

  eahas_config other = fixture_config(9);
  assert_int_equal(eahas_table_get(t, "fashion-mnist", &other, &got, &err), EAHAS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "not recorded"));
  assert_int_equal(eahas_table_get(t, "cifar10", &recs[0].config, &got, &err), EAHAS_ENOTFOUND);

  eahas_run_record *all;
  int n;
  assert_int_equal(eahas_table_load_runs(t, &all, &n, &err), 0);
  assert_int_equal(n, 4);
  int seen_diverged = 0;
  for (int i = 0; i < n; i++) {
    seen_diverged += strcmp(all[i].status, "diverged") == 0;
    if (i) assert_true(strcmp(all[i - 1].id, all[i].id) < 0); /* ordered by id */
    eahas_run_record_free(&all[i]);
  }
  assert_int_equal(seen_diverged, 1);
  free(all);
  free_records(recs, 4);
  eahas_table_close(t);
}

static void test_all_or_nothing(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  eahas_run_record recs[3];
  make_records(recs, 2, "cifar10");
  assert_int_equal(fixture_record(&recs[2], "fashion-mnist", 7, 2), 0);
  int added = -1;
  assert_int_equal(eahas_table_insert(t, recs, 3, &added, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "has preset fashion-mnist, but"));
  assert_non_null(strstr(err.msg, "holds runs of preset cifar10"));
  assert_int_equal(added, 0);
  eahas_table_stats st;
  assert_int_equal(eahas_table_stats_get(t, &st, &err), 0);
  assert_int_equal(st.runs, 0); /* rolled back, the preset too */
  assert_string_equal(st.preset, "");
  assert_int_equal(eahas_table_insert(t, recs, 2, &added, &err), 0);
  assert_int_equal(added, 2);
  free_records(recs, 3);
  eahas_table_close(t);
  /* read-only: reads work, writes are refused */
  assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), 0);
  assert_int_equal(eahas_table_put_blob(t, "x", "a", 1, &err), EAHAS_EINVAL);
  assert_int_equal(eahas_table_stats_get(t, &st, &err), 0);
  assert_int_equal(st.runs, 2);
  eahas_table_close(t);
}

static void test_blobs(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  unsigned char data[1000];
  for (int i = 0; i < 1000; i++) data[i] = (unsigned char)(i * 7);
  assert_int_equal(eahas_table_put_blob(t, "bsc/member-0", data, sizeof data, &err), 0);
  void *got;
  size_t n;
  assert_int_equal(eahas_table_get_blob(t, "bsc/member-0", &got, &n, &err), 0);
  assert_int_equal(n, 1000);
  assert_memory_equal(got, data, 1000);
  free(got);
  assert_int_equal(eahas_table_put_blob(t, "bsc/member-0", "xyz", 3, &err), 0); /* replaced */
  assert_int_equal(eahas_table_get_blob(t, "bsc/member-0", &got, &n, &err), 0);
  assert_int_equal(n, 3);
  assert_memory_equal(got, "xyz", 3);
  free(got);
  assert_int_equal(eahas_table_put_blob(t, "empty", NULL, 0, &err), 0);
  assert_int_equal(eahas_table_get_blob(t, "empty", &got, &n, &err), 0);
  assert_int_equal(n, 0);
  free(got);
  assert_int_equal(eahas_table_get_blob(t, "absent", &got, &n, &err), EAHAS_ENOTFOUND);
  assert_non_null(strstr(err.msg, "has no blob named \"absent\""));
  assert_null(got);
  assert_int_equal(eahas_table_put_blob(t, "", "a", 1, &err), EAHAS_EINVAL);
  eahas_table_close(t);
}

static void test_stats(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  eahas_run_record recs[3];
  make_records(recs, 3, "fashion-mnist");
  strcpy(recs[2].status, "failed");
  recs[1].energy_shared = 1;
  assert_int_equal(eahas_table_insert(t, recs, 3, NULL, &err), 0);
  eahas_table_stats st;
  assert_int_equal(eahas_table_stats_get(t, &st, &err), 0);
  assert_string_equal(st.preset, "fashion-mnist");
  assert_int_equal(st.configs, 3);
  assert_int_equal(st.runs, 3);
  assert_int_equal(st.ok, 2);
  assert_int_equal(st.failed, 1);
  assert_int_equal(st.diverged, 0);
  assert_int_equal(st.curve_rows, 2 + 3 + 4);
  assert_int_equal(st.energy_shared, 1);
  assert_string_equal(st.energy_methods, "rapl");
  /* final test accuracy of run k with n = 2 + k epochs: 9 + 7.5 (n - 1) + 0.1 k */
  assert_int_equal(st.final_test_acc.n, 2);
  assert_float_equal(st.final_test_acc.min, 16.5, 1e-12);
  assert_float_equal(st.final_test_acc.max, 24.1, 1e-12);
  assert_float_equal(st.epochs_trained.mean, 2.5, 1e-12);
  assert_float_equal(st.tec_kwh.min, recs[0].tec_kwh, 1e-18);
  assert_string_equal(st.dims[0].name, "d");
  assert_int_equal(st.dims[0].n_values, 2);
  assert_string_equal(st.dims[0].values[0], "6");
  assert_int_equal(st.dims[0].counts[0], 1);
  assert_string_equal(st.dims[2].name, "wa");
  assert_int_equal(st.dims[2].n_values, 0);
  assert_float_equal(st.dims[2].range.mean, 20.3, 1e-12);
  assert_string_equal(st.dims[6].name, "opt");
  assert_string_equal(st.dims[6].values[0], "sgd");
  assert_string_equal(st.dims[6].values[1], "adam");
  assert_string_equal(st.dims[5].values[0], "0.001");
  free_records(recs, 3);
  eahas_table_close(t);
}

/* Edits by hand (sqlite3 on the file) that a record file would not pass are refused when the
 * runs are loaded, naming the file, the run and the value: an accuracy out of range, text in a
 * curve column (SQLite reads it as 0), a negative total, a complexity the config does not have. */
static void test_edited_values(void **state) {
  (void)state;
  static const char *const edits[][2] = {
      {"UPDATE curves SET test_acc_ema = 5000 WHERE epoch = 1", "curves.test_acc_ema[0]=5000 is outside [0, 100]"},
      {"UPDATE curves SET val_acc = 'hello' WHERE epoch = 2", "epoch 2: val_acc is not a number"},
      {"UPDATE runs SET tec_kwh = -1", "totals.tec_kwh=-1 is not a non-negative finite number"},
      {"UPDATE configs SET flops = 1", "complexity.flops=1 differs from "},
  };
  for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
    eahas_err err = {0};
    eahas_table *t;
    unlink(g_path);
    assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
    eahas_run_record recs[1], *all = NULL;
    make_records(recs, 1, "fashion-mnist");
    assert_int_equal(eahas_table_insert(t, recs, 1, NULL, &err), 0);
    eahas_table_close(t);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, edits[k][0], NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    int n = -1;
    assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), 0);
    assert_int_equal(eahas_table_load_runs(t, &all, &n, &err), EAHAS_EFORMAT);
    assert_null(all);
    assert_int_equal(n, 0);
    if (!strstr(err.msg, edits[k][1]) || !strstr(err.msg, recs[0].id)) fail_msg("edit %zu: '%s'", k, err.msg);
    eahas_table_close(t);
    free_records(recs, 1);
  }
}

static void test_foreign_files(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  /* not SQLite */
  FILE *f = fopen(g_path, "w");
  fputs("this is not a database, just some text that is long enough to have a header...........", f);
  fclose(f);
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), EAHAS_EFORMAT);
  assert_null(t);
  unlink(g_path);
  /* SQLite, but someone else's */
  sqlite3 *db;
  assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "CREATE TABLE x(a)", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, "is an SQLite database but not an eahas benchmark file"));
  unlink(g_path);
  /* ours, another schema version */
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  eahas_table_close(t);
  assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, "has benchmark schema version 7; this eahas"));
  assert_non_null(strstr(err.msg, "reads version 1 only"));
  unlink(g_path);
  /* ours, with a table dropped by hand: bad input at open, not an I/O error at the first read */
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  eahas_table_close(t);
  assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "DROP TABLE curves", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), EAHAS_EFORMAT);
  assert_null(t);
  assert_non_null(strstr(err.msg, "is a damaged eahas benchmark file: its table 'curves' is missing"));
  unlink(g_path);
  /* an empty file opened read-only is not a benchmark file */
  f = fopen(g_path, "w");
  fclose(f);
  assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, "is empty, not an eahas benchmark file"));
}

/* Paths that cannot be a benchmark file are bad input (exit status 1) with a message naming
 * the path, never "unable to open database file" (an I/O failure, exit status 2). */
static void test_bad_paths(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t = (eahas_table *)&err;
  assert_int_equal(eahas_table_open("/tmp", 0, 1, &t, &err), EAHAS_EINVAL);
  assert_null(t);
  assert_string_equal(err.msg, "/tmp is a directory, not an eahas benchmark file");
  assert_int_equal(eahas_table_open("/tmp", 1, 0, &t, &err), EAHAS_EINVAL);
  assert_int_equal(eahas_table_open("/nonexistent-eahas-dir/b.eahas", 1, 0, &t, &err), EAHAS_ENOTFOUND);
  assert_string_equal(err.msg, "cannot create /nonexistent-eahas-dir/b.eahas: directory /nonexistent-eahas-dir does not exist");
  assert_int_equal(eahas_table_open("/nonexistent-eahas-dir/b.eahas", 0, 1, &t, &err), EAHAS_ENOTFOUND);
  assert_string_equal(err.msg, "/nonexistent-eahas-dir/b.eahas does not exist");
  assert_int_equal(eahas_exit_status(EAHAS_ENOTFOUND), 1);
  assert_int_equal(eahas_exit_status(EAHAS_EINVAL), 1);
}

/* One handle, many threads: every lookup returns its own run (DESIGN.md, C API). */
typedef struct lookup_job {
  eahas_table *t;
  int k, errors;
} lookup_job;

static void *lookup_many(void *arg) {
  lookup_job *j = arg;
  for (int i = 0; i < 40; i++) {
    int k = (j->k + i) % 8;
    eahas_config c = fixture_config(k);
    eahas_run_record r;
    eahas_err err = {0};
    if (eahas_table_get(j->t, "fashion-mnist", &c, &r, &err) != 0) {
      j->errors++;
      continue;
    }
    /* run k has 2 + k epochs and final test accuracy 9 + 7.5 (n - 1) + 0.1 k */
    if (r.epochs_trained != 2 + k || r.test_acc[1 + k] != 9.0 + 7.5 * (1 + k) + 0.1 * k) j->errors++;
    eahas_run_record_free(&r);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  eahas_err err = {0};
  eahas_table *t;
  assert_int_equal(eahas_table_open(g_path, 1, 0, &t, &err), 0);
  eahas_run_record recs[8];
  make_records(recs, 8, "fashion-mnist");
  assert_int_equal(eahas_table_insert(t, recs, 8, NULL, &err), 0);
  free_records(recs, 8);
  eahas_table_close(t);
  assert_int_equal(eahas_table_open(g_path, 0, 1, &t, &err), 0);
  pthread_t th[4];
  lookup_job jobs[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (lookup_job){.t = t, .k = i, .errors = 0};
    assert_int_equal(pthread_create(&th[i], NULL, lookup_many, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(jobs[i].errors, 0);
  }
  eahas_table_close(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_insert_get_load, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all_or_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_blobs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edited_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test(test_bad_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
