/* Optimizers (SGD with Nesterov momentum, Adam, AdamW with torch.optim 1.13 semantics), the
 * pycls learning-rate policies with warm-up, and the EMA of the weights (REFERENCE.md §4). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/train.h"

struct eahas_optim {
  eahas_opt_kind kind;
  int n;
  eahas_tensor_info *p;  /* copies of the tensor descriptors */
  float **m;             /* SGD momentum buffer, or Adam first moment */
  float **v;             /* Adam second moment (NULL for SGD) */
  long step;             /* completed steps */
};

void eahas_optim_free(eahas_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) {
    if (o->m) free(o->m[i]);
    if (o->v) free(o->v[i]);
  }
  free(o->m);
  free(o->v);
  free(o->p);
  free(o);
}

int eahas_optim_new(eahas_opt_kind kind, const eahas_tensor_info *params, int n, eahas_optim **out, eahas_err *err) {
  *out = NULL;
  if (kind != EAHAS_OPT_SGD && kind != EAHAS_OPT_ADAM && kind != EAHAS_OPT_ADAMW)
    return eahas_err_set(err, EAHAS_EINVAL, "optimizer kind %d is not one of sgd (0), adam (1), adamw (2)", (int)kind);
  if (n < 0) return eahas_err_set(err, EAHAS_EINVAL, "negative number of parameter tensors (%d)", n);
  for (int i = 0; i < n; i++)
    if (!params[i].data || !params[i].grad)
      return eahas_err_set(err, EAHAS_EINVAL, "parameter tensor %d (%s) has no data or no gradient", i,
                           params[i].name ? params[i].name : "?");
  eahas_optim *o = calloc(1, sizeof *o);
  if (!o) return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate an optimizer");
  o->kind = kind;
  o->n = n;
  o->p = calloc((size_t)(n > 0 ? n : 1), sizeof *o->p);
  o->m = calloc((size_t)(n > 0 ? n : 1), sizeof *o->m);
  if (kind != EAHAS_OPT_SGD) o->v = calloc((size_t)(n > 0 ? n : 1), sizeof *o->v);
  int bad = !o->p || !o->m || (kind != EAHAS_OPT_SGD && !o->v);
  for (int i = 0; !bad && i < n; i++) {
    o->p[i] = params[i];
    o->m[i] = calloc(params[i].n ? params[i].n : 1, sizeof(float));
    if (o->v) o->v[i] = calloc(params[i].n ? params[i].n : 1, sizeof(float));
    bad = !o->m[i] || (o->v && !o->v[i]);
  }
  if (bad) {
    eahas_optim_free(o);
    return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate optimizer state for %d tensors", n);
  }
  *out = o;
  return 0;
}

/* torch.optim.SGD(momentum=0.9, dampening=0, nesterov=True, weight_decay=wd). */
static void sgd_tensor(const eahas_tensor_info *t, float *buf, double lr, double wd, int first) {
  const float mom = (float)EAHAS_MOMENTUM, w = (float)wd, a = (float)lr;
  for (size_t k = 0; k < t->n; k++) {
    float g = t->grad[k] + w * t->data[k];
    float b = first ? g : mom * buf[k] + g;
    buf[k] = b;
    t->data[k] -= a * (g + mom * b);
  }
}

/* torch.optim.Adam / AdamW (amsgrad off, maximize off). The bias corrections are computed in
 * double once per step, as PyTorch does on the host. */
