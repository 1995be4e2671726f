/* Forward and backward passes. Convolutions, batch norm and linear layers run as oneDNN
 * primitives; the small elementwise pieces (layout change of the input, SE pooling and gating,
 * residual add + ReLU, global average pool) are plain loops over NHWC arrays. */
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

/* The elementwise loops run on the OpenMP threads oneDNN uses when this file is built with
 * -fopenmp (tests/net/extra.cmake adds it for the eahas_net library); serial otherwise. */
#ifdef _OPENMP
#define PAR_FOR _Pragma("omp parallel for schedule(static)")
#else
#define PAR_FOR
#endif

int eahas__net_plan_make(eahas_net *net, int n, plan **out, eahas_err *err);
void eahas__net_plan_free(plan *pl);
int eahas__net_run(eahas_net *net, const prim *p, int nargs, const int *args, void *const *ptrs, eahas_err *err);
int eahas__net_bn_plain(eahas_net *net, const bn_spec *b, int n, prim *p, eahas_err *err);

/* With frozen ReLU states (eahas_net_freeze_relu): the next m units pass y where their frozen
 * state is on and give 0 where it is off, whatever the sign of y. */
static void frozen_relu(eahas_net *net, float *y, size_t m) {
  const unsigned char *f = net->freeze + net->freeze_pos;
  for (size_t i = 0; i < m; i++)
    if (!f[i]) y[i] = 0.0f;
  net->freeze_pos += m;
}

/* ---- plan cache ------------------------------------------------------------------------- */

/* The plan for batch size n: cached, at most NET_MAX_PLANS, least recently used evicted (never
 * the plan holding the last training forward). */
static int get_plan(eahas_net *net, int n, plan **out, eahas_err *err) {
  net->clock++;
  for (int i = 0; i < net->n_plans; i++)
    if (net->plans[i]->n == n) {
      net->plans[i]->last_used = net->clock;
      *out = net->plans[i];
      return 0;
    }
  plan *pl;
  int r = eahas__net_plan_make(net, n, &pl, err);
  if (r) return r;
  if (net->n_plans == NET_MAX_PLANS) {
    int victim = -1;
    for (int i = 0; i < net->n_plans; i++)
      if (net->plans[i] != net->fwd_plan && (victim < 0 || net->plans[i]->last_used < net->plans[victim]->last_used))
        victim = i;
    eahas__net_plan_free(net->plans[victim]);
    net->plans[victim] = net->plans[--net->n_plans];
  }
  pl->last_used = net->clock;
  net->plans[net->n_plans++] = pl;
  *out = pl;
  return 0;
}

/* ---- layer wrappers --------------------------------------------------------------------- */

static int run2(eahas_net *net, const prim *p, int n, const int *a, void *const *v, eahas_err *err) {
  return eahas__net_run(net, p, n, a, v, err);
}

