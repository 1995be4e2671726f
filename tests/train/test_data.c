/* Tests of the dataset readers (good and bad IDX / CIFAR-10 files built in a temporary
 * directory), area downscaling, the seeded split, normalization, augmentation and shuffling. */
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
#include <zlib.h>

#include "eahas/train.h"

static char tmpdir[256];

static int setup_dir(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/eahas_train_data_XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static const char *path_of(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
  return buf[k];
}

static void write_bytes(const char *path, const unsigned char *b, size_t n, int gz) {
  if (gz) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, b, (unsigned)n), (int)n);
    gzclose(f);
  } else {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
  }
}

static void put32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

/* IDX images file of n images h x w with pixel (i, y, x) = i*16 + y*w + x (mod 256); extra bytes
 * appended or removed via delta (negative truncates), magic overridable. */
static void make_idx_images(const char *path, int n, int h, int w, uint32_t magic, int delta, int gz) {
  size_t sz = 16 + (size_t)n * h * w;
  unsigned char *b = calloc(sz + 8, 1);
  put32(b, magic);
  put32(b + 4, (uint32_t)n);
  put32(b + 8, (uint32_t)h);
  put32(b + 12, (uint32_t)w);
  for (int i = 0; i < n; i++)
    for (int k = 0; k < h * w; k++) b[16 + (size_t)i * h * w + k] = (unsigned char)(i * 16 + k);
  write_bytes(path, b, (size_t)((long)sz + delta), gz);
  free(b);
}

static void make_idx_labels(const char *path, int n, const unsigned char *labels, int gz) {
  unsigned char *b = calloc(8 + (size_t)n, 1);
  put32(b, 0x00000801);
  put32(b + 4, (uint32_t)n);
  memcpy(b + 8, labels, (size_t)n);
  write_bytes(path, b, 8 + (size_t)n, gz);
  free(b);
}

static void test_idx_good_plain_and_gzip(void **state) {
  (void)state;
  const unsigned char lab[3] = {2, 0, 9};
  for (int gz = 0; gz < 2; gz++) {
    const char *ip = path_of(gz ? "good-img.gz" : "good-img"), *lp = path_of(gz ? "good-lab.gz" : "good-lab");
    make_idx_images(ip, 3, 2, 3, 0x00000803, 0, gz);
    make_idx_labels(lp, 3, lab, gz);
    eahas_images im;
    eahas_err e = {0};
    assert_int_equal(eahas_idx_read(ip, lp, 10, &im, &e), 0);
    assert_int_equal(im.n, 3);
    assert_int_equal(im.c, 1);
    assert_int_equal(im.h, 2);
    assert_int_equal(im.w, 3);
    assert_int_equal(im.labels[0], 2);
    assert_int_equal(im.labels[2], 9);
    assert_int_equal(im.pix[0], 0);
    assert_int_equal(im.pix[6 + 5], 16 + 5); /* image 1, pixel (1, 2) */
    assert_int_equal(im.pix[12 + 1], 33);
    eahas_images_free(&im);
  }
}

/* Calls the reader and checks code and that the message holds each given fragment. */
static void expect_idx_error(const char *ip, const char *lp, int classes, int code, const char *f1, const char *f2) {
  eahas_images im;
  eahas_err e = {0};
  assert_int_equal(eahas_idx_read(ip, lp, classes, &im, &e), code);
  if (f1 && !strstr(e.msg, f1)) fail_msg("message '%s' lacks '%s'", e.msg, f1);
  if (f2 && !strstr(e.msg, f2)) fail_msg("message '%s' lacks '%s'", e.msg, f2);
  assert_null(im.pix);
  assert_null(im.labels);
}

