/* The benchmark file: an SQLite database of configs, runs, per-epoch curves, provenance and
 * named blobs (schema: docs/benchmark-file.md). Every change is one transaction.
 *
 * The file identifies itself with PRAGMA application_id and carries its schema version in
 * PRAGMA user_version (and in the meta table, for people reading it with other tools).
 */
#include "tabular/table_internal.h"

#include <errno.h>
#include <libgen.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* "EAHS" in ASCII: marks an SQLite file as an eahas benchmark file. */
#define EAHAS_APPLICATION_ID 0x45414853

struct eahas_table {
  sqlite3 *db;
  char path[1024];
  int readonly;
};

static const char *SCHEMA_SQL =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE provenance("
    " prov_id INTEGER PRIMARY KEY, machine TEXT NOT NULL, cpu TEXT NOT NULL, dataset TEXT NOT NULL,"
    " preset TEXT NOT NULL, versions TEXT NOT NULL, trainer TEXT NOT NULL, energy_method TEXT NOT NULL,"
    " energy_domains TEXT NOT NULL,"
    " UNIQUE(machine, cpu, dataset, preset, versions, trainer, energy_method, energy_domains));"
    "CREATE TABLE configs("
    " id TEXT PRIMARY KEY, preset TEXT NOT NULL, text TEXT NOT NULL,"
    " d INTEGER NOT NULL, w0 INTEGER NOT NULL, wa REAL NOT NULL, wm REAL NOT NULL, gw INTEGER NOT NULL,"
    " lr REAL NOT NULL, opt TEXT NOT NULL, sched TEXT NOT NULL, cutout INTEGER NOT NULL, epochs INTEGER NOT NULL,"
    " flops REAL NOT NULL, params REAL NOT NULL, acts REAL NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE runs("
    " id TEXT PRIMARY KEY REFERENCES configs(id), prov_id INTEGER NOT NULL REFERENCES provenance(prov_id),"
    " seed TEXT NOT NULL, epochs_planned INTEGER NOT NULL, epochs_limit INTEGER NOT NULL,"
    " epochs_trained INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,"
    " train_time_s REAL NOT NULL, total_energy_j REAL NOT NULL, tec_kwh REAL NOT NULL,"
    " iec_j_per_image REAL NOT NULL, energy_shared INTEGER NOT NULL, threads INTEGER NOT NULL,"
    " record_schema INTEGER NOT NULL, collected_at TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE curves("
    " id TEXT NOT NULL REFERENCES runs(id), epoch INTEGER NOT NULL,"
    " train_loss REAL NOT NULL, train_acc REAL NOT NULL, val_acc REAL NOT NULL, test_acc REAL NOT NULL,"
    " test_acc_ema REAL NOT NULL, lr REAL NOT NULL, epoch_time_s REAL NOT NULL,"
    " train_energy_j REAL NOT NULL, eval_energy_j REAL NOT NULL, PRIMARY KEY(id, epoch)) WITHOUT ROWID;"
    "CREATE TABLE blobs(name TEXT PRIMARY KEY, data BLOB NOT NULL, updated_at TEXT NOT NULL);";

static int db_err(eahas_table *t, eahas_err *err, int code, const char *what) {
  return eahas_err_set(err, code, "%s: %s: %s", t->path, what, sqlite3_errmsg(t->db));
}

static int exec_sql(eahas_table *t, const char *sql, eahas_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(t->db, sql, NULL, NULL, &msg) == SQLITE_OK) return EAHAS_OK;
  int rc = eahas_err_set(err, EAHAS_EIO, "%s: %s", t->path, msg ? msg : "SQLite error");
  sqlite3_free(msg);
  return rc;
}

static int pragma_int(eahas_table *t, const char *sql, int *out, eahas_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK) return db_err(t, err, EAHAS_EFORMAT, "not a database");
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(st);
    return db_err(t, err, EAHAS_EFORMAT, "not an SQLite database");
  }
  *out = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return EAHAS_OK;
}

