/* The run record: one JSON document per trained config (schema: docs/run-record.md).
 *
 * The record is the unit of the benchmark, and records arrive from many places (this binary,
 * external trainers, Slurm nodes, old files), so reading one validates everything a consumer
 * relies on: schema version, known preset, valid config, an id that matches preset and config,
 * curve lengths equal to epochs_trained, finite values in their units' ranges, and totals that
 * agree with the curves (which catches a Wh / kWh mix-up).
 */
#include "eahas/train.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The per-epoch arrays, in the order of the JSON "curves" object. */
#define N_CURVES 9
static const char *const CURVE_NAMES[N_CURVES] = {
    "train_loss", "train_acc", "val_acc", "test_acc", "test_acc_ema", "lr",
    "epoch_time_s", "train_energy_j", "eval_energy_j"};

static double **curve_ptr(eahas_run_record *r, int i) {
  double **p[N_CURVES] = {&r->train_loss, &r->train_acc, &r->val_acc, &r->test_acc, &r->test_acc_ema,
                          &r->lr, &r->epoch_time_s, &r->train_energy_j, &r->eval_energy_j};
  return p[i];
}

/* The same array read-only, for the writers and checkers that take a const record. */
static const double *curve_get(const eahas_run_record *r, int i) {
  const double *const p[N_CURVES] = {r->train_loss, r->train_acc, r->val_acc, r->test_acc, r->test_acc_ema,
                                     r->lr, r->epoch_time_s, r->train_energy_j, r->eval_energy_j};
  return p[i];
}

/* Units written in every record and checked on read. */
static const char *const UNIT_KEYS[] = {"accuracy", "time", "energy", "tec", "iec"};
static const char *const UNIT_VALUES[] = {"percent", "s", "J", "kWh", "J/image"};
#define N_UNITS 5

int eahas_run_record_init(eahas_run_record *r, int n, eahas_err *err) {
  memset(r, 0, sizeof *r);
  if (n < 0 || n > EAHAS_MAX_EPOCHS)
    return eahas_err_set(err, EAHAS_EINVAL, "epochs=%d is outside [0, %d]", n, EAHAS_MAX_EPOCHS);
  r->schema_version = EAHAS_RECORD_SCHEMA_VERSION;
  r->epochs_trained = n;
  size_t m = n > 0 ? (size_t)n : 1; /* never calloc(0): a record of 0 epochs still has arrays */
  for (int i = 0; i < N_CURVES; i++) {
    double *a = calloc(m, sizeof(double));
    if (!a) {
      eahas_run_record_free(r);
      return eahas_err_set(err, EAHAS_ENOMEM, "out of memory allocating a record of %d epochs", n);
    }
    *curve_ptr(r, i) = a;
  }
  return EAHAS_OK;
}

void eahas_run_record_free(eahas_run_record *r) {
  if (!r) return;
  for (int i = 0; i < N_CURVES; i++) {
    free(*curve_ptr(r, i));
    *curve_ptr(r, i) = NULL;
  }
}

void eahas_run_id(const char *preset, const eahas_config *c, char buf[17]) {
  char text[EAHAS_CONFIG_TEXT_MAX + 64];
  int k = snprintf(text, sizeof text, "%s|", preset);
  if (k < 0 || k >= (int)sizeof text) k = 0;
  eahas_config_format(c, text + k, (int)sizeof text - k);
  uint64_t h = eahas_hash64(text, strlen(text));
  snprintf(buf, 17, "%016llx", (unsigned long long)h);
}

/* ---- writing --------------------------------------------------------------------------- */

/* Seeds above 2^53 do not survive a JSON number in most readers: write those as strings. */
static cJSON *seed_json(uint64_t s) {
  if (s <= (1ull << 53)) return cJSON_CreateNumber((double)s);
  char b[32];
  snprintf(b, sizeof b, "%llu", (unsigned long long)s);
  return cJSON_CreateString(b);
}

