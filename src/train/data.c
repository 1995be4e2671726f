/* Dataset readers: IDX (MNIST, Fashion-MNIST; gzip or plain) and CIFAR-10 binary batches.
 * Every defect is reported with the file name and what is wrong, so that a bad download is
 * diagnosed from the message alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eahas/train.h"

#define IDX_MAX_ITEMS 100000000L
#define IDX_MAX_SIDE 65536
#define IDX_MAX_BYTES (8ULL << 30) /* pixels: 8 GiB, far beyond what IDX files hold (Fashion-MNIST: 47 MB) */

void eahas_images_free(eahas_images *im) {
  if (!im) return;
  free(im->pix);
  free(im->labels);
  memset(im, 0, sizeof *im);
}

/* Reads exactly n bytes; returns 0, or an error naming path, what was being read and how much
 * was there. gzread reads plain files transparently, so one path serves both. */
static int gz_read_exact(gzFile f, const char *path, const char *what, void *buf, size_t n, eahas_err *err) {
  size_t got = 0;
  while (got < n) {
    unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
    int r = gzread(f, (char *)buf + got, chunk);
    if (r < 0) {
      int zerr = 0;
      const char *m = gzerror(f, &zerr);
      return eahas_err_set(err, EAHAS_EFORMAT, "%s: corrupt gzip data while reading %s: %s", path, what, m);
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got < n)
    return eahas_err_set(err, EAHAS_EFORMAT, "%s: truncated: %s needs %zu bytes, only %zu present", path, what, n,
                         got);
  return 0;
}

static uint32_t be32(const unsigned char *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Opens an IDX file and reads its header: magic must be 0x0000 08 <ndims>. */
static int idx_open(const char *path, int ndims, gzFile *out, uint32_t dims[3], eahas_err *err) {
  gzFile f = gzopen(path, "rb");
  if (!f) return eahas_err_set(err, EAHAS_EIO, "%s: cannot open IDX file", path);
  unsigned char h[16];
  /* The magic first, so that a file of the wrong kind is named as such, not as truncated. */
  int rc = gz_read_exact(f, path, "the IDX magic", h, 4, err);
  if (rc) {
    gzclose(f);
    return rc;
  }
  uint32_t magic = be32(h), want = 0x00000800u | (uint32_t)ndims;
  if (magic != want) {
    gzclose(f);
    return eahas_err_set(err, EAHAS_EFORMAT, "%s: wrong magic 0x%08x, expected 0x%08x (IDX unsigned byte, %d dims)",
                         path, magic, want, ndims);
  }
  rc = gz_read_exact(f, path, "the IDX header", h + 4, 4 * (size_t)ndims, err);
  if (rc) {
    gzclose(f);
    return rc;
  }
  for (int i = 0; i < ndims; i++) {
    dims[i] = be32(h + 4 + 4 * i);
    uint32_t lim = i == 0 ? IDX_MAX_ITEMS : IDX_MAX_SIDE;
    if (dims[i] == 0 || dims[i] > lim) {
      gzclose(f);
      return eahas_err_set(err, EAHAS_EFORMAT, "%s: dimension %d is %u, allowed 1..%u", path, i, dims[i], lim);
    }
  }
  *out = f;
  return 0;
}

/* After the payload nothing may follow: trailing bytes mean the header lies about the size. */
static int expect_eof(gzFile f, const char *path, eahas_err *err) {
  char c;
  int r = gzread(f, &c, 1);
  if (r > 0) return eahas_err_set(err, EAHAS_EFORMAT, "%s: trailing data after the last item", path);
  return 0;
}

int eahas_idx_read(const char *images_path, const char *labels_path, int num_classes, eahas_images *out,
                   eahas_err *err) {
  memset(out, 0, sizeof *out);
  if (num_classes < 1 || num_classes > 256)
    return eahas_err_set(err, EAHAS_EINVAL, "num_classes=%d is outside [1, 256]", num_classes);
  gzFile fi = NULL, fl = NULL;
  uint32_t di[3] = {0}, dl[3] = {0};
  int rc = idx_open(images_path, 3, &fi, di, err);
  if (rc) return rc;
  rc = idx_open(labels_path, 1, &fl, dl, err);
  if (rc) goto done;
  if (di[0] != dl[0]) {
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s holds %u labels but %s holds %u images", labels_path, dl[0],
                       images_path, di[0]);
    goto done;
  }
  out->n = (int)di[0];
  out->c = 1;
  out->h = (int)di[1];
  out->w = (int)di[2];
  out->num_classes = num_classes;
  size_t npix = (size_t)out->n * out->h * out->w;
  if (npix > IDX_MAX_BYTES) { /* a header that lies (or a dataset far beyond a CPU-scale proxy) */
    rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: the header claims %u x %u x %u = %zu bytes of pixels, more than %llu",
                       images_path, di[0], di[1], di[2], npix, (unsigned long long)IDX_MAX_BYTES);
    goto done;
  }
  out->pix = malloc(npix);
  out->labels = malloc(sizeof(int) * (size_t)out->n);
  unsigned char *lab = malloc((size_t)out->n);
  if (!out->pix || !out->labels || !lab) {
    free(lab);
    rc = eahas_err_set(err, EAHAS_ENOMEM, "%s: cannot allocate %zu bytes", images_path, npix);
    goto done;
  }
  rc = gz_read_exact(fi, images_path, "the pixels", out->pix, npix, err);
  if (!rc) rc = expect_eof(fi, images_path, err);
  if (!rc) rc = gz_read_exact(fl, labels_path, "the labels", lab, (size_t)out->n, err);
  if (!rc) rc = expect_eof(fl, labels_path, err);
  for (int i = 0; !rc && i < out->n; i++) {
    if (lab[i] >= num_classes)
      rc = eahas_err_set(err, EAHAS_EFORMAT, "%s: label %d of item %d is outside [0, %d)", labels_path, lab[i], i,
                         num_classes);
    out->labels[i] = lab[i];
  }
  free(lab);
done:
  if (fi) gzclose(fi);
  if (fl) gzclose(fl);
  if (rc) eahas_images_free(out);
  return rc;
}