static void now_iso(char *buf, size_t n) {
  time_t s = time(NULL);
  struct tm tm;
  gmtime_r(&s, &tm);
  strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int create_schema(eahas_table *t, eahas_err *err) {
  char sql[256], when[32];
  now_iso(when, sizeof when);
  int rc = exec_sql(t, "BEGIN IMMEDIATE", err);
  if (rc) return rc;
  rc = exec_sql(t, SCHEMA_SQL, err);
  snprintf(sql, sizeof sql,
           "INSERT INTO meta VALUES('format','eahas-benchmark'),('schema_version','%d'),"
           "('created_at','%s'),('created_by','eahas %s');",
           EAHAS_TABLE_SCHEMA_VERSION, when, eahas_version());
  if (!rc) rc = exec_sql(t, sql, err);
  snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;", EAHAS_APPLICATION_ID,
           EAHAS_TABLE_SCHEMA_VERSION);
  if (!rc) rc = exec_sql(t, sql, err);
  if (!rc) return exec_sql(t, "COMMIT", err);
  sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* Every table of the schema is there: a file with our application id that lost one (edited by
 * hand) is a damaged benchmark file, bad input, not an I/O failure at the first query. */
static int check_tables(eahas_table *t, eahas_err *err) {
  static const char *const names[] = {"meta", "provenance", "configs", "runs", "curves", "blobs"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    char sql[128];
    int n = 0;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'", names[i]);
    int rc = pragma_int(t, sql, &n, err);
    if (rc) return rc;
    if (n != 1)
      return eahas_err_set(err, EAHAS_EFORMAT, "%s is a damaged eahas benchmark file: its table '%s' is missing",
                           t->path, names[i]);
  }
  return EAHAS_OK;
}

/* An empty database becomes a benchmark file; anything else must be one of our version. */
static int check_or_create(eahas_table *t, int create, eahas_err *err) {
  int app = 0, ver = 0, n_tables = 0;
  int rc = pragma_int(t, "PRAGMA application_id", &app, err);
  if (!rc) rc = pragma_int(t, "PRAGMA user_version", &ver, err);
  if (!rc) rc = pragma_int(t, "SELECT count(*) FROM sqlite_master", &n_tables, err);
  if (rc) return rc;
  if (app == 0 && n_tables == 0) {
    if (!create || t->readonly)
      return eahas_err_set(err, EAHAS_EFORMAT, "%s is empty, not an eahas benchmark file", t->path);
    return create_schema(t, err);
  }
  if (app != EAHAS_APPLICATION_ID)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s is an SQLite database but not an eahas benchmark file (application_id %d)",
                         t->path, app);
  if (ver != EAHAS_TABLE_SCHEMA_VERSION)
    return eahas_err_set(err, EAHAS_EFORMAT,
                         "%s has benchmark schema version %d; this eahas %s reads version %d only", t->path, ver,
                         eahas_version(), EAHAS_TABLE_SCHEMA_VERSION);
  return check_tables(t, err);
}

/* A path the user named that cannot be a benchmark file is bad input (exit status 1), not an
 * I/O failure: SQLite alone would say "unable to open database file" for all of these. */
static int check_path(const char *path, int create, eahas_err *err) {
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return eahas_err_set(err, EAHAS_EINVAL, "%s is a directory, not an eahas benchmark file", path);
    return EAHAS_OK;
  }
  if (errno != ENOENT && errno != ENOTDIR) return EAHAS_OK; /* let SQLite report it */
  if (!create) return eahas_err_set(err, EAHAS_ENOTFOUND, "%s does not exist", path);
  char *copy = strdup(path);
  if (!copy) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening %s", path);
  const char *dir = dirname(copy);
  int ok = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
  int rc = ok ? EAHAS_OK
              : eahas_err_set(err, EAHAS_ENOTFOUND, "cannot create %s: directory %s does not exist", path, dir);
  free(copy);
  return rc;
}

