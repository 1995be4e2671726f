/* The BSC multilayer perceptron (REFERENCE.md §6): two input branches, three hidden layers,
 * dropout, sigmoid and free heads; forward, backward and Adam by hand on plain float arrays.
 * Weights are input-major (W[i * n_out + o]) so that every layer is a sequence of axpy updates
 * that the compiler vectorizes and that skips zero inputs (one-hots, ReLU zeros) for free. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"

/* Hot loops get an AVX2 clone picked at run time (x86-64 with GCC or Clang). -std=c11 keeps
 * -ffp-contract=off, so both clones round identically: results do not depend on the CPU. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EAHAS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define EAHAS_HOT
#endif

/* Number of floats of each parameter block, in storage order. */
static void layout(const eahas_mlp *m, size_t sz[12]) {
  size_t h = (size_t)m->hidden;
  sz[0] = (size_t)m->n_arch * h; sz[1] = h;
  sz[2] = (size_t)m->n_hp * h;   sz[3] = h;
  sz[4] = 2 * h * h;             sz[5] = h;
  sz[6] = h * h;                 sz[7] = h;
  sz[8] = h * h;                 sz[9] = h;
  sz[10] = h * (size_t)m->n_out; sz[11] = (size_t)m->n_out;
}

static void set_views(eahas_mlp *m) {
  size_t sz[12], off = 0;
  float **v[12] = {&m->Wa, &m->ba, &m->Wh, &m->bh, &m->W1, &m->b1,
                   &m->W2, &m->b2, &m->W3, &m->b3, &m->Wo, &m->bo};
  layout(m, sz);
  for (int i = 0; i < 12; i++) {
    *v[i] = m->params + off;
    off += sz[i];
  }
}

