/* RegNet expansion and complexity, following pycls (generate_regnet, adjust_block_compatibility,
 * AnyNet.complexity) as summarised in REFERENCE.md §3.
 *
 * Rounding: pycls rounds with np.round and Python's round(), both of which round half to even.
 * C's round() rounds half away from zero, so we use rint() (the default FE_TONEAREST mode) and
 * get the same stage widths on ties such as 100/8 = 12.5 -> 12. */
#include <math.h>
#include <stdint.h>

#include "eahas/space.h"

#define REGNET_Q 8          /* width quantum of generate_regnet */
#define REGNET_BOT_MUL 1.0  /* bottleneck multiplier (EA-HAS-Bench and the RegNet zoo) */
#define REGNET_SE_R 0.25    /* SE ratio, relative to the block input width */
/* Bounds that keep the expansion in int range for any real wa, wm the parser accepts (wa up to
 * 1e308, wm just above 1): far beyond every RegNet of pycls (widths below 10^4, 4 stages). */
#define REGNET_MAX_WIDTH 1000000
#define REGNET_MAX_EXP 1000000

int eahas_regnet_expand(const eahas_regnet_arch *a, eahas_regnet *out, eahas_err *err) {
  if (a->d < 1) return eahas_err_set(err, EAHAS_EINVAL, "RegNet depth d=%d must be >= 1", a->d);
  if (a->w0 < 1) return eahas_err_set(err, EAHAS_EINVAL, "RegNet w0=%d must be >= 1", a->w0);
  if (!(a->wa >= 0) || !isfinite(a->wa))
    return eahas_err_set(err, EAHAS_EINVAL, "RegNet wa=%g must be a finite number >= 0", a->wa);
  if (!(a->wm > 1) || !isfinite(a->wm))
    return eahas_err_set(err, EAHAS_EINVAL, "RegNet wm=%g must be a finite number > 1", a->wm);
  if (a->gw < 1) return eahas_err_set(err, EAHAS_EINVAL, "RegNet group width gw=%d must be >= 1", a->gw);

  /* Per-block continuous widths u_j = w0 + wa*j, exponents s_j, quantized widths w_j. */
  const double log_wm = log(a->wm);
  double k_max = 0, k_prev = -1, w_prev = 0;
  int ns = 0;
  for (int j = 0; j < a->d; j++) {
    double u = (double)j * a->wa + (double)a->w0;
    double k = rint(log(u / a->w0) / log_wm);
    if (!(k <= REGNET_MAX_EXP))
      return eahas_err_set(err, EAHAS_EINVAL,
                           "RegNet d=%d w0=%d wa=%g wm=%g: block %d has width exponent %g, above %d "
                           "(wa too large or wm too close to 1)",
                           a->d, a->w0, a->wa, a->wm, j + 1, k, REGNET_MAX_EXP);
    if (k > k_max) k_max = k;
    /* blocks of a stage share k: pow once per stage (queries expand a RegNet per config) */
    double w = k == k_prev ? w_prev : rint(a->w0 * pow(a->wm, k) / REGNET_Q) * REGNET_Q;
    k_prev = k;
    w_prev = w;
    if (!(w <= REGNET_MAX_WIDTH))
      return eahas_err_set(err, EAHAS_EINVAL, "RegNet d=%d w0=%d wa=%g wm=%g: block %d has width %g, above %d",
                           a->d, a->w0, a->wa, a->wm, j + 1, w, REGNET_MAX_WIDTH);
    int wi = (int)w;
    /* Stages are runs of equal widths (pycls: np.unique over the sorted per-block widths). */
    if (ns > 0 && out->widths[ns - 1] == wi) {
      out->depths[ns - 1]++;
      continue;
    }
    if (ns == EAHAS_MAX_STAGES)
      return eahas_err_set(err, EAHAS_EINVAL,
                           "RegNet d=%d w0=%d wa=%g wm=%g has more than %d stages", a->d, a->w0,
                           a->wa, a->wm, EAHAS_MAX_STAGES);
    out->widths[ns] = wi;
    out->depths[ns] = 1;
    ns++;
  }
  out->num_stages = ns;
  out->max_stages = (int)k_max + 1;

  /* Group compatibility per stage (pycls adjust_block_compatibility with b = 1). */
  for (int s = 0; s < ns; s++) {
    int v = (int)fmax(1.0, out->widths[s] * REGNET_BOT_MUL);
    int g = a->gw < v ? a->gw : v;
    int vr = (int)(rint((double)v / g) * g);
    v = vr > g ? vr : g;
    out->widths[s] = (int)(v / REGNET_BOT_MUL);
    out->group_widths[s] = g;
    out->strides[s] = 2;
  }
  for (int s = ns; s < EAHAS_MAX_STAGES; s++)
    out->widths[s] = out->depths[s] = out->group_widths[s] = out->strides[s] = 0;
  return 0;
}