#define CIFAR_SIDE 32
#define CIFAR_REC (1 + 3 * CIFAR_SIDE * CIFAR_SIDE)

/* Reads one whole file into memory; *n gets its size. */
static int slurp(const char *path, unsigned char **buf, size_t *n, eahas_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return eahas_err_set(err, EAHAS_EIO, "%s: cannot open CIFAR-10 batch", path);
  long sz = -1;
  if (fseek(f, 0, SEEK_END) == 0) sz = ftell(f);
  if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return eahas_err_set(err, EAHAS_EIO, "%s: cannot determine the file size", path);
  }
  *buf = malloc(sz > 0 ? (size_t)sz : 1);
  if (!*buf) {
    fclose(f);
    return eahas_err_set(err, EAHAS_ENOMEM, "%s: cannot allocate %ld bytes", path, sz);
  }
  size_t got = fread(*buf, 1, (size_t)sz, f);
  fclose(f);
  if (got != (size_t)sz) {
    free(*buf);
    *buf = NULL;
    return eahas_err_set(err, EAHAS_EIO, "%s: read %zu of %ld bytes", path, got, sz);
  }
  *n = (size_t)sz;
  return 0;
}

int eahas_cifar10_read(const char *const *paths, int n_paths, eahas_images *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  if (n_paths < 1) return eahas_err_set(err, EAHAS_EINVAL, "no CIFAR-10 batch files given");
  out->c = 3;
  out->h = out->w = CIFAR_SIDE;
  out->num_classes = 10;
  const size_t img = 3 * CIFAR_SIDE * CIFAR_SIDE;
  for (int k = 0; k < n_paths; k++) {
    unsigned char *buf = NULL;
    size_t sz = 0;
    int rc = slurp(paths[k], &buf, &sz, err);
    if (rc) {
      eahas_images_free(out);
      return rc;
    }
    if (sz == 0 || sz % CIFAR_REC != 0) {
      free(buf);
      eahas_images_free(out);
      if (sz == 0) return eahas_err_set(err, EAHAS_EFORMAT, "%s: empty file", paths[k]);
      return eahas_err_set(err, EAHAS_EFORMAT,
                           "%s: truncated: %zu bytes is not a whole number of %d-byte records (%zu records and "
                           "%zu bytes)",
                           paths[k], sz, CIFAR_REC, sz / CIFAR_REC, sz % CIFAR_REC);
    }
    int m = (int)(sz / CIFAR_REC);
    uint8_t *pix = realloc(out->pix, (size_t)(out->n + m) * img);
    if (pix) out->pix = pix;
    int *lab = realloc(out->labels, sizeof(int) * (size_t)(out->n + m));
    if (lab) out->labels = lab;
    if (!pix || !lab) {
      free(buf);
      eahas_images_free(out);
      return eahas_err_set(err, EAHAS_ENOMEM, "%s: cannot allocate %d images", paths[k], out->n + m);
    }
    for (int i = 0; i < m; i++) {
      const unsigned char *r = buf + (size_t)i * CIFAR_REC;
      if (r[0] >= 10) {
        int bad = r[0];
        free(buf);
        eahas_images_free(out);
        return eahas_err_set(err, EAHAS_EFORMAT, "%s: label %d of record %d is outside [0, 10)", paths[k], bad, i);
      }
      out->labels[out->n + i] = r[0];
      memcpy(out->pix + (size_t)(out->n + i) * img, r + 1, img);
    }
    out->n += m;
    free(buf);
  }
  return 0;
}
