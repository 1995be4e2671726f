/* eahas train: datasets, augmentation, optimizers, lr schedules, EMA, the epoch loop, and the
 * run record (DESIGN.md). The run record is the unit of the benchmark: one JSON document per
 * trained config (schema: docs/run-record.md).
 */
#ifndef EAHAS_TRAIN_H
#define EAHAS_TRAIN_H

#include <stdint.h>

#include "eahas/energy.h"
#include "eahas/net.h"
#include "eahas/space.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EAHAS_RECORD_SCHEMA_VERSION 1
#define EAHAS_MAX_EPOCHS 200

/* One trained run. Per-epoch arrays have epochs_trained entries, owned by the record (freed by
 * eahas_run_record_free). Accuracies in percent (0..100), times in s, energies in J. */
typedef struct eahas_run_record {
  int schema_version;          /* EAHAS_RECORD_SCHEMA_VERSION */
  char id[17];                 /* 16 hex digits: hash of preset name and canonical config */
  eahas_config config;
  char preset[32];
  uint64_t seed;
  int epochs_planned;          /* epochs of the lr schedule: config.epochs */
  int epochs_limit;            /* --epochs cap actually requested (== epochs_planned if none) */
  int epochs_trained;          /* epochs completed: the length of every per-epoch array */
  char status[16];             /* "ok", "diverged" or "failed" */
  char reason[256];            /* why, when status is not "ok" */
  eahas_complexity cx;         /* params, flops, acts of the network */
  /* per-epoch curves, length epochs_trained */
  double *train_loss, *train_acc, *val_acc, *test_acc, *test_acc_ema, *lr;
  double *epoch_time_s;        /* wall time of the epoch: training + evaluation */
  double *train_energy_j;      /* energy of the training part of the epoch */
  double *eval_energy_j;       /* energy of the evaluation part of the epoch */
  /* totals */
  double train_time_s;         /* sum of epoch_time_s */
  double total_energy_j;       /* sum of train and eval energy */
  double tec_kwh;              /* training energy cost: sum of train_energy_j / 3.6e6 */
  double iec_j_per_image;      /* inference energy per image with the final model */
  /* provenance */
  char energy_method[48];      /* "nvml-counter", "nvml-power", "rapl", "perf", "estimate:<model>" */
  char energy_domains[128];    /* comma-separated measured domains, e.g. "package-0,dram-0" */
  int energy_shared;           /* 1 if another training process shared a measured domain */
  char machine[128];           /* hostname */
  char cpu[128];               /* CPU model */
  int threads;
  char dataset[32];
  char versions[128];          /* "eahas 0.1.0; oneDNN 2.6.3" */
  char trainer[64];            /* "eahas" or the external trainer's name */
} eahas_run_record;

/* Allocates the per-epoch arrays for n epochs (zeroed) and sets schema_version; other fields
 * zeroed. Errors: EAHAS_ENOMEM, EAHAS_EINVAL for n outside [0, EAHAS_MAX_EPOCHS]. */
int eahas_run_record_init(eahas_run_record *r, int n, eahas_err *err);
void eahas_run_record_free(eahas_run_record *r);
/* The record id: 16 hex digits of hash64("<preset>|<canonical config>"). buf holds 17 bytes. */
void eahas_run_id(const char *preset, const eahas_config *c, char buf[17]);

/* JSON text of the record (malloc'd, NULL on ENOMEM). */
char *eahas_run_record_to_json(const eahas_run_record *r);
/* Parses and validates a record: schema version, known preset, valid config, curve lengths
 * equal to epochs_trained, finite values, accuracies in [0, 100], non-negative energies.
 * Errors: EAHAS_EFORMAT naming the field and the defect. */
int eahas_run_record_from_json(const char *text, eahas_run_record *out, eahas_err *err);
/* The value checks of eahas_run_record_from_json on a record from elsewhere (a benchmark file,
 * which a user may have edited): every curve value finite and in its range (accuracies in
 * [0, 100] %, time, energy and lr non-negative), totals non-negative and finite, totals equal
 * to the sums of their curves, a known energy method, complexity (flops, params, acts) equal to
 * eahas_config_complexity of the config under the record's preset. Errors:
 * EAHAS_EFORMAT naming the field, the epoch and the value. */