static cJSON *build(const eahas_run_record *r) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "schema_version", r->schema_version);
  cJSON_AddStringToObject(o, "id", r->id);
  cJSON_AddStringToObject(o, "preset", r->preset);
  char *ctext = eahas_config_to_json(&r->config);
  cJSON *cfg = ctext ? cJSON_Parse(ctext) : NULL;
  free(ctext);
  if (!cfg) {
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddItemToObject(o, "config", cfg);
  cJSON_AddItemToObject(o, "seed", seed_json(r->seed));
  cJSON_AddNumberToObject(o, "epochs_planned", r->epochs_planned);
  cJSON_AddNumberToObject(o, "epochs_limit", r->epochs_limit);
  cJSON_AddNumberToObject(o, "epochs_trained", r->epochs_trained);
  cJSON_AddStringToObject(o, "status", r->status);
  cJSON_AddStringToObject(o, "reason", r->reason);
  cJSON *cx = cJSON_AddObjectToObject(o, "complexity");
  cJSON_AddNumberToObject(cx, "flops", r->cx.flops);
  cJSON_AddNumberToObject(cx, "params", r->cx.params);
  cJSON_AddNumberToObject(cx, "acts", r->cx.acts);
  cJSON *units = cJSON_AddObjectToObject(o, "units");
  for (int i = 0; i < N_UNITS; i++) cJSON_AddStringToObject(units, UNIT_KEYS[i], UNIT_VALUES[i]);
  cJSON *curves = cJSON_AddObjectToObject(o, "curves");
  for (int i = 0; i < N_CURVES; i++) {
    const double *a = curve_get(r, i);
    cJSON *arr = cJSON_AddArrayToObject(curves, CURVE_NAMES[i]);
    for (int e = 0; e < r->epochs_trained; e++) cJSON_AddItemToArray(arr, cJSON_CreateNumber(a ? a[e] : 0.0));
  }
  cJSON *tot = cJSON_AddObjectToObject(o, "totals");
  cJSON_AddNumberToObject(tot, "train_time_s", r->train_time_s);
  cJSON_AddNumberToObject(tot, "total_energy_j", r->total_energy_j);
  cJSON_AddNumberToObject(tot, "tec_kwh", r->tec_kwh);
  cJSON_AddNumberToObject(tot, "iec_j_per_image", r->iec_j_per_image);
  cJSON *en = cJSON_AddObjectToObject(o, "energy");
  cJSON_AddStringToObject(en, "method", r->energy_method);
  cJSON_AddStringToObject(en, "domains", r->energy_domains);
  cJSON_AddBoolToObject(en, "shared", r->energy_shared != 0);
  cJSON *pv = cJSON_AddObjectToObject(o, "provenance");
  cJSON_AddStringToObject(pv, "machine", r->machine);
  cJSON_AddStringToObject(pv, "cpu", r->cpu);
  cJSON_AddNumberToObject(pv, "threads", r->threads);
  cJSON_AddStringToObject(pv, "dataset", r->dataset);
  cJSON_AddStringToObject(pv, "versions", r->versions);
  cJSON_AddStringToObject(pv, "trainer", r->trainer);
  return o;
}

char *eahas_run_record_to_json(const eahas_run_record *r) {
  cJSON *o = build(r);
  if (!o) return NULL;
  char *s = cJSON_Print(o);
  cJSON_Delete(o);
  return s;
}

int eahas_run_record_write(const eahas_run_record *r, const char *path, eahas_err *err) {
  char *s = eahas_run_record_to_json(r);
  if (!s) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory formatting the record for %s", path);
  size_t n = strlen(s);
  s[n] = '\n'; /* cJSON_Print leaves room only for the NUL: write n bytes then a newline */
  int rc = eahas_write_file_atomic(path, s, n + 1, err);
  free(s);
  return rc;
}

/* ---- reading and validation ------------------------------------------------------------ */

