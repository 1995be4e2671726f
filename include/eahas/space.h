/* eahas space: the joint search space of EA-HAS-Bench (ICLR 2023), REFERENCE.md §2-3.
 *
 * A config is one point of the space: a RegNet architecture (d, w0, wa, wm, gw) plus training
 * hyperparameters (lr, optimizer, lr policy, cutout, max epochs). Decimal dimensions are stored
 * as integers (wa in tenths, wm in thousandths) so that the canonical text form round-trips.
 */
#ifndef EAHAS_SPACE_H
#define EAHAS_SPACE_H

#include <stdint.h>

#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { EAHAS_OPT_SGD = 0, EAHAS_OPT_ADAM = 1, EAHAS_OPT_ADAMW = 2 } eahas_opt_kind;
typedef enum { EAHAS_SCHED_COS = 0, EAHAS_SCHED_EXP = 1, EAHAS_SCHED_LIN = 2 } eahas_sched_kind;
typedef enum { EAHAS_STEM_RES_CIFAR = 0, EAHAS_STEM_SIMPLE_IN = 1 } eahas_stem_kind;

#define EAHAS_NUM_LR 10
#define EAHAS_NUM_GW 7
#define EAHAS_NUM_EPOCHS 3
#define EAHAS_ENCODING_LEN 26

/* The allowed values, in the order of the one-hot encoding (REFERENCE.md §2, §6). */
extern const double EAHAS_LR_VALUES[EAHAS_NUM_LR];   /* 0.001 .. 1.0 */
extern const int EAHAS_GW_VALUES[EAHAS_NUM_GW];      /* 1 2 4 8 16 24 32 */
extern const int EAHAS_EPOCH_VALUES[EAHAS_NUM_EPOCHS]; /* 50 100 200 */
extern const char *const EAHAS_OPT_NAMES[3];         /* "sgd" "adam" "adamw" */
extern const char *const EAHAS_SCHED_NAMES[3];       /* "cos" "exp" "lin" */

/* One config of the joint space. Plain value type: copy with `=`, compare with
 * eahas_config_equal. */
typedef struct eahas_config {
  int d;       /* depth, 6..15 */
  int w0;      /* initial width, 48..128, multiple of 8 */
  int wa10;    /* slope wa in tenths: 80..320 means 8.0..32.0 */
  int wm1000;  /* multiplier wm in thousandths: 2500..3000 (tinyimagenet 1500..3000) */
  int gw;      /* group width, one of EAHAS_GW_VALUES */
  int lr_idx;  /* index into EAHAS_LR_VALUES */
  eahas_opt_kind opt;
  eahas_sched_kind sched;
  int cutout;  /* 0 (none) or 16 */
  int epochs;  /* max epochs: 50, 100 or 200 */
} eahas_config;

/* A dataset preset: input, stem, constraints on sampled configs, and the training protocol.
 * Presets are static and read-only. */
typedef struct eahas_preset {
  const char *name;        /* "cifar10", "tinyimagenet", "fashion-mnist" */
  int num_classes;
  int im_size;             /* network input resolution (after any downscaling) */
  int in_channels;
  eahas_stem_kind stem;
  int stem_w;
  int se;                  /* 1: RegNetY (SE blocks), as in EA-HAS-Bench */
  int wm1000_min, wm1000_max;
  int required_stages;     /* 0: no constraint; 2: exactly 2 stages and at most 2 possible */
  double flops_min, flops_max; /* 0 = unconstrained; multiply-adds */
  double params_max, acts_max; /* 0 = unconstrained */
  /* training protocol (used by the train module) */
  const char *dataset;     /* "cifar10", "tinyimagenet", "fashion-mnist" */
  int data_im_size;        /* resolution of the files on disk */
  int batch_size, test_batch_size;
  int train_size, val_size, test_size; /* subset sizes; 0 = all available */
  int hflip;               /* random horizontal flip in augmentation */
  int crop_pad;            /* random-crop zero padding in pixels (0 = no crop) */
  int threads;             /* default training threads; 0 = all available cores */
  /* EMA of the weights (pycls update_model_ema, REFERENCE.md §4): after the step of every
   * ema_period-th iteration, alpha = min(1, ema_alpha * batch_size / max_epoch * ema_period).
   * cifar10/tinyimagenet: 0.00025 and 32 as the original; fashion-mnist rescaled so that the
   * EMA horizon is the same fraction of training (docs/fashion-mnist-protocol.md). */
  double ema_alpha;
  int ema_period;
} eahas_preset;