/* Running totals of a complexity count (pycls "cx" dictionary). Integers so that the grouped
 * conv's integer division matches pycls exactly. */
typedef struct {
  int64_t h, w, flops, params, acts;
  int overflow; /* a count left int64 range (huge --im-size and widths): reported, not wrapped */
} cx_t;

/* a * b, or 0 with cx->overflow set. */
static int64_t cx_mul(cx_t *cx, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) cx->overflow = 1, r = 0;
  return r;
}

static void cx_add(cx_t *cx, int64_t *acc, int64_t x) {
  if (__builtin_add_overflow(*acc, x, acc)) cx->overflow = 1;
}

static void cx_conv(cx_t *cx, int64_t w_in, int64_t w_out, int64_t k, int64_t stride, int64_t groups,
                    int bias) {
  cx->h = (cx->h - 1) / stride + 1;
  cx->w = (cx->w - 1) / stride + 1;
  int64_t hw = cx_mul(cx, cx->h, cx->w);
  int64_t weights = cx_mul(cx, cx_mul(cx, k * k, w_in), w_out);
  cx_add(cx, &cx->flops, cx_mul(cx, weights, hw) / groups + (bias ? cx_mul(cx, w_out, hw) : 0));
  cx_add(cx, &cx->params, weights / groups + (bias ? w_out : 0));
  cx_add(cx, &cx->acts, cx_mul(cx, w_out, hw));
}

static void cx_bn(cx_t *cx, int64_t w) { cx_add(cx, &cx->params, 2 * w); }

/* SE on w_b channels with w_se hidden: global pool, two 1x1 convs with bias at 1x1 resolution. */
static void cx_se(cx_t *cx, int64_t w_b, int64_t w_se) {
  int64_t h = cx->h, w = cx->w;
  cx->h = cx->w = 1;
  cx_conv(cx, w_b, w_se, 1, 1, 1, 1);
  cx_conv(cx, w_se, w_b, 1, 1, 1, 1);
  cx->h = h;
  cx->w = w;
}

/* pycls ResBottleneckBlock: projection shortcut when width or stride changes, then
 * 1x1 -> 3x3 grouped (stride) -> [SE] -> 1x1, each with BN. */
static void cx_block(cx_t *cx, int w_in, int w_out, int stride, int gw, int se) {
  if (w_in != w_out || stride != 1) {
    int64_t h = cx->h, w = cx->w;
    cx_conv(cx, w_in, w_out, 1, stride, 1, 0);
    cx_bn(cx, w_out);
    cx->h = h;
    cx->w = w;
  }
  int w_b = (int)rint(w_out * REGNET_BOT_MUL);
  int w_se = se ? (int)rint(w_in * REGNET_SE_R) : 0;
  int groups = w_b / gw;
  cx_conv(cx, w_in, w_b, 1, 1, 1, 0);
  cx_bn(cx, w_b);
  cx_conv(cx, w_b, w_b, 3, stride, groups, 0);
  cx_bn(cx, w_b);
  if (w_se) cx_se(cx, w_b, w_se);
  cx_conv(cx, w_b, w_out, 1, 1, 1, 0);
  cx_bn(cx, w_out);
}

