/* Tests of the epoch loop on a small synthetic dataset (no files): record contents, schedule,
 * energy bookkeeping, reproducibility, divergence, argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/train.h"

static char lockdir[256];
static eahas_preset preset;
static eahas_data data;

/* 8x8 grey images: class k lights up row k (plus noise), so a network can learn it. */
static void make_set(eahas_images *im, int n, uint64_t seed) {
  eahas_rng r;
  eahas_rng_seed(&r, seed);
  im->n = n;
  im->c = 1;
  im->h = im->w = 8;
  im->num_classes = 8;
  im->pix = malloc((size_t)n * 64);
  im->labels = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int k = (int)eahas_rng_below(&r, 8);
    im->labels[i] = k;
    for (int p = 0; p < 64; p++) im->pix[(size_t)i * 64 + p] = (uint8_t)((p / 8 == k ? 200 : 30) + eahas_rng_below(&r, 40));
  }
}

static int setup(void **state) {
  (void)state;
  snprintf(lockdir, sizeof lockdir, "/tmp/eahas_train_locks_XXXXXX");
  if (!mkdtemp(lockdir)) return -1;
  const eahas_preset *fm = eahas_preset_get("fashion-mnist");
  if (!fm) return -1;
  preset = *fm;
  preset.name = "fashion-mnist";
  preset.num_classes = 8;
  preset.im_size = 8;
  preset.batch_size = 16;
  preset.test_batch_size = 32;
  preset.threads = 1;
  eahas_images tr, te;
  make_set(&tr, 400, 1);
  make_set(&te, 40, 2);
  eahas_err e = {0};
  int rc = eahas_data_prepare(&tr, &te, "synthetic", 8, 320, 16, 40, 3, &data, &e);
  eahas_images_free(&tr);
  eahas_images_free(&te);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  eahas_data_free(&data);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", lockdir);
  return system(cmd) == 0 ? 0 : -1;
}

static eahas_config small_config(void) {
  eahas_config c;
  eahas_err e = {0};
  assert_int_equal(eahas_config_parse("d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50", &c, &e),
                   0);
  return c;
}

static const eahas_meter_opts estimate_meter = {.kind = EAHAS_METER_ESTIMATE};

static eahas_train_opts base_opts(int epochs) {
  eahas_train_opts o = {0};
  o.epochs_limit = epochs;
  o.seed = 11;
  o.threads = 1;
  o.meter = &estimate_meter;
  o.iec_min_s = 0.05;
  o.data = &data;
  o.lock_dir = lockdir;
  return o;
}