static cJSON *member(const cJSON *o, const char *key, const char *where, eahas_err *err) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v) eahas_err_set(err, EAHAS_EFORMAT, "missing field \"%s%s\"", where, key);
  return v;
}

static int get_number(const cJSON *o, const char *key, const char *where, double *out, eahas_err *err) {
  cJSON *v = member(o, key, where, err);
  if (!v) return EAHAS_EFORMAT;
  if (!cJSON_IsNumber(v))
    return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\" is not a number", where, key);
  if (!isfinite(v->valuedouble))
    return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\" is not finite", where, key);
  *out = v->valuedouble;
  return EAHAS_OK;
}

static int get_int(const cJSON *o, const char *key, const char *where, int lo, int hi, int *out, eahas_err *err) {
  double d = 0;
  int rc = get_number(o, key, where, &d, err);
  if (rc) return rc;
  if (d != floor(d) || d < lo || d > hi)
    return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\"=%g is not an integer in [%d, %d]", where, key, d, lo, hi);
  *out = (int)d;
  return EAHAS_OK;
}

/* A non-negative finite number (energies, times, counts). */
static int get_nonneg(const cJSON *o, const char *key, const char *where, double *out, eahas_err *err) {
  int rc = get_number(o, key, where, out, err);
  if (rc) return rc;
  if (*out < 0) return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\"=%g is negative", where, key, *out);
  return EAHAS_OK;
}

static int get_string(const cJSON *o, const char *key, const char *where, char *buf, size_t n, eahas_err *err) {
  cJSON *v = member(o, key, where, err);
  if (!v) return EAHAS_EFORMAT;
  if (!cJSON_IsString(v) || !v->valuestring)
    return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\" is not a string", where, key);
  size_t len = strlen(v->valuestring);
  if (len >= n)
    return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s%s\" is %zu bytes long, at most %zu allowed", where, key,
                         len, n - 1);
  memcpy(buf, v->valuestring, len + 1);
  return EAHAS_OK;
}

static int get_object(const cJSON *o, const char *key, cJSON **out, eahas_err *err) {
  *out = member(o, key, "", err);
  if (!*out) return EAHAS_EFORMAT;
  if (!cJSON_IsObject(*out)) return eahas_err_set(err, EAHAS_EFORMAT, "field \"%s\" is not an object", key);
  return EAHAS_OK;
}

static int parse_seed(const cJSON *o, uint64_t *out, eahas_err *err) {
  cJSON *v = member(o, "seed", "", err);
  if (!v) return EAHAS_EFORMAT;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d != floor(d) || d > 9007199254740992.0)
      return eahas_err_set(err, EAHAS_EFORMAT, "field \"seed\"=%g is not an integer in [0, 2^53]", d);
    *out = (uint64_t)d;
    return EAHAS_OK;
  }
  if (cJSON_IsString(v) && v->valuestring && v->valuestring[0] >= '0' && v->valuestring[0] <= '9') {
    char *end;
    unsigned long long s = strtoull(v->valuestring, &end, 10);
    if (*end == '\0') {
      *out = s;
      return EAHAS_OK;
    }
  }
  return eahas_err_set(err, EAHAS_EFORMAT, "field \"seed\" is not a non-negative integer");
}

static int check_units(const cJSON *o, eahas_err *err) {
  cJSON *u;
  int rc = get_object(o, "units", &u, err);
  if (rc) return rc;
  for (int i = 0; i < N_UNITS; i++) {
    char b[32];
    rc = get_string(u, UNIT_KEYS[i], "units.", b, sizeof b, err);
    if (rc) return rc;
    if (strcmp(b, UNIT_VALUES[i]) != 0)
      return eahas_err_set(err, EAHAS_EFORMAT, "field \"units.%s\"=\"%s\", expected \"%s\"", UNIT_KEYS[i], b,
                           UNIT_VALUES[i]);
  }
  return EAHAS_OK;
}