static void test_idx_defects(void **state) {
  (void)state;
  const unsigned char lab[3] = {1, 2, 3}, badlab[3] = {1, 12, 3};
  const char *lp = path_of("lab"), *ip = path_of("img");
  make_idx_labels(lp, 3, lab, 0);
  /* wrong magic: a labels file given as images */
  expect_idx_error(lp, lp, 10, EAHAS_EFORMAT, "lab: wrong magic 0x00000801", "expected 0x00000803");
  /* truncated pixels, plain and gzip */
  make_idx_images(ip, 3, 4, 4, 0x00000803, -5, 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "img: truncated", "needs 48 bytes, only 43");
  const char *igz = path_of("img.gz");
  make_idx_images(igz, 3, 4, 4, 0x00000803, -5, 1);
  expect_idx_error(igz, lp, 10, EAHAS_EFORMAT, "img.gz: truncated", "only 43");
  /* truncated header */
  make_idx_images(ip, 3, 4, 4, 0x00000803, -(16 + 48 - 6), 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "img: truncated", "the IDX header");
  /* trailing data */
  make_idx_images(ip, 3, 4, 4, 0x00000803, 2, 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "img: trailing data", NULL);
  /* mislabelled */
  make_idx_images(ip, 3, 4, 4, 0x00000803, 0, 0);
  const char *blp = path_of("badlab");
  make_idx_labels(blp, 3, badlab, 0);
  expect_idx_error(ip, blp, 10, EAHAS_EFORMAT, "badlab: label 12 of item 1", "outside [0, 10)");
  /* count mismatch */
  make_idx_labels(lp, 2, lab, 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "holds 2 labels but", "holds 3 images");
  /* zero dimension */
  make_idx_images(ip, 0, 4, 4, 0x00000803, 0, 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "dimension 0 is 0", NULL);
  /* a header that claims 3 x 65536 x 65536 (12 GiB): refused before any allocation */
  unsigned char big[16];
  put32(big, 0x00000803);
  put32(big + 4, 3);
  put32(big + 8, 65536);
  put32(big + 12, 65536);
  write_bytes(ip, big, sizeof big, 0);
  make_idx_labels(lp, 3, lab, 0);
  expect_idx_error(ip, lp, 10, EAHAS_EFORMAT, "img: the header claims 3 x 65536 x 65536 = 12884901888 bytes",
                   "more than 8589934592");
  /* corrupt gzip stream: a valid gzip header followed by garbage */
  const unsigned char junk[24] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 1, 2, 3};
  write_bytes(igz, junk, sizeof junk, 0);
  expect_idx_error(igz, lp, 10, EAHAS_EFORMAT, "img.gz", NULL);
  /* missing file */
  expect_idx_error(path_of("nope"), lp, 10, EAHAS_EIO, "nope: cannot open", NULL);
}

static void make_cifar(const char *path, int n, int bad_at, int cut) {
  size_t rec = 3073, sz = rec * (size_t)n;
  unsigned char *b = calloc(sz, 1);
  for (int i = 0; i < n; i++) {
    b[i * rec] = (unsigned char)(i == bad_at ? 10 : i % 10);
    for (int k = 0; k < 3072; k++) b[i * rec + 1 + k] = (unsigned char)(k / 1024 * 100 + i);
  }
  write_bytes(path, b, sz - (size_t)cut, 0);
  free(b);
}

static void test_cifar(void **state) {
  (void)state;
  const char *a = path_of("data_batch_1.bin"), *b = path_of("data_batch_2.bin");
  make_cifar(a, 3, -1, 0);
  make_cifar(b, 2, -1, 0);
  const char *paths[2] = {a, b};
  eahas_images im;
  eahas_err e = {0};
  assert_int_equal(eahas_cifar10_read(paths, 2, &im, &e), 0);
  assert_int_equal(im.n, 5);
  assert_int_equal(im.c, 3);
  assert_int_equal(im.h, 32);
  assert_int_equal(im.labels[2], 2);
  assert_int_equal(im.labels[4], 1); /* second file, record 1 */
  assert_int_equal(im.pix[(size_t)4 * 3072 + 1024], 101); /* G plane of that image */
  assert_int_equal(im.pix[(size_t)4 * 3072 + 2048 + 7], 201);
  eahas_images_free(&im);

  make_cifar(b, 2, -1, 100);
  assert_int_equal(eahas_cifar10_read(paths, 2, &im, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "data_batch_2.bin: truncated"));
  assert_non_null(strstr(e.msg, "6046 bytes"));
  assert_null(im.pix);
  make_cifar(b, 3, 2, 0);
  assert_int_equal(eahas_cifar10_read(paths, 2, &im, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "data_batch_2.bin: label 10 of record 2 is outside [0, 10)"));
  write_bytes(b, (const unsigned char *)"", 0, 0);
  assert_int_equal(eahas_cifar10_read(paths, 2, &im, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "data_batch_2.bin: empty file"));
  const char *missing[1] = {path_of("test_batch.bin")};
  assert_int_equal(eahas_cifar10_read(missing, 1, &im, &e), EAHAS_EIO);
  assert_non_null(strstr(e.msg, "test_batch.bin: cannot open"));
}

