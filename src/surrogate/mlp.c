/* The BSC multilayer perceptron (REFERENCE.md §6): two input branches, three hidden layers,
 * dropout, sigmoid and free heads; forward, backward and Adam by hand on plain float arrays.
 * Weights are input-major (W[i * n_out + o]) so that every layer is a sequence of axpy updates
 * that the compiler vectorizes and that skips zero inputs (one-hots, ReLU zeros) for free. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/internal.h"

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

/* ---- many MLPs of one shape on one input (queries) ------------------------------------- */

/* G networks' layers interleaved: G x nout / 8 accumulator chains keep the adders busy where
 * one network's nout / 8 chains would wait on each add's latency. Every output is still
 * b + x[0] w[0] + x[1] w[1] + ... in index order with separate multiply and add, so the results
 * are those of eahas_mlp_forward bit for bit. nz lists the inputs used (NULL: all): the
 * hyperparameter inputs are one-hot, and leaving out a zero input changes no sum except the
 * sign of a zero sum, which the ReLU after that layer removes. (Skipping the ReLU zeros of the
 * hidden layers, different in every network, cost more in list building than it saved.) */
static inline __attribute__((always_inline)) void dense_g(const int G, const float *const *x, const int *nz, int nin,
                                                          const float *const *W, const float *const *b, const int nout,
                                                          float *const *y, int relu) {
  float acc[4][EAHAS_MLP_MAX_OUT];
  for (int g = 0; g < G; g++)
    for (int o = 0; o < nout; o++) acc[g][o] = b[g][o];
  for (int k = 0; k < nin; k++) {
    const int i = nz ? nz[k] : k;
    for (int g = 0; g < G; g++) {
      const float xi = x[g][i];
      const float *restrict row = W[g] + (size_t)i * nout;
      for (int o = 0; o < nout; o++) acc[g][o] += xi * row[o];
    }
  }
  for (int g = 0; g < G; g++)
    for (int o = 0; o < nout; o++) y[g][o] = relu ? (acc[g][o] > 0.0f ? acc[g][o] : 0.0f) : acc[g][o];
}

#define VIEWS(field) const float *field[4] = {m[0]->field, m[G > 1 ? 1 : 0]->field, m[G > 2 ? 2 : 0]->field, m[G > 3 ? 3 : 0]->field}

static inline __attribute__((always_inline)) void forward_g(const int G, const eahas_mlp *const *m, const int h,
                                                            const int no, const float *x, const int *nz_hp,
                                                            int n_nz_hp, float *const *out) {
  float c[4][2 * EAHAS_MLP_MAX_HIDDEN], z1[4][EAHAS_MLP_MAX_HIDDEN], z2[4][EAHAS_MLP_MAX_HIDDEN];
  float *pc[4] = {c[0], c[1], c[2], c[3]}, *pch[4] = {c[0] + h, c[1] + h, c[2] + h, c[3] + h};
  float *p1[4] = {z1[0], z1[1], z1[2], z1[3]}, *p2[4] = {z2[0], z2[1], z2[2], z2[3]};
  const float *xs[4] = {x, x, x, x}, *xh[4] = {x + m[0]->n_arch, x + m[0]->n_arch, x + m[0]->n_arch, x + m[0]->n_arch};
  const float *qc[4] = {c[0], c[1], c[2], c[3]}, *q1[4] = {z1[0], z1[1], z1[2], z1[3]}, *q2[4] = {z2[0], z2[1], z2[2], z2[3]};
  VIEWS(Wa); VIEWS(ba); VIEWS(Wh); VIEWS(bh); VIEWS(W1); VIEWS(b1);
  VIEWS(W2); VIEWS(b2); VIEWS(W3); VIEWS(b3); VIEWS(Wo); VIEWS(bo);
  dense_g(G, xs, NULL, m[0]->n_arch, Wa, ba, h, pc, 1);
  dense_g(G, xh, nz_hp, n_nz_hp, Wh, bh, h, pch, 1);
  dense_g(G, qc, NULL, 2 * h, W1, b1, h, p1, 1);
  dense_g(G, q1, NULL, h, W2, b2, h, p2, 1);
  dense_g(G, q2, NULL, h, W3, b3, h, p1, 1);
  dense_g(G, q1, NULL, h, Wo, bo, no, out, 0);
}

#define MANY_G 2

static inline __attribute__((always_inline)) void forward_many_h(const eahas_mlp *const *m, int n, const int h,
                                                                 const int no, const float *x, const int *nz,
                                                                 int n_nz, float *const *out) {
  int i = 0;
  for (; i + MANY_G <= n; i += MANY_G) forward_g(MANY_G, m + i, h, no, x, nz, n_nz, out + i);
  for (; i < n; i++) forward_g(1, m + i, h, no, x, nz, n_nz, out + i);
}