int eahas_table_open(const char *path, int create, int readonly, eahas_table **out, eahas_err *err) {
  *out = NULL;
  int prc = check_path(path, create && !readonly, err);
  if (prc) return prc;
  eahas_table *t = calloc(1, sizeof *t);
  if (!t) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening %s", path);
  snprintf(t->path, sizeof t->path, "%s", path);
  t->readonly = readonly;
  /* FULLMUTEX: one handle may be queried from many threads (DESIGN.md, C API). */
  int flags = SQLITE_OPEN_FULLMUTEX | (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  if (create && !readonly) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path, &t->db, flags, NULL) != SQLITE_OK) {
    int rc = t->db ? db_err(t, err, EAHAS_EIO, "cannot open")
                   : eahas_err_set(err, EAHAS_ENOMEM, "out of memory opening %s", path);
    eahas_table_close(t);
    return rc;
  }
  sqlite3_busy_timeout(t->db, 10000);
  sqlite3_extended_result_codes(t->db, 0);
  int rc = check_or_create(t, create, err);
  if (!rc && !readonly) rc = exec_sql(t, "PRAGMA foreign_keys=ON", err);
  if (rc) {
    eahas_table_close(t);
    return rc;
  }
  *out = t;
  return EAHAS_OK;
}

void eahas_table_close(eahas_table *t) {
  if (!t) return;
  sqlite3_close(t->db);
  free(t);
}

/* ---- inserting ------------------------------------------------------------------------- */

static int prep(eahas_table *t, const char *sql, sqlite3_stmt **st, eahas_err *err) {
  if (sqlite3_prepare_v2(t->db, sql, -1, st, NULL) == SQLITE_OK) return EAHAS_OK;
  return db_err(t, err, EAHAS_EINTERNAL, "preparing a statement");
}

static int step_done(eahas_table *t, sqlite3_stmt *st, eahas_err *err) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return EAHAS_OK;
  return db_err(t, err, EAHAS_EIO, "writing");
}

static void bind_text(sqlite3_stmt *st, int i, const char *s) { sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT); }

/* The provenance row of r, created on first use. */
static int provenance_id(eahas_table *t, const eahas_run_record *r, sqlite3_int64 *id, eahas_err *err) {
  const char *vals[8] = {r->machine, r->cpu, r->dataset, r->preset, r->versions, r->trainer, r->energy_method,
                         r->energy_domains};
  sqlite3_stmt *st;
  int rc = prep(t,
                "INSERT OR IGNORE INTO provenance(machine,cpu,dataset,preset,versions,trainer,energy_method,"
                "energy_domains) VALUES(?,?,?,?,?,?,?,?)",
                &st, err);
  if (rc) return rc;
  for (int i = 0; i < 8; i++) bind_text(st, i + 1, vals[i]);
  rc = step_done(t, st, err);
  sqlite3_finalize(st);
  if (rc) return rc;
  rc = prep(t,
            "SELECT prov_id FROM provenance WHERE machine=? AND cpu=? AND dataset=? AND preset=? AND versions=?"
            " AND trainer=? AND energy_method=? AND energy_domains=?",
            &st, err);
  if (rc) return rc;
  for (int i = 0; i < 8; i++) bind_text(st, i + 1, vals[i]);
  rc = sqlite3_step(st) == SQLITE_ROW ? EAHAS_OK : db_err(t, err, EAHAS_EIO, "reading provenance");
  if (!rc) *id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc;
}

static int exists(eahas_table *t, const char *id, int *yes, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "SELECT 1 FROM runs WHERE id=?", &st, err);
  if (rc) return rc;
  bind_text(st, 1, id);
  int s = sqlite3_step(st);
  *yes = s == SQLITE_ROW;
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : db_err(t, err, EAHAS_EIO, "reading runs");
}

