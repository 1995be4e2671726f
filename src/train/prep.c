/* Dataset preparation: seeded split, area downscaling, per-channel normalization, augmentation
 * and shuffling (pycls data pipeline, REFERENCE.md §4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "eahas/train.h"

/* Keys of the random streams derived from the run seed, so that the split does not move when
 * e.g. the initialization changes. */
#define KEY_SPLIT 0x73706c6974ULL /* "split" */
#define KEY_TEST 0x74657374ULL    /* "test" */

void eahas_data_free(eahas_data *d) {
  if (!d) return;
  free(d->train_x);
  free(d->val_x);
  free(d->test_x);
  free(d->train_y);
  free(d->val_y);
  free(d->test_y);
  memset(d, 0, sizeof *d);
}

void eahas_shuffle(int *idx, int n, eahas_rng *rng) {
  for (int i = 0; i < n; i++) idx[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)eahas_rng_below(rng, (uint64_t)i + 1);
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

/* Overlap weights of a 1-D area resampling from ni to no cells: output cell o covers
 * [o s, (o+1) s) with s = ni/no; weight of input cell i = |overlap| / s. Fills, per output,
 * first input index and up to `cap` weights. Returns the max number of weights per output. */
static int area_weights(int ni, int no, int *first, double *wts, int cap) {
  double s = (double)ni / no;
  int used = 0;
  for (int o = 0; o < no; o++) {
    double a = o * s, b = (o + 1) * s;
    int i0 = (int)floor(a), k = 0;
    first[o] = i0;
    for (int i = i0; i < ni && i < b && k < cap; i++, k++) {
      double lo = a > i ? a : i, hi = b < i + 1 ? b : i + 1;
      wts[o * cap + k] = (hi - lo) / s;
    }
    for (int j = k; j < cap; j++) wts[o * cap + j] = 0;
    if (k > used) used = k;
  }
  return used;
}

void eahas_resize_area(const float *in, int c, int hi, int wi, float *out, int ho, int wo) {
  int capy = hi / ho + 2, capx = wi / wo + 2;
  int *fy = malloc(sizeof(int) * (size_t)ho), *fx = malloc(sizeof(int) * (size_t)wo);
  double *wy = malloc(sizeof(double) * (size_t)(ho * capy)), *wx = malloc(sizeof(double) * (size_t)(wo * capx));
  if (!fy || !fx || !wy || !wx) {
    /* The callers pass images of at most a few hundred pixels a side; on ENOMEM leave zeros. */
    memset(out, 0, sizeof(float) * (size_t)c * ho * wo);
    goto done;
  }
  area_weights(hi, ho, fy, wy, capy);
  area_weights(wi, wo, fx, wx, capx);
  for (int ch = 0; ch < c; ch++) {
    const float *src = in + (size_t)ch * hi * wi;
    for (int y = 0; y < ho; y++)
      for (int x = 0; x < wo; x++) {
        double acc = 0;
        for (int ky = 0; ky < capy && fy[y] + ky < hi; ky++) {
          double a = wy[y * capy + ky];
          if (a == 0) continue;
          const float *row = src + (size_t)(fy[y] + ky) * wi;
          for (int kx = 0; kx < capx && fx[x] + kx < wi; kx++) acc += a * wx[x * capx + kx] * row[fx[x] + kx];
        }
        out[((size_t)ch * ho + y) * wo + x] = (float)acc;
      }
  }
done:
  free(fy);
  free(fx);
  free(wy);
  free(wx);
}

void eahas_augment(float *img, int c, int h, int w, int hflip, int crop_pad, int cutout, eahas_rng *rng, float *tmp) {
  size_t plane = (size_t)h * w;
  if (hflip && eahas_rng_uniform(rng) < 0.5) {
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++) {
        float *row = img + ch * plane + (size_t)y * w;
        for (int x = 0; x < w / 2; x++) {
          float t = row[x];
          row[x] = row[w - 1 - x];
          row[w - 1 - x] = t;
        }
      }
  }
  if (crop_pad > 0) {
    /* Output (y, x) reads padded (y + dy, x + dx) = original (y + dy - pad, x + dx - pad). */
    int dy = (int)eahas_rng_below(rng, (uint64_t)(2 * crop_pad + 1)) - crop_pad;
    int dx = (int)eahas_rng_below(rng, (uint64_t)(2 * crop_pad + 1)) - crop_pad;
    memcpy(tmp, img, sizeof(float) * c * plane);
    for (int ch = 0; ch < c; ch++)
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          int sy = y + dy, sx = x + dx;
          img[ch * plane + (size_t)y * w + x] =
              sy >= 0 && sy < h && sx >= 0 && sx < w ? tmp[ch * plane + (size_t)sy * w + sx] : 0.0f;
        }
  }
  if (cutout > 0) {
    /* DeVries & Taylor 2017: square centred at a uniform pixel, clipped at the border. */
    int cy = (int)eahas_rng_below(rng, (uint64_t)h), cx = (int)eahas_rng_below(rng, (uint64_t)w);
    int y0 = cy - cutout / 2, x0 = cx - cutout / 2, y1 = y0 + cutout, x1 = x0 + cutout;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    if (y1 > h) y1 = h;
    if (x1 > w) x1 = w;
    for (int ch = 0; ch < c; ch++)
      for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) img[ch * plane + (size_t)y * w + x] = 0.0f;
  }
}

