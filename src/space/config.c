/* Configs of the joint space: the allowed values, the canonical text and JSON forms, parsing
 * with messages that name the key, the value and what is allowed, and validation under a preset
 * (EA-HAS-Bench (ICLR 2023) search space, REFERENCE.md §2).
 *
 * Decimal values are parsed exactly: "20.3" becomes 203 tenths by digit arithmetic, never
 * through a binary double, so that format(parse(x)) == x. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "eahas/space.h"

const double EAHAS_LR_VALUES[EAHAS_NUM_LR] = {0.001, 0.003, 0.005, 0.01, 0.03, 0.05, 0.1, 0.3, 0.5, 1.0};
const int EAHAS_GW_VALUES[EAHAS_NUM_GW] = {1, 2, 4, 8, 16, 24, 32};
const int EAHAS_EPOCH_VALUES[EAHAS_NUM_EPOCHS] = {50, 100, 200};
const char *const EAHAS_OPT_NAMES[3] = {"sgd", "adam", "adamw"};
const char *const EAHAS_SCHED_NAMES[3] = {"cos", "exp", "lin"};

/* The learning rates in thousandths and their canonical spelling. */
static const int LR_MILLI[EAHAS_NUM_LR] = {1, 3, 5, 10, 30, 50, 100, 300, 500, 1000};
static const char *const LR_TEXT[EAHAS_NUM_LR] = {"0.001", "0.003", "0.005", "0.01", "0.03",
                                                  "0.05",  "0.1",   "0.3",   "0.5",  "1.0"};
static const int CUTOUT_VALUES[2] = {0, 16};

/* Longest text a parser accepts; canonical forms are < EAHAS_CONFIG_TEXT_MAX, JSON with spaces
 * a little longer. A 1 MB line is rejected here before any other work. */
#define PARSE_MAX_BYTES 4096

enum { K_D, K_W0, K_WA, K_WM, K_GW, K_LR, K_OPT, K_SCHED, K_CUTOUT, K_EPOCHS, NUM_KEYS };
static const char *const KEY_NAMES[NUM_KEYS] = {"d",  "w0",  "wa",    "wm",     "gw",
                                                "lr", "opt", "sched", "cutout", "epochs"};
#define ALL_KEYS "d, w0, wa, wm, gw, lr, opt, sched, cutout, epochs"

/* ---- formatting ------------------------------------------------------------------------ */

int eahas_config_format(const eahas_config *c, char *buf, int n) {
  int lr = c->lr_idx >= 0 && c->lr_idx < EAHAS_NUM_LR ? c->lr_idx : 0;
  int opt = c->opt >= 0 && c->opt < 3 ? (int)c->opt : 0;
  int sched = c->sched >= 0 && c->sched < 3 ? (int)c->sched : 0;
  return snprintf(buf, n > 0 ? (size_t)n : 0,
                  "d=%d,w0=%d,wa=%d.%d,wm=%d.%03d,gw=%d,lr=%s,opt=%s,sched=%s,cutout=%d,epochs=%d", c->d,
                  c->w0, c->wa10 / 10, abs(c->wa10 % 10), c->wm1000 / 1000, abs(c->wm1000 % 1000), c->gw,
                  LR_TEXT[lr], EAHAS_OPT_NAMES[opt], EAHAS_SCHED_NAMES[sched], c->cutout, c->epochs);
}