static void test_run_record(void **state) {
  (void)state;
  eahas_config c = small_config();
  c.cutout = 16; /* larger than the image: clipped to it, still finite */
  eahas_train_opts o = base_opts(2);
  eahas_run_record r;
  eahas_err e = {0};
  int rc = eahas_train_run(&c, &preset, NULL, &o, &r, &e);
  if (rc) fail_msg("%s", e.msg);
  assert_string_equal(r.status, "ok");
  assert_int_equal(r.epochs_trained, 2);
  assert_int_equal(r.epochs_limit, 2);
  assert_int_equal(r.epochs_planned, 50);
  assert_true(eahas_config_equal(&r.config, &c));
  assert_string_equal(r.preset, "fashion-mnist");
  assert_string_equal(r.dataset, "synthetic");
  assert_int_equal(r.threads, 1);
  assert_true(r.seed == 11);
  char id[17];
  eahas_run_id("fashion-mnist", &c, id);
  assert_string_equal(r.id, id);
  eahas_regnet rg;
  eahas_complexity cx;
  assert_int_equal(eahas_config_complexity(&c, &preset, &rg, &cx, NULL), 0);
  assert_true(r.cx.flops == cx.flops && r.cx.params == cx.params && r.cx.acts == cx.acts);
  double sum_e = 0, sum_t = 0, tec = 0;
  for (int i = 0; i < 2; i++) {
    /* the schedule is the one of 50 epochs, truncated */
    assert_true(r.lr[i] == eahas_lr_at(EAHAS_SCHED_COS, 0.1, i, 50));
    assert_true(isfinite(r.train_loss[i]) && r.train_loss[i] > 0);
    assert_true(r.train_acc[i] >= 0 && r.train_acc[i] <= 100);
    assert_true(r.val_acc[i] >= 0 && r.val_acc[i] <= 100);
    assert_true(r.test_acc[i] >= 0 && r.test_acc[i] <= 100);
    assert_true(r.test_acc_ema[i] >= 0 && r.test_acc_ema[i] <= 100);
    /* accuracies are multiples of 100/n */
    assert_float_equal(fmod(r.test_acc[i] * 40 / 100, 1.0), 0.0, 1e-9);
    assert_float_equal(fmod(r.val_acc[i] * 16 / 100, 1.0), 0.0, 1e-9);
    assert_true(r.epoch_time_s[i] > 0);
    assert_true(r.train_energy_j[i] > 0 && r.eval_energy_j[i] > 0);
    sum_e += r.train_energy_j[i] + r.eval_energy_j[i];
    sum_t += r.epoch_time_s[i];
    tec += r.train_energy_j[i] / 3.6e6;
  }
  /* During the warm-up the EMA model is a plain copy, taken after the first step of each epoch
   * (pycls), so its accuracy is that of the model after one step of the epoch, not the end. */
  assert_float_equal(r.total_energy_j, sum_e, 1e-9 * sum_e);
  assert_float_equal(r.train_time_s, sum_t, 1e-12);
  assert_float_equal(r.tec_kwh, tec, 1e-15);
  /* issue 4: per-epoch train + eval energies add up to the meter's figure for the whole loop */
  assert_true(fabs(sum_e - o.out_loop_energy_j) <= 0.01 * o.out_loop_energy_j);
  assert_true(r.iec_j_per_image > 0);
  assert_true(strncmp(r.energy_method, "estimate:", 9) == 0);
  assert_true(strlen(r.energy_domains) > 0);
  assert_int_equal(r.energy_shared, 0);
  assert_true(strlen(r.machine) > 0 && strlen(r.cpu) > 0);
  assert_non_null(strstr(r.versions, "eahas "));
  assert_non_null(strstr(r.versions, "oneDNN "));
  assert_string_equal(r.trainer, "eahas");
  eahas_run_record_free(&r);
}

/* The network learns the synthetic task: training accuracy rises well above chance (12.5 %). */
static void test_learns(void **state) {
  (void)state;
  eahas_config c = small_config();
  eahas_train_opts o = base_opts(6);
  eahas_run_record r;
  eahas_err e = {0};
  int rc = eahas_train_run(&c, &preset, NULL, &o, &r, &e);
  if (rc) fail_msg("%s", e.msg);
  assert_int_equal(r.epochs_trained, 6);
  if (getenv("EAHAS_TEST_VERBOSE"))
    for (int i = 0; i < 6; i++)
      printf("epoch %d lr %.4f loss %.4f train %.1f val %.1f test %.1f ema %.1f time %.3f s\n", i, r.lr[i],
             r.train_loss[i], r.train_acc[i], r.val_acc[i], r.test_acc[i], r.test_acc_ema[i], r.epoch_time_s[i]);
  if (!(r.test_acc[5] > 35)) fail_msg("test acc after 6 epochs %.1f %%", r.test_acc[5]);
  assert_true(r.train_loss[5] < r.train_loss[0]);
  /* after the warm-up the EMA model is an average: a valid accuracy as well */
  assert_true(r.test_acc_ema[5] >= 0 && r.test_acc_ema[5] <= 100);
  eahas_run_record_free(&r);
}

static void test_reproducible(void **state) {
  (void)state;
  eahas_config c = small_config();
  c.opt = EAHAS_OPT_ADAMW;
  c.lr_idx = 2; /* 0.005 */
  c.cutout = 16;
  eahas_run_record a, b;
  eahas_train_opts o1 = base_opts(2), o2 = base_opts(2);
  eahas_err e = {0};
  if (eahas_train_run(&c, &preset, NULL, &o1, &a, &e)) fail_msg("%s", e.msg);
  if (eahas_train_run(&c, &preset, NULL, &o2, &b, &e)) fail_msg("%s", e.msg);
  size_t n = sizeof(double) * 2;
  assert_memory_equal(a.train_loss, b.train_loss, n);
  assert_memory_equal(a.train_acc, b.train_acc, n);
  assert_memory_equal(a.val_acc, b.val_acc, n);
  assert_memory_equal(a.test_acc, b.test_acc, n);
  assert_memory_equal(a.test_acc_ema, b.test_acc_ema, n);
  assert_memory_equal(a.lr, b.lr, n);
  eahas_run_record_free(&b);
  /* another seed gives another run */
  o2.seed = 12;
  assert_int_equal(eahas_train_run(&c, &preset, NULL, &o2, &b, NULL), 0);
  assert_true(memcmp(a.train_loss, b.train_loss, n) != 0);
  eahas_run_record_free(&a);
  eahas_run_record_free(&b);
}