/* Copies the selected images into a float tensor at the target resolution, pixels in [0, 1]. */
static int gather(const eahas_images *im, const int *sel, int n, int size, float **x_out, int **y_out,
                  eahas_err *err) {
  size_t in_sz = (size_t)im->c * im->h * im->w, out_sz = (size_t)im->c * size * size;
  float *x = malloc(sizeof(float) * (n > 0 ? (size_t)n * out_sz : 1));
  int *y = malloc(sizeof(int) * (n > 0 ? (size_t)n : 1));
  float *buf = malloc(sizeof(float) * in_sz);
  if (!x || !y || !buf) {
    free(x);
    free(y);
    free(buf);
    return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate %d images of %zu floats", n, out_sz);
  }
  for (int i = 0; i < n; i++) {
    const uint8_t *p = im->pix + (size_t)sel[i] * in_sz;
    float *dst = x + (size_t)i * out_sz;
    if (im->h == size && im->w == size) {
      for (size_t k = 0; k < in_sz; k++) dst[k] = p[k] / 255.0f;
    } else {
      for (size_t k = 0; k < in_sz; k++) buf[k] = p[k] / 255.0f;
      eahas_resize_area(buf, im->c, im->h, im->w, dst, size, size);
    }
    y[i] = im->labels[sel[i]];
  }
  free(buf);
  *x_out = x;
  *y_out = y;
  return 0;
}

static void normalize(float *x, int n, int c, int plane, const double *mean, const double *std) {
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++) {
      float *p = x + ((size_t)i * c + ch) * plane;
      float m = (float)mean[ch], inv = (float)(1.0 / std[ch]);
      for (int k = 0; k < plane; k++) p[k] = (p[k] - m) * inv;
    }
}

int eahas_data_prepare(const eahas_images *tr, const eahas_images *te, const char *name, int im_size, int train_size,
                       int val_size, int test_size, uint64_t seed, eahas_data *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  if (tr->c != te->c || tr->h != te->h || tr->w != te->w || tr->num_classes != te->num_classes)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "training files hold %dx%dx%d images of %d classes but test files %dx%dx%d of %d", tr->c,
                         tr->h, tr->w, tr->num_classes, te->c, te->h, te->w, te->num_classes);
  if (tr->c < 1 || tr->c > 4) return eahas_err_set(err, EAHAS_EINVAL, "%d channels, allowed 1..4", tr->c);
  if (im_size < 1 || im_size > 1024) return eahas_err_set(err, EAHAS_EINVAL, "im_size=%d is outside [1, 1024]", im_size);
  if (train_size < 0 || val_size < 0 || test_size < 0)
    return eahas_err_set(err, EAHAS_EINVAL, "negative subset size (train %d, val %d, test %d)", train_size,
                         val_size, test_size);
  int n_val = val_size ? val_size : tr->n / 10;
  if (n_val > tr->n)
    return eahas_err_set(err, EAHAS_EINVAL, "val_size=%d exceeds the %d images of the training files", n_val, tr->n);
  int n_train = train_size ? train_size : tr->n - n_val;
  if (n_train < 1 || n_train + n_val > tr->n)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "train_size=%d + val_size=%d exceeds the %d images of the training files", n_train, n_val,
                         tr->n);
  int n_test = test_size ? test_size : te->n;
  if (n_test > te->n)
    return eahas_err_set(err, EAHAS_EINVAL, "test_size=%d exceeds the %d images of the test files", n_test, te->n);

  int *perm = malloc(sizeof(int) * (size_t)tr->n), *tperm = malloc(sizeof(int) * (size_t)te->n);
  if (!perm || !tperm) {
    free(perm);
    free(tperm);
    return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate a permutation of %d images", tr->n);
  }
  eahas_rng r;
  eahas_rng_seed_key(&r, seed, KEY_SPLIT);
  eahas_shuffle(perm, tr->n, &r);
  if (n_test == te->n) {
    for (int i = 0; i < te->n; i++) tperm[i] = i;
  } else {
    eahas_rng_seed_key(&r, seed, KEY_TEST);
    eahas_shuffle(tperm, te->n, &r);
  }
  out->c = tr->c;
  out->h = out->w = im_size;
  out->num_classes = tr->num_classes;
  out->n_train = n_train;
  out->n_val = n_val;
  out->n_test = n_test;
  snprintf(out->name, sizeof out->name, "%s", name ? name : "");
  int rc = gather(tr, perm, n_val, im_size, &out->val_x, &out->val_y, err);
  if (!rc) rc = gather(tr, perm + n_val, n_train, im_size, &out->train_x, &out->train_y, err);
  if (!rc) rc = gather(te, tperm, n_test, im_size, &out->test_x, &out->test_y, err);
  free(perm);
  free(tperm);
  if (rc) {
    eahas_data_free(out);
    return rc;
  }
  /* Per-channel statistics of the training subset only (no peeking at val/test). */
  int plane = im_size * im_size;
  for (int ch = 0; ch < out->c; ch++) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n_train; i++) {
      const float *p = out->train_x + ((size_t)i * out->c + ch) * plane;
      for (int k = 0; k < plane; k++) {
        s += p[k];
        s2 += (double)p[k] * p[k];
      }
    }
    double cnt = (double)n_train * plane, m = s / cnt, var = s2 / cnt - m * m;
    out->mean[ch] = m;
    out->std[ch] = var > 1e-12 ? sqrt(var) : 1.0;
  }
  normalize(out->train_x, n_train, out->c, plane, out->mean, out->std);
  normalize(out->val_x, n_val, out->c, plane, out->mean, out->std);
  normalize(out->test_x, n_test, out->c, plane, out->mean, out->std);
  return 0;
}