char *eahas_config_to_json(const eahas_config *c) {
  int lr = c->lr_idx >= 0 && c->lr_idx < EAHAS_NUM_LR ? c->lr_idx : 0;
  int opt = c->opt >= 0 && c->opt < 3 ? (int)c->opt : 0;
  int sched = c->sched >= 0 && c->sched < 3 ? (int)c->sched : 0;
  const char *fmt = "{\"d\":%d,\"w0\":%d,\"wa\":%d.%d,\"wm\":%d.%03d,\"gw\":%d,\"lr\":%s,\"opt\":\"%s\","
                    "\"sched\":\"%s\",\"cutout\":%d,\"epochs\":%d}";
  char tmp[256];
  int len = snprintf(tmp, sizeof tmp, fmt, c->d, c->w0, c->wa10 / 10, abs(c->wa10 % 10), c->wm1000 / 1000,
                     abs(c->wm1000 % 1000), c->gw, LR_TEXT[lr], EAHAS_OPT_NAMES[opt],
                     EAHAS_SCHED_NAMES[sched], c->cutout, c->epochs);
  if (len < 0 || len >= (int)sizeof tmp) return NULL;
  char *out = malloc((size_t)len + 1);
  if (out) memcpy(out, tmp, (size_t)len + 1);
  return out;
}

/* ---- exact decimal parsing ------------------------------------------------------------- */

enum { DEC_OK = 0, DEC_NAN = 1, DEC_OFFGRID = 2, DEC_HUGE = 3 };

/* Parses s (whole string: [+-]digits[.digits][e[+-]digits]) as an integer count of
 * 10^-places units, exactly. DEC_OFFGRID when it has finer decimals than that, DEC_HUGE when
 * its magnitude exceeds 1e15 units. */
static int parse_decimal(const char *s, int places, long long *out) {
  const char *p = s;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = *p++ == '-';
  char digits[64];
  int nd = 0, nfrac = 0, any = 0, seen_dot = 0;
  for (;; p++) {
    if (isdigit((unsigned char)*p)) {
      any = 1;
      if (seen_dot) nfrac++;
      if (nd == 0 && *p == '0') continue; /* leading zeros carry no value */
      if (nd == (int)sizeof digits) return DEC_HUGE;
      digits[nd++] = *p;
    } else if (*p == '.' && !seen_dot) {
      seen_dot = 1;
    } else {
      break;
    }
  }
  if (!any) return DEC_NAN;
  long exp10 = 0;
  if (*p == 'e' || *p == 'E') {
    p++;
    int eneg = 0;
    if (*p == '+' || *p == '-') eneg = *p++ == '-';
    if (!isdigit((unsigned char)*p)) return DEC_NAN;
    while (isdigit((unsigned char)*p)) {
      if (exp10 < 100000) exp10 = exp10 * 10 + (*p - '0');
      p++;
    }
    if (eneg) exp10 = -exp10;
  }
  if (*p) return DEC_NAN;
  /* Leading zeros after the dot were skipped but still count in nfrac, so the digit string
   * times 10^shift is the value in units. */
  long shift = exp10 - nfrac + places;
  if (nd == 0) {
    *out = 0;
    return DEC_OK;
  }
  if (shift < 0) {
    if (-shift > nd) return DEC_OFFGRID; /* nonzero value below one unit */
    for (int i = nd + (int)shift; i < nd; i++)
      if (digits[i] != '0') return DEC_OFFGRID;
    nd += (int)shift;
    shift = 0;
  }
  if (nd + shift > 15) return DEC_HUGE;
  long long v = 0;
  for (int i = 0; i < nd; i++) v = v * 10 + (digits[i] - '0');
  for (long i = 0; i < shift; i++) v *= 10;
  *out = neg ? -v : v;
  return DEC_OK;
}

/* ---- per-key checks -------------------------------------------------------------------- */

/* Value text as given, shortened for messages. */
static void show_value(const char *v, char *buf, size_t n) {
  size_t len = strlen(v);
  if (len < n) {
    memcpy(buf, v, len + 1);
  } else {
    memcpy(buf, v, n - 4);
    memcpy(buf + n - 4, "...", 4);
  }
}