EAHAS_HOT
void eahas__mlp_forward_many(const eahas_mlp *const *m, int n, const float *x, float *const *out) {
  if (n < 1) return;
  const eahas_mlp *m0 = m[0];
  for (int i = 1; i < n; i++)
    if (m[i]->n_arch != m0->n_arch || m[i]->n_hp != m0->n_hp || m[i]->hidden != m0->hidden ||
        m[i]->n_out != m0->n_out || m[i]->n_sigmoid != m0->n_sigmoid) {
      for (int j = 0; j < n; j++) eahas_mlp_forward(m[j], x, out[j]);
      return;
    }
  /* the hyperparameter inputs are one-hot: their nonzero entries, listed without branches */
  int nz[64], n_nz = 0;
  for (int i = 0; i < m0->n_hp; i++) {
    nz[n_nz] = i;
    n_nz += x[m0->n_arch + i] != 0.0f;
  }
  /* the common shapes with widths known at compile time (degree 5: 10 outputs per curve kind;
   * 40 for a network shared by the 4 kinds) */
  if (m0->hidden == 32 && m0->n_out == 40) forward_many_h(m, n, 32, 40, x, nz, n_nz, out);
  else if (m0->hidden == 32 && m0->n_out == 10) forward_many_h(m, n, 32, 10, x, nz, n_nz, out);
  else if (m0->hidden == 16 && m0->n_out == 10) forward_many_h(m, n, 16, 10, x, nz, n_nz, out);
  else if (m0->hidden == 64 && m0->n_out == 10) forward_many_h(m, n, 64, 10, x, nz, n_nz, out);
  else if (m0->hidden == 32) forward_many_h(m, n, 32, m0->n_out, x, nz, n_nz, out);
  else forward_many_h(m, n, m0->hidden, m0->n_out, x, nz, n_nz, out);
  for (int j = 0; j < n; j++)
    for (int o = 0; o < m0->n_sigmoid; o++) out[j][o] = sigmoidf(out[j][o]);
}

/* ---- one MLP on a block of inputs (batch queries) ------------------------------------- */

/* Activations are feature-major, Q = EAHAS__MLP_BLOCK queries side by side (x[i * Q + q]), so a
 * layer is, per block of 8 outputs, a sum over inputs of (Q-vector of x_i) * broadcast w[i, o]:
 * each weight is read once per Q queries and the 8 x Q accumulators stay in registers. Every
 * output is b + x[0] w[0] + x[1] w[1] + ... in index order with separate multiply and add, every
 * input used: eahas_mlp_forward's sums bit for bit. */
#define Q EAHAS__MLP_BLOCK
#define OB 8

/* 16 floats are one AVX-512 register. Without AVX-512 the block is written again with AVX2
 * intrinsics below (GCC's lowering of these 16-float vectors for AVX2 kept them in 128-bit
 * pieces on the stack: twice as slow as one query at a time); without either the block path is
 * declined (-1) and queries go one at a time. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BLOCK_X86 1
#define BLOCK_TARGET __attribute__((target("avx512f")))
#else
#define BLOCK_TARGET
#endif

/* Q floats as one GCC/Clang vector: 512-bit in the x86-64-v4 clone, split into halves or quarters
 * elsewhere. The element-wise * and + are the scalar operations, rounding included. */
typedef float vq __attribute__((vector_size(Q * sizeof(float))));
typedef int32_t vqi __attribute__((vector_size(Q * sizeof(float))));

/* Loads and stores through memcpy (no alignment assumed); ReLU as a mask: x > 0 keeps x, else +0,
 * as the scalar path's (x > 0 ? x : 0). Macros, since a function returning a 512-bit vector
 * changes the ABI outside the AVX-512 clone. */
/* b in every element, -0 kept (0 + b would turn a -0 bias into +0, unlike the scalar path) */
BLOCK_TARGET static inline __attribute__((always_inline)) vq splat(float b) {
  vq v;
  for (int q = 0; q < Q; q++) v[q] = b;
  return v;
}

#define LOAD_Q(v, p) memcpy(&(v), (p), sizeof(vq))
#define STORE_Q(p, v, relu)                                               \
  do {                                                                    \
    vq v_ = (v);                                                          \
    if (relu) v_ = (vq)((vqi)v_ & (vqi)(v_ > 0.0f));                      \
    memcpy((p), &v_, sizeof(vq));                                         \
  } while (0)

/* rows[0..n): x is feature-major (row i = input i of the Q queries); nz lists the rows used
 * (NULL: all nin). */
