/* Statistics of a benchmark file: counts, ranges of final accuracies, time and energy, and the
 * distribution of every config dimension (eahas table stats). All of it is plain SQL. */
#include <stdio.h>
#include <string.h>

#include "tabular/table_internal.h"

static int q_err(eahas_table *t, eahas_err *err) {
  return eahas_err_set(err, EAHAS_EIO, "%s: %s", eahas_table__path(t), sqlite3_errmsg(eahas_table__db(t)));
}

/* Runs a query returning one integer. */
static int q_long(eahas_table *t, const char *sql, long *out, eahas_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(eahas_table__db(t), sql, -1, &st, NULL) != SQLITE_OK) return q_err(t, err);
  int s = sqlite3_step(st);
  *out = s == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : q_err(t, err);
}

/* count, min, max, avg of an expression over a FROM clause. */
static int q_range(eahas_table *t, const char *expr, const char *from, eahas_table_range *r, eahas_err *err) {
  char sql[1024];
  snprintf(sql, sizeof sql, "SELECT count(%s), min(%s), max(%s), avg(%s) %s", expr, expr, expr, expr, from);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(eahas_table__db(t), sql, -1, &st, NULL) != SQLITE_OK) return q_err(t, err);
  memset(r, 0, sizeof *r);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
    r->n = (long)sqlite3_column_int64(st, 0);
    r->min = sqlite3_column_double(st, 1);
    r->max = sqlite3_column_double(st, 2);
    r->mean = sqlite3_column_double(st, 3);
  }
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : q_err(t, err);
}

#define GOOD_RUNS " FROM runs r JOIN configs c ON c.id = r.id WHERE r.status IN ('ok','diverged')"
#define FINAL                                                                                           \
  " FROM runs r JOIN curves k ON k.id = r.id AND k.epoch = r.epochs_trained WHERE r.status IN ('ok','diverged')"

static int dim_stats(eahas_table *t, eahas_table_dim *d, const char *name, const char *col, const char *numeric,
                     int discrete, eahas_err *err) {
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", name);
  int rc = q_range(t, numeric, GOOD_RUNS, &d->range, err);
  if (rc || !discrete) return rc;
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT c.%s, count(*)" GOOD_RUNS " GROUP BY c.%s ORDER BY min(%s)", col, col, numeric);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(eahas_table__db(t), sql, -1, &st, NULL) != SQLITE_OK) return q_err(t, err);
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW && d->n_values < EAHAS_TABLE_HIST_MAX) {
    const unsigned char *v = sqlite3_column_text(st, 0);
    snprintf(d->values[d->n_values], sizeof d->values[0], "%s", v ? (const char *)v : "");
    d->counts[d->n_values++] = (long)sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : q_err(t, err);
}

static int methods(eahas_table *t, char *buf, size_t n, eahas_err *err) {
  sqlite3_stmt *st;
  buf[0] = '\0';
  if (sqlite3_prepare_v2(eahas_table__db(t),
                         "SELECT DISTINCT p.energy_method FROM runs r JOIN provenance p ON p.prov_id = r.prov_id"
                         " ORDER BY 1",
                         -1, &st, NULL) != SQLITE_OK)
    return q_err(t, err);
  int s;
  size_t k = 0;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(st, 0);
    int w = snprintf(buf + k, n - k, "%s%s", k ? "," : "", v ? (const char *)v : "");
    if (w < 0 || (size_t)w >= n - k) break;
    k += (size_t)w;
  }
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : q_err(t, err);
}

int eahas_table_stats_get(eahas_table *t, eahas_table_stats *o, eahas_err *err) {
  memset(o, 0, sizeof *o);
  o->schema_version = EAHAS_TABLE_SCHEMA_VERSION;
  int rc = eahas_table_preset(t, o->preset, sizeof o->preset, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM configs", &o->configs, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM runs", &o->runs, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM runs WHERE status='ok'", &o->ok, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM runs WHERE status='diverged'", &o->diverged, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM runs WHERE status='failed'", &o->failed, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM curves", &o->curve_rows, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM blobs", &o->blobs, err);
  if (!rc) rc = q_long(t, "SELECT count(*) FROM runs WHERE energy_shared", &o->energy_shared, err);
  if (!rc) rc = methods(t, o->energy_methods, sizeof o->energy_methods, err);
  if (!rc) rc = q_range(t, "k.train_acc", FINAL, &o->final_train_acc, err);
  if (!rc) rc = q_range(t, "k.val_acc", FINAL, &o->final_val_acc, err);
  if (!rc) rc = q_range(t, "k.test_acc", FINAL, &o->final_test_acc, err);
  if (!rc) rc = q_range(t, "r.epochs_trained", GOOD_RUNS, &o->epochs_trained, err);
  if (!rc) rc = q_range(t, "r.train_time_s", GOOD_RUNS, &o->train_time_s, err);
  if (!rc) rc = q_range(t, "r.total_energy_j", GOOD_RUNS, &o->total_energy_j, err);
  if (!rc) rc = q_range(t, "r.tec_kwh", GOOD_RUNS, &o->tec_kwh, err);
  /* opt and sched are stored by name; order them by their position in the encoding */
  static const char *const OPT_IDX = "(CASE c.opt WHEN 'sgd' THEN 0 WHEN 'adam' THEN 1 ELSE 2 END)";
  static const char *const SCHED_IDX = "(CASE c.sched WHEN 'cos' THEN 0 WHEN 'exp' THEN 1 ELSE 2 END)";
  const struct {
    const char *name, *col, *num;
    int discrete;
  } dims[EAHAS_TABLE_N_DIMS] = {
      {"d", "d", "c.d", 1},       {"w0", "w0", "c.w0", 1},         {"wa", "wa", "c.wa", 0},
      {"wm", "wm", "c.wm", 0},    {"gw", "gw", "c.gw", 1},         {"lr", "lr", "c.lr", 1},
      {"opt", "opt", OPT_IDX, 1}, {"sched", "sched", SCHED_IDX, 1}, {"cutout", "cutout", "c.cutout", 1},
      {"epochs", "epochs", "c.epochs", 1}};
  for (int i = 0; i < EAHAS_TABLE_N_DIMS && !rc; i++)
    rc = dim_stats(t, &o->dims[i], dims[i].name, dims[i].col, dims[i].num, dims[i].discrete, err);
  return rc;
}