static int err_number(eahas_err *err, const char *key, const char *val, int dec, const char *allowed) {
  char shown[40];
  show_value(val, shown, sizeof shown);
  if (dec == DEC_NAN)
    return eahas_err_set(err, EAHAS_EINVAL, "%s='%s' is not a number (allowed: %s)", key, shown, allowed);
  if (dec == DEC_OFFGRID)
    return eahas_err_set(err, EAHAS_EINVAL, "%s=%s is off the grid (allowed: %s)", key, shown, allowed);
  return eahas_err_set(err, EAHAS_EINVAL, "%s=%s is out of range (allowed: %s)", key, shown, allowed);
}

/* A number with `places` decimals in [lo, hi] units and a multiple of step units. */
static int check_grid(const char *key, const char *val, int places, long long lo, long long hi, long long step,
                      const char *allowed, int *out, eahas_err *err) {
  long long v;
  int dec = parse_decimal(val, places, &v);
  if (dec == DEC_OK && (v < lo || v > hi)) dec = DEC_HUGE;
  if (dec == DEC_OK && (v - lo) % step != 0) dec = DEC_OFFGRID;
  if (dec) return err_number(err, key, val, dec, allowed);
  *out = (int)v;
  return 0;
}

/* A number with `places` decimals equal to one of set[0..n). */
static int check_set(const char *key, const char *val, int places, const int *set, int n, const char *allowed,
                     int *idx, eahas_err *err) {
  long long v;
  int dec = parse_decimal(val, places, &v);
  if (dec == DEC_NAN) return err_number(err, key, val, dec, allowed);
  for (int i = 0; dec == DEC_OK && i < n; i++)
    if (set[i] == v) {
      *idx = i;
      return 0;
    }
  char shown[40];
  show_value(val, shown, sizeof shown);
  return eahas_err_set(err, EAHAS_EINVAL, "%s=%s is not one of %s", key, shown, allowed);
}

static int check_name(const char *key, const char *val, const char *const *names, int n, int *idx,
                      eahas_err *err) {
  for (int i = 0; i < n; i++)
    if (strcmp(val, names[i]) == 0) {
      *idx = i;
      return 0;
    }
  char shown[40];
  show_value(val, shown, sizeof shown);
  return eahas_err_set(err, EAHAS_EINVAL, "%s='%s' is not one of %s, %s, %s", key, shown, names[0], names[1],
                       names[2]);
}

/* Sets the field of key k from its value text. */
static int set_field(int k, const char *val, eahas_config *c, eahas_err *err) {
  int idx = 0, rc = 0;
  switch (k) {
  case K_D: return check_grid("d", val, 0, 6, 15, 1, "integers 6..15", &c->d, err);
  case K_W0: return check_grid("w0", val, 0, 48, 128, 8, "48..128 in steps of 8", &c->w0, err);
  case K_WA: return check_grid("wa", val, 1, 80, 320, 1, "8.0..32.0 in steps of 0.1", &c->wa10, err);
  case K_WM: return check_grid("wm", val, 3, 1500, 3000, 1, "1.500..3.000 in steps of 0.001", &c->wm1000, err);
  case K_GW:
    rc = check_set("gw", val, 0, EAHAS_GW_VALUES, EAHAS_NUM_GW, "1, 2, 4, 8, 16, 24, 32", &idx, err);
    if (!rc) c->gw = EAHAS_GW_VALUES[idx];
    return rc;
  case K_LR:
    rc = check_set("lr", val, 3, LR_MILLI, EAHAS_NUM_LR,
                   "0.001, 0.003, 0.005, 0.01, 0.03, 0.05, 0.1, 0.3, 0.5, 1.0", &idx, err);
    if (!rc) c->lr_idx = idx;
    return rc;
  case K_OPT:
    rc = check_name("opt", val, EAHAS_OPT_NAMES, 3, &idx, err);
    if (!rc) c->opt = (eahas_opt_kind)idx;
    return rc;
  case K_SCHED:
    rc = check_name("sched", val, EAHAS_SCHED_NAMES, 3, &idx, err);
    if (!rc) c->sched = (eahas_sched_kind)idx;
    return rc;
  case K_CUTOUT:
    rc = check_set("cutout", val, 0, CUTOUT_VALUES, 2, "0, 16", &idx, err);
    if (!rc) c->cutout = CUTOUT_VALUES[idx];
    return rc;
  default:
    rc = check_set("epochs", val, 0, EAHAS_EPOCH_VALUES, EAHAS_NUM_EPOCHS, "50, 100, 200", &idx, err);
    if (!rc) c->epochs = EAHAS_EPOCH_VALUES[idx];
    return rc;
  }
}