/* eahas_data_load on a CIFAR-10 directory laid out as the archive unpacks (a subdirectory),
 * with the cifar10 preset's defaults: validation 10 %, the rest for training, all test images. */
static void test_load_cifar_dir(void **state) {
  (void)state;
  char sub[600], name[700];
  snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", tmpdir);
  assert_int_equal(eahas_mkdir_p(sub, NULL), 0);
  for (int i = 1; i <= 5; i++) {
    snprintf(name, sizeof name, "%s/data_batch_%d.bin", sub, i);
    make_cifar(name, 4, -1, 0);
  }
  snprintf(name, sizeof name, "%s/test_batch.bin", sub);
  make_cifar(name, 6, -1, 0);
  const eahas_preset *p = eahas_preset_get("cifar10");
  assert_non_null(p);
  eahas_data d;
  eahas_err e = {0};
  if (eahas_data_load(p, tmpdir, 1, &d, &e)) fail_msg("%s", e.msg);
  assert_int_equal(d.n_val, 2);
  assert_int_equal(d.n_train, 18);
  assert_int_equal(d.n_test, 6);
  assert_int_equal(d.c, 3);
  assert_int_equal(d.h, 32);
  assert_string_equal(d.name, "cifar10");
  for (int i = 0; i < 6; i++) assert_int_equal(d.test_y[i], i % 10); /* file order */
  eahas_data_free(&d);
  /* a missing batch is named */
  snprintf(name, sizeof name, "%s/data_batch_3.bin", sub);
  unlink(name);
  assert_int_equal(eahas_data_load(p, tmpdir, 1, &d, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "cifar-10-batches-bin/data_batch_3.bin not found"));
  /* tinyimagenet has no reader */
  assert_int_equal(eahas_data_load(eahas_preset_get("tinyimagenet"), tmpdir, 1, &d, &e), EAHAS_EUNAVAIL);
  assert_non_null(strstr(e.msg, "no reader for dataset 'tinyimagenet'"));
}

static void test_resize_area(void **state) {
  (void)state;
  /* 4x4 -> 2x2: means of 2x2 blocks. */
  float in[16], out[4];
  for (int k = 0; k < 16; k++) in[k] = (float)k;
  eahas_resize_area(in, 1, 4, 4, out, 2, 2);
  assert_float_equal(out[0], (0 + 1 + 4 + 5) / 4.0, 1e-6);
  assert_float_equal(out[3], (10 + 11 + 14 + 15) / 4.0, 1e-6);
  /* 3 -> 2 in one dimension: out0 = (in0 + 0.5 in1) / 1.5, out1 = (0.5 in1 + in2) / 1.5. */
  float row[3] = {3, 6, 9}, o2[2];
  eahas_resize_area(row, 1, 1, 3, o2, 1, 2);
  assert_float_equal(o2[0], (3 + 3) / 1.5, 1e-5);
  assert_float_equal(o2[1], (3 + 9) / 1.5, 1e-5);
  /* 28 -> 16 (Fashion-MNIST to the preset size): the mean is preserved, constants stay. */
  float big[2 * 28 * 28], small[2 * 16 * 16];
  double s_in = 0, s_out = 0;
  for (int k = 0; k < 28 * 28; k++) {
    big[k] = (float)((k * 37) % 101);
    big[28 * 28 + k] = 0.25f;
    s_in += big[k];
  }
  eahas_resize_area(big, 2, 28, 28, small, 16, 16);
  for (int k = 0; k < 256; k++) {
    s_out += small[k];
    assert_float_equal(small[256 + k], 0.25, 1e-6);
  }
  assert_float_equal(s_out / 256, s_in / 784, 1e-4);
}