static int insert_config(eahas_table *t, const eahas_run_record *r, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "INSERT OR IGNORE INTO configs VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st, err);
  if (rc) return rc;
  const eahas_config *c = &r->config;
  char text[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(c, text, sizeof text);
  bind_text(st, 1, r->id);
  bind_text(st, 2, r->preset);
  bind_text(st, 3, text);
  sqlite3_bind_int(st, 4, c->d);
  sqlite3_bind_int(st, 5, c->w0);
  sqlite3_bind_double(st, 6, eahas_config_wa(c));
  sqlite3_bind_double(st, 7, eahas_config_wm(c));
  sqlite3_bind_int(st, 8, c->gw);
  sqlite3_bind_double(st, 9, eahas_config_lr(c));
  bind_text(st, 10, EAHAS_OPT_NAMES[c->opt]);
  bind_text(st, 11, EAHAS_SCHED_NAMES[c->sched]);
  sqlite3_bind_int(st, 12, c->cutout);
  sqlite3_bind_int(st, 13, c->epochs);
  sqlite3_bind_double(st, 14, r->cx.flops);
  sqlite3_bind_double(st, 15, r->cx.params);
  sqlite3_bind_double(st, 16, r->cx.acts);
  rc = step_done(t, st, err);
  sqlite3_finalize(st);
  return rc;
}

static int insert_run(eahas_table *t, const eahas_run_record *r, sqlite3_int64 prov, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "INSERT INTO runs VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", &st, err);
  if (rc) return rc;
  char seed[32], when[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed); /* TEXT: SQLite integers are signed */
  now_iso(when, sizeof when);
  bind_text(st, 1, r->id);
  sqlite3_bind_int64(st, 2, prov);
  bind_text(st, 3, seed);
  sqlite3_bind_int(st, 4, r->epochs_planned);
  sqlite3_bind_int(st, 5, r->epochs_limit);
  sqlite3_bind_int(st, 6, r->epochs_trained);
  bind_text(st, 7, r->status);
  bind_text(st, 8, r->reason);
  sqlite3_bind_double(st, 9, r->train_time_s);
  sqlite3_bind_double(st, 10, r->total_energy_j);
  sqlite3_bind_double(st, 11, r->tec_kwh);
  sqlite3_bind_double(st, 12, r->iec_j_per_image);
  sqlite3_bind_int(st, 13, r->energy_shared);
  sqlite3_bind_int(st, 14, r->threads);
  sqlite3_bind_int(st, 15, r->schema_version);
  bind_text(st, 16, when);
  rc = step_done(t, st, err);
  sqlite3_finalize(st);
  return rc;
}

static int insert_curves(eahas_table *t, const eahas_run_record *r, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "INSERT INTO curves VALUES(?,?,?,?,?,?,?,?,?,?,?)", &st, err);
  if (rc) return rc;
  for (int e = 0; e < r->epochs_trained && !rc; e++) {
    const double v[9] = {r->train_loss[e], r->train_acc[e], r->val_acc[e], r->test_acc[e], r->test_acc_ema[e],
                         r->lr[e], r->epoch_time_s[e], r->train_energy_j[e], r->eval_energy_j[e]};
    bind_text(st, 1, r->id);
    sqlite3_bind_int(st, 2, e + 1);
    for (int i = 0; i < 9; i++) sqlite3_bind_double(st, 3 + i, v[i]);
    rc = step_done(t, st, err);
  }
  sqlite3_finalize(st);
  return rc;
}