int eahas_run_record_check_values(const eahas_run_record *r, eahas_err *err);
/* 0 if no JSON object inside v (cJSON's tree, recursively) holds a key twice; else
 * EAHAS_EFORMAT naming the key. cJSON keeps the first of two equal keys and ignores the second,
 * so a record or a trainer line with both "status": "ok" and "status": "diverged" would be read
 * silently as the first (RFC 8259 leaves the meaning open). */
struct cJSON;
int eahas_json_unique_keys(const struct cJSON *v, eahas_err *err);
/* Atomic write / read of a record file. */
int eahas_run_record_write(const eahas_run_record *r, const char *path, eahas_err *err);
int eahas_run_record_read(const char *path, eahas_run_record *out, eahas_err *err);


/* ---- datasets (train/data.c) ----------------------------------------------------------- */

/* Raw images of a dataset file set: n images of c x h x w bytes (CHW per image, 0..255). */
typedef struct eahas_images {
  int n, c, h, w;
  int num_classes;   /* labels are in [0, num_classes) */
  uint8_t *pix;      /* n * c * h * w bytes, owned */
  int *labels;       /* n labels, owned */
} eahas_images;

void eahas_images_free(eahas_images *im);

/* Reads an IDX image file (magic 0x00000803, u8, n x h x w) and its IDX label file (magic
 * 0x00000801, u8, n), gzip-compressed or plain (zlib detects which), as MNIST and
 * Fashion-MNIST ship them (LeCun et al.; Xiao et al. 2017). Channels c = 1.
 * Errors: EAHAS_EIO (cannot open, names the file), EAHAS_EFORMAT naming the file and the defect:
 * wrong magic, truncated (expected and actual sizes), image/label count mismatch, a label >=
 * num_classes (with its index), zero-sized dimensions, trailing data. */
int eahas_idx_read(const char *images_path, const char *labels_path, int num_classes, eahas_images *out,
                   eahas_err *err);

/* Reads CIFAR-10 binary batches (Krizhevsky 2009): records of 1 label byte + 3072 pixel bytes
 * (1024 R, 1024 G, 1024 B, row-major 32 x 32), concatenated in the order of paths.
 * Errors: EAHAS_EIO (cannot open), EAHAS_EFORMAT naming the file and the defect: size not a
 * multiple of 3073 bytes (truncated), empty, label >= 10 (with the record index). */
int eahas_cifar10_read(const char *const *paths, int n_paths, eahas_images *out, eahas_err *err);

/* A prepared dataset: train / validation / test tensors, downscaled and normalized.
 * x arrays are n x c x h x w floats, y arrays n labels. */
typedef struct eahas_data {
  int c, h, w, num_classes;
  int n_train, n_val, n_test;
  float *train_x, *val_x, *test_x;
  int *train_y, *val_y, *test_y;
  double mean[4], std[4];  /* per-channel statistics of the training subset, pixels in [0, 1] */
  char name[32];           /* dataset name, e.g. "fashion-mnist" */
} eahas_data;

void eahas_data_free(eahas_data *d);

/* Splits and prepares data: a seeded permutation of the training files gives the validation
 * subset (the first val_size) and the training subset (the next train_size); the test subset is
 * a seeded subset of test_size images of the test files (files order if test_size is 0 or all).
 * Sizes 0 mean: train = all images not taken for validation; val = 10% of the training files;
 * test = all test images. Images are downscaled to im_size by area averaging (each output pixel
 * is the overlap-weighted mean of the input pixels it covers, as OpenCV INTER_AREA), scaled to
 * [0, 1] and normalized per channel with the training subset's mean and standard deviation.
 * Errors: EAHAS_EINVAL (sizes larger than the files hold, naming both; shape mismatch). */
int eahas_data_prepare(const eahas_images *train_files, const eahas_images *test_files, const char *name,
                       int im_size, int train_size, int val_size, int test_size, uint64_t seed, eahas_data *out,
                       eahas_err *err);