/* The preset of that name, or NULL. Names: "cifar10", "tinyimagenet", "fashion-mnist". */
const eahas_preset *eahas_preset_get(const char *name);
/* All presets, NULL-terminated. */
const eahas_preset *const *eahas_preset_all(void);
/* Like eahas_preset_get, with an error naming the value and the allowed names (EAHAS_EINVAL). */
int eahas_preset_lookup(const char *name, const eahas_preset **out, eahas_err *err);

/* ---- text and JSON forms --------------------------------------------------------------- */

/* Canonical text form, keys in this order:
 *   d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100
 * Writes at most n bytes including the NUL; returns the length it needed (snprintf style). */
int eahas_config_format(const eahas_config *c, char *buf, int n);
#define EAHAS_CONFIG_TEXT_MAX 128

/* Parses the text form (keys in any order, each exactly once) or a JSON object with the same
 * keys (string or number values). Checks every value against the full space (wm against the
 * widest range 1.500..3.000; use eahas_config_validate for a preset's range). Errors:
 * EAHAS_EINVAL with a message naming the key, the value and what is allowed (unknown, missing
 * or duplicate key, out of range, off grid, not a number, empty, longer than 4096 bytes, not
 * UTF-8). Surrounding whitespace (a trailing newline) is ignored. */
int eahas_config_parse(const char *text, eahas_config *out, eahas_err *err);

/* JSON object text with the same keys (numbers as numbers, names as strings), malloc'd. */
char *eahas_config_to_json(const eahas_config *c);

/* Checks c against the preset's ranges (wm) and, if check_constraints, the preset's complexity
 * and stage constraints. EAHAS_EINVAL names the first violated value or constraint. */
int eahas_config_validate(const eahas_config *c, const eahas_preset *p, int check_constraints, eahas_err *err);

int eahas_config_equal(const eahas_config *a, const eahas_config *b);
/* Stable 64-bit hash of the canonical text form. */
uint64_t eahas_config_hash(const eahas_config *c);
double eahas_config_lr(const eahas_config *c);   /* the base learning rate value */
double eahas_config_wa(const eahas_config *c);   /* wa10 / 10 */
double eahas_config_wm(const eahas_config *c);   /* wm1000 / 1000 */

/* ---- RegNet expansion and complexity (pycls) ------------------------------------------- */

/* A RegNet architecture with real-valued wa, wm (for the pycls reference models). */
typedef struct eahas_regnet_arch {
  int d, w0, gw;
  double wa, wm;
} eahas_regnet_arch;

/* The network-level settings that complexity depends on. */
typedef struct eahas_net_opts {
  eahas_stem_kind stem;
  int stem_w, im_size, in_channels, num_classes, se;
} eahas_net_opts;

#define EAHAS_MAX_STAGES 16
/* The expanded RegNet (pycls generate_regnet + adjust_block_compatibility). */
typedef struct eahas_regnet {
  int num_stages;                  /* number of stages (distinct widths) */
  int max_stages;                  /* maximum possible stages: 1 + round(log(w_max/w0)/log(wm)) */
  int widths[EAHAS_MAX_STAGES];    /* stage output widths after group compatibility */
  int depths[EAHAS_MAX_STAGES];    /* blocks per stage */
  int group_widths[EAHAS_MAX_STAGES]; /* per-stage group width after compatibility */
  int strides[EAHAS_MAX_STAGES];   /* 2 for every stage */
} eahas_regnet;

typedef struct eahas_complexity {
  double flops;   /* multiply-adds for one image */
  double params;  /* number of parameters */
  double acts;    /* activations (pycls cx) */
} eahas_complexity;

/* Expands an architecture. Errors: EAHAS_EINVAL for d < 1, w0 < 1, wa < 0, wm <= 1, gw < 1. */
int eahas_regnet_expand(const eahas_regnet_arch *a, eahas_regnet *out, eahas_err *err);
/* Complexity of the whole network (stem, stages, head) as pycls counts it. */
int eahas_regnet_complexity(const eahas_regnet *r, const eahas_net_opts *o, eahas_complexity *out, eahas_err *err);
/* The architecture of a config and the net options of a preset. */
eahas_regnet_arch eahas_config_arch(const eahas_config *c);
eahas_net_opts eahas_preset_net_opts(const eahas_preset *p);
/* Checks an expanded network and its complexity against the preset's constraints (stage count
 * and max stages, flops band, params and acts maxima; REFERENCE.md §2). EAHAS_EINVAL names the
 * first violated constraint, its value and the allowed range. */