/* First existing path among dir/name and dir/name.gz (IDX) into buf. */
static int find_file(const char *dir, const char *sub, const char *name, int try_gz, char *buf, size_t n) {
  struct stat st;
  const char *exts[2] = {"", ".gz"};
  for (int e = 0; e < (try_gz ? 2 : 1); e++) {
    snprintf(buf, n, "%s%s%s/%s%s", dir, sub ? "/" : "", sub ? sub : "", name, exts[e]);
    if (stat(buf, &st) == 0) return 1;
  }
  return 0;
}

static int load_idx(const char *dir, const char *prefix, int classes, eahas_images *out, eahas_err *err) {
  char ip[4096], lp[4096], iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
  snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
  if (!find_file(dir, NULL, iname, 1, ip, sizeof ip))
    return eahas_err_set(err, EAHAS_ENOTFOUND, "%s/%s[.gz] not found", dir, iname);
  if (!find_file(dir, NULL, lname, 1, lp, sizeof lp))
    return eahas_err_set(err, EAHAS_ENOTFOUND, "%s/%s[.gz] not found", dir, lname);
  return eahas_idx_read(ip, lp, classes, out, err);
}

static int load_cifar(const char *dir, int test, eahas_images *out, eahas_err *err) {
  char paths[5][4096];
  const char *ptrs[5];
  int n = test ? 1 : 5;
  const char *sub = NULL;
  if (!find_file(dir, NULL, "test_batch.bin", 0, paths[0], sizeof paths[0]) &&
      find_file(dir, "cifar-10-batches-bin", "test_batch.bin", 0, paths[0], sizeof paths[0]))
    sub = "cifar-10-batches-bin";
  for (int i = 0; i < n; i++) {
    char name[32];
    if (test) snprintf(name, sizeof name, "test_batch.bin");
    else snprintf(name, sizeof name, "data_batch_%d.bin", i + 1);
    if (!find_file(dir, sub, name, 0, paths[i], sizeof paths[i]))
      return eahas_err_set(err, EAHAS_ENOTFOUND, "%s/%s%s%s not found", dir, sub ? sub : "", sub ? "/" : "", name);
    ptrs[i] = paths[i];
  }
  return eahas_cifar10_read(ptrs, n, out, err);
}

int eahas_data_load(const eahas_preset *p, const char *dir, uint64_t seed, eahas_data *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  eahas_images tr = {0}, te = {0};
  int rc;
  const char *ds = p->dataset ? p->dataset : p->name;
  if (strcmp(ds, "fashion-mnist") == 0 || strcmp(ds, "mnist") == 0) {
    rc = load_idx(dir, "train", p->num_classes, &tr, err);
    if (!rc) rc = load_idx(dir, "t10k", p->num_classes, &te, err);
  } else if (strcmp(ds, "cifar10") == 0) {
    rc = load_cifar(dir, 0, &tr, err);
    if (!rc) rc = load_cifar(dir, 1, &te, err);
  } else {
    return eahas_err_set(err, EAHAS_EUNAVAIL, "no reader for dataset '%s' (readers: fashion-mnist, mnist, cifar10)",
                         ds);
  }
  if (!rc && tr.c != p->in_channels)
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: images have %d channels, preset %s expects %d", dir, tr.c, p->name,
                       p->in_channels);
  if (!rc && p->data_im_size > 0 && (tr.h != p->data_im_size || tr.w != p->data_im_size))
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: images are %dx%d, preset %s expects %dx%d", dir, tr.h, tr.w, p->name,
                       p->data_im_size, p->data_im_size);
  if (!rc)
    rc = eahas_data_prepare(&tr, &te, ds, p->im_size, p->train_size, p->val_size, p->test_size, seed, out, err);
  eahas_images_free(&tr);
  eahas_images_free(&te);
  return rc;
}