static int key_index(const char *key) {
  for (int k = 0; k < NUM_KEYS; k++)
    if (strcmp(key, KEY_NAMES[k]) == 0) return k;
  return -1;
}

/* Records key k as seen; errors on unknown or duplicate keys. */
static int see_key(const char *key, int *seen, int *k_out, eahas_err *err) {
  int k = key_index(key);
  char shown[40];
  show_value(key, shown, sizeof shown);
  if (k < 0) return eahas_err_set(err, EAHAS_EINVAL, "unknown key '%s' (allowed keys: " ALL_KEYS ")", shown);
  if (seen[k]) return eahas_err_set(err, EAHAS_EINVAL, "duplicate key '%s'", shown);
  seen[k] = 1;
  *k_out = k;
  return 0;
}

static int check_all_seen(const int *seen, eahas_err *err) {
  for (int k = 0; k < NUM_KEYS; k++)
    if (!seen[k])
      return eahas_err_set(err, EAHAS_EINVAL, "missing key '%s' (a config needs all of " ALL_KEYS ")",
                           KEY_NAMES[k]);
  return 0;
}

/* ---- text form ------------------------------------------------------------------------- */

static char *trim(char *s) {
  while (*s && isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
  return s;
}

static int parse_text(char *s, eahas_config *out, eahas_err *err) {
  int seen[NUM_KEYS] = {0};
  eahas_config c = {0};
  for (char *item = s;;) {
    char *comma = strchr(item, ',');
    if (comma) *comma = 0;
    char *eq = strchr(item, '=');
    if (!eq) {
      char shown[40];
      show_value(trim(item), shown, sizeof shown);
      return eahas_err_set(err, EAHAS_EINVAL, "'%s' is not key=value (a config is d=..,w0=..,wa=..,...)", shown);
    }
    *eq = 0;
    int k;
    int rc = see_key(trim(item), seen, &k, err);
    if (!rc) rc = set_field(k, trim(eq + 1), &c, err);
    if (rc) return rc;
    if (!comma) break;
    item = comma + 1;
  }
  int rc = check_all_seen(seen, err);
  if (!rc) *out = c;
  return rc;
}

/* ---- JSON form ------------------------------------------------------------------------- */

static int parse_json(const char *s, eahas_config *out, eahas_err *err) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithOpts(s, &end, 1);
  if (!root) {
    long off = end ? (long)(end - s) : 0;
    return eahas_err_set(err, EAHAS_EINVAL, "config is not valid JSON (error near byte %ld)", off);
  }
  int rc = 0, seen[NUM_KEYS] = {0};
  eahas_config c = {0};
  if (!cJSON_IsObject(root)) {
    rc = eahas_err_set(err, EAHAS_EINVAL, "config JSON must be an object with keys " ALL_KEYS);
    goto done;
  }
  for (cJSON *it = root->child; it && !rc; it = it->next) {
    int k;
    rc = see_key(it->string ? it->string : "", seen, &k, err);
    if (rc) break;
    char num[64];
    const char *val;
    if (cJSON_IsString(it)) {
      val = it->valuestring;
    } else if (cJSON_IsNumber(it)) {
      /* 15 significant digits give back the decimal text of any value written with at most
       * 15 digits (20.3 -> "20.3"), which the exact parser then checks. */
      snprintf(num, sizeof num, "%.15g", it->valuedouble);
      val = num;
    } else {
      rc = eahas_err_set(err, EAHAS_EINVAL, "%s: JSON value must be a number or a string", KEY_NAMES[k]);
      break;
    }
    rc = set_field(k, val, &c, err);
  }
  if (!rc) rc = check_all_seen(seen, err);
  if (!rc) *out = c;
done:
  cJSON_Delete(root);
  return rc;
}

