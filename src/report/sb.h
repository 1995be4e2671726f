/* A growable string for building text files and JSON in the report module. */
#ifndef EAHAS_REPORT_SB_H
#define EAHAS_REPORT_SB_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct sb {
  char *s;
  size_t n, cap;
  int oom;
} sb;

__attribute__((format(printf, 2, 3))) static inline void sb_printf(sb *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->n;
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && (size_t)k < room) {
      b->n += (size_t)k;
      return;
    }
    size_t nc = b->cap ? b->cap * 2 : 4096;
    while (nc < b->n + (size_t)k + 1) nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
      b->oom = 1;
      return;
    }
    b->s = ns;
    b->cap = nc;
  }
}

static inline void sb_free(sb *b) {
  free(b->s);
  b->s = NULL;
  b->n = b->cap = 0;
}

#endif
