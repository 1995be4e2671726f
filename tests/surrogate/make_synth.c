/* surrogate_make_synth OUT.eahas N [SEED] [PRESET]: a benchmark file of N synthetic runs. */
#include <stdio.h>
#include <stdlib.h>

#include "eahas/tabular.h"
#include "surrogate/synth.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: surrogate_make_synth OUT.eahas N [SEED] [PRESET]\n");
    return 1;
  }
  int n = atoi(argv[2]);
  uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
  const eahas_preset *p = eahas_preset_get(argc > 4 ? argv[4] : "cifar10");
  if (n < 1 || !p) return 1;
  eahas_run_record *runs = calloc((size_t)n, sizeof *runs);
  if (!runs || synth_runs(p, seed, n, runs)) return 2;
  eahas_table *t;
  eahas_err e = {0};
  int added = 0;
  if (eahas_table_open(argv[1], 1, 0, &t, &e) || eahas_table_insert(t, runs, n, &added, &e)) {
    fprintf(stderr, "surrogate_make_synth: %s\n", e.msg);
    return 2;
  }
  eahas_table_close(t);
  for (int i = 0; i < n; i++) eahas_run_record_free(&runs[i]);
  free(runs);
  printf("%d runs written to %s\n", added, argv[1]);
  return 0;
}