/* Loads the preset's dataset from dir and prepares it (eahas_data_prepare with the preset's
 * sizes and im_size). fashion-mnist: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
 * t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; cifar10: data_batch_1..5.bin and
 * test_batch.bin in dir or dir/cifar-10-batches-bin. Errors: EAHAS_ENOTFOUND naming the missing
 * file, EAHAS_EUNAVAIL for a dataset without a reader (tinyimagenet), reader errors. */
int eahas_data_load(const eahas_preset *p, const char *dir, uint64_t seed, eahas_data *out, eahas_err *err);

/* Area-averaging downscale of one c x hi x wi image to c x ho x wo (floats; ho <= hi, wo <= wi
 * or any size: the overlap weights also handle upscaling). */
void eahas_resize_area(const float *in, int c, int hi, int wi, float *out, int ho, int wo);

/* Augmentation of one normalized c x h x w image in place, in this order (pycls cifar10 loader,
 * REFERENCE.md §4): horizontal flip with probability 0.5 if hflip; random crop of the image
 * zero-padded by crop_pad pixels on each side (offsets uniform in [0, 2 crop_pad]) if crop_pad >
 * 0; cutout of a cutout x cutout square centred at a uniform random pixel, clipped at the
 * border, set to zero, if cutout > 0. tmp holds c*h*w floats. Draws from rng in a fixed order. */
void eahas_augment(float *img, int c, int h, int w, int hflip, int crop_pad, int cutout, eahas_rng *rng, float *tmp);

/* Fisher-Yates permutation of [0, n) into idx. */
void eahas_shuffle(int *idx, int n, eahas_rng *rng);

/* ---- optimizers, lr schedule, EMA (train/optim.c) --------------------------------------- */

#define EAHAS_MOMENTUM 0.9
#define EAHAS_WEIGHT_DECAY 5e-4
#define EAHAS_ADAM_BETA1 0.9
#define EAHAS_ADAM_BETA2 0.999
#define EAHAS_ADAM_EPS 1e-8
#define EAHAS_MIN_LR 1e-6         /* relative to the base lr (pycls OPTIM.MIN_LR) */
#define EAHAS_WARMUP_EPOCHS 5
#define EAHAS_WARMUP_FACTOR 0.1
#define EAHAS_EMA_ALPHA 0.00025
#define EAHAS_EMA_PERIOD 32
#define EAHAS_LABEL_SMOOTHING 0.1

typedef struct eahas_optim eahas_optim;

/* An optimizer over n parameter tensors (the array is copied; data/grad stay owned by the
 * caller). PyTorch semantics (torch.optim 1.13):
 *  sgd:   g += wd p; b = 0.9 b + g (b = g on the first step); p -= lr (g + 0.9 b)   (Nesterov)
 *  adam:  g += wd p; m, v moments (0.9, 0.999); p -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + 1e-8)
 *  adamw: p *= 1 - lr wd; then adam without the wd term.
 * wd = 5e-4, and 0 on tensors with is_bn (pycls). Errors: EAHAS_EINVAL, EAHAS_ENOMEM. */
int eahas_optim_new(eahas_opt_kind kind, const eahas_tensor_info *params, int n, eahas_optim **out,
                    eahas_err *err);
void eahas_optim_free(eahas_optim *o);
/* One update with learning rate lr using the tensors' current grad. */
void eahas_optim_step(eahas_optim *o, double lr);

/* Learning rate of epoch e (0-based) of a schedule of max_epoch epochs (REFERENCE.md §4, pycls):
 * cos base (m + (1-m) 0.5 (1 + cos(pi e/E))), exp base m^(e/E), lin base (m + (1-m)(1 - e/E)),
 * m = 1e-6; for e < 5 multiplied by 0.1 (1 - e/5) + e/5. */
double eahas_lr_at(eahas_sched_kind policy, double base_lr, int epoch, int max_epoch);

/* EMA alpha (pycls update_model_ema): min(1, 0.00025 * batch / max_epoch * 32), 1 during the
 * warm-up epochs (a plain copy). */