static int insert_one(eahas_table *t, const eahas_run_record *r, const char *file_preset, int *added, eahas_err *err) {
  if (file_preset[0] && strcmp(file_preset, r->preset) != 0)
    return eahas_err_set(err, EAHAS_EINVAL, "run %s has preset %s, but %s holds runs of preset %s", r->id, r->preset,
                         t->path, file_preset);
  int yes;
  int rc = exists(t, r->id, &yes, err);
  if (rc || yes) return rc;
  sqlite3_int64 prov;
  if ((rc = provenance_id(t, r, &prov, err))) return rc;
  if ((rc = insert_config(t, r, err))) return rc;
  if ((rc = insert_run(t, r, prov, err))) return rc;
  if ((rc = insert_curves(t, r, err))) return rc;
  (*added)++;
  return EAHAS_OK;
}

static int set_meta(eahas_table *t, const char *key, const char *value, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "INSERT OR REPLACE INTO meta VALUES(?,?)", &st, err);
  if (rc) return rc;
  bind_text(st, 1, key);
  bind_text(st, 2, value);
  rc = step_done(t, st, err);
  sqlite3_finalize(st);
  return rc;
}

int eahas_table_insert(eahas_table *t, const eahas_run_record *recs, int n, int *added, eahas_err *err) {
  int count = 0;
  if (added) *added = 0;
  if (t->readonly) return eahas_err_set(err, EAHAS_EINVAL, "%s is open read-only", t->path);
  int rc = exec_sql(t, "BEGIN IMMEDIATE", err);
  if (rc) return rc;
  char preset[32];
  rc = eahas_table_preset(t, preset, sizeof preset, err);
  /* The first record fixes the file's preset: one benchmark file, one search space. */
  if (!rc && !preset[0] && n > 0) {
    snprintf(preset, sizeof preset, "%s", recs[0].preset);
    rc = set_meta(t, "preset", preset, err);
  }
  for (int i = 0; i < n && !rc; i++) rc = insert_one(t, &recs[i], preset, &count, err);
  if (!rc) rc = exec_sql(t, "COMMIT", err);
  if (rc) {
    sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  if (added) *added = count;
  return EAHAS_OK;
}

int eahas_table_preset(eahas_table *t, char *buf, size_t n, eahas_err *err) {
  if (n > 0) buf[0] = '\0';
  sqlite3_stmt *st;
  int rc = prep(t, "SELECT value FROM meta WHERE key='preset'", &st, err);
  if (rc) return rc;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW && n > 0) snprintf(buf, n, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return s == SQLITE_ROW || s == SQLITE_DONE ? EAHAS_OK : db_err(t, err, EAHAS_EIO, "reading meta");
}

/* ---- reading --------------------------------------------------------------------------- */

#define RUN_COLUMNS                                                                                            \
  "SELECT r.id, c.preset, c.text, r.seed, r.epochs_planned, r.epochs_limit, r.epochs_trained, r.status,"       \
  " r.reason, c.flops, c.params, c.acts, r.train_time_s, r.total_energy_j, r.tec_kwh, r.iec_j_per_image,"       \
  " p.energy_method, p.energy_domains, r.energy_shared, p.machine, p.cpu, r.threads, p.dataset, p.versions,"   \
  " p.trainer, r.record_schema FROM runs r JOIN configs c ON c.id = r.id JOIN provenance p ON p.prov_id = r.prov_id"

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t n) {
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(buf, n, "%s", s ? (const char *)s : "");
}