int eahas_regnet_complexity(const eahas_regnet *r, const eahas_net_opts *o, eahas_complexity *out,
                            eahas_err *err) {
  if (o->im_size < 1 || o->in_channels < 1 || o->num_classes < 1 || o->stem_w < 1)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "net options im_size=%d in_channels=%d classes=%d stem_w=%d must all be >= 1",
                         o->im_size, o->in_channels, o->num_classes, o->stem_w);
  if (o->stem != EAHAS_STEM_RES_CIFAR && o->stem != EAHAS_STEM_SIMPLE_IN)
    return eahas_err_set(err, EAHAS_EINVAL, "stem kind %d is not res_stem_cifar (0) or simple_stem_in (1)",
                         (int)o->stem);
  if (r->num_stages < 1 || r->num_stages > EAHAS_MAX_STAGES)
    return eahas_err_set(err, EAHAS_EINVAL, "RegNet num_stages=%d is outside [1, %d]", r->num_stages,
                         EAHAS_MAX_STAGES);
  for (int s = 0; s < r->num_stages; s++)
    if (r->widths[s] < 1 || r->depths[s] < 1 || r->group_widths[s] < 1 || r->strides[s] < 1 ||
        r->widths[s] % r->group_widths[s] != 0)
      return eahas_err_set(err, EAHAS_EINVAL,
                           "RegNet stage %d: width=%d depth=%d group width=%d stride=%d is not a valid stage",
                           s + 1, r->widths[s], r->depths[s], r->group_widths[s], r->strides[s]);
  cx_t cx = {o->im_size, o->im_size, 0, 0, 0, 0};
  /* Stem: 3x3 conv, stride 1 (res_stem_cifar) or 2 (simple_stem_in), then BN. */
  cx_conv(&cx, o->in_channels, o->stem_w, 3, o->stem == EAHAS_STEM_SIMPLE_IN ? 2 : 1, 1, 0);
  cx_bn(&cx, o->stem_w);
  int w_in = o->stem_w;
  for (int s = 0; s < r->num_stages; s++) {
    int stride = r->strides[s];
    for (int b = 0; b < r->depths[s]; b++) {
      cx_block(&cx, w_in, r->widths[s], stride, r->group_widths[s], o->se);
      w_in = r->widths[s];
      stride = 1;
    }
  }
  /* Head: global average pool (adds nothing), linear with bias to the classes. */
  cx_add(&cx, &cx.flops, (int64_t)w_in * o->num_classes + o->num_classes);
  cx_add(&cx, &cx.params, (int64_t)w_in * o->num_classes + o->num_classes);
  cx_add(&cx, &cx.acts, o->num_classes);
  if (cx.overflow)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "complexity of a RegNet with widths up to %d at im_size=%d, stem_w=%d, classes=%d "
                         "exceeds 2^63 (64-bit counts)",
                         r->widths[r->num_stages - 1], o->im_size, o->stem_w, o->num_classes);
  out->flops = (double)cx.flops;
  out->params = (double)cx.params;
  out->acts = (double)cx.acts;
  return 0;
}

eahas_regnet_arch eahas_config_arch(const eahas_config *c) {
  eahas_regnet_arch a = {c->d, c->w0, c->gw, c->wa10 / 10.0, c->wm1000 / 1000.0};
  return a;
}

eahas_net_opts eahas_preset_net_opts(const eahas_preset *p) {
  eahas_net_opts o = {p->stem, p->stem_w, p->im_size, p->in_channels, p->num_classes, p->se};
  return o;
}

int eahas_config_complexity(const eahas_config *c, const eahas_preset *p, eahas_regnet *r_out,
                            eahas_complexity *cx_out, eahas_err *err) {
  eahas_regnet r;
  eahas_regnet_arch a = eahas_config_arch(c);
  int rc = eahas_regnet_expand(&a, &r, err);
  if (rc) return rc;
  eahas_net_opts o = eahas_preset_net_opts(p);
  eahas_complexity cx;
  rc = eahas_regnet_complexity(&r, &o, &cx, err);
  if (rc) return rc;
  if (r_out) *r_out = r;
  if (cx_out) *cx_out = cx;
  return 0;
}