/* The allowed range of each curve. */
static int check_curve_value(int i, int e, double v, eahas_err *err) {
  const char *name = CURVE_NAMES[i];
  if (i >= 1 && i <= 4 && (v < 0 || v > 100))
    return eahas_err_set(err, EAHAS_EFORMAT, "curves.%s[%d]=%g is outside [0, 100] (percent)", name, e, v);
  if (i >= 5 && v < 0) return eahas_err_set(err, EAHAS_EFORMAT, "curves.%s[%d]=%g is negative", name, e, v);
  return EAHAS_OK;
}

static int parse_curves(const cJSON *o, eahas_run_record *r, eahas_err *err) {
  cJSON *cv;
  int rc = get_object(o, "curves", &cv, err);
  if (rc) return rc;
  for (int i = 0; i < N_CURVES; i++) {
    cJSON *arr = member(cv, CURVE_NAMES[i], "curves.", err);
    if (!arr) return EAHAS_EFORMAT;
    if (!cJSON_IsArray(arr))
      return eahas_err_set(err, EAHAS_EFORMAT, "field \"curves.%s\" is not an array", CURVE_NAMES[i]);
    int len = cJSON_GetArraySize(arr);
    if (len != r->epochs_trained)
      return eahas_err_set(err, EAHAS_EFORMAT, "curves.%s has %d entries, epochs_trained is %d", CURVE_NAMES[i], len,
                           r->epochs_trained);
    double *a = *curve_ptr(r, i);
    int e = 0;
    for (cJSON *x = arr->child; x; x = x->next, e++) {
      if (!cJSON_IsNumber(x)) /* cJSON writes NaN and Inf as null */
        return eahas_err_set(err, EAHAS_EFORMAT, "curves.%s[%d] is not a number (NaN or Inf written as null?)",
                             CURVE_NAMES[i], e);
      a[e] = x->valuedouble; /* ranges are checked with the rest by eahas_run_record_check_values */
    }
  }
  return EAHAS_OK;
}

/* A total must equal the sum of its curve; the tolerance covers summation order only. */
static int check_total(const char *name, double total, double sum, eahas_err *err) {
  if (fabs(total - sum) <= 1e-6 * fmax(fabs(total), fabs(sum)) + 1e-9) return EAHAS_OK;
  return eahas_err_set(err, EAHAS_EFORMAT, "totals.%s=%.17g disagrees with the curves, which give %.17g", name, total,
                       sum);
}

static int check_totals(const eahas_run_record *r, eahas_err *err) {
  double t = 0, tr = 0, ev = 0;
  for (int e = 0; e < r->epochs_trained; e++) {
    t += r->epoch_time_s[e];
    tr += r->train_energy_j[e];
    ev += r->eval_energy_j[e];
  }
  int rc = check_total("train_time_s", r->train_time_s, t, err);
  if (!rc) rc = check_total("total_energy_j", r->total_energy_j, tr + ev, err);
  if (!rc) rc = check_total("tec_kwh (sum of train_energy_j / 3.6e6)", r->tec_kwh, tr / 3.6e6, err);
  return rc;
}

/* One measurement method: "nvml-counter", "nvml-power", "rapl", "perf" or "estimate:<model>". */
static int known_method(const char *m, size_t n) {
  static const char *const known[] = {"nvml-counter", "nvml-power", "rapl", "perf"};
  if (n > 9 && strncmp(m, "estimate:", 9) == 0) return 1;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strlen(known[i]) == n && strncmp(m, known[i], n) == 0) return 1;
  return 0;
}

/* A method, or methods joined by '+' when GPU and CPU are measured together
 * ("nvml-counter+rapl"), or "none" (no meter: every energy figure must then be 0). */
