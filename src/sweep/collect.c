/* Collecting run records into a benchmark file: validate each, reject bad ones with a reason,
 * de-duplicate by id, insert the good ones in one transaction. */
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eahas/tabular.h"
#include "sweep/internal.h"

typedef struct names {
  char **v;
  int n, cap;
} names;

static int push(names *l, const char *s) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return EAHAS_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(s))) return EAHAS_ENOMEM;
  l->n++;
  return EAHAS_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A record file: "*.json" but not a temporary file of an atomic write in flight. */
static int is_record_name(const char *n) {
  size_t l = strlen(n);
  return l > 5 && strcmp(n + l - 5, ".json") == 0 && !strstr(n, ".tmp.") && n[0] != '.';
}

/* The record files under one path, sorted by name, appended to out. */
static int list_path(const char *path, names *out, eahas_err *err) {
  struct stat st;
  if (stat(path, &st) != 0) /* a wrong PATH argument: bad input (exit 1), not an I/O failure */
    return eahas_err_set(err, errno == ENOENT || errno == ENOTDIR ? EAHAS_ENOTFOUND : EAHAS_EIO, "%s: %s", path,
                         errno == ENOENT ? "does not exist" : strerror(errno));
  if (!S_ISDIR(st.st_mode)) return push(out, path) ? eahas_err_set(err, EAHAS_ENOMEM, "out of memory") : EAHAS_OK;
  char dir[SWEEP_PATH_MAX];
  snprintf(dir, sizeof dir, "%s/records", path);
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) snprintf(dir, sizeof dir, "%s", path);
  DIR *d = opendir(dir);
  if (!d) return eahas_err_set(err, EAHAS_EIO, "cannot read directory %s", dir);
  names here = {0};
  struct dirent *de;
  int rc = EAHAS_OK;
  while (!rc && (de = readdir(d))) {
    if (!is_record_name(de->d_name)) continue;
    char f[SWEEP_PATH_MAX];
    if (snprintf(f, sizeof f, "%s/%s", dir, de->d_name) >= (int)sizeof f) continue;
    if (push(&here, f)) rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
  }
  closedir(d);
  if (here.n) qsort(here.v, (size_t)here.n, sizeof *here.v, cmp_str);
  for (int i = 0; i < here.n; i++) {
    if (!rc && push(out, here.v[i])) rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
    free(here.v[i]);
  }
  free(here.v);
  return rc;
}

/* A file named like a record id must hold that id (a copied or renamed file is suspect). */
static int name_matches(const char *path, const char *id, char *why, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (strlen(base) == 21 && strspn(base, "0123456789abcdef") == 16 && strcmp(base + 16, ".json") == 0 &&
      strncmp(base, id, 16) != 0) {
    snprintf(why, n, "the file name says id %.16s but the record's id is %s", base, id);
    return 0;
  }
  return 1;
}

int eahas_collect(const char *const *paths, int n_paths, const char *out_path, eahas_collect_reject_fn reject,
                  void *ctx, eahas_collect_summary *sum, eahas_err *err) {
  eahas_collect_summary s = {0};
  if (sum) *sum = s;
  names files = {0};
  int rc = EAHAS_OK;
  for (int i = 0; i < n_paths && !rc; i++) rc = list_path(paths[i], &files, err);
  eahas_table *t = NULL;
  if (!rc) rc = eahas_table_open(out_path, 1, 0, &t, err);
  char preset[32] = "";
  if (!rc) rc = eahas_table_preset(t, preset, sizeof preset, err);
  eahas_run_record *recs = NULL;
  if (!rc && files.n && !(recs = calloc((size_t)files.n, sizeof *recs)))
    rc = eahas_err_set(err, EAHAS_ENOMEM, "out of memory");
  int k = 0;
  for (int i = 0; i < files.n && !rc; i++) {
    s.files++;
    eahas_err e = {0};
    char why[EAHAS_ERR_MSG_MAX + 64];
    eahas_run_record r;
    struct stat fst;
    if (stat(files.v[i], &fst) == 0 && !S_ISREG(fst.st_mode)) {
      /* reading a FIFO would block forever, a device would read garbage */
      snprintf(why, sizeof why, "not a regular file (a FIFO, device or socket)");
    } else if (eahas_run_record_read(files.v[i], &r, &e) != 0) {
      /* the reader prefixes the path; the callback gets the path separately */
      const char *m = strncmp(e.msg, files.v[i], strlen(files.v[i])) == 0 ? e.msg + strlen(files.v[i]) + 2 : e.msg;
      snprintf(why, sizeof why, "%s", m);
    } else if (!name_matches(files.v[i], r.id, why, sizeof why)) {
      eahas_run_record_free(&r);
    } else if (preset[0] && strcmp(preset, r.preset) != 0) {
      snprintf(why, sizeof why, "preset %s, but %s holds runs of preset %s", r.preset, out_path, preset);
      eahas_run_record_free(&r);
    } else {
      if (!preset[0]) snprintf(preset, sizeof preset, "%s", r.preset);
      s.valid++;
      int dup = 0;
      for (int j = 0; j < k && !dup; j++) dup = strcmp(recs[j].id, r.id) == 0;
      if (dup) {
        s.duplicates++;
        eahas_run_record_free(&r);
      } else {
        recs[k++] = r;
      }
      continue;
    }
    s.rejected++;
    if (reject) reject(ctx, files.v[i], why);
  }
  int added = 0;
  if (!rc) rc = eahas_table_insert(t, recs, k, &added, err);
  if (!rc) {
    s.added = added;
    s.present = k - added;
  }
  for (int i = 0; i < k; i++) eahas_run_record_free(&recs[i]);
  free(recs);
  for (int i = 0; i < files.n; i++) free(files.v[i]);
  free(files.v);
  eahas_table_close(t);
  if (sum) *sum = s;
  return rc;
}