int eahas_config_parse(const char *text, eahas_config *out, eahas_err *err) {
  if (!text) return eahas_err_set(err, EAHAS_EINVAL, "empty config (expected d=..,w0=..,wa=..,...)");
  size_t n = strnlen(text, PARSE_MAX_BYTES + 1);
  if (n > PARSE_MAX_BYTES)
    return eahas_err_set(err, EAHAS_EINVAL, "config is too long: more than %d bytes (a config is under %d)",
                         PARSE_MAX_BYTES, EAHAS_CONFIG_TEXT_MAX);
  long bad = eahas_utf8_invalid_at(text, n);
  if (bad >= 0)
    return eahas_err_set(err, EAHAS_EINVAL, "config is not valid UTF-8: byte 0x%02x at offset %ld",
                         (unsigned char)text[bad], bad);
  char buf[PARSE_MAX_BYTES + 1];
  memcpy(buf, text, n + 1);
  char *s = trim(buf);
  if (!*s) return eahas_err_set(err, EAHAS_EINVAL, "empty config (expected d=..,w0=..,wa=..,...)");
  if (*s == '{') return parse_json(s, out, err);
  return parse_text(s, out, err);
}

/* ---- validation ------------------------------------------------------------------------ */

static int in_set(int v, const int *set, int n) {
  for (int i = 0; i < n; i++)
    if (set[i] == v) return 1;
  return 0;
}

/* Checks every field of a config built in code against the full space. */
static int check_fields(const eahas_config *c, eahas_err *err) {
  if (c->d < 6 || c->d > 15) return eahas_err_set(err, EAHAS_EINVAL, "d=%d is outside [6, 15]", c->d);
  if (c->w0 < 48 || c->w0 > 128 || c->w0 % 8)
    return eahas_err_set(err, EAHAS_EINVAL, "w0=%d is not in 48..128 in steps of 8", c->w0);
  if (c->wa10 < 80 || c->wa10 > 320)
    return eahas_err_set(err, EAHAS_EINVAL, "wa=%.1f is outside [8.0, 32.0]", c->wa10 / 10.0);
  if (c->wm1000 < 1500 || c->wm1000 > 3000)
    return eahas_err_set(err, EAHAS_EINVAL, "wm=%.3f is outside [1.500, 3.000]", c->wm1000 / 1000.0);
  if (!in_set(c->gw, EAHAS_GW_VALUES, EAHAS_NUM_GW))
    return eahas_err_set(err, EAHAS_EINVAL, "gw=%d is not one of 1, 2, 4, 8, 16, 24, 32", c->gw);
  if (c->lr_idx < 0 || c->lr_idx >= EAHAS_NUM_LR)
    return eahas_err_set(err, EAHAS_EINVAL, "lr index %d is outside [0, %d]", c->lr_idx, EAHAS_NUM_LR - 1);
  if ((int)c->opt < 0 || (int)c->opt > 2)
    return eahas_err_set(err, EAHAS_EINVAL, "optimizer %d is not one of sgd (0), adam (1), adamw (2)", (int)c->opt);
  if ((int)c->sched < 0 || (int)c->sched > 2)
    return eahas_err_set(err, EAHAS_EINVAL, "lr policy %d is not one of cos (0), exp (1), lin (2)", (int)c->sched);
  if (!in_set(c->cutout, CUTOUT_VALUES, 2))
    return eahas_err_set(err, EAHAS_EINVAL, "cutout=%d is not one of 0, 16", c->cutout);
  if (!in_set(c->epochs, EAHAS_EPOCH_VALUES, EAHAS_NUM_EPOCHS))
    return eahas_err_set(err, EAHAS_EINVAL, "epochs=%d is not one of 50, 100, 200", c->epochs);
  return 0;
}