static int load_curves(eahas_table *t, eahas_run_record *r, eahas_err *err) {
  sqlite3_stmt *st;
  int rc = prep(t, "SELECT epoch, train_loss, train_acc, val_acc, test_acc, test_acc_ema, lr, epoch_time_s,"
                   " train_energy_j, eval_energy_j FROM curves WHERE id=? ORDER BY epoch", &st, err);
  if (rc) return rc;
  bind_text(st, 1, r->id);
  int e = 0, s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    if (e >= r->epochs_trained || sqlite3_column_int(st, 0) != e + 1) {
      sqlite3_finalize(st);
      return eahas_err_set(err, EAHAS_EFORMAT, "%s: curve of run %s is not epochs 1..%d", t->path, r->id,
                           r->epochs_trained);
    }
    double *dst[9] = {r->train_loss, r->train_acc, r->val_acc, r->test_acc, r->test_acc_ema, r->lr,
                      r->epoch_time_s, r->train_energy_j, r->eval_energy_j};
    for (int i = 0; i < 9; i++) {
      int ty = sqlite3_column_type(st, 1 + i); /* SQLite would read text or NULL as 0 */
      if (ty != SQLITE_FLOAT && ty != SQLITE_INTEGER) {
        int rc2 = eahas_err_set(err, EAHAS_EFORMAT, "%s: run %s, epoch %d: %s is not a number", t->path, r->id,
                                e + 1, sqlite3_column_name(st, 1 + i)); /* the name dies with st */
        sqlite3_finalize(st);
        return rc2;
      }
      dst[i][e] = sqlite3_column_double(st, 1 + i);
    }
    e++;
  }
  sqlite3_finalize(st);
  if (s != SQLITE_DONE) return db_err(t, err, EAHAS_EIO, "reading curves");
  if (e != r->epochs_trained)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s: run %s has %d curve rows, epochs_trained is %d", t->path, r->id, e,
                         r->epochs_trained);
  return EAHAS_OK;
}

/* One row of RUN_COLUMNS into a record (arrays allocated, curves loaded). */
static int row_to_record(eahas_table *t, sqlite3_stmt *st, eahas_run_record *r, eahas_err *err) {
  int rc = eahas_run_record_init(r, sqlite3_column_int(st, 6), err);
  if (rc) return rc;
  char text[EAHAS_CONFIG_TEXT_MAX], seed[32];
  col_text(st, 0, r->id, sizeof r->id);
  col_text(st, 1, r->preset, sizeof r->preset);
  col_text(st, 2, text, sizeof text);
  col_text(st, 3, seed, sizeof seed);
  r->seed = strtoull(seed, NULL, 10);
  r->epochs_planned = sqlite3_column_int(st, 4);
  r->epochs_limit = sqlite3_column_int(st, 5);
  col_text(st, 7, r->status, sizeof r->status);
  col_text(st, 8, r->reason, sizeof r->reason);
  r->cx.flops = sqlite3_column_double(st, 9);
  r->cx.params = sqlite3_column_double(st, 10);
  r->cx.acts = sqlite3_column_double(st, 11);
  r->train_time_s = sqlite3_column_double(st, 12);
  r->total_energy_j = sqlite3_column_double(st, 13);
  r->tec_kwh = sqlite3_column_double(st, 14);
  r->iec_j_per_image = sqlite3_column_double(st, 15);
  col_text(st, 16, r->energy_method, sizeof r->energy_method);
  col_text(st, 17, r->energy_domains, sizeof r->energy_domains);
  r->energy_shared = sqlite3_column_int(st, 18);
  col_text(st, 19, r->machine, sizeof r->machine);
  col_text(st, 20, r->cpu, sizeof r->cpu);
  r->threads = sqlite3_column_int(st, 21);
  col_text(st, 22, r->dataset, sizeof r->dataset);
  col_text(st, 23, r->versions, sizeof r->versions);
  col_text(st, 24, r->trainer, sizeof r->trainer);
  r->schema_version = sqlite3_column_int(st, 25);
  rc = eahas_config_parse(text, &r->config, err);
  if (rc) eahas_err_prefix(err, rc, "%s: config of run %s", t->path, r->id);
  if (!rc) rc = load_curves(t, r, err);
  if (!rc && (rc = eahas_run_record_check_values(r, err))) /* the file may have been edited */
    eahas_err_prefix(err, rc, "%s: run %s", t->path, r->id);
  if (rc) eahas_run_record_free(r);
  return rc;
}

