/* In-process A/B of two (or more) builds of libeahas on the same benchmark file (not a test):
 * each library is dlopen'ed privately, opens the file and answers the same 320 sampled configs,
 * one at a time (eahas_query) and in batches of 64 (eahas_query_batch), in alternating rounds;
 * the best round of each is kept. On a shared or throttled machine this is the fair comparison:
 * both builds see the same moments of load. Prints CPU microseconds per query and queries per
 * CPU second for each library.
 *
 * Build:  cc -O2 -Iinclude perf/query_ab.c -ldl -o build/query_ab
 * Run:    build/query_ab FILE.eahas OLD/libeahas.so NEW/libeahas.so [--rounds R] [--batch-only]
 * (copy a library elsewhere before rebuilding it: the file is mapped while it runs). The builds
 * must share this source tree's public structs (eahas_config, eahas_query_opts,
 * eahas_query_result): they are passed between them unchecked. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "eahas/tabular.h"

enum { MAX_LIBS = 4, N_CONFIGS = 320, CHUNK = 64, REPS = 6 };

typedef int (*open_fn)(const char *, eahas_bench **, eahas_err *);
typedef int (*batch_fn)(const eahas_bench *, const eahas_config *, int, const eahas_query_opts *,
                        eahas_query_result *, int *, eahas_err *);
typedef int (*single_fn)(const eahas_bench *, const eahas_config *, const eahas_query_opts *, eahas_query_result *,
                         eahas_err *);
typedef const eahas_preset *(*preset_fn)(const eahas_bench *);
typedef void (*seed_fn)(eahas_rng *, uint64_t);
typedef int (*sample_fn)(eahas_rng *, const eahas_preset *, int, eahas_config *, eahas_err *);
typedef double (*clock_fn)(void);

static void *sym(void *h, const char *name) {
  void *p = dlsym(h, name);
  if (!p) {
    fprintf(stderr, "query_ab: %s\n", dlerror());
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  const char *file = NULL, *libs[MAX_LIBS];
  int nl = 0, rounds = 12, batch_only = 0;
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 1 || v > 100000) {
        fprintf(stderr, "query_ab: --rounds %s is not an integer in [1, 100000]\n", argv[i]);
        return 1;
      }
      rounds = (int)v;
    } else if (!strcmp(argv[i], "--batch-only")) batch_only = 1;
    else if (argv[i][0] == '-') {
      fprintf(stderr, "query_ab: unknown option '%s'\n", argv[i]);
      return 1;
    } else if (!file) file = argv[i];
    else if (nl < MAX_LIBS) libs[nl++] = argv[i];
    else {
      fprintf(stderr, "query_ab: at most %d libraries\n", MAX_LIBS);
      return 1;
    }
  }
  if (!file || nl < 1) {
    fprintf(stderr, "usage: query_ab FILE.eahas LIB.so [LIB.so ...] [--rounds R] [--batch-only]\n");
    return 1;
  }
  eahas_bench *b[MAX_LIBS];
  batch_fn batch[MAX_LIBS];
  single_fn single[MAX_LIBS];
  void *h0 = NULL;
  for (int i = 0; i < nl; i++) {
    void *h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "query_ab: %s\n", dlerror());
      return 1;
    }
    if (!i) h0 = h;
    eahas_err e = {0};
    if (((open_fn)sym(h, "eahas_bench_open"))(file, &b[i], &e)) {
      fprintf(stderr, "query_ab: %s: %s\n", libs[i], e.msg);
      return 1;
    }
    batch[i] = (batch_fn)sym(h, "eahas_query_batch");
    single[i] = (single_fn)sym(h, "eahas_query");
  }
  static eahas_config cfg[N_CONFIGS];
  static eahas_query_result res[CHUNK];
  eahas_rng r;
  eahas_err e = {0};
  ((seed_fn)sym(h0, "eahas_rng_seed"))(&r, 123);
  const eahas_preset *p = ((preset_fn)sym(h0, "eahas_bench_preset"))(b[0]);
  for (int i = 0; i < N_CONFIGS; i++)
    if (((sample_fn)sym(h0, "eahas_config_sample"))(&r, p, 0, &cfg[i], &e)) {
      fprintf(stderr, "query_ab: %s\n", e.msg);
      return 1;
    }
  clock_fn cpu_s = (clock_fn)sym(h0, "eahas_cpu_time_s"); /* the first library's clock for every round */
  eahas_query_opts o = {0};
  double best[MAX_LIBS][2];
  for (int i = 0; i < nl; i++) best[i][0] = best[i][1] = 1e300;
  for (int round = 0; round < rounds; round++)
    for (int i = 0; i < nl; i++)
      for (int mode = batch_only; mode < 2; mode++) {
        double t0 = cpu_s();
        for (int rep = 0; rep < REPS; rep++)
          for (int c = 0; c < N_CONFIGS; c += mode ? CHUNK : 1)
            if (mode ? batch[i](b[i], cfg + c, CHUNK, &o, res, NULL, &e) : single[i](b[i], cfg + c, &o, res, &e)) {
              fprintf(stderr, "query_ab: %s: %s\n", libs[i], e.msg);
              return 1;
            }
        double us = (cpu_s() - t0) * 1e6 / (REPS * N_CONFIGS);
        if (us < best[i][mode]) best[i][mode] = us;
      }
  for (int i = 0; i < nl; i++) {
    printf("%s:", libs[i]);
    if (!batch_only) printf(" single %.2f us (%.0f/s)", best[i][0], 1e6 / best[i][0]);
    printf(" batch %.2f us (%.0f/s)", best[i][1], 1e6 / best[i][1]);
    if (i) {
      if (!batch_only) printf("  single x%.2f", best[0][0] / best[i][0]);
      printf("  batch x%.2f", best[0][1] / best[i][1]);
    }
    printf("\n");
  }
  return 0;
}