int eahas_mlp_init(eahas_mlp *m, int n_arch, int n_hp, int hidden, int n_out, int n_sigmoid,
                   float dropout, uint64_t seed, eahas_err *err) {
  memset(m, 0, sizeof *m);
  if (hidden < 1 || hidden > EAHAS_MLP_MAX_HIDDEN)
    return eahas_err_set(err, EAHAS_EINVAL, "MLP hidden width %d is outside [1, %d]", hidden, EAHAS_MLP_MAX_HIDDEN);
  if (n_out < 1 || n_out > EAHAS_MLP_MAX_OUT)
    return eahas_err_set(err, EAHAS_EINVAL, "MLP outputs %d is outside [1, %d]", n_out, EAHAS_MLP_MAX_OUT);
  if (n_sigmoid < 0 || n_sigmoid > n_out)
    return eahas_err_set(err, EAHAS_EINVAL, "MLP sigmoid outputs %d is outside [0, %d]", n_sigmoid, n_out);
  if (!(dropout >= 0 && dropout < 1))
    return eahas_err_set(err, EAHAS_EINVAL, "dropout %g is outside [0, 1)", (double)dropout);
  if (n_arch < 1 || n_hp < 1 || n_arch + n_hp > 64)
    return eahas_err_set(err, EAHAS_EINVAL, "MLP inputs %d + %d: each must be >= 1, sum <= 64", n_arch, n_hp);
  m->n_arch = n_arch;
  m->n_hp = n_hp;
  m->hidden = hidden;
  m->n_out = n_out;
  m->n_sigmoid = n_sigmoid;
  m->dropout = dropout;
  size_t sz[12], fan[12];
  layout(m, sz);
  size_t h = (size_t)hidden;
  fan[0] = fan[1] = (size_t)n_arch;
  fan[2] = fan[3] = (size_t)n_hp;
  fan[4] = fan[5] = 2 * h;
  fan[6] = fan[7] = fan[8] = fan[9] = fan[10] = fan[11] = h;
  for (int i = 0; i < 12; i++) m->n_params += sz[i];
  m->params = malloc(m->n_params * sizeof(float));
  if (!m->params) return eahas_err_set(err, EAHAS_ENOMEM, "MLP of %zu parameters", m->n_params);
  set_views(m);
  /* PyTorch's nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
  eahas_rng r;
  eahas_rng_seed(&r, seed);
  size_t off = 0;
  for (int i = 0; i < 12; i++) {
    double bound = 1.0 / sqrt((double)fan[i]);
    for (size_t k = 0; k < sz[i]; k++) m->params[off + k] = (float)((2 * eahas_rng_uniform(&r) - 1) * bound);
    off += sz[i];
  }
  return 0;
}

void eahas_mlp_free(eahas_mlp *m) {
  if (!m) return;
  free(m->params);
  memset(m, 0, sizeof *m);
}

/* y[0..nout) = b + sum_i x[i] * W[i, :], optionally ReLU. Zero inputs (one-hots, ReLU zeros)
 * are skipped through a list of the nonzero ones built without branches: a data-dependent
 * branch per input mispredicts half the time and costs more than the multiply it saves. */
static inline void dense(const float *restrict x, int nin, const float *restrict W,
                         const float *restrict b, int nout, float *restrict y, int relu) {
  int nz[2 * EAHAS_MLP_MAX_HIDDEN + 64], m = 0;
  for (int i = 0; i < nin; i++) {
    nz[m] = i;
    m += x[i] != 0.0f;
  }
  memcpy(y, b, sizeof(float) * (size_t)nout);
  for (int k = 0; k < m; k++) {
    const float xi = x[nz[k]];
    const float *restrict row = W + (size_t)nz[k] * nout;
    for (int o = 0; o < nout; o++) y[o] += xi * row[o];
  }
  if (relu)
    for (int o = 0; o < nout; o++) y[o] = y[o] > 0.0f ? y[o] : 0.0f;
}

static inline float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* Activations of one sample (training keeps them for the backward pass). */
typedef struct acts {
  float c[2 * EAHAS_MLP_MAX_HIDDEN]; /* [arch, hp] after ReLU */
  float z1[EAHAS_MLP_MAX_HIDDEN], z2[EAHAS_MLP_MAX_HIDDEN], z3[EAHAS_MLP_MAX_HIDDEN];
  float d3[EAHAS_MLP_MAX_HIDDEN];    /* z3 after dropout */
  float keep[EAHAS_MLP_MAX_HIDDEN];  /* dropout scale per unit (0 or 1/(1-p)) */
  float out[EAHAS_MLP_MAX_OUT];
} acts;

static void forward(const eahas_mlp *m, const float *x, acts *a, eahas_rng *rng) {
  int h = m->hidden;
  dense(x, m->n_arch, m->Wa, m->ba, h, a->c, 1);
  dense(x + m->n_arch, m->n_hp, m->Wh, m->bh, h, a->c + h, 1);
  dense(a->c, 2 * h, m->W1, m->b1, h, a->z1, 1);
  dense(a->z1, h, m->W2, m->b2, h, a->z2, 1);
  dense(a->z2, h, m->W3, m->b3, h, a->z3, 1);
  if (rng && m->dropout > 0) {
    float scale = 1.0f / (1.0f - m->dropout);
    for (int i = 0; i < h; i++) {
      a->keep[i] = eahas_rng_uniform(rng) < m->dropout ? 0.0f : scale;
      a->d3[i] = a->z3[i] * a->keep[i];
    }
  } else {
    for (int i = 0; i < h; i++) a->keep[i] = 1.0f;
    memcpy(a->d3, a->z3, sizeof(float) * (size_t)h);
  }
  dense(a->d3, h, m->Wo, m->bo, m->n_out, a->out, 0);
  for (int o = 0; o < m->n_sigmoid; o++) a->out[o] = sigmoidf(a->out[o]);
}

/* Inference layer with the width a compile-time constant where it matters: the accumulators
 * stay in registers. Every input is used (adding 0 * w changes no sum), in index order, so the
 * result equals the training forward's bit for bit. */
static inline __attribute__((always_inline)) void dense_fixed(const float *restrict x, int nin,
                                                                 const float *restrict W,
                                                                 const float *restrict b, const int nout,
                                                                 float *restrict y, int relu) {
  float acc[EAHAS_MLP_MAX_OUT];
  for (int o = 0; o < nout; o++) acc[o] = b[o];
  for (int i = 0; i < nin; i++) {
    const float xi = x[i];
    const float *restrict row = W + (size_t)i * nout;
    for (int o = 0; o < nout; o++) acc[o] += xi * row[o];
  }
  for (int o = 0; o < nout; o++) y[o] = relu ? (acc[o] > 0.0f ? acc[o] : 0.0f) : acc[o];
}

static inline __attribute__((always_inline)) void forward_fixed(const eahas_mlp *m, const int h, const float *x,
                                                                   float *out) {
  float c[2 * EAHAS_MLP_MAX_HIDDEN], z1[EAHAS_MLP_MAX_HIDDEN], z2[EAHAS_MLP_MAX_HIDDEN];
  dense_fixed(x, m->n_arch, m->Wa, m->ba, h, c, 1);
  dense_fixed(x + m->n_arch, m->n_hp, m->Wh, m->bh, h, c + h, 1);
  dense_fixed(c, 2 * h, m->W1, m->b1, h, z1, 1);
  dense_fixed(z1, h, m->W2, m->b2, h, z2, 1);
  dense_fixed(z2, h, m->W3, m->b3, h, z1, 1);
  dense_fixed(z1, h, m->Wo, m->bo, m->n_out, out, 0);
}

EAHAS_HOT
void eahas_mlp_forward(const eahas_mlp *m, const float *x, float *out) {
  switch (m->hidden) {
  case 16: forward_fixed(m, 16, x, out); break;
  case 32: forward_fixed(m, 32, x, out); break;
  case 64: forward_fixed(m, 64, x, out); break;
  default: forward_fixed(m, m->hidden, x, out); break;
  }
  for (int o = 0; o < m->n_sigmoid; o++) out[o] = sigmoidf(out[o]);
}

/* Backward through y = b + W^T x: accumulates dW, db and, if dx != NULL, writes dx. */
static void dense_back(const float *x, int nin, const float *W, int nout, const float *dy,
                       float *dW, float *db, float *dx) {
  for (int o = 0; o < nout; o++) db[o] += dy[o];
  for (int i = 0; i < nin; i++) {
    const float *row = W + (size_t)i * nout;
    float *drow = dW + (size_t)i * nout, xi = x[i], s = 0;
    for (int o = 0; o < nout; o++) {
      drow[o] += xi * dy[o];
      s += row[o] * dy[o];
    }
    if (dx) dx[i] = s;
  }
}

/* Offsets of the gradient blocks match the parameter blocks. */
static float *gview(const eahas_mlp *m, float *grad, const float *p) { return grad + (p - m->params); }

EAHAS_HOT
static double loss_grad_idx(const eahas_mlp *m, const float *X, const float *Y, const float *mask,
                            const int *idx, int n, eahas_rng *rng, float *grad) {
  int nin = m->n_arch + m->n_hp, h = m->hidden, no = m->n_out;
  double msum = 0, loss = 0;
  for (int s = 0; s < n; s++) {
    int r = idx ? idx[s] : s;
    for (int o = 0; o < no; o++) msum += mask ? mask[(size_t)r * no + o] : 1.0;
  }
  if (msum <= 0) return 0;
  acts a;
  float dout[EAHAS_MLP_MAX_OUT], d3[EAHAS_MLP_MAX_HIDDEN], d2[EAHAS_MLP_MAX_HIDDEN];
  float d1[EAHAS_MLP_MAX_HIDDEN], dc[2 * EAHAS_MLP_MAX_HIDDEN];
  for (int s = 0; s < n; s++) {
    int r = idx ? idx[s] : s;
    const float *x = X + (size_t)r * nin, *y = Y + (size_t)r * no;
    const float *mk = mask ? mask + (size_t)r * no : NULL;
    forward(m, x, &a, rng);
    for (int o = 0; o < no; o++) {
      float w = mk ? mk[o] : 1.0f, e = a.out[o] - y[o];
      loss += w * (double)e * e;
      dout[o] = (float)(2.0 * w * e / msum);
      if (o < m->n_sigmoid) dout[o] *= a.out[o] * (1.0f - a.out[o]);
    }
    if (!grad) continue;
    dense_back(a.d3, h, m->Wo, no, dout, gview(m, grad, m->Wo), gview(m, grad, m->bo), d3);
    for (int i = 0; i < h; i++) d3[i] = a.z3[i] > 0 ? d3[i] * a.keep[i] : 0.0f;
    dense_back(a.z2, h, m->W3, h, d3, gview(m, grad, m->W3), gview(m, grad, m->b3), d2);
    for (int i = 0; i < h; i++) d2[i] = a.z2[i] > 0 ? d2[i] : 0.0f;
    dense_back(a.z1, h, m->W2, h, d2, gview(m, grad, m->W2), gview(m, grad, m->b2), d1);
    for (int i = 0; i < h; i++) d1[i] = a.z1[i] > 0 ? d1[i] : 0.0f;
    dense_back(a.c, 2 * h, m->W1, h, d1, gview(m, grad, m->W1), gview(m, grad, m->b1), dc);
    for (int i = 0; i < 2 * h; i++) dc[i] = a.c[i] > 0 ? dc[i] : 0.0f;
    dense_back(x, m->n_arch, m->Wa, h, dc, gview(m, grad, m->Wa), gview(m, grad, m->ba), NULL);
    dense_back(x + m->n_arch, m->n_hp, m->Wh, h, dc + h, gview(m, grad, m->Wh), gview(m, grad, m->bh), NULL);
  }
  return loss / msum;
}

double eahas_mlp_loss_grad(const eahas_mlp *m, const float *X, const float *Y, const float *mask,
                           int n, eahas_rng *rng, float *grad) {
  return loss_grad_idx(m, X, Y, mask, NULL, n, rng, grad);
}

int eahas_mlp_train(eahas_mlp *m, const float *X, const float *Y, const float *mask, int n,
                    const eahas_mlp_train_opts *o, eahas_err *err) {
  if (n < 1) return eahas_err_set(err, EAHAS_EINVAL, "MLP training needs at least 1 sample, got %d", n);
  if (o->epochs < 0 || o->batch < 1 || !(o->lr > 0))
    return eahas_err_set(err, EAHAS_EINVAL, "MLP training options: epochs %d (>= 0), batch %d (>= 1), lr %g (> 0)",
                         o->epochs, o->batch, o->lr);
  size_t np = m->n_params;
  float *g = calloc(np, sizeof(float)), *mo = calloc(np, sizeof(float)), *ve = calloc(np, sizeof(float));
  int *idx = malloc(sizeof(int) * (size_t)n);
  if (!g || !mo || !ve || !idx) {
    free(g); free(mo); free(ve); free(idx);
    return eahas_err_set(err, EAHAS_ENOMEM, "MLP training buffers for %zu parameters", np);
  }
  eahas_rng rng;
  eahas_rng_seed(&rng, o->seed);
  for (int i = 0; i < n; i++) idx[i] = i;
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  long step = 0;
  int rc = 0;
  for (int ep = 0; ep < o->epochs && rc == 0; ep++) {
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates shuffle */
      int j = (int)eahas_rng_below(&rng, (uint64_t)i + 1), t = idx[i];
      idx[i] = idx[j];
      idx[j] = t;
    }
    for (int s = 0; s < n; s += o->batch) {
      int nb = n - s < o->batch ? n - s : o->batch;
      memset(g, 0, np * sizeof(float));
      double loss = loss_grad_idx(m, X, Y, mask, idx + s, nb, &rng, g);
      if (!isfinite(loss)) {
        rc = eahas_err_set(err, EAHAS_EDIVERGED, "MLP loss is not finite at epoch %d", ep + 1);
        break;
      }
      step++;
      double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
      float lr_t = (float)(o->lr * sqrt(c2) / c1), wd = (float)o->weight_decay;
      for (size_t k = 0; k < np; k++) {
        float gk = g[k] + wd * m->params[k];
        mo[k] = (float)b1 * mo[k] + (float)(1 - b1) * gk;
        ve[k] = (float)b2 * ve[k] + (float)(1 - b2) * gk * gk;
        m->params[k] -= lr_t * mo[k] / (sqrtf(ve[k]) + (float)eps);
      }
    }
  }
  free(g); free(mo); free(ve); free(idx);
  return rc;
}