int eahas_preset_check_constraints(const eahas_preset *p, const eahas_regnet *r, const eahas_complexity *cx,
                                   eahas_err *err);
/* Parses an architecture alone, "d=13,w0=24,wa=36.44,wm=2.49,gw=8" (keys in any order, each once),
 * with real-valued wa, wm and any positive d, w0, gw: for describing pycls RegNets outside the
 * benchmark's grid. Errors: EAHAS_EINVAL naming the key and value (unknown, missing, duplicate
 * key, not a number, d/w0/gw < 1, wa < 0, wm <= 1). */
int eahas_regnet_arch_parse(const char *text, eahas_regnet_arch *out, eahas_err *err);
/* Shortcut: expand + complexity for a config under a preset. */
int eahas_config_complexity(const eahas_config *c, const eahas_preset *p, eahas_regnet *r_out,
                            eahas_complexity *cx_out, eahas_err *err);

/* ---- sampling -------------------------------------------------------------------------- */

/* pycls quantized samplers (REFERENCE.md §2), on the closed interval [low, high], returning a
 * multiple of q. */
double eahas_sample_uniform(eahas_rng *rng, double low, double high, double q);
double eahas_sample_log_uniform(eahas_rng *rng, double low, double high, double q);
double eahas_sample_power2_uniform(eahas_rng *rng, double low, double high, double q);
double eahas_sample_power2_or_log_uniform(eahas_rng *rng, double low, double high, double q);

/* Draws one config from the space of preset p (unconstrained). */
void eahas_config_sample_raw(eahas_rng *rng, const eahas_preset *p, eahas_config *out);
/* Draws configs until one satisfies p's constraints, at most max_attempts (0 = 100000).
 * Errors: EAHAS_ECONSTRAINT when the cap is reached. */
int eahas_config_sample(eahas_rng *rng, const eahas_preset *p, int max_attempts, eahas_config *out, eahas_err *err);

/* ---- encoding (REFERENCE.md §6) -------------------------------------------------------- */

/* The 26 features: (d-6)/9, (w0-48)/80, (wa-8)/24, (wm-wm_lo)/(wm_hi-wm_lo), (gw-1)/31, then
 * one-hots lr(10), opt(3), sched(3), cutout(2: 0 16), epochs(3: 50 100 200). wm_lo/wm_hi are
 * 2.5/3.0, or 1.5/3.0 for the tinyimagenet preset. */
void eahas_config_encode(const eahas_config *c, const eahas_preset *p, float out[EAHAS_ENCODING_LEN]);
/* Decodes the categorical part (lr, opt, sched, cutout, epochs) of an encoding into c, taking
 * the arg-max of each one-hot. Errors: EAHAS_EINVAL if a one-hot group is all zero. */
int eahas_config_decode_categorical(const float enc[EAHAS_ENCODING_LEN], eahas_config *c, eahas_err *err);

/* ---- mutation and neighbourhood (REFERENCE.md §7) -------------------------------------- */

/* Redraws one of d, w0, wa, wm, gw, lr, opt, sched (chosen uniformly) to a different value,
 * retrying until the result satisfies p's constraints (max_attempts, 0 = 10000).
 * Errors: EAHAS_ECONSTRAINT. */
int eahas_config_mutate(eahas_rng *rng, const eahas_preset *p, const eahas_config *in, int max_attempts,
                        eahas_config *out, eahas_err *err);
/* The local-search neighbourhood: n_arch configs with a new architecture and the same
 * hyperparameters, then n_hp with the same architecture and new hyperparameters (10 and 10 in
 * EA-HAS-Bench), all valid under p and distinct from c. out must hold n_arch + n_hp configs.
 * Returns the number written (may be fewer if the space is exhausted) or a negative error. */
int eahas_config_neighbours(eahas_rng *rng, const eahas_preset *p, const eahas_config *c, int n_arch,
                            int n_hp, eahas_config *out, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