BLOCK_TARGET static inline __attribute__((always_inline)) void dense_q(const float *restrict x, int nin, const int *nz,
                                                                       const float *restrict W,
                                                                       const float *restrict b, const int nout,
                                                                       float *restrict y, int relu) {
  int o0 = 0;
  for (; o0 + OB <= nout; o0 += OB) {
    vq acc[OB];
    for (int o = 0; o < OB; o++) acc[o] = splat(b[o0 + o]);
    for (int k = 0; k < nin; k++) {
      const int i = nz ? nz[k] : k;
      vq xi;
      LOAD_Q(xi, x + (size_t)i * Q);
      const float *restrict w = W + (size_t)i * nout + o0;
      for (int o = 0; o < OB; o++) acc[o] += xi * w[o];
    }
    for (int o = 0; o < OB; o++) STORE_Q(y + (size_t)(o0 + o) * Q, acc[o], relu);
  }
  for (; o0 < nout; o0++) { /* the tail of fewer than 8 outputs */
    vq acc = splat(b[o0]);
    for (int k = 0; k < nin; k++) {
      const int i = nz ? nz[k] : k;
      vq xi;
      LOAD_Q(xi, x + (size_t)i * Q);
      acc += xi * W[(size_t)i * nout + o0];
    }
    STORE_Q(y + (size_t)o0 * Q, acc, relu);
  }
}

/* The rows of x (nin rows of Q) with a nonzero entry, listed without branches; returns their
 * count. Hidden units that the ReLU zeroed for all 16 queries (a third of them here) need no
 * multiply-adds: leaving out a zero input changes no sum except the sign of a zero sum, and the
 * ReLU after the layer maps -0 and +0 alike to +0, so this is used only before a ReLU. */
BLOCK_TARGET static inline __attribute__((always_inline)) int live_rows(const float *x, int nin, int *nz) {
  int n = 0;
  for (int i = 0; i < nin; i++) {
#ifdef BLOCK_X86
    int any = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + (size_t)i * Q), _mm512_setzero_ps(), _CMP_NEQ_UQ) != 0;
#else
    int any = 0;
    for (int q = 0; q < Q; q++) any |= x[(size_t)i * Q + q] != 0.0f;
#endif
    nz[n] = i;
    n += any;
  }
  return n;
}

/* The layers of one block: the same for both instruction sets, DENSE and LIVE being theirs. */
#define FORWARD_Q(DENSE, LIVE)                                                                        \
  do {                                                                                                \
    float c[2 * EAHAS_MLP_MAX_HIDDEN * Q], z1[EAHAS_MLP_MAX_HIDDEN * Q], z2[EAHAS_MLP_MAX_HIDDEN * Q]; \
    int nz[2 * EAHAS_MLP_MAX_HIDDEN], n;                                                              \
    DENSE(xT, m->n_arch, NULL, m->Wa, m->ba, h, c, 1);                                                \
    DENSE(xT + (size_t)m->n_arch * Q, m->n_hp, NULL, m->Wh, m->bh, h, c + (size_t)h * Q, 1);          \
    n = LIVE(c, 2 * h, nz);                                                                           \
    DENSE(c, n, nz, m->W1, m->b1, h, z1, 1);                                                          \
    n = LIVE(z1, h, nz);                                                                              \
    DENSE(z1, n, nz, m->W2, m->b2, h, z2, 1);                                                         \
    n = LIVE(z2, h, nz);                                                                              \
    DENSE(z2, n, nz, m->W3, m->b3, h, z1, 1);                                                         \
    DENSE(z1, h, NULL, m->Wo, m->bo, no, outT, 0); /* no ReLU after: every input used */              \
  } while (0)

/* The widths in use compiled as constants, then the sigmoid outputs. */
#define FORWARD_BLOCK(FQ)                                                                             \
  do {                                                                                                \
    if (m->hidden == 32 && m->n_out == 40) FQ(m, 32, 40, xT, outT);                                   \
    else if (m->hidden == 32 && m->n_out == 10) FQ(m, 32, 10, xT, outT);                              \
    else if (m->hidden == 16 && m->n_out == 10) FQ(m, 16, 10, xT, outT);                              \
    else if (m->hidden == 64 && m->n_out == 10) FQ(m, 64, 10, xT, outT);                              \
    else FQ(m, m->hidden, m->n_out, xT, outT);                                                        \
    for (int o = 0; o < m->n_sigmoid; o++)                                                            \
      for (int q = 0; q < Q; q++) outT[(size_t)o * Q + q] = sigmoidf(outT[(size_t)o * Q + q]);        \
  } while (0)

BLOCK_TARGET static inline __attribute__((always_inline)) void forward_q(const eahas_mlp *m, const int h, const int no,
                                                                         const float *xT, float *outT) {
  FORWARD_Q(dense_q, live_rows);
}

BLOCK_TARGET
static void forward_block(const eahas_mlp *m, const float *xT, float *outT) { FORWARD_BLOCK(forward_q); }

