/* Plans: N distinct configs of a preset, one JSON object per line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/sweep.h"

int eahas_sweep_plan(const eahas_preset *p, int n, uint64_t seed, eahas_plan_entry **out, eahas_err *err) {
  *out = NULL;
  if (n < 1 || n > 10000000) return eahas_err_set(err, EAHAS_EINVAL, "-n %d is outside [1, 10000000]", n);
  eahas_plan_entry *e = calloc((size_t)n, sizeof *e);
  if (!e) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory planning %d configs", n);
  eahas_rng rng;
  eahas_rng_seed(&rng, seed);
  long draws = 0, max_draws = 100L * n + 1000;
  int k = 0;
  while (k < n) {
    if (draws++ >= max_draws) {
      free(e);
      return eahas_err_set(err, EAHAS_ECONSTRAINT,
                           "found only %d distinct configs of preset %s in %ld draws; asked for %d", k, p->name,
                           max_draws, n);
    }
    eahas_config c;
    int rc = eahas_config_sample(&rng, p, 0, &c, err);
    if (rc) {
      free(e);
      return rc;
    }
    char id[17];
    eahas_run_id(p->name, &c, id);
    int dup = 0;
    /* linear scan: plans are thousands of lines at most in practice, and this keeps order */
    for (int i = 0; i < k && !dup; i++) dup = strcmp(e[i].id, id) == 0;
    if (dup) continue;
    memcpy(e[k].id, id, sizeof id);
    snprintf(e[k].preset, sizeof e[k].preset, "%s", p->name);
    e[k].seed = seed;
    e[k].config = c;
    k++;
  }
  *out = e;
  return EAHAS_OK;
}

/* One plan line, without the newline (malloc'd). */
static char *entry_json(const eahas_plan_entry *e) {
  char *cfg = eahas_config_to_json(&e->config);
  if (!cfg) return NULL;
  size_t n = strlen(cfg) + 160;
  char *s = malloc(n);
  /* seeds above 2^53 do not survive a JSON number in most readers: those are strings */
  const char *q = e->seed > (1ull << 53) ? "\"" : "";
  if (s)
    snprintf(s, n, "{\"id\":\"%s\",\"preset\":\"%s\",\"seed\":%s%llu%s,\"config\":%s}", e->id, e->preset, q,
             (unsigned long long)e->seed, q, cfg);
  free(cfg);
  return s;
}

int eahas_plan_write(const char *path, const eahas_plan_entry *e, int n, eahas_err *err) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  if (!buf) return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", path);
  for (int i = 0; i < n; i++) {
    char *line = entry_json(&e[i]);
    if (!line) {
      free(buf);
      return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", path);
    }
    size_t l = strlen(line);
    if (len + l + 2 > cap) {
      while (len + l + 2 > cap) cap *= 2;
      char *b = realloc(buf, cap);
      if (!b) {
        free(line);
        free(buf);
        return eahas_err_set(err, EAHAS_ENOMEM, "out of memory writing %s", path);
      }
      buf = b;
    }
    memcpy(buf + len, line, l);
    len += l;
    buf[len++] = '\n';
    free(line);
  }
  int rc = eahas_write_file_atomic(path, buf, len, err);
  free(buf);
  return rc;
}

/* A number up to 2^53 (exact in a double) or a decimal string of any uint64. */
static int parse_seed(const cJSON *v, uint64_t *out) {
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0 && d == floor(d))) return -1;
    *out = (uint64_t)d;
    return 0;
  }
  if (!cJSON_IsString(v) || !v->valuestring || v->valuestring[0] < '0' || v->valuestring[0] > '9') return -1;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v->valuestring, &end, 10);
  if (errno || *end) return -1;
  *out = x;
  return 0;
}

static int parse_line(const char *line, eahas_plan_entry *e, eahas_err *err) {
  memset(e, 0, sizeof *e);
  cJSON *o = cJSON_Parse(line);
  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return eahas_err_set(err, EAHAS_EFORMAT, "not a JSON object");
  }
  int rc = EAHAS_OK;
  cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
  cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "preset");
  cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "seed");
  cJSON *cf = cJSON_GetObjectItemCaseSensitive(o, "config");
  const eahas_preset *p = NULL;
  if (!cJSON_IsString(pr) || !(p = eahas_preset_get(pr->valuestring)))
    rc = eahas_err_set(err, EAHAS_EFORMAT, "\"preset\" is missing or not one of cifar10, tinyimagenet, fashion-mnist");
  else if (!cJSON_IsObject(cf))
    rc = eahas_err_set(err, EAHAS_EFORMAT, "\"config\" is missing or not an object");
  else if (sd && parse_seed(sd, &e->seed) != 0)
    rc = eahas_err_set(err, EAHAS_EFORMAT, "\"seed\" is not an integer in [0, 2^53] or a decimal string in [0, 2^64)");
  if (!rc) {
    snprintf(e->preset, sizeof e->preset, "%s", p->name);
    char *ct = cJSON_PrintUnformatted(cf);
    rc = ct ? eahas_config_parse(ct, &e->config, err) : eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
    free(ct);
    if (!rc) rc = eahas_config_validate(&e->config, p, 0, err);
    if (rc) {
      eahas_err_prefix(err, rc, "config");
      rc = err ? (err->code = EAHAS_EFORMAT) : EAHAS_EFORMAT;
    }
  }
  if (!rc) {
    eahas_run_id(e->preset, &e->config, e->id);
    if (!cJSON_IsString(id) || strcmp(id->valuestring, e->id) != 0)
      rc = eahas_err_set(err, EAHAS_EFORMAT, "\"id\" is %s%s%s, but preset and config give %s",
                         cJSON_IsString(id) ? "\"" : "", cJSON_IsString(id) ? id->valuestring : "missing",
                         cJSON_IsString(id) ? "\"" : "", e->id);
  }
  cJSON_Delete(o);
  return rc;
}

int eahas_plan_read(const char *path, eahas_plan_entry **out, int *n, eahas_err *err) {
  *out = NULL;
  *n = 0;
  char *text;
  int rc = eahas_read_file(path, 0, &text, NULL, err);
  if (rc) return rc;
  int cap = 64, k = 0, lineno = 0;
  eahas_plan_entry *e = malloc((size_t)cap * sizeof *e);
  if (!e) rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading %s", path);
  for (char *line = text; !rc && line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    lineno++;
    if (strspn(line, " \t\r") != strlen(line)) {
      if (k == cap) {
        eahas_plan_entry *b = realloc(e, (size_t)(cap *= 2) * sizeof *e);
        if (!b) {
          rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory reading %s", path);
          break;
        }
        e = b;
      }
      rc = parse_line(line, &e[k], err);
      for (int i = 0; i < k && !rc; i++)
        if (strcmp(e[i].id, e[k].id) == 0)
          rc = eahas_err_set(err, EAHAS_EFORMAT, "id %s appears twice (first at entry %d)", e[k].id, i);
      if (rc) eahas_err_prefix(err, rc, "line %d of %s", lineno, path);
      k++;
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  if (!rc && k == 0) rc = eahas_err_set(err, EAHAS_EFORMAT, "%s holds no plan entries", path);
  if (rc) {
    free(e);
    return rc;
  }
  *out = e;
  *n = k;
  return EAHAS_OK;
}