/* Images whose every pixel encodes the image index, to track where each one went. */
static void make_images(eahas_images *im, int n, int c, int side, int classes, int offset) {
  im->n = n;
  im->c = c;
  im->h = im->w = side;
  im->num_classes = classes;
  im->pix = malloc((size_t)n * c * side * side);
  im->labels = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < c * side * side; k++) im->pix[(size_t)i * c * side * side + k] = (uint8_t)(i + offset);
    im->labels[i] = i % classes;
  }
}

static int id_of(const eahas_data *d, const float *x, int i) {
  /* undo the normalization of channel 0 of pixel 0 */
  double v = x[(size_t)i * d->c * d->h * d->w] * d->std[0] + d->mean[0];
  return (int)lround(v * 255);
}

static void test_prepare_split_and_normalize(void **state) {
  (void)state;
  eahas_images tr, te;
  make_images(&tr, 200, 3, 8, 10, 0);
  make_images(&te, 50, 3, 8, 10, 0);
  eahas_data d, d2, d3;
  eahas_err e = {0};
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 100, 30, 20, 7, &d, &e), 0);
  assert_int_equal(d.n_train, 100);
  assert_int_equal(d.n_val, 30);
  assert_int_equal(d.n_test, 20);
  assert_int_equal(d.h, 4);
  assert_string_equal(d.name, "toy");
  /* train and validation are disjoint subsets of the training files */
  int seen[200] = {0};
  for (int i = 0; i < d.n_val; i++) seen[id_of(&d, d.val_x, i)]++;
  for (int i = 0; i < d.n_train; i++) {
    int id = id_of(&d, d.train_x, i);
    assert_int_equal(seen[id], 0);
    seen[id]++;
    assert_int_equal(d.train_y[i], id % 10);
  }
  /* normalization by training statistics: mean 0, std 1 on the training subset */
  for (int ch = 0; ch < 3; ch++) {
    double s = 0, s2 = 0;
    int plane = 16;
    for (int i = 0; i < d.n_train; i++)
      for (int k = 0; k < plane; k++) {
        double v = d.train_x[((size_t)i * 3 + ch) * plane + k];
        s += v;
        s2 += v * v;
      }
    double cnt = d.n_train * plane;
    assert_float_equal(s / cnt, 0.0, 1e-5);
    assert_float_equal(sqrt(s2 / cnt), 1.0, 1e-4);
  }
  /* same seed -> same split; another seed -> another split */
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 100, 30, 20, 7, &d2, &e), 0);
  assert_memory_equal(d.train_x, d2.train_x, sizeof(float) * 100 * 3 * 16);
  assert_memory_equal(d.test_y, d2.test_y, sizeof(int) * 20);
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 100, 30, 20, 8, &d3, &e), 0);
  assert_true(memcmp(d.train_x, d3.train_x, sizeof(float) * 100 * 3 * 16) != 0);
  eahas_data_free(&d2);
  eahas_data_free(&d3);
  /* defaults: val = 10 %, train = the rest, test = all in file order */
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 8, 0, 0, 0, 7, &d2, &e), 0);
  assert_int_equal(d2.n_val, 20);
  assert_int_equal(d2.n_train, 180);
  assert_int_equal(d2.n_test, 50);
  for (int i = 0; i < 50; i++) assert_int_equal(id_of(&d2, d2.test_x, i), i);
  eahas_data_free(&d2);
  /* errors */
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 190, 30, 0, 7, &d2, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "train_size=190 + val_size=30 exceeds the 200 images"));
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 10, 10, 51, 7, &d2, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "test_size=51 exceeds the 50 images"));
  te.c = 1;
  assert_int_equal(eahas_data_prepare(&tr, &te, "toy", 4, 10, 10, 10, 7, &d2, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "test files 1x8x8"));
  eahas_data_free(&d);
  eahas_images_free(&tr);
  eahas_images_free(&te);
}

static void fill_pattern(float *img, int n) {
  for (int k = 0; k < n; k++) img[k] = 1.0f + (float)k;
}