static int check_method(const eahas_run_record *r, eahas_err *err) {
  const char *m = r->energy_method;
  int ok = m[0] != '\0';
  for (const char *p = m; ok && *p;) {
    size_t n = strcspn(p, "+");
    ok = known_method(p, n);
    p += n;
    if (*p == '+') ok = ok && *++p != '\0';
  }
  if (strcmp(m, "none") == 0) {
    if (r->total_energy_j != 0 || r->iec_j_per_image != 0)
      return eahas_err_set(err, EAHAS_EFORMAT, "energy.method is \"none\" but the record has non-zero energies");
    return EAHAS_OK;
  }
  if (!ok)
    return eahas_err_set(err, EAHAS_EFORMAT,
                         "energy.method=\"%s\" is not nvml-counter, nvml-power, rapl, perf, estimate:<model>, "
                         "several of those joined by '+', or none",
                         m);
  return EAHAS_OK;
}

static int parse_head(const cJSON *o, eahas_run_record *r, eahas_err *err) {
  int ver;
  int rc = get_int(o, "schema_version", "", -1000000, 1000000, &ver, err);
  if (rc) return rc;
  if (ver != EAHAS_RECORD_SCHEMA_VERSION)
    return eahas_err_set(err, EAHAS_EFORMAT, "schema_version=%d, this eahas reads version %d", ver,
                         EAHAS_RECORD_SCHEMA_VERSION);
  r->schema_version = ver;
  if ((rc = get_string(o, "preset", "", r->preset, sizeof r->preset, err))) return rc;
  const eahas_preset *p = eahas_preset_get(r->preset);
  if (!p) return eahas_err_set(err, EAHAS_EFORMAT, "preset=\"%s\" is not a known preset", r->preset);
  cJSON *cfg;
  if ((rc = get_object(o, "config", &cfg, err))) return rc;
  char *ctext = cJSON_PrintUnformatted(cfg);
  if (!ctext) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading the config");
  rc = eahas_config_parse(ctext, &r->config, err);
  free(ctext);
  if (!rc) rc = eahas_config_validate(&r->config, p, 0, err);
  if (rc) {
    eahas_err_prefix(err, rc, "config");
    if (err) err->code = EAHAS_EFORMAT;
    return EAHAS_EFORMAT;
  }
  if ((rc = get_string(o, "id", "", r->id, sizeof r->id, err))) return rc;
  char want[17];
  eahas_run_id(r->preset, &r->config, want);
  if (strcmp(want, r->id) != 0)
    return eahas_err_set(err, EAHAS_EFORMAT, "id=\"%s\" does not match preset and config, whose id is %s", r->id, want);
  return parse_seed(o, &r->seed, err);
}

static int parse_epochs(const cJSON *o, eahas_run_record *r, eahas_err *err) {
  int rc = get_int(o, "epochs_planned", "", 1, EAHAS_MAX_EPOCHS, &r->epochs_planned, err);
  if (!rc) rc = get_int(o, "epochs_limit", "", 1, r->epochs_planned, &r->epochs_limit, err);
  if (!rc) rc = get_int(o, "epochs_trained", "", 0, r->epochs_limit, &r->epochs_trained, err);
  if (rc) return rc;
  if (r->epochs_planned != r->config.epochs)
    return eahas_err_set(err, EAHAS_EFORMAT, "epochs_planned=%d differs from the config's epochs=%d",
                         r->epochs_planned, r->config.epochs);
  if ((rc = get_string(o, "status", "", r->status, sizeof r->status, err))) return rc;
  if ((rc = get_string(o, "reason", "", r->reason, sizeof r->reason, err))) return rc;
  if (strcmp(r->status, "ok") == 0) {
    if (r->epochs_trained != r->epochs_limit)
      return eahas_err_set(err, EAHAS_EFORMAT, "status \"ok\" but epochs_trained=%d is not epochs_limit=%d",
                           r->epochs_trained, r->epochs_limit);
  } else if (strcmp(r->status, "diverged") != 0 && strcmp(r->status, "failed") != 0) {
    return eahas_err_set(err, EAHAS_EFORMAT, "status=\"%s\" is not one of ok, diverged, failed", r->status);
  }
  return EAHAS_OK;
}