static int conv_fwd(eahas_net *net, plan *pl, int ci, const float *src, float *dst, eahas_err *err) {
  conv_plan *cp = &pl->convs[ci];
  float *w = net->params[net->convs[ci].wp].data;
  int r;
  if (cp->r_w.p) {
    int a[] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    void *v[] = {w, cp->wbuf};
    if ((r = run2(net, &cp->r_w, 2, a, v, err))) return r;
    w = cp->wbuf;
  }
  int a[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
  void *v[] = {(void *)src, w, dst};
  return run2(net, &cp->fwd, 3, a, v, err);
}

/* Weight gradient into the parameter's grad; input gradient into dsrc unless NULL. */
static int conv_bwd(eahas_net *net, plan *pl, int ci, const float *src, const float *ddst, float *dsrc,
                    eahas_err *err) {
  conv_plan *cp = &pl->convs[ci];
  eahas_tensor_info *t = &net->params[net->convs[ci].wp];
  int r;
  {
    int a[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    void *v[] = {(void *)src, (void *)ddst, cp->r_dw.p ? cp->dwbuf : t->grad};
    if ((r = run2(net, &cp->bwd_w, 3, a, v, err))) return r;
    if (cp->r_dw.p) {
      int a2[] = {DNNL_ARG_FROM, DNNL_ARG_TO};
      void *v2[] = {cp->dwbuf, t->grad};
      if ((r = run2(net, &cp->r_dw, 2, a2, v2, err))) return r;
    }
  }
  if (!dsrc) return 0;
  float *w = t->data;
  if (cp->wbd_same) {
    if (cp->r_w.p) w = cp->wbuf; /* still holds this step's weights, reordered by the forward */
  } else if (cp->r_wbd.p) {
    int a[] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    void *v[] = {t->data, cp->wbdbuf};
    if ((r = run2(net, &cp->r_wbd, 2, a, v, err))) return r;
    w = cp->wbdbuf;
  }
  int a[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
  void *v[] = {(void *)ddst, w, dsrc};
  return run2(net, &cp->bwd_d, 3, a, v, err);
}

/* BN forward. Training: batch statistics (biased variance normalizes, as PyTorch), then the
 * running statistics move with momentum 0.1 using the unbiased variance (PyTorch BatchNorm2d). */
static int bn_fwd(eahas_net *net, plan *pl, int bi, int training, const float *src, float *dst, eahas_err *err) {
  bn_spec *b = &net->bns[bi];
  float *g = net->params[b->gp].data, *beta = net->params[b->bp].data;
  float *rm = net->buffers[b->mb].data, *rv = net->buffers[b->vb].data;
  if (!training) {
    int a[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    void *v[] = {(void *)src, dst, g, beta, rm, rv};
    int r = run2(net, &pl->bns[bi].fwd_i, 6, a, v, err);
    if (!r && net->freeze && b->relu) net->freeze_pos += (size_t)pl->n * b->c * b->h * b->w; /* not frozen */
    return r;
  }
  int a[] = {DNNL_ARG_SRC,  DNNL_ARG_DST,      DNNL_ARG_SCALE,    DNNL_ARG_SHIFT,
             DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_WORKSPACE};
  void *v[] = {(void *)src, dst, g, beta, b->mean, b->var, b->ws};
  int frozen = net->freeze && b->relu, r;
  if (frozen && !pl->bns[bi].fwd_nr.p && (r = eahas__net_bn_plain(net, b, pl->n, &pl->bns[bi].fwd_nr, err)))
    return r;
  if ((r = run2(net, frozen ? &pl->bns[bi].fwd_nr : &pl->bns[bi].fwd_t, frozen ? 6 : 7, a, v, err))) return r;
  if (frozen) frozen_relu(net, dst, (size_t)pl->n * b->c * b->h * b->w);
  double m = (double)pl->n * b->h * b->w;
  double unbias = m > 1 ? m / (m - 1) : 1.0;
  for (int c = 0; c < b->c; c++) {
    rm[c] = (float)(0.9 * rm[c] + 0.1 * b->mean[c]);
    rv[c] = (float)(0.9 * rv[c] + 0.1 * b->var[c] * unbias);
  }
  return 0;
}

static int bn_bwd(eahas_net *net, plan *pl, int bi, const float *src, const float *ddst, float *dsrc, eahas_err *err) {
  bn_spec *b = &net->bns[bi];
  int a[] = {DNNL_ARG_SRC,       DNNL_ARG_MEAN,     DNNL_ARG_VARIANCE,   DNNL_ARG_DIFF_DST,
             DNNL_ARG_SCALE,     DNNL_ARG_SHIFT,    DNNL_ARG_WORKSPACE,  DNNL_ARG_DIFF_SRC,
             DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
  void *v[] = {(void *)src, b->mean, b->var, (void *)ddst, net->params[b->gp].data, net->params[b->bp].data,
               b->ws, dsrc, net->params[b->gp].grad, net->params[b->bp].grad};
  return run2(net, &pl->bns[bi].bwd, 10, a, v, err);
}

static int fc_fwd(eahas_net *net, plan *pl, int fi, const float *src, float *dst, eahas_err *err) {
  fc_spec *f = &net->fcs[fi];
  int a[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
  void *v[] = {(void *)src, net->params[f->wp].data, net->params[f->bp].data, dst};
  return run2(net, &pl->fcs[fi].fwd, 4, a, v, err);
}

static int fc_bwd(eahas_net *net, plan *pl, int fi, const float *src, const float *ddst, float *dsrc, eahas_err *err) {
  fc_spec *f = &net->fcs[fi];
  int a[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
  void *v[] = {(void *)src, (void *)ddst, net->params[f->wp].grad, net->params[f->bp].grad};
  int r = run2(net, &pl->fcs[fi].bwd_w, 4, a, v, err);
  if (r || !dsrc) return r;
  int a2[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
  void *v2[] = {(void *)ddst, net->params[f->wp].data, dsrc};
  return run2(net, &pl->fcs[fi].bwd_d, 3, a2, v2, err);
}

/* ---- elementwise pieces (NHWC) ---------------------------------------------------------- */

/* p[n][c] = mean over the hw positions of x[n][hw][c] */
static void gap(const float *x, int n, int hw, int c, float *p) {
  PAR_FOR
  for (int i = 0; i < n; i++) {
    float *pi = p + (size_t)i * c;
    const float *xi = x + (size_t)i * hw * c;
    for (int k = 0; k < c; k++) pi[k] = 0.0f;
    for (int s = 0; s < hw; s++)
      for (int k = 0; k < c; k++) pi[k] += xi[(size_t)s * c + k];
    float inv = 1.0f / (float)hw;
    for (int k = 0; k < c; k++) pi[k] *= inv;
  }
}

/* dx[n][hw][c] (+)= dp[n][c] / hw */
static void gap_bwd(const float *dp, int n, int hw, int c, float *dx, int accumulate) {
  float inv = 1.0f / (float)hw;
  PAR_FOR
  for (int i = 0; i < n; i++) {
    const float *d = dp + (size_t)i * c;
    float *xi = dx + (size_t)i * hw * c;
    for (int s = 0; s < hw; s++) {
      float *row = xi + (size_t)s * c;
      if (accumulate)
        for (int k = 0; k < c; k++) row[k] += d[k] * inv;
      else
        for (int k = 0; k < c; k++) row[k] = d[k] * inv;
    }
  }
}

/* out = max(out + sc, 0) */
static void add_relu(float *out, const float *sc, size_t m) {
  PAR_FOR
  for (size_t i = 0; i < m; i++) {
    float t = out[i] + sc[i];
    out[i] = t > 0.0f ? t : 0.0f;
  }
}

/* SE forward on u (n x hw x c): pooled -> fc1 -> ReLU -> fc2 -> sigmoid -> y = u * gate */
static int se_fwd(eahas_net *net, plan *pl, block *b, int tr, eahas_err *err) {
  int n = pl->n, hw = b->oh * b->ow, c = b->w_out;
  gap(b->u, n, hw, c, b->se_p);
  int r = fc_fwd(net, pl, b->fc1, b->se_p, b->se_h, err);
  if (r) return r;
  size_t nh = (size_t)n * b->w_se;
  if (net->freeze && tr) frozen_relu(net, b->se_h, nh);
  else
    for (size_t i = 0; i < nh; i++) b->se_h[i] = b->se_h[i] > 0.0f ? b->se_h[i] : 0.0f;
  if (net->freeze && !tr) net->freeze_pos += nh;
  if ((r = fc_fwd(net, pl, b->fc2, b->se_h, b->se_z, err))) return r;
  PAR_FOR
  for (int i = 0; i < n; i++) {
    float *s = b->se_s + (size_t)i * c;
    const float *z = b->se_z + (size_t)i * c;
    for (int k = 0; k < c; k++) s[k] = 1.0f / (1.0f + expf(-z[k])); /* the gates, per image */
    const float *u = b->u + (size_t)i * hw * c;
    float *y = b->y + (size_t)i * hw * c;
    for (int p = 0; p < hw; p++)
      for (int k = 0; k < c; k++) y[(size_t)p * c + k] = u[(size_t)p * c + k] * s[k];
  }
  return 0;
}

/* SE backward: dy (n x hw x c) in place becomes du. */
static int se_bwd(eahas_net *net, plan *pl, block *b, float *dy, eahas_err *err) {
  int n = pl->n, hw = b->oh * b->ow, c = b->w_out;
  float *ds = net->tmp_nc, *dh = net->tmp_nc2, *dp = net->tmp_nc3;
  PAR_FOR
  for (int i = 0; i < n; i++) {
    const float *s = b->se_s + (size_t)i * c;
    const float *u = b->u + (size_t)i * hw * c;
    float *d = dy + (size_t)i * hw * c;
    float *dsi = ds + (size_t)i * c;
    for (int k = 0; k < c; k++) dsi[k] = 0.0f;
    for (int p = 0; p < hw; p++)
      for (int k = 0; k < c; k++) {
        size_t o = (size_t)p * c + k;
        dsi[k] += d[o] * u[o];
        d[o] *= s[k];
      }
    for (int k = 0; k < c; k++) dsi[k] *= s[k] * (1.0f - s[k]);
  }
  int r = fc_bwd(net, pl, b->fc2, b->se_h, ds, dh, err);
  if (r) return r;
  size_t nh = (size_t)n * b->w_se;
  for (size_t i = 0; i < nh; i++) dh[i] = b->se_h[i] > 0.0f ? dh[i] : 0.0f;
  if ((r = fc_bwd(net, pl, b->fc1, b->se_p, dh, dp, err))) return r;
  gap_bwd(dp, n, hw, c, dy, 1);
  return 0;
}

/* ---- forward ---------------------------------------------------------------------------- */

static int block_fwd(eahas_net *net, plan *pl, block *b, int tr, eahas_err *err) {
  int r;
  if ((r = conv_fwd(net, pl, b->conv_a, b->x, b->a_raw, err))) return r;
  if ((r = bn_fwd(net, pl, b->bn_a, tr, b->a_raw, b->a_out, err))) return r;
  if ((r = conv_fwd(net, pl, b->conv_b, b->a_out, b->b_raw, err))) return r;
  if ((r = bn_fwd(net, pl, b->bn_b, tr, b->b_raw, b->u, err))) return r;
  if (b->w_se && (r = se_fwd(net, pl, b, tr, err))) return r;
  if ((r = conv_fwd(net, pl, b->conv_c, b->y, b->c_raw, err))) return r;
  if ((r = bn_fwd(net, pl, b->bn_c, tr, b->c_raw, b->out, err))) return r;
  size_t m = (size_t)pl->n * b->oh * b->ow * b->w_out;
  if (b->has_proj) {
    if ((r = conv_fwd(net, pl, b->conv_p, b->x, b->p_raw, err))) return r;
    if ((r = bn_fwd(net, pl, b->bn_p, tr, b->p_raw, b->sc, err))) return r;
  }
  const float *sc = b->has_proj ? b->sc : b->x;
  if (net->freeze && tr) {
    for (size_t i = 0; i < m; i++) b->out[i] += sc[i];
    frozen_relu(net, b->out, m);
  } else {
    add_relu(b->out, sc, m);
    if (net->freeze) net->freeze_pos += m;
  }
  return 0;
}

int eahas_net_forward(eahas_net *net, const float *x, int n, int training, float *logits, eahas_err *err) {
  if (!net || !x || !logits) return eahas_err_set(err, EAHAS_EINVAL, "net: forward got a NULL argument");
  if (n < 1 || n > net->max_batch)
    return eahas_err_set(err, EAHAS_EINVAL, "net: batch n=%d is outside [1, max_batch=%d]", n, net->max_batch);
  plan *pl;
  int r = get_plan(net, n, &pl, err);
  if (r) return r;
  net->fwd_plan = NULL; /* the saved activations are overwritten from here on */
  if (net->freeze && training && eahas_net_relu_count(net, n) != net->freeze_n)
    return eahas_err_set(err, EAHAS_EINVAL, "net: %zu frozen ReLU states given, but batch %d has %zu ReLU units",
                         net->freeze_n, n, eahas_net_relu_count(net, n));
  net->freeze_pos = 0;
  const conv_spec *st = &net->convs[net->stem_conv];
  int c = st->ic, hw = st->ih * st->iw;
  PAR_FOR
  for (int i = 0; i < n; i++) /* NCHW -> NHWC */
    for (int k = 0; k < c; k++)
      for (int p = 0; p < hw; p++)
        net->x_in[((size_t)i * hw + p) * c + k] = x[((size_t)i * c + k) * hw + p];
  int tr = training ? 1 : 0;
  if ((r = conv_fwd(net, pl, net->stem_conv, net->x_in, net->s_raw, err))) return r;
  if ((r = bn_fwd(net, pl, net->stem_bn, tr, net->s_raw, net->s_out, err))) return r;
  for (int i = 0; i < net->n_blocks; i++)
    if ((r = block_fwd(net, pl, &net->blocks[i], tr, err))) return r;
  const float *last = net->n_blocks ? net->blocks[net->n_blocks - 1].out : net->s_out;
  gap(last, n, net->feat_h * net->feat_w, net->feat_c, net->feat);
  if ((r = fc_fwd(net, pl, net->head_fc, net->feat, net->logits, err))) return r;
  memcpy(logits, net->logits, (size_t)n * net->opts.num_classes * sizeof(float));
  if (tr && !net->freeze) net->fwd_plan = pl; /* no backward after a frozen forward (no ReLU workspace) */
  net->last_n = n;
  return 0;
}

/* Appends the on/off bits of m ReLU outputs to mask (bounded by cap); returns the new count. */
static size_t mask_put(const float *y, size_t m, unsigned char *mask, size_t cap, size_t k) {
  for (size_t i = 0; i < m; i++, k++)
    if (mask && k < cap) mask[k] = y[i] > 0.0f;
  return k;
}

/* Number of ReLU units of a forward on n images (the order of eahas_net_relu_mask). */
size_t eahas_net_relu_count(const eahas_net *net, int n) {
  if (!net || n < 1) return 0;
  const conv_spec *st = &net->convs[net->stem_conv];
  size_t k = (size_t)st->oc * st->oh * st->ow;
  for (int i = 0; i < net->n_blocks; i++) {
    const block *b = &net->blocks[i];
    k += (size_t)b->w_out * b->ih * b->iw + 2 * (size_t)b->w_out * b->oh * b->ow + (size_t)b->w_se;
  }
  return k * (size_t)n;
}

int eahas_net_freeze_relu(eahas_net *net, const unsigned char *mask, size_t count, eahas_err *err) {
  if (!net) return eahas_err_set(err, EAHAS_EINVAL, "net: freeze_relu got a NULL net");
  free(net->freeze);
  net->freeze = NULL;
  net->freeze_n = 0;
  net->fwd_plan = NULL;
  if (!mask) return 0;
  if (count == 0) return eahas_err_set(err, EAHAS_EINVAL, "net: freeze_relu got count=0 with a mask");
  if (!(net->freeze = malloc(count))) return eahas_err_set(err, EAHAS_ENOMEM, "net: %zu ReLU states", count);
  memcpy(net->freeze, mask, count);
  net->freeze_n = count;
  return 0;
}

size_t eahas_net_relu_mask(const eahas_net *net, unsigned char *mask, size_t cap) {
  if (!net || net->last_n < 1) return 0;
  size_t n = (size_t)net->last_n, k = 0;
  const conv_spec *st = &net->convs[net->stem_conv];
  k = mask_put(net->s_out, n * st->oc * st->oh * st->ow, mask, cap, k);
  for (int i = 0; i < net->n_blocks; i++) {
    const block *b = &net->blocks[i];
    size_t in = n * b->w_out * b->ih * b->iw, o = n * b->w_out * b->oh * b->ow;
    k = mask_put(b->a_out, in, mask, cap, k);
    k = mask_put(b->u, o, mask, cap, k);
    if (b->w_se) k = mask_put(b->se_h, n * b->w_se, mask, cap, k);
    k = mask_put(b->out, o, mask, cap, k);
  }
  return k;
}

/* ---- backward --------------------------------------------------------------------------- */

/* Gradient of the block output in gd; writes the gradient of the block input into gx. ga and
 * gb are scratch. gd is clobbered. */
static int block_bwd(eahas_net *net, plan *pl, block *b, float *gd, float *gx, float *ga, float *gb,
                     eahas_err *err) {
  size_t m = (size_t)pl->n * b->oh * b->ow * b->w_out;
  /* a select, not a conditional store: it vectorizes, and a third of the units are off at
     random, so a branch here mispredicted (9% of a 1-thread step in perf) */
  const float *out = b->out;
  PAR_FOR
  for (size_t i = 0; i < m; i++) gd[i] = out[i] > 0.0f ? gd[i] : 0.0f;
  int r;
  if ((r = bn_bwd(net, pl, b->bn_c, b->c_raw, gd, ga, err))) return r;
  if ((r = conv_bwd(net, pl, b->conv_c, b->y, ga, gb, err))) return r;
  if (b->w_se && (r = se_bwd(net, pl, b, gb, err))) return r;
  if ((r = bn_bwd(net, pl, b->bn_b, b->b_raw, gb, ga, err))) return r;
  if ((r = conv_bwd(net, pl, b->conv_b, b->a_out, ga, gb, err))) return r;
  if ((r = bn_bwd(net, pl, b->bn_a, b->a_raw, gb, ga, err))) return r;
  if ((r = conv_bwd(net, pl, b->conv_a, b->x, ga, gx, err))) return r;
  size_t mi = (size_t)pl->n * b->ih * b->iw * b->w_in;
  if (b->has_proj) {
    if ((r = bn_bwd(net, pl, b->bn_p, b->p_raw, gd, ga, err))) return r;
    if ((r = conv_bwd(net, pl, b->conv_p, b->x, ga, gb, err))) return r;
    PAR_FOR
    for (size_t i = 0; i < mi; i++) gx[i] += gb[i];
  } else {
    PAR_FOR
    for (size_t i = 0; i < mi; i++) gx[i] += gd[i];
  }
  return 0;
}

int eahas_net_backward_input(eahas_net *net, const float *dlogits, float *dx, eahas_err *err) {
  if (!net || !dlogits) return eahas_err_set(err, EAHAS_EINVAL, "net: backward got a NULL argument");
  plan *pl = net->fwd_plan;
  if (!pl)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "net: backward needs a training-mode forward first (none since the net was built or since "
                         "the last evaluation-mode forward)");
  int n = pl->n, r;
  if ((r = fc_bwd(net, pl, net->head_fc, net->feat, dlogits, net->tmp_nc, err))) return r;
  float *gd = net->g[0], *gx = net->g[1], *ga = net->g[2], *gb = net->g[3];
  gap_bwd(net->tmp_nc, n, net->feat_h * net->feat_w, net->feat_c, gd, 0);
  for (int i = net->n_blocks - 1; i >= 0; i--) {
    if ((r = block_bwd(net, pl, &net->blocks[i], gd, gx, ga, gb, err))) return r;
    float *t = gd;
    gd = gx;
    gx = t;
  }
  if ((r = bn_bwd(net, pl, net->stem_bn, net->s_raw, gd, ga, err))) return r;
  if ((r = conv_bwd(net, pl, net->stem_conv, net->x_in, ga, dx ? gb : NULL, err))) return r;
  if (dx) {
    const conv_spec *st = &net->convs[net->stem_conv];
    int c = st->ic, hw = st->ih * st->iw;
    for (int i = 0; i < n; i++) /* NHWC -> NCHW */
      for (int k = 0; k < c; k++)
        for (int p = 0; p < hw; p++) dx[((size_t)i * c + k) * hw + p] = gb[((size_t)i * hw + p) * c + k];
  }
  return 0;
}

int eahas_net_backward(eahas_net *net, const float *dlogits, eahas_err *err) {
  return eahas_net_backward_input(net, dlogits, NULL, err);
}

/* ---- threads ---------------------------------------------------------------------------- */

int eahas_net_set_threads(int threads, eahas_err *err) {
  if (threads < 0 || threads > 4096)
    return eahas_err_set(err, EAHAS_EINVAL, "net: threads=%d is outside [0, 4096]", threads);
  if (threads == 0) return 0;
  /* oneDNN (Debian build) runs on the OpenMP runtime it links; set its thread count. */
  void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
  if (!set) return eahas_err_set(err, EAHAS_EUNAVAIL, "net: omp_set_num_threads not found (oneDNN without OpenMP?)");
  set(threads);
  return 0;
}