double eahas_ema_alpha(int batch_size, int max_epoch, int epoch);
/* The same with a preset's own rate and update period (eahas_preset.ema_alpha, .ema_period):
 * min(1, ema_alpha * batch_size / max_epoch * period), 1 during warm-up. */
double eahas_ema_alpha_rate(double ema_alpha, int period, int batch_size, int max_epoch, int epoch);
/* The cutout square's side at resolution im_size for a config's cutout length (defined at
 * 32x32, REFERENCE.md §4): the same share of the image, round(cutout * im_size / 32), at least 1;
 * unchanged at 32 and above. 0 stays 0. */
int eahas_cutout_side(int cutout, int im_size);
/* dst = (1 - alpha) dst + alpha src for n tensors of matching sizes (parameters and buffers).
 * Errors: EAHAS_EINVAL on a size mismatch (names the tensor). */
int eahas_ema_update(const eahas_tensor_info *dst, const eahas_tensor_info *src, int n, double alpha,
                     eahas_err *err);

/* ---- the epoch loop (train/loop.c) ------------------------------------------------------ */

/* Passed to the progress callback after every training iteration (phase "train") and at the
 * end of every epoch (phase "epoch", with that epoch's results). */
typedef struct eahas_train_progress {
  const char *phase;      /* "data", "train", "epoch", "iec" */
  int epoch;              /* 0-based epoch */
  int epochs;             /* epochs that will run (the limit) */
  int iter, iters;        /* iteration within the epoch, iterations per epoch */
  double loss, acc;       /* running mean train loss / top-1 acc (%) of the epoch so far */
  double val_acc, test_acc, test_acc_ema, lr, epoch_time_s; /* phase "epoch" only */
  eahas_net *net;         /* the model being trained (phases "train" and "epoch"), for monitors */
} eahas_train_progress;

typedef struct eahas_train_opts {
  int epochs_limit;       /* 0 = config.epochs; else train the first N epochs of that schedule */
  uint64_t seed;          /* split, init, shuffling and augmentation all derive from it */
  int threads;            /* 0 = the preset's threads (0 there = all online cores) */
  const eahas_meter_opts *meter; /* NULL = automatic meter choice */
  double iec_min_s;       /* minimum duration of the IEC measurement; 0 = 1.0 s; at least ten
                             meter intervals when meter->interval_s is set */
  const char *lock_dir;   /* domain-share lock files (energy.h); NULL = eahas_domain_share_default_dir() */
  const eahas_data *data; /* optional prepared data (tests); NULL = load from data_dir */
  void (*progress)(void *ctx, const eahas_train_progress *p); /* may be NULL */
  void *progress_ctx;
  /* outputs */
  double out_loop_energy_j; /* meter reading from the start of epoch 0 to the end of the last */
} eahas_train_opts;

/* Trains config c under preset p on the dataset in data_dir (or opts->data; opts may be NULL for
 * all defaults) with the protocol of REFERENCE.md §4 and the preset (docs/training.md), and fills
 * *rec: per-epoch curves, totals, TEC, IEC, complexity, provenance. *rec is initialized here;
 * always free it with eahas_run_record_free, also after an error (then status "failed" and the
 * reason once training had started). A run whose loss becomes NaN or Inf stops and returns 0 with
 * status "diverged" and the curves of the completed epochs. The lr schedule is the one of
 * c->epochs even when opts->epochs_limit truncates the run. Errors: EAHAS_EINVAL (config invalid
 * for the preset, epochs limit or threads out of range, data not fitting the preset), data
 * loading errors (EAHAS_ENOTFOUND, EAHAS_EFORMAT, EAHAS_EIO, EAHAS_EUNAVAIL), meter errors
 * (EAHAS_EUNAVAIL, EAHAS_EPERM), EAHAS_ENOMEM, EAHAS_EINTERNAL (network). */
int eahas_train_run(const eahas_config *c, const eahas_preset *p, const char *data_dir, eahas_train_opts *opts,
                    eahas_run_record *rec, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