static void test_augment(void **state) {
  (void)state;
  enum { C = 2, H = 6, W = 5, N = C * H * W };
  float img[N], tmp[N], ref[N];
  fill_pattern(ref, N);
  eahas_rng r, r2;
  /* flip: either unchanged or mirrored, and about half the time mirrored */
  eahas_rng_seed(&r, 1);
  int flips = 0;
  for (int t = 0; t < 400; t++) {
    fill_pattern(img, N);
    eahas_augment(img, C, H, W, 1, 0, 0, &r, tmp);
    int same = memcmp(img, ref, sizeof img) == 0, mirrored = 1;
    for (int ch = 0; ch < C; ch++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          mirrored &= img[(ch * H + y) * W + x] == ref[(ch * H + y) * W + (W - 1 - x)];
    assert_true(same || mirrored);
    flips += mirrored;
  }
  assert_in_range(flips, 160, 240);
  /* crop with pad 2: the draws are dy, dx in [0, 4]; replay them and check every pixel */
  eahas_rng_seed(&r, 2);
  for (int t = 0; t < 50; t++) {
    r2 = r;
    int dy = (int)eahas_rng_below(&r2, 5) - 2, dx = (int)eahas_rng_below(&r2, 5) - 2;
    fill_pattern(img, N);
    eahas_augment(img, C, H, W, 0, 2, 0, &r, tmp);
    for (int ch = 0; ch < C; ch++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int sy = y + dy, sx = x + dx;
          float want = sy >= 0 && sy < H && sx >= 0 && sx < W ? ref[(ch * H + sy) * W + sx] : 0.0f;
          assert_true(img[(ch * H + y) * W + x] == want);
        }
  }
  /* cutout 4: a square of side 4 centred at a uniform pixel, clipped, zero in every channel */
  eahas_rng_seed(&r, 3);
  int clipped = 0;
  for (int t = 0; t < 60; t++) {
    r2 = r;
    int cy = (int)eahas_rng_below(&r2, H), cx = (int)eahas_rng_below(&r2, W);
    fill_pattern(img, N);
    eahas_augment(img, C, H, W, 0, 0, 4, &r, tmp);
    int zeros = 0;
    for (int ch = 0; ch < C; ch++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int in = y >= cy - 2 && y < cy + 2 && x >= cx - 2 && x < cx + 2;
          float v = img[(ch * H + y) * W + x];
          assert_true(in ? v == 0.0f : v == ref[(ch * H + y) * W + x]);
          zeros += in;
        }
    clipped += zeros < C * 16;
  }
  assert_true(clipped > 0);
}

static void test_shuffle(void **state) {
  (void)state;
  int a[100], b[100], cnt[100] = {0};
  eahas_rng r;
  eahas_rng_seed(&r, 5);
  eahas_shuffle(a, 100, &r);
  eahas_rng_seed(&r, 5);
  eahas_shuffle(b, 100, &r);
  assert_memory_equal(a, b, sizeof a);
  int fixed = 0;
  for (int i = 0; i < 100; i++) {
    cnt[a[i]]++;
    fixed += a[i] == i;
  }
  for (int i = 0; i < 100; i++) assert_int_equal(cnt[i], 1);
  assert_true(fixed < 10);
}

/* The real Fashion-MNIST test files (dataset-fashion-mnist): 10000 images of 28 x 28, exactly
 * 1000 per class (Xiao et al. 2017). Skipped when the package is absent. */
static void test_fashion_mnist_files(void **state) {
  (void)state;
  const char *dir = "/usr/share/datasets/fashion-mnist";
  if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) != 0) skip();
  eahas_images im;
  eahas_err e = {0};
  assert_int_equal(eahas_idx_read("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
                                  "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", 10, &im, &e),
                   0);
  (void)dir;
  assert_int_equal(im.n, 10000);
  assert_int_equal(im.h, 28);
  assert_int_equal(im.w, 28);
  int cnt[10] = {0};
  for (int i = 0; i < im.n; i++) cnt[im.labels[i]]++;
  for (int k = 0; k < 10; k++) assert_int_equal(cnt[k], 1000);
  /* Label of the first test image is 9 (ankle boot) in the published files. */
  assert_int_equal(im.labels[0], 9);
  eahas_images_free(&im);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idx_good_plain_and_gzip),
      cmocka_unit_test(test_idx_defects),
      cmocka_unit_test(test_cifar),
      cmocka_unit_test(test_load_cifar_dir),
      cmocka_unit_test(test_resize_area),
      cmocka_unit_test(test_prepare_split_and_normalize),
      cmocka_unit_test(test_augment),
      cmocka_unit_test(test_shuffle),
      cmocka_unit_test(test_fashion_mnist_files),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