static int parse_tail(const cJSON *o, eahas_run_record *r, eahas_err *err) {
  cJSON *cx, *tot, *en, *pv;
  int rc;
  if ((rc = get_object(o, "complexity", &cx, err))) return rc;
  if ((rc = get_nonneg(cx, "flops", "complexity.", &r->cx.flops, err))) return rc;
  if ((rc = get_nonneg(cx, "params", "complexity.", &r->cx.params, err))) return rc;
  if ((rc = get_nonneg(cx, "acts", "complexity.", &r->cx.acts, err))) return rc;
  if ((rc = get_object(o, "totals", &tot, err))) return rc;
  if ((rc = get_nonneg(tot, "train_time_s", "totals.", &r->train_time_s, err))) return rc;
  if ((rc = get_nonneg(tot, "total_energy_j", "totals.", &r->total_energy_j, err))) return rc;
  if ((rc = get_nonneg(tot, "tec_kwh", "totals.", &r->tec_kwh, err))) return rc;
  if ((rc = get_nonneg(tot, "iec_j_per_image", "totals.", &r->iec_j_per_image, err))) return rc;
  if ((rc = get_object(o, "energy", &en, err))) return rc;
  if ((rc = get_string(en, "method", "energy.", r->energy_method, sizeof r->energy_method, err))) return rc;
  if ((rc = get_string(en, "domains", "energy.", r->energy_domains, sizeof r->energy_domains, err))) return rc;
  cJSON *sh = member(en, "shared", "energy.", err);
  if (!sh) return EAHAS_EFORMAT;
  if (!cJSON_IsBool(sh)) return eahas_err_set(err, EAHAS_EFORMAT, "field \"energy.shared\" is not true or false");
  r->energy_shared = cJSON_IsTrue(sh);
  if ((rc = get_object(o, "provenance", &pv, err))) return rc;
  if ((rc = get_string(pv, "machine", "provenance.", r->machine, sizeof r->machine, err))) return rc;
  if ((rc = get_string(pv, "cpu", "provenance.", r->cpu, sizeof r->cpu, err))) return rc;
  if ((rc = get_int(pv, "threads", "provenance.", 0, 1 << 20, &r->threads, err))) return rc;
  if ((rc = get_string(pv, "dataset", "provenance.", r->dataset, sizeof r->dataset, err))) return rc;
  if ((rc = get_string(pv, "versions", "provenance.", r->versions, sizeof r->versions, err))) return rc;
  return get_string(pv, "trainer", "provenance.", r->trainer, sizeof r->trainer, err);
}

/* Complexity is a function of the config and the preset (every trainer's record gets it from
 * eahas_config_complexity), so a record that disagrees was edited or written by another build. */
static int check_complexity(const eahas_run_record *r, eahas_err *err) {
  const eahas_preset *p = eahas_preset_get(r->preset);
  if (!p) return eahas_err_set(err, EAHAS_EFORMAT, "preset=\"%s\" is not a known preset", r->preset);
  eahas_complexity cx;
  eahas_err e = {0};
  if (eahas_config_complexity(&r->config, p, NULL, &cx, &e))
    return eahas_err_set(err, EAHAS_EFORMAT, "config: %s", e.msg);
  const double got[] = {r->cx.flops, r->cx.params, r->cx.acts}, want[] = {cx.flops, cx.params, cx.acts};
  static const char *const names[] = {"flops", "params", "acts"};
  for (int i = 0; i < 3; i++)
    if (got[i] != want[i])
      return eahas_err_set(err, EAHAS_EFORMAT, "complexity.%s=%.17g differs from %.17g, computed from the config "
                           "under preset %s", names[i], got[i], want[i], p->name);
  return EAHAS_OK;
}