static void adam_tensor(const eahas_tensor_info *t, float *m, float *v, double lr, double l2, double decoupled,
                        long step) {
  const float b1 = (float)EAHAS_ADAM_BETA1, b2 = (float)EAHAS_ADAM_BETA2, w = (float)l2;
  double bc1 = 1.0 - pow(EAHAS_ADAM_BETA1, (double)step), bc2 = 1.0 - pow(EAHAS_ADAM_BETA2, (double)step);
  const float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2), eps = (float)EAHAS_ADAM_EPS;
  const float shrink = (float)(1.0 - lr * decoupled);
  for (size_t k = 0; k < t->n; k++) {
    float p = t->data[k];
    if (decoupled != 0) p *= shrink;
    float g = t->grad[k] + w * p;
    m[k] = b1 * m[k] + (1 - b1) * g;
    v[k] = b2 * v[k] + (1 - b2) * g * g;
    float denom = sqrtf(v[k]) / bc2_sqrt + eps;
    t->data[k] = p - step_size * m[k] / denom;
  }
}

void eahas_optim_step(eahas_optim *o, double lr) {
  o->step++;
  for (int i = 0; i < o->n; i++) {
    const eahas_tensor_info *t = &o->p[i];
    double wd = t->is_bn ? 0.0 : EAHAS_WEIGHT_DECAY;
    switch (o->kind) {
      case EAHAS_OPT_SGD: sgd_tensor(t, o->m[i], lr, wd, o->step == 1); break;
      case EAHAS_OPT_ADAM: adam_tensor(t, o->m[i], o->v[i], lr, wd, 0.0, o->step); break;
      case EAHAS_OPT_ADAMW: adam_tensor(t, o->m[i], o->v[i], lr, 0.0, wd, o->step); break;
    }
  }
}

double eahas_lr_at(eahas_sched_kind policy, double base, int e, int max_epoch) {
  const double mn = EAHAS_MIN_LR;
  double f = max_epoch > 0 ? (double)e / max_epoch : 0.0, lr;
  switch (policy) {
    case EAHAS_SCHED_EXP: lr = base * pow(mn, f); break;
    case EAHAS_SCHED_LIN: lr = base * (mn + (1 - mn) * (1 - f)); break;
    case EAHAS_SCHED_COS:
    default: lr = base * (mn + (1 - mn) * 0.5 * (1 + cos(M_PI * f))); break;
  }
  if (e < EAHAS_WARMUP_EPOCHS) {
    double a = (double)e / EAHAS_WARMUP_EPOCHS;
    lr *= EAHAS_WARMUP_FACTOR * (1 - a) + a;
  }
  return lr;
}

double eahas_ema_alpha_rate(double ema_alpha, int period, int batch_size, int max_epoch, int epoch) {
  if (epoch < EAHAS_WARMUP_EPOCHS) return 1.0;
  double a = ema_alpha * batch_size / (max_epoch > 0 ? max_epoch : 1) * period;
  return a < 1.0 ? a : 1.0;
}

double eahas_ema_alpha(int batch_size, int max_epoch, int epoch) {
  return eahas_ema_alpha_rate(EAHAS_EMA_ALPHA, EAHAS_EMA_PERIOD, batch_size, max_epoch, epoch);
}

int eahas_ema_update(const eahas_tensor_info *dst, const eahas_tensor_info *src, int n, double alpha, eahas_err *err) {
  for (int i = 0; i < n; i++)
    if (dst[i].n != src[i].n)
      return eahas_err_set(err, EAHAS_EINVAL, "EMA tensor %d (%s) has %zu values but the model's has %zu", i,
                           dst[i].name ? dst[i].name : "?", dst[i].n, src[i].n);
  /* pycls: param * (1 - alpha) + model_param * alpha, in the tensors' precision. */
  const float a = (float)alpha, b = (float)(1.0 - alpha);
  for (int i = 0; i < n; i++) {
    float *d = dst[i].data;
    const float *s = src[i].data;
    if (alpha == 1.0) memcpy(d, s, sizeof(float) * dst[i].n);
    else
      for (size_t k = 0; k < dst[i].n; k++) d[k] = d[k] * b + s[k] * a;
  }
  return 0;
}

int eahas_cutout_side(int cutout, int im_size) {
  if (cutout <= 0 || im_size >= 32) return cutout;
  int s = (int)lround(cutout * (double)im_size / 32.0);
  return s < 1 ? 1 : s;
}
