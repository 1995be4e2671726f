/* Trajectory files: CSV (one row per evaluation) and JSON (columns per run). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/report.h"
#include "report/sb.h"

static const char *const STOP_NAMES[4] = {"budget", "skipped", "stalled", "max-evals"};

#define CSV_HEADER                                                                                            \
  "optimizer,seed,index,config,epochs,epochs_requested,epochs_charged,truncated,early_stopped,energy_kwh,"     \
  "time_s,cum_energy_kwh,cum_time_s,val_acc,test_acc,incumbent,inc_val_acc,inc_test_acc,regret"
#define CSV_COLS 19

static int write_sb(const char *path, sb *b, eahas_err *err) {
  if (b->oom) {
    sb_free(b);
    return eahas_err_set(err, EAHAS_ENOMEM, "%s: out of memory while formatting", path);
  }
  int rc = eahas_write_file_atomic(path, b->s ? b->s : "", b->n, err);
  sb_free(b);
  return rc;
}

int eahas_write_trajectories_csv(const char *path, const eahas_trajectory *t, int n, double optimum,
                                 eahas_err *err) {
  sb b = {0};
  sb_printf(&b, "%s\n", CSV_HEADER);
  for (int k = 0; k < n; k++)
    for (int i = 0; i < t[k].n; i++) {
      const eahas_eval *e = &t[k].evals[i];
      char cfg[EAHAS_CONFIG_TEXT_MAX];
      eahas_config_format(&e->config, cfg, sizeof cfg);
      sb_printf(&b, "%s,%llu,%d,\"%s\",%d,%d,%d,%d,%d,%.17g,%.17g,%.17g,%.17g,%.9g,%.9g,%d,%.9g,%.9g,%.9g\n",
                eahas_optim_name(t[k].optim), (unsigned long long)t[k].seed, i, cfg, e->epochs, e->epochs_requested,
                e->epochs_charged, e->truncated, e->early_stopped, e->energy_kwh, e->time_s, e->cum_energy_kwh,
                e->cum_time_s, (double)e->val_acc, (double)e->test_acc, e->incumbent, (double)e->inc_val_acc,
                (double)e->inc_test_acc, optimum - (double)e->inc_test_acc);
    }
  return write_sb(path, &b, err);
}

static void jarr_int(sb *b, const char *k, const eahas_trajectory *t, size_t off) {
  sb_printf(b, ",\n    \"%s\": [", k);
  for (int i = 0; i < t->n; i++) sb_printf(b, "%s%d", i ? "," : "", *(const int *)((const char *)&t->evals[i] + off));
  sb_printf(b, "]");
}

static void jarr_dbl(sb *b, const char *k, const eahas_trajectory *t, size_t off, int is_float) {
  sb_printf(b, ",\n    \"%s\": [", k);
  for (int i = 0; i < t->n; i++) {
    const char *p = (const char *)&t->evals[i] + off;
    double v = is_float ? (double)*(const float *)p : *(const double *)p;
    sb_printf(b, is_float ? "%s%.9g" : "%s%.17g", i ? "," : "", v);
  }
  sb_printf(b, "]");
}

int eahas_write_trajectories_json(const char *path, const eahas_trajectory *t, int n, const eahas_optimum *o,
                                  eahas_err *err) {
  sb b = {0};
  char cfg[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&o->config, cfg, sizeof cfg);
  sb_printf(&b, "{\"optimum\": {\"test_acc\": %.9g, \"config\": \"%s\", \"epochs\": %d, \"method\": \"%s\"},\n",
            o->test_acc, cfg, o->epochs, o->method);
  sb_printf(&b, " \"runs\": [");
  for (int k = 0; k < n; k++) {
    const eahas_trajectory *r = &t[k];
    sb_printf(&b, "%s\n  {\"optimizer\": \"%s\", \"seed\": %llu, \"stop\": \"%s\", \"budget\": {\"unit\": \"%s\", "
                  "\"amount\": %.17g, \"partial\": %s, \"reuse\": %s}, \"energy_kwh\": %.17g, \"time_s\": %.17g, "
                  "\"evaluations\": %d, \"free_evaluations\": %ld",
              k ? "," : "", eahas_optim_name(r->optim), (unsigned long long)r->seed,
              STOP_NAMES[(unsigned)r->stop < 4 ? r->stop : 0], r->budget.unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh",
              r->budget.amount, r->budget.partial ? "true" : "false", r->budget.reuse ? "true" : "false",
              r->energy_kwh, r->time_s, r->n, r->free_evals);
    sb_printf(&b, ",\n    \"config\": [");
    for (int i = 0; i < r->n; i++) {
      eahas_config_format(&r->evals[i].config, cfg, sizeof cfg);
      sb_printf(&b, "%s\"%s\"", i ? "," : "", cfg);
    }
    sb_printf(&b, "]");
    jarr_int(&b, "epochs", r, offsetof(eahas_eval, epochs));
    jarr_int(&b, "epochs_charged", r, offsetof(eahas_eval, epochs_charged));
    jarr_int(&b, "truncated", r, offsetof(eahas_eval, truncated));
    jarr_int(&b, "early_stopped", r, offsetof(eahas_eval, early_stopped));
    jarr_dbl(&b, "energy_kwh", r, offsetof(eahas_eval, energy_kwh), 0);
    jarr_dbl(&b, "cum_energy_kwh", r, offsetof(eahas_eval, cum_energy_kwh), 0);
    jarr_dbl(&b, "cum_time_s", r, offsetof(eahas_eval, cum_time_s), 0);
    jarr_dbl(&b, "val_acc", r, offsetof(eahas_eval, val_acc), 1);
    jarr_dbl(&b, "test_acc", r, offsetof(eahas_eval, test_acc), 1);
    jarr_int(&b, "incumbent", r, offsetof(eahas_eval, incumbent));
    jarr_dbl(&b, "inc_test_acc", r, offsetof(eahas_eval, inc_test_acc), 1);
    sb_printf(&b, "}");
  }
  sb_printf(&b, "\n ]\n}\n");
  return write_sb(path, &b, err);
}

/* ---- reading the CSV back ------------------------------------------------------------------ */

