/* eahas surrogate: Bezier learning-curve surrogate (BSC), tree models for time and energy,
 * ensembles, and queries of any config (EA-HAS-Bench, ICLR 2023, §4; REFERENCE.md §6).
 */
#ifndef EAHAS_SURROGATE_H
#define EAHAS_SURROGATE_H

#include "eahas/space.h"
#include "eahas/train.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* An opened benchmark file with its fitted surrogates. Read-only after open: eahas_query may be
 * called from many threads at once. */
typedef struct eahas_bench eahas_bench;

typedef struct eahas_query_opts {
  int epochs;           /* fidelity: length of the curves returned; 0 = config.epochs */
  int noise;            /* 1: add per-query noise drawn from the ensemble's spread */
  uint64_t noise_seed;  /* key of the counter-based noise stream (with config and epoch) */
  int tabular;          /* 1: return the recorded run if the config was trained */
} eahas_query_opts;

/* What a query returns. Arrays hold `epochs` valid entries (index i is epoch i+1). */
typedef struct eahas_query_result {
  int epochs;
  float test_acc[EAHAS_MAX_EPOCHS];     /* EMA model's test top-1 accuracy, % */
  float val_acc[EAHAS_MAX_EPOCHS];      /* validation accuracy, % */
  float train_acc[EAHAS_MAX_EPOCHS];    /* training accuracy, % */
  double time_s_cum[EAHAS_MAX_EPOCHS];  /* cumulative training time after each epoch, s */
  double tec_kwh_cum[EAHAS_MAX_EPOCHS]; /* cumulative training energy after each epoch, kWh */
  float final_test_acc, final_val_acc, final_train_acc;
  double train_time_s;                  /* time_s_cum[epochs-1] */
  double tec_kwh;                       /* tec_kwh_cum[epochs-1] */
  double iec_j_per_image;
  eahas_complexity cx;
  char energy_method[48];
  int from_table;                       /* 1 if this is a recorded run (--tabular) */
} eahas_query_result;

int eahas_bench_open(const char *path, eahas_bench **out, eahas_err *err);
void eahas_bench_close(eahas_bench *b);
const eahas_preset *eahas_bench_preset(const eahas_bench *b);
/* Errors: EAHAS_EINVAL (config invalid under the bench's preset, epochs outside
 * 1..EAHAS_MAX_EPOCHS), EAHAS_ENOTFOUND (tabular requested and not recorded). */
int eahas_query(const eahas_bench *b, const eahas_config *c, const eahas_query_opts *o,
                eahas_query_result *out, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