int eahas_table_load_runs(eahas_table *t, eahas_run_record **out, int *n, eahas_err *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  int rc = prep(t, RUN_COLUMNS " WHERE r.status IN ('ok','diverged') ORDER BY r.id", &st, err);
  if (rc) return rc;
  int cap = 0, cnt = 0, s;
  eahas_run_record *a = NULL;
  while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
    if (cnt == cap) {
      cap = cap ? 2 * cap : 64;
      eahas_run_record *b = realloc(a, (size_t)cap * sizeof *a);
      if (!b) {
        rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory loading runs of %s", t->path);
        break;
      }
      a = b;
    }
    rc = row_to_record(t, st, &a[cnt], err);
    if (!rc) cnt++;
  }
  if (!rc && s != SQLITE_DONE) rc = db_err(t, err, EAHAS_EIO, "reading runs");
  sqlite3_finalize(st);
  if (rc) {
    for (int i = 0; i < cnt; i++) eahas_run_record_free(&a[i]);
    free(a);
    return rc;
  }
  *out = a;
  *n = cnt;
  return EAHAS_OK;
}

int eahas_table_get(eahas_table *t, const char *preset, const eahas_config *c, eahas_run_record *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  char id[17];
  eahas_run_id(preset, c, id);
  return eahas_table_get_id(t, id, out, err);
}

int eahas_table_get_id(eahas_table *t, const char *id, eahas_run_record *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  int rc = prep(t, RUN_COLUMNS " WHERE r.id=?", &st, err);
  if (rc) return rc;
  bind_text(st, 1, id);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) rc = row_to_record(t, st, out, err);
  else if (s == SQLITE_DONE) rc = eahas_err_set(err, EAHAS_ENOTFOUND, "not recorded: run %s is not in %s", id, t->path);
  else rc = db_err(t, err, EAHAS_EIO, "reading runs");
  sqlite3_finalize(st);
  return rc;
}

/* ---- blobs ----------------------------------------------------------------------------- */

int eahas_table_put_blob(eahas_table *t, const char *name, const void *data, size_t n, eahas_err *err) {
  if (t->readonly) return eahas_err_set(err, EAHAS_EINVAL, "%s is open read-only", t->path);
  if (!name || !name[0]) return eahas_err_set(err, EAHAS_EINVAL, "blob name is empty");
  int rc = exec_sql(t, "BEGIN IMMEDIATE", err);
  if (rc) return rc;
  sqlite3_stmt *st;
  rc = prep(t, "INSERT OR REPLACE INTO blobs VALUES(?,?,?)", &st, err);
  if (!rc) {
    char when[32];
    now_iso(when, sizeof when);
    bind_text(st, 1, name);
    sqlite3_bind_blob64(st, 2, n ? data : "", n, SQLITE_STATIC);
    bind_text(st, 3, when);
    rc = step_done(t, st, err);
    sqlite3_finalize(st);
  }
  if (!rc) rc = exec_sql(t, "COMMIT", err);
  if (rc) sqlite3_exec(t->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int eahas_table_get_blob(eahas_table *t, const char *name, void **data, size_t *n, eahas_err *err) {
  *data = NULL;
  *n = 0;
  sqlite3_stmt *st;
  int rc = prep(t, "SELECT data FROM blobs WHERE name=?", &st, err);
  if (rc) return rc;
  bind_text(st, 1, name);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    const void *src = sqlite3_column_blob(st, 0);
    void *buf = malloc(len ? len : 1);
    if (!buf) rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading blob %s (%zu bytes)", name, len);
    else {
      if (len) memcpy(buf, src, len);
      *data = buf;
      *n = len;
    }
  } else if (s == SQLITE_DONE) {
    rc = eahas_err_set(err, EAHAS_ENOTFOUND, "%s has no blob named \"%s\"", t->path, name);
  } else {
    rc = db_err(t, err, EAHAS_EIO, "reading blobs");
  }
  sqlite3_finalize(st);
  return rc;
}

sqlite3 *eahas_table__db(eahas_table *t) { return t->db; }
const char *eahas_table__path(eahas_table *t) { return t->path; }