#ifdef BLOCK_X86
/* AVX2: a block of 16 queries is two registers of 8; 4 outputs per pass keep their 8
 * accumulators in registers (16 in all). The same sums: b, then + x_i * w_i in index order, with
 * separate multiply and add. */
#define AVX2_TARGET __attribute__((target("avx2")))
#define OB2 4

AVX2_TARGET static inline __attribute__((always_inline)) void dense_avx2(const float *restrict x, int nin,
                                                                         const int *nz, const float *restrict W,
                                                                         const float *restrict b, const int nout,
                                                                         float *restrict y, int relu) {
  const __m256 zero = _mm256_setzero_ps();
  int o0 = 0;
  for (; o0 < nout; o0 += OB2) {
    const int nb = nout - o0 < OB2 ? nout - o0 : OB2; /* OB2, or the tail */
    __m256 lo[OB2], hi[OB2];
    for (int o = 0; o < OB2; o++) lo[o] = hi[o] = _mm256_set1_ps(o < nb ? b[o0 + o] : 0.0f);
    for (int k = 0; k < nin; k++) {
      const int i = nz ? nz[k] : k;
      const __m256 x0 = _mm256_loadu_ps(x + (size_t)i * Q), x1 = _mm256_loadu_ps(x + (size_t)i * Q + 8);
      const float *restrict w = W + (size_t)i * nout + o0;
      if (nb == OB2)
        for (int o = 0; o < OB2; o++) {
          const __m256 wo = _mm256_set1_ps(w[o]);
          lo[o] = _mm256_add_ps(lo[o], _mm256_mul_ps(x0, wo));
          hi[o] = _mm256_add_ps(hi[o], _mm256_mul_ps(x1, wo));
        }
      else
        for (int o = 0; o < nb; o++) {
          const __m256 wo = _mm256_set1_ps(w[o]);
          lo[o] = _mm256_add_ps(lo[o], _mm256_mul_ps(x0, wo));
          hi[o] = _mm256_add_ps(hi[o], _mm256_mul_ps(x1, wo));
        }
    }
    for (int o = 0; o < nb; o++) {
      if (relu) { /* x > 0 keeps x, else +0 */
        lo[o] = _mm256_and_ps(lo[o], _mm256_cmp_ps(lo[o], zero, _CMP_GT_OQ));
        hi[o] = _mm256_and_ps(hi[o], _mm256_cmp_ps(hi[o], zero, _CMP_GT_OQ));
      }
      _mm256_storeu_ps(y + (size_t)(o0 + o) * Q, lo[o]);
      _mm256_storeu_ps(y + (size_t)(o0 + o) * Q + 8, hi[o]);
    }
  }
}

/* live_rows with AVX2 compares (x != 0, unordered: NaN counts as nonzero, as in C). */
AVX2_TARGET static inline __attribute__((always_inline)) int live_rows_avx2(const float *x, int nin, int *nz) {
  int n = 0;
  const __m256 zero = _mm256_setzero_ps();
  for (int i = 0; i < nin; i++) {
    __m256 ne = _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + (size_t)i * Q), zero, _CMP_NEQ_UQ),
                             _mm256_cmp_ps(_mm256_loadu_ps(x + (size_t)i * Q + 8), zero, _CMP_NEQ_UQ));
    nz[n] = i;
    n += _mm256_movemask_ps(ne) != 0;
  }
  return n;
}

AVX2_TARGET static inline __attribute__((always_inline)) void forward_q_avx2(const eahas_mlp *m, const int h,
                                                                             const int no, const float *xT,
                                                                             float *outT) {
  FORWARD_Q(dense_avx2, live_rows_avx2);
}

AVX2_TARGET static void forward_block_avx2(const eahas_mlp *m, const float *xT, float *outT) {
  FORWARD_BLOCK(forward_q_avx2);
}
#endif

int eahas__mlp_block_path = EAHAS__MLP_BLOCK_AUTO;

int eahas__mlp_forward_block(const eahas_mlp *m, const float *xT, float *outT) {
#ifdef BLOCK_X86
  /* libgcc fills the CPU model before constructors run: read-only tests, safe from any thread */
  int want = eahas__mlp_block_path;
  if (want != EAHAS__MLP_BLOCK_AVX2 && __builtin_cpu_supports("avx512f")) {
    forward_block(m, xT, outT);
    return 0;
  }
  if (want != EAHAS__MLP_BLOCK_AVX512 && __builtin_cpu_supports("avx2")) {
    forward_block_avx2(m, xT, outT);
    return 0;
  }
  return -1;
#else
  (void)m;
  (void)xT;
  (void)outT;
  return -1;
#endif
}
#undef Q
#undef OB
#undef OB2
#undef FORWARD_Q
#undef FORWARD_BLOCK
#undef LOAD_Q
#undef STORE_Q

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
