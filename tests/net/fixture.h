/* Reader for the net fixtures written by tests/ref/gen_net_fixtures.py (format in its docstring),
 * and helpers shared by the net tests. Header-only: each test includes it once. */
#ifndef EAHAS_TEST_NET_FIXTURE_H
#define EAHAS_TEST_NET_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/net.h"

typedef struct fx_rec {
  char name[160];
  int ndim;
  int dims[8];
  size_t n;
  float *data;
} fx_rec;

typedef struct fx_file {
  int count;
  fx_rec *recs;
} fx_file;

static inline uint32_t fx_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Returns 0 on success; on failure prints why (this is test code). */
static inline int fx_load(const char *path, fx_file *f) {
  memset(f, 0, sizeof *f);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc((size_t)len);
  if (!b || fread(b, 1, (size_t)len, fp) != (size_t)len) {
    fclose(fp);
    free(b);
    return -1;
  }
  fclose(fp);
  size_t o = 0;
#define NEED(k)                                                  \
  if (o + (size_t)(k) > (size_t)len) {                           \
    fprintf(stderr, "%s: truncated at byte %zu\n", path, o);     \
    free(b);                                                     \
    return -1;                                                   \
  }
  NEED(12);
  if (memcmp(b, "EAHASNF1", 8)) {
    fprintf(stderr, "%s: bad magic\n", path);
    free(b);
    return -1;
  }
  o = 8;
  f->count = (int)fx_u32(b + o);
  o += 4;
  f->recs = calloc((size_t)f->count, sizeof(fx_rec));
  for (int i = 0; i < f->count; i++) {
    fx_rec *r = &f->recs[i];
    NEED(4);
    uint32_t nl = fx_u32(b + o);
    o += 4;
    NEED(nl);
    if (nl >= sizeof r->name) nl = sizeof r->name - 1;
    memcpy(r->name, b + o, nl);
    o += nl;
    NEED(4);
    r->ndim = (int)fx_u32(b + o);
    o += 4;
    r->n = 1;
    for (int d = 0; d < r->ndim; d++) {
      NEED(4);
      r->dims[d] = (int)fx_u32(b + o);
      r->n *= (size_t)r->dims[d];
      o += 4;
    }
    NEED(r->n * 4);
    r->data = malloc(r->n * sizeof(float) + 1);
    memcpy(r->data, b + o, r->n * 4); /* little-endian host assumed (x86-64, aarch64) */
    o += r->n * 4;
  }
#undef NEED
  free(b);
  return 0;
}

static inline void fx_free(fx_file *f) {
  for (int i = 0; i < f->count; i++) free(f->recs[i].data);
  free(f->recs);
}

static inline fx_rec *fx_get(fx_file *f, const char *name) {
  for (int i = 0; i < f->count; i++)
    if (!strcmp(f->recs[i].name, name)) return &f->recs[i];
  return NULL;
}

/* Norm-based relative error ||a - b|| / max(||b||, 1e-30). */
static inline double rel_err(const float *a, const float *b, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * (double)b[i];
  }
  return sqrt(num) / fmax(sqrt(den), 1e-30);
}

/* The network a fixture describes: its "meta" record holds stem, stem width, image size,
 * channels, classes, SE, the stage count, the batch, then widths, depths and group widths. Returns
 * 0, or -1 when the fixture has no meta record. */
static inline int fx_build_from_meta(fx_file *f, eahas_regnet *rn, eahas_net_opts *o, int *n) {
  fx_rec *m = fx_get(f, "meta");
  if (!m) return -1;
  const float *v = m->data;
  memset(rn, 0, sizeof *rn);
  o->stem = (eahas_stem_kind)(int)v[0];
  o->stem_w = (int)v[1];
  o->im_size = (int)v[2];
  o->in_channels = (int)v[3];
  o->num_classes = (int)v[4];
  o->se = (int)v[5];
  rn->num_stages = (int)v[6];
  *n = (int)v[7];
  for (int i = 0; i < rn->num_stages; i++) {
    rn->widths[i] = (int)v[8 + i];
    rn->depths[i] = (int)v[8 + rn->num_stages + i];
    rn->group_widths[i] = (int)v[8 + 2 * rn->num_stages + i];
    rn->strides[i] = 2;
  }
  rn->max_stages = rn->num_stages;
  return 0;
}

#endif
