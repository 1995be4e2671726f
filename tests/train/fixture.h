/* Reader of the text fixtures written by tests/ref/gen_train_fixtures.py: one array per line,
 * "<key> <n> <v1> ... <vn>". Header-only, for the train tests. */
#ifndef EAHAS_TEST_TRAIN_FIXTURE_H
#define EAHAS_TEST_TRAIN_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/util.h"

/* The whole file (caller frees) or NULL. */
static inline char *fixture_load(const char *path) {
  char *text = NULL;
  if (eahas_read_file(path, 0, &text, NULL, NULL) != 0) return NULL;
  return text;
}

/* Start of the line "<key> ..." or NULL. */
static inline const char *fixture_line(const char *text, const char *key) {
  size_t k = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, key, k) == 0 && p[k] == ' ') return p + k + 1;
  return NULL;
}

/* Parses the array of key into a malloc'd double array; *n gets its length. NULL if absent. */
static inline double *fixture_array(const char *text, const char *key, int *n) {
  const char *p = fixture_line(text, key);
  if (!p) return NULL;
  char *end;
  long len = strtol(p, &end, 10);
  double *v = malloc(sizeof(double) * (size_t)(len > 0 ? len : 1));
  for (long i = 0; i < len; i++) v[i] = strtod(end, &end);
  *n = (int)len;
  return v;
}

#endif
