/* Building the RegNet: layer specs, parameter list in PyTorch state_dict order, pycls weight
 * initialization, activation buffers. Layout at every layer boundary is NHWC fp32. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

/* Helper functions shared with the other files of the module. */
int eahas__net_plan_make(eahas_net *net, int n, plan **out, eahas_err *err);
void eahas__net_plan_free(plan *pl);

static int add_tensor(eahas_net *net, int buffer, size_t n, int is_bn, eahas_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Appends a parameter (buffer = 0) or buffer tensor; returns its index or a negative code. */
static int add_tensor(eahas_net *net, int buffer, size_t n, int is_bn, eahas_err *err, const char *fmt, ...) {
  int *cnt = buffer ? &net->n_buffers : &net->n_params;
  int *cap = buffer ? &net->cap_buffers : &net->cap_params;
  eahas_tensor_info **arr = buffer ? &net->buffers : &net->params;
  if (*cnt == *cap) {
    int nc = *cap ? 2 * *cap : 64;
    eahas_tensor_info *p = realloc(*arr, (size_t)nc * sizeof(*p));
    if (!p) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for the tensor list");
    *arr = p;
    *cap = nc;
  }
  char name[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  char *dup = strdup(name);
  if (!dup) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for a tensor name");
  eahas_tensor_info t = {dup, NULL, NULL, n, is_bn, buffer};
  (*arr)[*cnt] = t;
  return (*cnt)++;
}

static int grow(void **arr, int n, size_t elem) {
  void *p = realloc(*arr, (size_t)(n + 1) * elem);
  if (!p) return -1;
  *arr = p;
  return 0;
}

static int add_conv(eahas_net *net, const char *prefix, int ic, int oc, int k, int stride, int groups, int ih,
                    int iw, eahas_err *err) {
  if (grow((void **)&net->convs, net->n_convs, sizeof(conv_spec)))
    return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for layers");
  conv_spec c = {ic, oc, k, stride, k / 2, groups, ih, iw, (ih - 1) / stride + 1, (iw - 1) / stride + 1, -1};
  int wp = add_tensor(net, 0, (size_t)oc * (size_t)(ic / groups) * (size_t)k * (size_t)k, 0, err, "%s.weight", prefix);
  if (wp < 0) return wp;
  c.wp = wp;
  net->convs[net->n_convs] = c;
  return net->n_convs++;
}

static int add_bn(eahas_net *net, const char *prefix, int c, int h, int w, int relu, eahas_err *err) {
  if (grow((void **)&net->bns, net->n_bns, sizeof(bn_spec)))
    return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for layers");
  bn_spec b;
  memset(&b, 0, sizeof b);
  b.c = c;
  b.h = h;
  b.w = w;
  b.relu = relu;
  b.mean = calloc((size_t)c, sizeof(float));
  b.var = calloc((size_t)c, sizeof(float));
  net->bns[net->n_bns] = b; /* registered first so that net_free releases the arrays */
  net->n_bns++;
  if (!b.mean || !b.var) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for BN statistics");
  int r;
  bn_spec *bp = &net->bns[net->n_bns - 1];
  if ((r = add_tensor(net, 0, (size_t)c, 1, err, "%s.weight", prefix)) < 0) return r;
  bp->gp = r;
  if ((r = add_tensor(net, 0, (size_t)c, 1, err, "%s.bias", prefix)) < 0) return r;
  bp->bp = r;
  if ((r = add_tensor(net, 1, (size_t)c, 0, err, "%s.running_mean", prefix)) < 0) return r;
  bp->mb = r;
  if ((r = add_tensor(net, 1, (size_t)c, 0, err, "%s.running_var", prefix)) < 0) return r;
  bp->vb = r;
  return net->n_bns - 1;
}

static int add_fc(eahas_net *net, const char *prefix, int in, int out, eahas_err *err) {
  if (grow((void **)&net->fcs, net->n_fcs, sizeof(fc_spec)))
    return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for layers");
  fc_spec f = {in, out, -1, -1};
  int r;
  if ((r = add_tensor(net, 0, (size_t)in * (size_t)out, 0, err, "%s.weight", prefix)) < 0) return r;
  f.wp = r;
  if ((r = add_tensor(net, 0, (size_t)out, 0, err, "%s.bias", prefix)) < 0) return r;
  f.bp = r;
  net->fcs[net->n_fcs] = f;
  return net->n_fcs++;
}

/* pycls: w_se = int(round(w_in * se_r)); Python rounds half to even, as nearbyint does. */
static int se_width(int w_in) { return (int)nearbyint(0.25 * w_in); }

/* Creates the layer specs and the tensor list (no data yet). */
static int build_layers(eahas_net *net, eahas_err *err) {
  const eahas_net_opts *o = &net->opts;
  const eahas_regnet *rn = &net->rn;
  int s = o->stem == EAHAS_STEM_SIMPLE_IN ? 2 : 1;
  int r = add_conv(net, "stem.conv", o->in_channels, o->stem_w, 3, s, 1, o->im_size, o->im_size, err);
  if (r < 0) return r;
  net->stem_conv = r;
  int h = net->convs[r].oh, w = net->convs[r].ow;
  if ((r = add_bn(net, "stem.bn", o->stem_w, h, w, 1, err)) < 0) return r;
  net->stem_bn = r;
  int w_in = o->stem_w;
  int nb = 0;
  for (int i = 0; i < rn->num_stages; i++) nb += rn->depths[i];
  net->blocks = calloc((size_t)(nb > 0 ? nb : 1), sizeof(block));
  if (!net->blocks) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for blocks");
  for (int i = 0; i < rn->num_stages; i++) {
    int w_out = rn->widths[i], gw = rn->group_widths[i];
    for (int j = 0; j < rn->depths[i]; j++) {
      block *b = &net->blocks[net->n_blocks++];
      char pre[96], nm[128];
      snprintf(pre, sizeof pre, "s%d.b%d", i + 1, j + 1);
      b->w_in = w_in;
      b->w_out = w_out;
      b->stride = j == 0 ? rn->strides[i] : 1;
      if (w_out % gw != 0)
        return eahas_err_set(err, EAHAS_EINVAL,
                             "net: stage %d width %d is not a multiple of its group width %d (expected after "
                             "pycls group compatibility)",
                             i + 1, w_out, gw);
      b->groups = w_out / gw;
      b->w_se = o->se ? se_width(w_in) : 0;
      b->ih = h;
      b->iw = w;
      b->oh = (h - 1) / b->stride + 1;
      b->ow = (w - 1) / b->stride + 1;
      b->has_proj = w_in != w_out || b->stride != 1;
      if (b->has_proj) {
        snprintf(nm, sizeof nm, "%s.proj", pre);
        if ((r = add_conv(net, nm, w_in, w_out, 1, b->stride, 1, h, w, err)) < 0) return r;
        b->conv_p = r;
        snprintf(nm, sizeof nm, "%s.bn", pre);
        if ((r = add_bn(net, nm, w_out, b->oh, b->ow, 0, err)) < 0) return r;
        b->bn_p = r;
      }
      snprintf(nm, sizeof nm, "%s.f.a", pre);
      if ((r = add_conv(net, nm, w_in, w_out, 1, 1, 1, h, w, err)) < 0) return r;
      b->conv_a = r;
      snprintf(nm, sizeof nm, "%s.f.a_bn", pre);
      if ((r = add_bn(net, nm, w_out, h, w, 1, err)) < 0) return r;
      b->bn_a = r;
      snprintf(nm, sizeof nm, "%s.f.b", pre);
      if ((r = add_conv(net, nm, w_out, w_out, 3, b->stride, b->groups, h, w, err)) < 0) return r;
      b->conv_b = r;
      snprintf(nm, sizeof nm, "%s.f.b_bn", pre);
      if ((r = add_bn(net, nm, w_out, b->oh, b->ow, 1, err)) < 0) return r;
      b->bn_b = r;
      if (b->w_se > 0) {
        snprintf(nm, sizeof nm, "%s.f.se.f_ex.0", pre);
        if ((r = add_fc(net, nm, w_out, b->w_se, err)) < 0) return r;
        b->fc1 = r;
        snprintf(nm, sizeof nm, "%s.f.se.f_ex.2", pre);
        if ((r = add_fc(net, nm, b->w_se, w_out, err)) < 0) return r;
        b->fc2 = r;
      }
      snprintf(nm, sizeof nm, "%s.f.c", pre);
      if ((r = add_conv(net, nm, w_out, w_out, 1, 1, 1, b->oh, b->ow, err)) < 0) return r;
      b->conv_c = r;
      snprintf(nm, sizeof nm, "%s.f.c_bn", pre);
      if ((r = add_bn(net, nm, w_out, b->oh, b->ow, 0, err)) < 0) return r;
      b->bn_c = r;
      w_in = w_out;
      h = b->oh;
      w = b->ow;
    }
  }
  net->feat_c = w_in;
  net->feat_h = h;
  net->feat_w = w;
  if ((r = add_fc(net, "head.fc", w_in, o->num_classes, err)) < 0) return r;
  net->head_fc = r;
  return 0;
}

/* One contiguous array each for parameter values, gradients and buffers. */
static int alloc_tensors(eahas_net *net, eahas_err *err) {
  size_t np = 0, nb = 0;
  for (int i = 0; i < net->n_params; i++) np += net->params[i].n;
  for (int i = 0; i < net->n_buffers; i++) nb += net->buffers[i].n;
  net->pdata = calloc(np, sizeof(float));
  net->pgrad = calloc(np, sizeof(float));
  net->bdata = calloc(nb ? nb : 1, sizeof(float));
  if (!net->pdata || !net->pgrad || !net->bdata)
    return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for %zu parameters", np);
  size_t off = 0;
  for (int i = 0; i < net->n_params; i++) {
    net->params[i].data = net->pdata + off;
    net->params[i].grad = net->pgrad + off;
    off += net->params[i].n;
  }
  off = 0;
  for (int i = 0; i < net->n_buffers; i++) {
    net->buffers[i].data = net->bdata + off;
    off += net->buffers[i].n;
  }
  return 0;
}

static void fill_normal(eahas_rng *rng, float *x, size_t n, double std) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(std * eahas_rng_normal(rng));
}

/* pycls init_weights: conv normal(0, sqrt(2 / fan_out)) with fan_out = k*k*out_channels (the SE
 * 1x1 convs too, their bias 0), BN gamma 1 beta 0, final linear normal(0, 0.01) bias 0. Values
 * are drawn in parameter order from one stream seeded with `seed`. */
static void init_weights(eahas_net *net, uint64_t seed) {
  eahas_rng rng;
  eahas_rng_seed(&rng, seed);
  /* Walk in parameter order: conv weights and FC weights draw, everything else is constant. */
  for (int i = 0; i < net->n_params; i++) {
    eahas_tensor_info *t = &net->params[i];
    for (size_t j = 0; j < t->n; j++) t->data[j] = 0.0f;
  }
  for (int i = 0; i < net->n_bns; i++) {
    eahas_tensor_info *g = &net->params[net->bns[i].gp];
    for (size_t j = 0; j < g->n; j++) g->data[j] = 1.0f;
    eahas_tensor_info *v = &net->buffers[net->bns[i].vb];
    for (size_t j = 0; j < v->n; j++) v->data[j] = 1.0f;
  }
  /* map parameter index -> its std (0 = constant) */
  for (int i = 0; i < net->n_params; i++) {
    double std = 0.0;
    for (int c = 0; c < net->n_convs; c++)
      if (net->convs[c].wp == i) std = sqrt(2.0 / (double)(net->convs[c].k * net->convs[c].k * net->convs[c].oc));
    for (int f = 0; f < net->n_fcs; f++)
      if (net->fcs[f].wp == i) std = f == net->head_fc ? 0.01 : sqrt(2.0 / (double)net->fcs[f].out);
    if (std > 0.0) fill_normal(&rng, net->params[i].data, net->params[i].n, std);
  }
}

/* Activation buffers, NHWC, sized for max_batch. */
static int alloc_acts(eahas_net *net, eahas_err *err) {
  size_t N = (size_t)net->max_batch;
  size_t maxc = (size_t)net->opts.num_classes;
  size_t maxa = 0;
#define ACT(p, c, h, w)                                                                           \
  do {                                                                                            \
    size_t sz_ = N * (size_t)(c) * (size_t)(h) * (size_t)(w);                                     \
    if (sz_ > maxa) maxa = sz_;                                                                   \
    if ((size_t)(c) > maxc) maxc = (size_t)(c);                                                   \
    (p) = calloc(sz_ ? sz_ : 1, sizeof(float));                                                   \
    if (!(p)) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for activations");      \
  } while (0)
  conv_spec *st = &net->convs[net->stem_conv];
  ACT(net->x_in, st->ic, st->ih, st->iw);
  ACT(net->s_raw, st->oc, st->oh, st->ow);
  ACT(net->s_out, st->oc, st->oh, st->ow);
  float *prev = net->s_out;
  for (int i = 0; i < net->n_blocks; i++) {
    block *b = &net->blocks[i];
    b->x = prev;
    ACT(b->a_raw, b->w_out, b->ih, b->iw);
    ACT(b->a_out, b->w_out, b->ih, b->iw);
    ACT(b->b_raw, b->w_out, b->oh, b->ow);
    ACT(b->u, b->w_out, b->oh, b->ow);
    if (b->w_se) {
      ACT(b->y, b->w_out, b->oh, b->ow);
      ACT(b->se_p, b->w_out, 1, 1);
      ACT(b->se_h, b->w_se, 1, 1);
      ACT(b->se_z, b->w_out, 1, 1);
      ACT(b->se_s, b->w_out, 1, 1);
    } else {
      b->y = b->u;
    }
    ACT(b->c_raw, b->w_out, b->oh, b->ow);
    ACT(b->out, b->w_out, b->oh, b->ow);
    if (b->has_proj) {
      ACT(b->p_raw, b->w_out, b->oh, b->ow);
      ACT(b->sc, b->w_out, b->oh, b->ow);
    }
    prev = b->out;
  }
  ACT(net->feat, net->feat_c, 1, 1);
  ACT(net->logits, net->opts.num_classes, 1, 1);
  for (int i = 0; i < 4; i++) ACT(net->g[i], 1, 1, maxa / N + 1);
  ACT(net->tmp_nc, maxc, 1, 1);
  ACT(net->tmp_nc2, maxc, 1, 1);
  ACT(net->tmp_nc3, maxc, 1, 1);
#undef ACT
  net->max_act = maxa;
  net->max_c = maxc;
  return 0;
}

static int check_inputs(const eahas_regnet *rn, const eahas_net_opts *o, int max_batch, eahas_err *err) {
  if (!rn || !o) return eahas_err_set(err, EAHAS_EINVAL, "net: NULL architecture or options");
  if (max_batch < 1 || max_batch > (1 << 20))
    return eahas_err_set(err, EAHAS_EINVAL, "net: max_batch=%d is outside [1, 1048576]", max_batch);
  if (o->in_channels < 1 || o->in_channels > 64)
    return eahas_err_set(err, EAHAS_EINVAL, "net: in_channels=%d is outside [1, 64]", o->in_channels);
  if (o->im_size < 1 || o->im_size > 4096)
    return eahas_err_set(err, EAHAS_EINVAL, "net: im_size=%d is outside [1, 4096]", o->im_size);
  if (o->num_classes < 1 || o->num_classes > 100000)
    return eahas_err_set(err, EAHAS_EINVAL, "net: num_classes=%d is outside [1, 100000]", o->num_classes);
  if (o->stem_w < 1 || o->stem_w > 4096)
    return eahas_err_set(err, EAHAS_EINVAL, "net: stem_w=%d is outside [1, 4096]", o->stem_w);
  if (o->stem != EAHAS_STEM_RES_CIFAR && o->stem != EAHAS_STEM_SIMPLE_IN)
    return eahas_err_set(err, EAHAS_EINVAL, "net: stem kind %d is not res_stem_cifar (0) or simple_stem_in (1)",
                         (int)o->stem);
  if (rn->num_stages < 1 || rn->num_stages > EAHAS_MAX_STAGES)
    return eahas_err_set(err, EAHAS_EINVAL, "net: num_stages=%d is outside [1, %d]", rn->num_stages,
                         EAHAS_MAX_STAGES);
  for (int i = 0; i < rn->num_stages; i++) {
    if (rn->widths[i] < 1 || rn->widths[i] > 8192 || rn->depths[i] < 1 || rn->depths[i] > 256 ||
        rn->group_widths[i] < 1 || rn->strides[i] < 1 || rn->strides[i] > 2)
      return eahas_err_set(err, EAHAS_EINVAL,
                           "net: stage %d has width=%d depth=%d group width=%d stride=%d; allowed width 1..8192, "
                           "depth 1..256, group width >= 1, stride 1..2",
                           i + 1, rn->widths[i], rn->depths[i], rn->group_widths[i], rn->strides[i]);
  }
  return 0;
}

int eahas_net_new_regnet(const eahas_regnet *rn, const eahas_net_opts *opts, int max_batch, uint64_t seed,
                         eahas_net **out, eahas_err *err) {
  if (!out) return eahas_err_set(err, EAHAS_EINVAL, "net: NULL output pointer");
  *out = NULL;
  int r = check_inputs(rn, opts, max_batch, err);
  if (r) return r;
  eahas_net *net = calloc(1, sizeof *net);
  if (!net) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory");
  net->rn = *rn;
  net->opts = *opts;
  net->max_batch = max_batch;
  if ((r = build_layers(net, err)) || (r = alloc_tensors(net, err)) || (r = alloc_acts(net, err))) goto fail;
  init_weights(net, seed);
  if (dnnl_engine_create(&net->eng, dnnl_cpu, 0) != dnnl_success ||
      dnnl_stream_create(&net->stream, net->eng, dnnl_stream_default_flags) != dnnl_success ||
      dnnl_primitive_attr_create(&net->attr) != dnnl_success ||
      dnnl_primitive_attr_set_scratchpad_mode(net->attr, dnnl_scratchpad_mode_user) != dnnl_success) {
    r = eahas_err_set(err, EAHAS_EINTERNAL, "net: oneDNN CPU engine or stream could not be created");
    goto fail;
  }
  plan *pl;
  if ((r = eahas__net_plan_make(net, max_batch, &pl, err))) goto fail;
  net->plans[net->n_plans++] = pl;
  *out = net;
  return 0;
fail:
  eahas_net_free(net);
  return r;
}

void eahas_net_free(eahas_net *net) {
  if (!net) return;
  for (int i = 0; i < net->n_plans; i++) eahas__net_plan_free(net->plans[i]);
  for (int i = 0; i < net->n_params; i++) free((char *)net->params[i].name);
  for (int i = 0; i < net->n_buffers; i++) free((char *)net->buffers[i].name);
  free(net->params);
  free(net->buffers);
  free(net->pdata);
  free(net->pgrad);
  free(net->bdata);
  for (int i = 0; i < net->n_bns; i++) {
    free(net->bns[i].mean);
    free(net->bns[i].var);
    free(net->bns[i].ws);
  }
  for (int i = 0; i < net->n_blocks; i++) {
    block *b = &net->blocks[i];
    float *bufs[] = {b->a_raw, b->a_out, b->b_raw, b->u, b->c_raw, b->out, b->p_raw, b->sc, b->se_p, b->se_h,
                     b->se_z, b->se_s};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++) free(bufs[k]);
    if (b->y != b->u) free(b->y);
  }
  free(net->blocks);
  free(net->convs);
  free(net->bns);
  free(net->fcs);
  free(net->x_in);
  free(net->s_raw);
  free(net->s_out);
  free(net->feat);
  free(net->logits);
  for (int i = 0; i < 4; i++) free(net->g[i]);
  free(net->tmp_nc);
  free(net->tmp_nc2);
  free(net->tmp_nc3);
  free(net->scratch);
  free(net->freeze);
  if (net->attr) dnnl_primitive_attr_destroy(net->attr);
  if (net->stream) dnnl_stream_destroy(net->stream);
  if (net->eng) dnnl_engine_destroy(net->eng);
  free(net);
}

int eahas_net_num_params(const eahas_net *net) { return net ? net->n_params : 0; }
int eahas_net_num_buffers(const eahas_net *net) { return net ? net->n_buffers : 0; }

eahas_tensor_info eahas_net_param(eahas_net *net, int i) {
  eahas_tensor_info none = {NULL, NULL, NULL, 0, 0, 0};
  if (!net || i < 0 || i >= net->n_params) return none;
  return net->params[i];
}

eahas_tensor_info eahas_net_buffer(eahas_net *net, int i) {
  eahas_tensor_info none = {NULL, NULL, NULL, 0, 0, 1};
  if (!net || i < 0 || i >= net->n_buffers) return none;
  return net->buffers[i];
}

int eahas_net_copy_state(eahas_net *dst, eahas_net *src, eahas_err *err) {
  if (!dst || !src) return eahas_err_set(err, EAHAS_EINVAL, "net: copy_state got a NULL net");
  if (dst == src) return 0;
  if (dst->n_params != src->n_params || dst->n_buffers != src->n_buffers)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "net: copy_state between different architectures (%d params + %d buffers vs %d + %d)",
                         src->n_params, src->n_buffers, dst->n_params, dst->n_buffers);
  for (int i = 0; i < src->n_params; i++)
    if (src->params[i].n != dst->params[i].n || strcmp(src->params[i].name, dst->params[i].name))
      return eahas_err_set(err, EAHAS_EINVAL, "net: copy_state: parameter %d is %s[%zu] in src but %s[%zu] in dst", i,
                           src->params[i].name, src->params[i].n, dst->params[i].name, dst->params[i].n);
  for (int i = 0; i < src->n_buffers; i++)
    if (src->buffers[i].n != dst->buffers[i].n)
      return eahas_err_set(err, EAHAS_EINVAL, "net: copy_state: buffer %s has %zu values in src but %zu in dst",
                           src->buffers[i].name, src->buffers[i].n, dst->buffers[i].n);
  for (int i = 0; i < src->n_params; i++)
    memcpy(dst->params[i].data, src->params[i].data, src->params[i].n * sizeof(float));
  for (int i = 0; i < src->n_buffers; i++)
    memcpy(dst->buffers[i].data, src->buffers[i].data, src->buffers[i].n * sizeof(float));
  return 0;
}

const char *eahas_net_backend_version(void) {
  static char buf[32];
  const dnnl_version_t *v = dnnl_version();
  snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
  return buf;
}