int eahas_config_validate(const eahas_config *c, const eahas_preset *p, int check_constraints, eahas_err *err) {
  int rc = check_fields(c, err);
  if (rc) return rc;
  if (c->wm1000 < p->wm1000_min || c->wm1000 > p->wm1000_max)
    return eahas_err_set(err, EAHAS_EINVAL, "wm=%.3f is outside [%.3f, %.3f] of preset %s", c->wm1000 / 1000.0,
                         p->wm1000_min / 1000.0, p->wm1000_max / 1000.0, p->name);
  if (!check_constraints) return 0;
  eahas_regnet r;
  eahas_complexity cx;
  rc = eahas_config_complexity(c, p, &r, &cx, err);
  if (rc) return rc;
  return eahas_preset_check_constraints(p, &r, &cx, err);
}

int eahas_preset_check_constraints(const eahas_preset *p, const eahas_regnet *r, const eahas_complexity *cx,
                                   eahas_err *err) {
  if (p->required_stages && (r->num_stages != p->required_stages || r->max_stages != p->required_stages))
    return eahas_err_set(err, EAHAS_EINVAL,
                         "num_stages=%d, max_stages=%d: preset %s requires exactly %d stages (both equal to %d)",
                         r->num_stages, r->max_stages, p->name, p->required_stages, p->required_stages);
  if ((p->flops_min > 0 && cx->flops < p->flops_min) || (p->flops_max > 0 && cx->flops > p->flops_max))
    return eahas_err_set(err, EAHAS_EINVAL, "flops=%.0f is outside [%.0f, %.0f] of preset %s", cx->flops,
                         p->flops_min, p->flops_max, p->name);
  if (p->params_max > 0 && cx->params > p->params_max)
    return eahas_err_set(err, EAHAS_EINVAL, "params=%.0f is above the maximum %.0f of preset %s", cx->params,
                         p->params_max, p->name);
  if (p->acts_max > 0 && cx->acts > p->acts_max)
    return eahas_err_set(err, EAHAS_EINVAL, "acts=%.0f is above the maximum %.0f of preset %s", cx->acts,
                         p->acts_max, p->name);
  return 0;
}

/* ---- architecture alone (pycls models off the benchmark's grid) ------------------------- */

static int arch_int(const char *key, const char *val, int *out, eahas_err *err) {
  long long v;
  int dec = parse_decimal(val, 0, &v);
  if (dec == DEC_OK && (v < 1 || v > 100000)) dec = DEC_HUGE;
  if (dec) return err_number(err, key, val, dec, "an integer in [1, 100000]");
  *out = (int)v;
  return 0;
}

static int arch_real(const char *key, const char *val, double lo, int lo_open, double *out, eahas_err *err) {
  char *end;
  double v = strtod(val, &end);
  char shown[40];
  show_value(val, shown, sizeof shown);
  if (!*val || *end || !isfinite(v))
    return eahas_err_set(err, EAHAS_EINVAL, "%s='%s' is not a number (allowed: a real %s %g)", key, shown,
                         lo_open ? ">" : ">=", lo);
  if (lo_open ? !(v > lo) : !(v >= lo))
    return eahas_err_set(err, EAHAS_EINVAL, "%s=%s is out of range (allowed: a real %s %g)", key, shown,
                         lo_open ? ">" : ">=", lo);
  *out = v;
  return 0;
}