/* Turns the last layer's weights into NaN at the end of epoch 0, as a blown-up optimizer step
 * would (NaN inputs would not do: ReLU maps NaN to 0 in oneDNN): epoch 1 then diverges. */
static void poison_after_first_epoch(void *ctx, const eahas_train_progress *p) {
  (void)ctx;
  if (strcmp(p->phase, "epoch") != 0 || p->epoch != 0) return;
  int np = eahas_net_num_params(p->net);
  eahas_tensor_info t = eahas_net_param(p->net, np - 2); /* head.fc.weight */
  assert_non_null(strstr(t.name, "head.fc.weight"));
  for (size_t k = 0; k < t.n; k++) t.data[k] = NAN;
}

static void test_diverged(void **state) {
  (void)state;
  eahas_config c = small_config();
  eahas_train_opts o = base_opts(3);
  o.progress = poison_after_first_epoch;
  eahas_run_record r;
  eahas_err e = {0};
  assert_int_equal(eahas_train_run(&c, &preset, NULL, &o, &r, &e), 0);
  assert_string_equal(r.status, "diverged");
  assert_non_null(strstr(r.reason, "at epoch 2, iteration 1"));
  assert_int_equal(r.epochs_trained, 1);
  assert_int_equal(r.epochs_limit, 3);
  assert_true(isfinite(r.train_loss[0]) && isfinite(r.test_acc[0]));
  /* the record validates (no NaN anywhere) and round-trips; it names the real preset, whose
   * complexity a reader checks, so it gets that instead of the shrunken test preset's */
  assert_int_equal(eahas_config_complexity(&c, eahas_preset_get("fashion-mnist"), NULL, &r.cx, NULL), 0);
  char *json = eahas_run_record_to_json(&r);
  assert_non_null(json);
  eahas_run_record back;
  if (eahas_run_record_from_json(json, &back, &e)) fail_msg("%s", e.msg);
  assert_string_equal(back.status, "diverged");
  assert_int_equal(back.epochs_trained, 1);
  eahas_run_record_free(&back);
  free(json);
  eahas_run_record_free(&r);
}

static void test_bad_arguments(void **state) {
  (void)state;
  eahas_config c = small_config();
  eahas_train_opts o = base_opts(51);
  eahas_run_record r;
  eahas_err e = {0};
  assert_int_equal(eahas_train_run(&c, &preset, NULL, &o, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "epochs limit 51 is outside [1, 50]"));
  eahas_run_record_free(&r);
  o = base_opts(1);
  c.wm1000 = 1600; /* valid in the space, not in this preset's range */
  assert_int_equal(eahas_train_run(&c, &preset, NULL, &o, &r, &e), EAHAS_EINVAL);
  eahas_run_record_free(&r);
  /* data that does not fit the preset */
  c = small_config();
  eahas_preset p2 = preset;
  p2.im_size = 16;
  assert_int_equal(eahas_train_run(&c, &p2, NULL, &o, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "does not fit preset"));
  assert_string_equal(r.status, "failed");
  eahas_run_record_free(&r);
  /* no data directory */
  o.data = NULL;
  p2 = preset;
  p2.dataset = "fashion-mnist";
  assert_int_equal(eahas_train_run(&c, &p2, "/nonexistent/dir", &o, &r, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "/nonexistent/dir/train-images-idx3-ubyte[.gz] not found"));
  eahas_run_record_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_record), cmocka_unit_test(test_learns),       cmocka_unit_test(test_reproducible),
      cmocka_unit_test(test_diverged),   cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