/* Splits one CSV line in place into at most max fields (double quotes protect commas). */
static int split(char *line, char **f, int max) {
  int k = 0;
  char *p = line;
  while (k < max) {
    if (*p == '"') {
      f[k++] = ++p;
      while (*p && *p != '"') p++;
      if (*p) *p++ = '\0';
    } else {
      f[k++] = p;
      while (*p && *p != ',') p++;
    }
    if (*p != ',') {
      *p = '\0';
      break;
    }
    *p++ = '\0';
  }
  return k;
}

static int num(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return end != s && *end == '\0' && errno == 0 && isfinite(*v);
}

int eahas_read_trajectories_csv(const char *path, const eahas_budget *bu, eahas_trajectory **out, int *n_out,
                                double *optimum, eahas_err *err) {
  *out = NULL;
  *n_out = 0;
  char *text;
  int rc = eahas_read_file(path, 0, &text, NULL, err);
  if (rc) return rc;
  eahas_trajectory *t = NULL;
  int n = 0, cap = 0, line_no = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    line_no++;
    if (line_no == 1) {
      if (strcmp(line, CSV_HEADER) != 0) {
        rc = eahas_err_set(err, EAHAS_EFORMAT, "%s line 1: not an eahas trajectories header", path);
        break;
      }
      continue;
    }
    char *f[CSV_COLS + 1];
    if (split(line, f, CSV_COLS + 1) != CSV_COLS) {
      rc = eahas_err_set(err, EAHAS_EFORMAT, "%s line %d: expected %d columns", path, line_no, CSV_COLS);
      break;
    }
    eahas_optim_kind k;
    if (eahas_optim_parse(f[0], &k, err)) {
      rc = eahas_err_prefix(err, EAHAS_EFORMAT, "%s line %d column optimizer", path, line_no);
      break;
    }
    double v[CSV_COLS];
    int bad = -1;
    v[0] = 0;
    for (int c = 1; c < CSV_COLS && bad < 0; c++)
      if (c != 3 && !num(f[c], &v[c])) bad = c;
    if (bad >= 0) {
      static const char *const names[CSV_COLS] = {
          "optimizer", "seed", "index", "config", "epochs", "epochs_requested", "epochs_charged", "truncated",
          "early_stopped", "energy_kwh", "time_s", "cum_energy_kwh", "cum_time_s", "val_acc", "test_acc",
          "incumbent", "inc_val_acc", "inc_test_acc", "regret"};
      rc = eahas_err_set(err, EAHAS_EFORMAT, "%s line %d column %s: '%.40s' is not a finite number", path, line_no,
                         names[bad], f[bad]);
      break;
    }
    eahas_eval e;
    memset(&e, 0, sizeof e);
    if ((rc = eahas_config_parse(f[3], &e.config, err))) {
      rc = eahas_err_prefix(err, EAHAS_EFORMAT, "%s line %d column config", path, line_no);
      break;
    }
    uint64_t seed = (uint64_t)v[1];
    if (n == 0 || t[n - 1].optim != k || t[n - 1].seed != seed || (int)v[2] == 0) {
      if (n == cap) {
        cap = cap ? 2 * cap : 16;
        eahas_trajectory *nt = realloc(t, (size_t)cap * sizeof *nt);
        if (!nt) {
          rc = eahas_err_set(err, EAHAS_ENOMEM, "%s: out of memory", path);
          break;
        }
        t = nt;
      }
      memset(&t[n], 0, sizeof t[n]);
      t[n].optim = k;
      t[n].seed = seed;
      t[n].budget = *bu;
      n++;
    }
    eahas_trajectory *r = &t[n - 1];
    if ((int)v[2] != r->n) {
      rc = eahas_err_set(err, EAHAS_EFORMAT, "%s line %d: index %d out of order (expected %d)", path, line_no,
                         (int)v[2], r->n);
      break;
    }
    e.epochs = (int)v[4];
    e.epochs_requested = (int)v[5];
    e.epochs_charged = (int)v[6];
    e.truncated = (int)v[7];
    e.early_stopped = (int)v[8];
    e.energy_kwh = v[9];
    e.time_s = v[10];
    e.cum_energy_kwh = v[11];
    e.cum_time_s = v[12];
    e.val_acc = (float)v[13];
    e.test_acc = (float)v[14];
    e.incumbent = (int)v[15];
    e.inc_val_acc = (float)v[16];
    e.inc_test_acc = (float)v[17];
    if (optimum && n == 1 && r->n == 0) *optimum = v[18] + v[17];
    if (r->n == r->cap) {
      int nc = r->cap ? 2 * r->cap : 64;
      eahas_eval *ne = realloc(r->evals, (size_t)nc * sizeof *ne);
      if (!ne) {
        rc = eahas_err_set(err, EAHAS_ENOMEM, "%s: out of memory", path);
        break;
      }
      r->evals = ne;
      r->cap = nc;
    }
    r->evals[r->n++] = e;
    r->energy_kwh = e.cum_energy_kwh;
    r->time_s = e.cum_time_s;
  }
  free(text);
  if (!rc && line_no < 1) rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: empty file", path);
  if (rc) {
    for (int i = 0; i < n; i++) eahas_trajectory_free(&t[i]);
    free(t);
    return rc;
  }
  *out = t;
  *n_out = n;
  return 0;
}