int eahas_regnet_arch_parse(const char *text, eahas_regnet_arch *out, eahas_err *err) {
  static const char *const names[5] = {"d", "w0", "wa", "wm", "gw"};
  if (!text) return eahas_err_set(err, EAHAS_EINVAL, "empty architecture (expected d=..,w0=..,wa=..,wm=..,gw=..)");
  size_t n = strnlen(text, PARSE_MAX_BYTES + 1);
  if (n > PARSE_MAX_BYTES)
    return eahas_err_set(err, EAHAS_EINVAL, "architecture is too long: more than %d bytes", PARSE_MAX_BYTES);
  long bad = eahas_utf8_invalid_at(text, n);
  if (bad >= 0)
    return eahas_err_set(err, EAHAS_EINVAL, "architecture is not valid UTF-8: byte 0x%02x at offset %ld",
                         (unsigned char)text[bad], bad);
  char buf[PARSE_MAX_BYTES + 1];
  memcpy(buf, text, n + 1);
  char *s = trim(buf);
  if (!*s) return eahas_err_set(err, EAHAS_EINVAL, "empty architecture (expected d=..,w0=..,wa=..,wm=..,gw=..)");
  int seen[5] = {0};
  eahas_regnet_arch a = {0, 0, 0, 0, 0};
  for (char *item = s;;) {
    char *comma = strchr(item, ',');
    if (comma) *comma = 0;
    char *eq = strchr(item, '=');
    char shown[40];
    if (!eq) {
      show_value(trim(item), shown, sizeof shown);
      return eahas_err_set(err, EAHAS_EINVAL, "'%s' is not key=value (an architecture is d=..,w0=..,wa=..,wm=..,gw=..)",
                           shown);
    }
    *eq = 0;
    char *key = trim(item), *val = trim(eq + 1);
    int k = -1;
    for (int i = 0; i < 5; i++)
      if (strcmp(key, names[i]) == 0) k = i;
    show_value(key, shown, sizeof shown);
    if (k < 0) return eahas_err_set(err, EAHAS_EINVAL, "unknown key '%s' (architecture keys: d, w0, wa, wm, gw)", shown);
    if (seen[k]) return eahas_err_set(err, EAHAS_EINVAL, "duplicate key '%s'", shown);
    seen[k] = 1;
    int rc = k == 0 ? arch_int("d", val, &a.d, err)
             : k == 1 ? arch_int("w0", val, &a.w0, err)
             : k == 2 ? arch_real("wa", val, 0.0, 0, &a.wa, err)
             : k == 3 ? arch_real("wm", val, 1.0, 1, &a.wm, err)
                      : arch_int("gw", val, &a.gw, err);
    if (rc) return rc;
    if (!comma) break;
    item = comma + 1;
  }
  for (int i = 0; i < 5; i++)
    if (!seen[i])
      return eahas_err_set(err, EAHAS_EINVAL, "missing key '%s' (an architecture needs d, w0, wa, wm, gw)", names[i]);
  *out = a;
  return 0;
}

int eahas_config_equal(const eahas_config *a, const eahas_config *b) {
  return a->d == b->d && a->w0 == b->w0 && a->wa10 == b->wa10 && a->wm1000 == b->wm1000 && a->gw == b->gw &&
         a->lr_idx == b->lr_idx && a->opt == b->opt && a->sched == b->sched && a->cutout == b->cutout &&
         a->epochs == b->epochs;
}

uint64_t eahas_config_hash(const eahas_config *c) {
  char buf[EAHAS_CONFIG_TEXT_MAX];
  int n = eahas_config_format(c, buf, sizeof buf);
  return eahas_hash64(buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
}

double eahas_config_lr(const eahas_config *c) {
  return c->lr_idx >= 0 && c->lr_idx < EAHAS_NUM_LR ? EAHAS_LR_VALUES[c->lr_idx] : 0.0;
}
double eahas_config_wa(const eahas_config *c) { return c->wa10 / 10.0; }
double eahas_config_wm(const eahas_config *c) { return c->wm1000 / 1000.0; }