int eahas_run_record_check_values(const eahas_run_record *r, eahas_err *err) {
  if (r->epochs_trained < 0 || r->epochs_trained > EAHAS_MAX_EPOCHS)
    return eahas_err_set(err, EAHAS_EFORMAT, "epochs_trained=%d is outside [0, %d]", r->epochs_trained,
                         EAHAS_MAX_EPOCHS);
  for (int i = 0; i < N_CURVES; i++) {
    const double *a = curve_get(r, i);
    for (int e = 0; e < r->epochs_trained; e++) {
      if (!isfinite(a[e])) return eahas_err_set(err, EAHAS_EFORMAT, "curves.%s[%d] is not finite", CURVE_NAMES[i], e);
      int rc = check_curve_value(i, e, a[e], err);
      if (rc) return rc;
    }
  }
  /* complexity is not listed: check_complexity wants it equal to the computed (finite, positive) one */
  const double tot[] = {r->train_time_s, r->total_energy_j, r->tec_kwh, r->iec_j_per_image};
  static const char *const names[] = {"totals.train_time_s", "totals.total_energy_j", "totals.tec_kwh",
                                      "totals.iec_j_per_image"};
  for (int i = 0; i < 4; i++)
    if (!isfinite(tot[i]) || tot[i] < 0)
      return eahas_err_set(err, EAHAS_EFORMAT, "%s=%g is not a non-negative finite number", names[i], tot[i]);
  int rc = check_totals(r, err);
  if (!rc) rc = check_method(r, err);
  return rc ? rc : check_complexity(r, err);
}

int eahas_json_unique_keys(const struct cJSON *v, eahas_err *err) {
  for (const cJSON *c = v->child; c; c = c->next) {
    if (cJSON_IsObject(v))
      for (const cJSON *d = v->child; d != c; d = d->next)
        if (strcmp(d->string, c->string) == 0)
          return eahas_err_set(err, EAHAS_EFORMAT, "key \"%s\" appears twice in one object", c->string);
    if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
      int rc = eahas_json_unique_keys(c, err);
      if (rc) return rc;
    }
  }
  return EAHAS_OK;
}

int eahas_run_record_from_json(const char *text, eahas_run_record *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  cJSON *o = cJSON_Parse(text);
  if (!o) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= text ? (long)(at - text) : -1;
    return eahas_err_set(err, EAHAS_EFORMAT, "not valid JSON (truncated or corrupted) near byte %ld", off);
  }
  eahas_run_record r;
  memset(&r, 0, sizeof r);
  int rc = EAHAS_OK;
  if (!cJSON_IsObject(o)) rc = eahas_err_set(err, EAHAS_EFORMAT, "not a JSON object");
  if (!rc) rc = eahas_json_unique_keys(o, err); /* cJSON would keep the first silently */
  if (!rc) rc = parse_head(o, &r, err);
  if (!rc) rc = parse_epochs(o, &r, err);
  if (!rc) rc = check_units(o, err);
  if (!rc) {
    eahas_run_record tmp = r;
    rc = eahas_run_record_init(&tmp, r.epochs_trained, err);
    if (!rc) {
      /* init zeroed the scalars: keep the arrays, restore what was parsed */
      for (int i = 0; i < N_CURVES; i++) *curve_ptr(&r, i) = *curve_ptr(&tmp, i);
    }
  }
  if (!rc) rc = parse_curves(o, &r, err);
  if (!rc) rc = parse_tail(o, &r, err);
  if (!rc) rc = eahas_run_record_check_values(&r, err);
  cJSON_Delete(o);
  if (rc) {
    eahas_run_record_free(&r);
    return rc;
  }
  *out = r;
  return EAHAS_OK;
}

int eahas_run_record_read(const char *path, eahas_run_record *out, eahas_err *err) {
  char *text = NULL;
  int rc = eahas_read_file(path, 64u << 20, &text, NULL, err);
  if (rc) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  rc = eahas_run_record_from_json(text, out, err);
  free(text);
  if (rc) eahas_err_prefix(err, rc, "%s", path);
  return rc;
}
