/* Bezier learning curves (REFERENCE.md §6; EA-HAS-Bench's BSC): fitting with chord-length
 * parameters, pinned endpoints and parameter correction, and decoding at integer epochs by
 * solving x(t) = j on a monotone x(t). Written from the definitions (Farin, "Curves and Surfaces
 * for CAGD", ch. 4 and the least-squares section; Hoschek's parameter correction). */
#include <math.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/internal.h"

/* The portable decoding path is compiled three times on x86-64 with GCC or Clang (baseline,
 * x86-64-v3, x86-64-v4: see decode_portable) and the best one for the CPU is picked at run time.
 * -std=c11 keeps -ffp-contract=off and the Newton steps use C99 fma(), exactly rounded, so every
 * copy gives the same values: results do not depend on the CPU. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DECODE_X86 1
#endif

static const double BINOM[EAHAS_BEZIER_MAX_DEGREE + 1][EAHAS_BEZIER_MAX_DEGREE + 1] = {
  {1}, {1, 1}, {1, 2, 1}, {1, 3, 3, 1}, {1, 4, 6, 4, 1}, {1, 5, 10, 10, 5, 1},
  {1, 6, 15, 20, 15, 6, 1}, {1, 7, 21, 35, 35, 21, 7, 1}, {1, 8, 28, 56, 70, 56, 28, 8, 1}};

/* Bernstein basis B_{k,n}(t), k = 0..n. */
static void bernstein(int n, double t, double *B) {
  double tp[EAHAS_BEZIER_MAX_DEGREE + 1], sp[EAHAS_BEZIER_MAX_DEGREE + 1];
  tp[0] = sp[0] = 1.0;
  for (int k = 1; k <= n; k++) {
    tp[k] = tp[k - 1] * t;
    sp[k] = sp[k - 1] * (1.0 - t);
  }
  for (int k = 0; k <= n; k++) B[k] = BINOM[n][k] * tp[k] * sp[n - k];
}

void eahas_bezier_point(const eahas_bezier *b, double t, double *u, double *y) {
  double pu[EAHAS_BEZIER_MAX_DEGREE + 1], py[EAHAS_BEZIER_MAX_DEGREE + 1];
  int n = b->degree;
  memcpy(pu, b->u, sizeof(double) * (size_t)(n + 1));
  memcpy(py, b->y, sizeof(double) * (size_t)(n + 1));
  for (int r = 1; r <= n; r++)
    for (int k = 0; k <= n - r; k++) {
      pu[k] = (1 - t) * pu[k] + t * pu[k + 1];
      py[k] = (1 - t) * py[k] + t * py[k + 1];
    }
  if (u) *u = pu[0];
  if (y) *y = py[0];
}

void eahas_bezier_make_monotone(eahas_bezier *b) {
  /* Pool adjacent violators over the whole sequence u[0..n] with u[0] = 0 and u[n] = 1 held:
   * blocks of equal values replace every decreasing run by its mean, the least-squares
   * non-decreasing fit. Clamping to [0, 1] afterwards keeps it non-decreasing. */
  int n = b->degree;
  double val[EAHAS_BEZIER_MAX_DEGREE + 1];
  int cnt[EAHAS_BEZIER_MAX_DEGREE + 1];
  int nb = 0;
  for (int k = 1; k < n; k++) {
    double v = b->u[k];
    if (!isfinite(v)) v = (double)k / n;
    val[nb] = v;
    cnt[nb] = 1;
    nb++;
    while (nb > 1 && val[nb - 2] > val[nb - 1]) {
      val[nb - 2] = (val[nb - 2] * cnt[nb - 2] + val[nb - 1] * cnt[nb - 1]) / (cnt[nb - 2] + cnt[nb - 1]);
      cnt[nb - 2] += cnt[nb - 1];
      nb--;
    }
  }
  int k = 1;
  for (int i = 0; i < nb; i++)
    for (int c = 0; c < cnt[i]; c++, k++) {
      double v = val[i];
      b->u[k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  b->u[0] = 0.0;
  b->u[n] = 1.0;
}

/* Power-basis coefficients c[0..n] of a 1-D Bezier with control points p (so Horner applies). */
static void to_power(int n, const double *p, double *c) {
  for (int k = 0; k <= n; k++) {
    double s = 0;
    for (int i = 0; i <= k; i++) s += (((k - i) & 1) ? -1.0 : 1.0) * BINOM[k][i] * p[i];
    c[k] = BINOM[n][k] * s;
  }
}

static inline double horner(int n, const double *c, double t) {
  double v = c[n];
  for (int k = n - 1; k >= 0; k--) v = v * t + c[k];
  return v;
}

/* u(t) and u'(t) together. */
static inline double horner_d(int n, const double *c, double t, double *d) {
  double v = c[n], dv = 0;
  for (int k = n - 1; k >= 0; k--) {
    dv = dv * t + v;
    v = v * t + c[k];
  }
  *d = dv;
  return v;
}

/* Solves u(t) = s on [lo, 1] for monotone u, starting from t0; safeguarded Newton. */
static double solve_t(int n, const double *cu, double s, double lo, double t0) {
  double hi = 1.0, t = t0;
  if (t < lo || t > hi) t = 0.5 * (lo + hi);
  for (int it = 0; it < 60; it++) {
    double d, f = horner_d(n, cu, t, &d) - s;
    if (f > 0) hi = t;
    else lo = t;
    if (fabs(f) < 1e-13) return t;
    double tn = (d > 0) ? t - f / d : -1.0;
    if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
    if (fabs(tn - t) < 1e-15) return tn;
    t = tn;
  }
  return t;
}

#define DECODE_TABLE 64

/* Two safeguarded Newton steps for every point, then y: the points are independent, and with the
 * degree a constant (see the switch below) the inner loops unroll and the loop over points
 * vectorizes. Horner's steps are C99 fma(), which is exactly rounded by definition: one
 * instruction in the x86-64-v3/v4 clones and in decode_avx512 (same values bit for bit), libm's
 * exact software fma in the default clone (x86 CPUs before 2013: slower, same values). Fused
 * steps cut decoding's multiply-add work in half (batch queries 1.07-1.12x faster). */
static inline __attribute__((always_inline)) void newton_pass(const int n, const double *restrict cu,
                                                                 const double *restrict cy, int m,
                                                                 const double *restrict s,
                                                                 const double *restrict lo,
                                                                 const double *restrict hi,
                                                                 const double *restrict t, float *restrict out) {
  for (int j = 0; j < m; j++) {
    double tj = t[j];
    for (int it = 0; it < 2; it++) {
      double v = cu[n], dv = 0;
      for (int k = n - 1; k >= 0; k--) {
        dv = fma(dv, tj, v);
        v = fma(v, tj, cu[k]);
      }
      /* branch-free so that the loop vectorizes: a flat u (dv = 0) keeps tj */
      double ok = dv > 0 ? 1.0 : 0.0, den = dv > 0 ? dv : 1.0;
      double tn = tj - ok * ((v - s[j]) / den);
      tn = tn < lo[j] ? lo[j] : tn;
      tj = tn > hi[j] ? hi[j] : tn;
    }
    double y = cy[n];
    for (int k = n - 1; k >= 0; k--) y = fma(y, tj, cy[k]);
    out[j] = (float)y;
  }
}

/* The table of u at t = k / 64, with the degree a constant so that it vectorizes (Horner in the
 * same order as horner(): the same values). */
static inline __attribute__((always_inline)) void u_table(const int n, const double *restrict cu,
                                                             double *restrict tu) {
  for (int k = 0; k <= DECODE_TABLE; k++) {
    double t = (double)k / DECODE_TABLE, v = cu[n];
    for (int i = n - 1; i >= 0; i--) v = v * t + cu[i];
    tu[k] = v;
  }
}

/* A coarse table of u at uniform t brackets every root of u(t) = s; inverse linear
 * interpolation starts two Newton steps kept inside the bracket. Inlined into each path, so
 * that it is vectorized with that path's instructions. */
#define FILL_TABLE(J)                                   \
  do {                                                  \
    switch ((J)->n) {                                   \
    case 3: u_table(3, (J)->cu, (J)->tu); break;        \
    case 4: u_table(4, (J)->cu, (J)->tu); break;        \
    case 5: u_table(5, (J)->cu, (J)->tu); break;        \
    case 6: u_table(6, (J)->cu, (J)->tu); break;        \
    case 7: u_table(7, (J)->cu, (J)->tu); break;        \
    default: u_table(8, (J)->cu, (J)->tu); break;       \
    }                                                   \
    (J)->tu[0] = 0.0;                                   \
    (J)->tu[DECODE_TABLE] = 1.0;                        \
  } while (0)

/* The inner points of one decoding, shared by both paths: the table tu of u at t = k / 64
 * (filled by each path; tu[0] = 0, tu[64] = 1), the grid step ds = 1 / (L - 1), the
 * m = L - 2 interior points of the full curve and the me <= m of them inside the prefix. */
typedef struct decode_job {
  int n, m, me;
  double ds;
  double cu[EAHAS_BEZIER_MAX_DEGREE + 1], cy[EAHAS_BEZIER_MAX_DEGREE + 1];
  double tu[DECODE_TABLE + 1 + 15]; /* + 15: read (not used) by decode_avx512's window loads */
} decode_job;

/* The portable path: plain C that the compiler vectorizes, inlined into one copy per
 * instruction set below. */
static inline __attribute__((always_inline)) void decode_portable(decode_job *J, float *out) {
  FILL_TABLE(J);
  const int n = J->n, m = J->m, me = J->me;
  const double ds = J->ds, *tu = J->tu;
  double s[EAHAS_MAX_EPOCHS], lo[EAHAS_MAX_EPOCHS], hi[EAHAS_MAX_EPOCHS], t[EAHAS_MAX_EPOCHS];
  int k = 0;
  /* The bracket of point j is k_j = #{i in 1..63 : tu[i] < s_j} (tu is non-decreasing): each
   * table entry i is counted from the first point whose s_j exceeds it, found from tu[i] / ds
   * and corrected with the exact comparison; then a running sum. (A merge of points and table,
   * advancing k while tu[k + 1] < s_j, gives the same k but mispredicts a branch at every table
   * step.) */
  int from[EAHAS_MAX_EPOCHS + 1];
  for (int j = 0; j <= m; j++) from[j] = 0;
  for (int i = 1; i < DECODE_TABLE; i++) {
    double q = tu[i] / ds;
    int j = q > 0 ? (q < m ? (int)q : m) : 0; /* near the first j with tu[i] < (j + 1) ds */
    while (j > 0 && tu[i] < j * ds) j--;
    while (j < m && !(tu[i] < (j + 1) * ds)) j++;
    from[j]++;
  }
  for (int j = 0; j < me; j++) {
    double sj = (j + 1) * ds;
    k += from[j];
    double a = (double)k / DECODE_TABLE, c = (double)(k + 1) / DECODE_TABLE, du = tu[k + 1] - tu[k];
    s[j] = sj;
    lo[j] = a;
    hi[j] = c;
    t[j] = du > 0 ? a + (sj - tu[k]) / du * (c - a) : 0.5 * (a + c);
  }
  const double *cu = J->cu, *cy = J->cy;
  switch (n) {
  case 3: newton_pass(3, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 4: newton_pass(4, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 5: newton_pass(5, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 6: newton_pass(6, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 7: newton_pass(7, cu, cy, me, s, lo, hi, t, out + 1); break;
  default: newton_pass(8, cu, cy, me, s, lo, hi, t, out + 1); break;
  }
}

/* The copies of the portable path. Explicit copies rather than target_clones, so that a test can
 * run each one (eahas__bezier_path) whatever CPU picks: the baseline copy calls libm's fma (exact
 * in software on x86 CPUs without FMA), the others use the FMA instruction. */
static void decode_base(decode_job *J, float *out) { decode_portable(J, out); }
#ifdef DECODE_X86
__attribute__((target("arch=x86-64-v3"))) static void decode_v3(decode_job *J, float *out) {
  decode_portable(J, out);
}
__attribute__((target("arch=x86-64-v4"))) static void decode_v4(decode_job *J, float *out) {
  decode_portable(J, out);
}
#endif

#ifdef DECODE_X86
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512vl,fma")))
#define NV 3 /* vectors of 8 points per Newton iteration: independent chains for the pipelines */

/* The same operations as decode_portable, in the same order on every point, written with
 * AVX-512 intrinsics: the bracket count vectorized over table entries, prefix sums of the
 * brackets, the starts over points (table values from a window and permutes, or gathers), the
 * Newton steps over NV x 8 points at a time. Measured 1.2-1.4x faster than GCC's vectorization
 * of the generic path (docs/PERFORMANCE-surrogate.md), mostly by removing scalar loops.
 * Each C ternary becomes a compare (ordered, so NaN compares false as in C) and a blend. */
AVX512 static inline __attribute__((always_inline)) void newton_avx512(const int n, const decode_job *J,
                                                                       const double *s, const double *lo,
                                                                       const double *hi, const double *t,
                                                                       float *out) {
  __m512d cu[EAHAS_BEZIER_MAX_DEGREE + 1], cy[EAHAS_BEZIER_MAX_DEGREE + 1];
  _Pragma("GCC unroll 9") for (int k = 0; k <= n; k++) {
    cu[k] = _mm512_set1_pd(J->cu[k]);
    cy[k] = _mm512_set1_pd(J->cy[k]);
  }
  const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
  for (int j = 0; j < J->me; j += 8 * NV) {
    __m512d tj[NV], sv[NV], a[NV], c[NV];
    _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
      tj[q] = _mm512_loadu_pd(t + j + 8 * q);
      sv[q] = _mm512_loadu_pd(s + j + 8 * q);
      a[q] = _mm512_loadu_pd(lo + j + 8 * q);
      c[q] = _mm512_loadu_pd(hi + j + 8 * q);
    }
    _Pragma("GCC unroll 2") for (int it = 0; it < 2; it++) {
      __m512d v[NV], dv[NV];
      _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
        v[q] = cu[n];
        dv[q] = zero;
      }
      _Pragma("GCC unroll 9") for (int k = n - 1; k >= 0; k--)
        _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
          dv[q] = _mm512_fmadd_pd(dv[q], tj[q], v[q]);
          v[q] = _mm512_fmadd_pd(v[q], tj[q], cu[k]);
        }
      _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
        __mmask8 pos = _mm512_cmp_pd_mask(dv[q], zero, _CMP_GT_OQ);
        __m512d ok = _mm512_mask_blend_pd(pos, zero, one), den = _mm512_mask_blend_pd(pos, one, dv[q]);
        __m512d tn = _mm512_sub_pd(tj[q], _mm512_mul_pd(ok, _mm512_div_pd(_mm512_sub_pd(v[q], sv[q]), den)));
        tn = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(tn, a[q], _CMP_LT_OQ), tn, a[q]);
        tj[q] = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(tn, c[q], _CMP_GT_OQ), tn, c[q]);
      }
    }
    __m512d y[NV];
    _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) y[q] = cy[n];
    _Pragma("GCC unroll 9") for (int k = n - 1; k >= 0; k--)
      _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) y[q] = _mm512_fmadd_pd(y[q], tj[q], cy[k]);
    _Pragma("GCC unroll 4") for (int q = 0; q < NV; q++) {
      int r = J->me - j - 8 * q; /* points of this vector inside the prefix */
      if (r > 0) _mm256_mask_storeu_ps(out + j + 8 * q, r >= 8 ? 0xff : (__mmask8)((1u << r) - 1), _mm512_cvtpd_ps(y[q]));
    }
  }
}

AVX512 static void decode_avx512(decode_job *J, float *out) {
  FILL_TABLE(J);
  for (int i = DECODE_TABLE + 1; i < DECODE_TABLE + 16; i++) J->tu[i] = 1.0; /* the window loads' tail */
  const int m = J->m, me = J->me;
  const double *tu = J->tu;
  const __m256i vm = _mm256_set1_epi32(m), z = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  const __m512d vds = _mm512_set1_pd(J->ds), vL1 = _mm512_set1_pd((double)(m + 1)) /* L - 1 */, vmd = _mm512_set1_pd((double)m);
  /* idx[i - 1] = #{j in 1..m : j ds <= tu[i]} for i = 1..63: the scalar loop's answer (its
   * corrections stop exactly there). The guess g = floor(min(tu[i] (L - 1), m)) is within one of
   * it; the four boundaries g - 1 .. g + 2 are compared exactly. (A NaN in the table may get
   * another bracket than the scalar loop gives it, but its curve decodes to NaN either way.)
   * Lanes for i = 64 are computed and ignored. */
  int idx[DECODE_TABLE];
  for (int i = 1; i < DECODE_TABLE; i += 8) {
    __m512d x = _mm512_loadu_pd(tu + i);
    __m512d q = _mm512_max_pd(_mm512_min_pd(_mm512_mul_pd(x, vL1), vmd), _mm512_setzero_pd());
    __m256i g = _mm512_cvttpd_epi32(q);
    __m256i cnt = _mm256_max_epi32(_mm256_sub_epi32(g, _mm256_set1_epi32(2)), z);
    _Pragma("GCC unroll 4") for (int d = -1; d <= 2; d++) {
      __m256i jj = _mm256_add_epi32(g, _mm256_set1_epi32(d));
      __mmask8 in = _mm256_cmpge_epi32_mask(jj, one) & _mm256_cmple_epi32_mask(jj, vm);
      __mmask8 le = _mm512_cmp_pd_mask(_mm512_mul_pd(_mm512_cvtepi32_pd(jj), vds), x, _CMP_LE_OQ);
      cnt = _mm256_mask_add_epi32(cnt, in & le, cnt, one);
    }
    _mm256_storeu_si256((__m256i *)(idx + i - 1), cnt);
  }
  /* Brackets K[j] = from[0] + .. + from[j], for whole groups of NV x 8 points (those past me are
   * computed, not stored; every K is in 0..63, a valid table index): a histogram, then prefix
   * sums 16 at a time (four shifted adds and the previous vector's last lane). A scalar running
   * sum spent a third of its time waiting on the histogram's stores. */
  enum { PAD = 8 * NV + 16 };
  int mp = (me + 8 * NV - 1) / (8 * NV) * (8 * NV), np = (mp + 15) / 16 * 16;
  int from[EAHAS_MAX_EPOCHS + PAD], K[EAHAS_MAX_EPOCHS + PAD];
  memset(from, 0, sizeof(int) * (size_t)(np > m + 1 ? np : m + 1));
  for (int i = 0; i < DECODE_TABLE - 1; i++) from[idx[i]]++;
  __m512i carry = _mm512_setzero_si512();
  const __m512i zi = _mm512_setzero_si512(), last = _mm512_set1_epi32(15);
  for (int j = 0; j < np; j += 16) {
    __m512i x = _mm512_loadu_si512(from + j);
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zi, 15)); /* + the lane 1 below */
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zi, 14)); /* + 2 below */
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zi, 12)); /* + 4 below */
    x = _mm512_add_epi32(x, _mm512_alignr_epi32(x, zi, 8));  /* + 8 below */
    x = _mm512_add_epi32(x, carry);
    _mm512_storeu_si512(K + j, x);
    carry = _mm512_permutexvar_epi32(last, x);
  }
  double s[EAHAS_MAX_EPOCHS + PAD], lo[EAHAS_MAX_EPOCHS + PAD], hi[EAHAS_MAX_EPOCHS + PAD], t[EAHAS_MAX_EPOCHS + PAD];
  const __m512d inv = _mm512_set1_pd(1.0 / DECODE_TABLE), half = _mm512_set1_pd(0.5), zero = _mm512_setzero_pd();
  const __m256i lane = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8);
  for (int j = 0; j < mp; j += 8) {
    __m256i kk = _mm256_loadu_si256((const __m256i *)(K + j)), k1 = _mm256_add_epi32(kk, one);
    __m512d sj = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm256_add_epi32(lane, _mm256_set1_epi32(j))), vds);
    __m512d a = _mm512_mul_pd(_mm512_cvtepi32_pd(kk), inv), c = _mm512_mul_pd(_mm512_cvtepi32_pd(k1), inv);
    /* tu[k] and tu[k + 1]: the brackets of 8 neighbouring points usually span fewer than 15
     * table entries (K is non-decreasing), so two loads and two permutes replace two gathers,
     * which are slow on AMD */
    __m512d t0, t1;
    int k0 = K[j];
    if (K[j + 7] - k0 < 15) {
      __m512d w0 = _mm512_loadu_pd(tu + k0), w1 = _mm512_loadu_pd(tu + k0 + 8);
      __m512i off = _mm512_cvtepi32_epi64(_mm256_sub_epi32(kk, _mm256_set1_epi32(k0)));
      t0 = _mm512_permutex2var_pd(w0, off, w1);
      t1 = _mm512_permutex2var_pd(w0, _mm512_add_epi64(off, _mm512_set1_epi64(1)), w1);
    } else {
      t0 = _mm512_i32gather_pd(kk, tu, 8);
      t1 = _mm512_i32gather_pd(k1, tu, 8);
    }
    __m512d du = _mm512_sub_pd(t1, t0);
    __m512d lin = _mm512_add_pd(a, _mm512_mul_pd(_mm512_div_pd(_mm512_sub_pd(sj, t0), du), _mm512_sub_pd(c, a)));
    __m512d mid = _mm512_mul_pd(half, _mm512_add_pd(a, c));
    _mm512_storeu_pd(s + j, sj);
    _mm512_storeu_pd(lo + j, a);
    _mm512_storeu_pd(hi + j, c);
    _mm512_storeu_pd(t + j, _mm512_mask_blend_pd(_mm512_cmp_pd_mask(du, zero, _CMP_GT_OQ), mid, lin));
  }
  switch (J->n) {
  case 3: newton_avx512(3, J, s, lo, hi, t, out + 1); break;
  case 4: newton_avx512(4, J, s, lo, hi, t, out + 1); break;
  case 5: newton_avx512(5, J, s, lo, hi, t, out + 1); break;
  case 6: newton_avx512(6, J, s, lo, hi, t, out + 1); break;
  case 7: newton_avx512(7, J, s, lo, hi, t, out + 1); break;
  default: newton_avx512(8, J, s, lo, hi, t, out + 1); break;
  }
}
#endif

#ifdef DECODE_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define NV2 4 /* vectors of 4 points per Newton iteration */

/* newton_avx512 with 4 points per vector (AVX2 and FMA): the same operations in the same order.
 * A C ternary becomes an ordered compare and a blend. */
AVX2 static inline __attribute__((always_inline)) void newton_avx2(const int n, const decode_job *J, const double *s,
                                                                   const double *lo, const double *hi,
                                                                   const double *t, float *out) {
  __m256d cu[EAHAS_BEZIER_MAX_DEGREE + 1], cy[EAHAS_BEZIER_MAX_DEGREE + 1];
  _Pragma("GCC unroll 9") for (int k = 0; k <= n; k++) {
    cu[k] = _mm256_set1_pd(J->cu[k]);
    cy[k] = _mm256_set1_pd(J->cy[k]);
  }
  const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
  const __m128i lane = _mm_setr_epi32(0, 1, 2, 3);
  for (int j = 0; j < J->me; j += 4 * NV2) {
    __m256d tj[NV2], sv[NV2], a[NV2], c[NV2];
    _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) {
      tj[q] = _mm256_loadu_pd(t + j + 4 * q);
      sv[q] = _mm256_loadu_pd(s + j + 4 * q);
      a[q] = _mm256_loadu_pd(lo + j + 4 * q);
      c[q] = _mm256_loadu_pd(hi + j + 4 * q);
    }
    _Pragma("GCC unroll 2") for (int it = 0; it < 2; it++) {
      __m256d v[NV2], dv[NV2];
      _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) {
        v[q] = cu[n];
        dv[q] = zero;
      }
      _Pragma("GCC unroll 9") for (int k = n - 1; k >= 0; k--)
        _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) {
          dv[q] = _mm256_fmadd_pd(dv[q], tj[q], v[q]);
          v[q] = _mm256_fmadd_pd(v[q], tj[q], cu[k]);
        }
      _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) {
        __m256d pos = _mm256_cmp_pd(dv[q], zero, _CMP_GT_OQ);
        __m256d ok = _mm256_blendv_pd(zero, one, pos), den = _mm256_blendv_pd(one, dv[q], pos);
        __m256d tn = _mm256_sub_pd(tj[q], _mm256_mul_pd(ok, _mm256_div_pd(_mm256_sub_pd(v[q], sv[q]), den)));
        tn = _mm256_blendv_pd(tn, a[q], _mm256_cmp_pd(tn, a[q], _CMP_LT_OQ));
        tj[q] = _mm256_blendv_pd(tn, c[q], _mm256_cmp_pd(tn, c[q], _CMP_GT_OQ));
      }
    }
    __m256d y[NV2];
    _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) y[q] = cy[n];
    _Pragma("GCC unroll 9") for (int k = n - 1; k >= 0; k--)
      _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) y[q] = _mm256_fmadd_pd(y[q], tj[q], cy[k]);
    _Pragma("GCC unroll 4") for (int q = 0; q < NV2; q++) {
      int r = J->me - j - 4 * q; /* points of this vector inside the prefix */
      if (r >= 4) _mm_storeu_ps(out + j + 4 * q, _mm256_cvtpd_ps(y[q]));
      else if (r > 0) _mm_maskstore_ps(out + j + 4 * q, _mm_cmpgt_epi32(_mm_set1_epi32(r), lane), _mm256_cvtpd_ps(y[q]));
    }
  }
}

/* decode_portable's steps with AVX2 intrinsics, as decode_avx512 takes them: the table over 4
 * entries at a time (a multiply and an add per Horner step, as u_table), the bracket count over
 * table entries (the guess and four exact compares of decode_avx512), the histogram and its
 * running sum in scalar code, the starts with gathers, the Newton steps over NV2 x 4 points. */
AVX2 static void decode_avx2(decode_job *J, float *out) {
  const int n = J->n, m = J->m, me = J->me;
  double *tu = J->tu;
  const __m256d inv = _mm256_set1_pd(1.0 / DECODE_TABLE);
  for (int k = 0; k <= DECODE_TABLE; k += 4) { /* also writes entries 65..67 (room in tu), never read */
    __m256d tk = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm_add_epi32(_mm_set1_epi32(k), _mm_setr_epi32(0, 1, 2, 3))), inv);
    __m256d v = _mm256_set1_pd(J->cu[n]);
    for (int i = n - 1; i >= 0; i--) v = _mm256_add_pd(_mm256_mul_pd(v, tk), _mm256_set1_pd(J->cu[i]));
    _mm256_storeu_pd(tu + k, v);
  }
  tu[0] = 0.0;
  tu[DECODE_TABLE] = 1.0;
  const __m128i vm1 = _mm_set1_epi32(m + 1), z = _mm_setzero_si128(), two = _mm_set1_epi32(2);
  const __m256d vds = _mm256_set1_pd(J->ds), vL1 = _mm256_set1_pd((double)(m + 1)) /* L - 1 */, vmd = _mm256_set1_pd((double)m);
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  int idx[DECODE_TABLE];
  for (int i = 1; i < DECODE_TABLE; i += 4) { /* lane i = 64 computed and ignored */
    __m256d x = _mm256_loadu_pd(tu + i);
    __m256d q = _mm256_max_pd(_mm256_min_pd(_mm256_mul_pd(x, vL1), vmd), _mm256_setzero_pd());
    __m128i g = _mm256_cvttpd_epi32(q);
    __m128i cnt = _mm_max_epi32(_mm_sub_epi32(g, two), z);
    _Pragma("GCC unroll 4") for (int d = -1; d <= 2; d++) {
      __m128i jj = _mm_add_epi32(g, _mm_set1_epi32(d));
      __m128i in = _mm_and_si128(_mm_cmpgt_epi32(jj, z), _mm_cmpgt_epi32(vm1, jj));
      __m256d le = _mm256_cmp_pd(_mm256_mul_pd(_mm256_cvtepi32_pd(jj), vds), x, _CMP_LE_OQ);
      __m128i le32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_castpd_si256(le), even));
      cnt = _mm_sub_epi32(cnt, _mm_and_si128(in, le32)); /* - (-1) */
    }
    _mm_storeu_si128((__m128i *)(idx + i - 1), cnt);
  }
  enum { PAD = 4 * NV2 };
  int mp = (me + 4 * NV2 - 1) / (4 * NV2) * (4 * NV2), nf = mp > m + 1 ? mp : m + 1;
  int from[EAHAS_MAX_EPOCHS + PAD], K[EAHAS_MAX_EPOCHS + PAD];
  memset(from, 0, sizeof(int) * (size_t)nf);
  for (int i = 0; i < DECODE_TABLE - 1; i++) from[idx[i]]++;
  for (int j = 0, k = 0; j < mp; j++) K[j] = k += from[j];
  double s[EAHAS_MAX_EPOCHS + PAD], lo[EAHAS_MAX_EPOCHS + PAD], hi[EAHAS_MAX_EPOCHS + PAD], t[EAHAS_MAX_EPOCHS + PAD];
  const __m256d half = _mm256_set1_pd(0.5), zero = _mm256_setzero_pd();
  const __m128i one = _mm_set1_epi32(1), lane = _mm_setr_epi32(1, 2, 3, 4);
  for (int j = 0; j < mp; j += 4) {
    __m128i kk = _mm_loadu_si128((const __m128i *)(K + j)), k1 = _mm_add_epi32(kk, one);
    __m256d sj = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm_add_epi32(lane, _mm_set1_epi32(j))), vds);
    __m256d a = _mm256_mul_pd(_mm256_cvtepi32_pd(kk), inv), c = _mm256_mul_pd(_mm256_cvtepi32_pd(k1), inv);
    __m256d t0 = _mm256_i32gather_pd(tu, kk, 8), t1 = _mm256_i32gather_pd(tu, k1, 8);
    __m256d du = _mm256_sub_pd(t1, t0);
    __m256d lin = _mm256_add_pd(a, _mm256_mul_pd(_mm256_div_pd(_mm256_sub_pd(sj, t0), du), _mm256_sub_pd(c, a)));
    __m256d mid = _mm256_mul_pd(half, _mm256_add_pd(a, c));
    _mm256_storeu_pd(s + j, sj);
    _mm256_storeu_pd(lo + j, a);
    _mm256_storeu_pd(hi + j, c);
    _mm256_storeu_pd(t + j, _mm256_blendv_pd(mid, lin, _mm256_cmp_pd(du, zero, _CMP_GT_OQ)));
  }
  switch (n) {
  case 3: newton_avx2(3, J, s, lo, hi, t, out + 1); break;
  case 4: newton_avx2(4, J, s, lo, hi, t, out + 1); break;
  case 5: newton_avx2(5, J, s, lo, hi, t, out + 1); break;
  case 6: newton_avx2(6, J, s, lo, hi, t, out + 1); break;
  case 7: newton_avx2(7, J, s, lo, hi, t, out + 1); break;
  default: newton_avx2(8, J, s, lo, hi, t, out + 1); break;
  }
}
#endif

int eahas__bezier_path = EAHAS__DECODE_AUTO;

int eahas__bezier_path_supported(int path) {
  if (path == EAHAS__DECODE_BASE) return 1;
#ifdef DECODE_X86
  /* libgcc fills the CPU model before constructors run: read-only tests, safe from any thread.
   * The levels' feature lists are spelled out (older compilers do not know the level names). */
  if (path == EAHAS__DECODE_AVX512) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
  if (path == EAHAS__DECODE_V3 || path == EAHAS__DECODE_AVX2) return v3;
  if (path == EAHAS__DECODE_V4)
    return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#endif
  return 0;
}

/* The path queries take: the AVX-512 intrinsics where the CPU has them (two feature tests, as
 * before this choice had copies), else the AVX2 intrinsics (x86-64-v3), else the baseline copy
 * of the portable path. */
static int best_path(void) {
  int p = EAHAS__DECODE_AVX512;
  while (p > EAHAS__DECODE_BASE && !eahas__bezier_path_supported(p)) p--;
  return p;
}

int eahas__bezier_avx512(void) { return best_path() == EAHAS__DECODE_AVX512; }

static void decode_on(int path, decode_job *J, float *out) {
  switch (path) {
#ifdef DECODE_X86
  case EAHAS__DECODE_AVX512: decode_avx512(J, out); return;
  case EAHAS__DECODE_V4: decode_v4(J, out); return;
  case EAHAS__DECODE_AVX2: decode_avx2(J, out); return;
  case EAHAS__DECODE_V3: decode_v3(J, out); return;
#endif
  default: decode_base(J, out); return;
  }
}

void eahas_bezier_decode(const eahas_bezier *b, int L, float *out) { eahas_bezier_decode_prefix(b, L, L, out); }

void eahas_bezier_decode_prefix(const eahas_bezier *b, int L, int E, float *out) {
  if (L <= 0 || E <= 0) return;
  if (E > L) E = L;
  if (L == 1) {
    out[0] = (float)b->y[0];
    return;
  }
  decode_job J;
  int n = J.n = b->degree;
  to_power(n, b->u, J.cu);
  to_power(n, b->y, J.cy);
  J.m = L - 2;
  J.me = E - 1 < J.m ? E - 1 : J.m; /* interior points inside the prefix: x = 2..min(E, L - 1) */
  J.ds = 1.0 / (L - 1);
  if (L > EAHAS_MAX_EPOCHS) { /* longer than the table paths' arrays: each root by safeguarded
                               * Newton from the previous one (monotone u), the same accuracy */
    double t = 0.0;
    for (int j = 1; j <= J.me; j++) {
      t = solve_t(n, J.cu, j * J.ds, t, t);
      out[j] = (float)horner(n, J.cy, t);
    }
  } else {
    int path = eahas__bezier_path;
    decode_on(path >= EAHAS__DECODE_BASE && eahas__bezier_path_supported(path) ? path : best_path(), &J, out);
  }
  out[0] = (float)b->y[0];
  if (E == L) out[L - 1] = (float)b->y[n];
}

/* Solves the SPD system A x = r (m x m, m <= 7) by Cholesky; returns -1 if not positive. */
static int cholesky_solve(int m, double *A, double *r) {
  for (int j = 0; j < m; j++) {
    double s = A[j * m + j];
    for (int k = 0; k < j; k++) s -= A[j * m + k] * A[j * m + k];
    if (!(s > 0)) return -1;
    A[j * m + j] = sqrt(s);
    for (int i = j + 1; i < m; i++) {
      double v = A[i * m + j];
      for (int k = 0; k < j; k++) v -= A[i * m + k] * A[j * m + k];
      A[i * m + j] = v / A[j * m + j];
    }
  }
  for (int i = 0; i < m; i++) {
    double v = r[i];
    for (int k = 0; k < i; k++) v -= A[i * m + k] * r[k];
    r[i] = v / A[i * m + i];
  }
  for (int i = m - 1; i >= 0; i--) {
    double v = r[i];
    for (int k = i + 1; k < m; k++) v -= A[k * m + i] * r[k];
    r[i] = v / A[i * m + i];
  }
  return 0;
}

/* Least squares for the inner control points of u and v (= y/100) at parameters t[0..L),
 * endpoints pinned. A tiny ridge keeps short curves (L < n + 1) solvable. */
static int ls_inner(int n, int L, const double *t, const double *u, const double *v, eahas_bezier *b) {
  int m = n - 1;
  double A[49] = {0}, ru[7] = {0}, rv[7] = {0}, B[EAHAS_BEZIER_MAX_DEGREE + 1];
  double v0 = b->y[0] / 100.0, vn = b->y[n] / 100.0;
  for (int i = 0; i < L; i++) {
    bernstein(n, t[i], B);
    double du = u[i] - B[n], dv = v[i] - B[0] * v0 - B[n] * vn; /* u0 = 0, un = 1 */
    for (int a = 0; a < m; a++) {
      ru[a] += B[a + 1] * du;
      rv[a] += B[a + 1] * dv;
      for (int c = 0; c < m; c++) A[a * m + c] += B[a + 1] * B[c + 1];
    }
  }
  double tr = 0;
  for (int a = 0; a < m; a++) tr += A[a * m + a];
  for (int a = 0; a < m; a++) A[a * m + a] += 1e-12 * tr + 1e-14;
  double A2[49];
  memcpy(A2, A, sizeof A);
  if (cholesky_solve(m, A, ru) || cholesky_solve(m, A2, rv)) return -1;
  for (int a = 0; a < m; a++) {
    b->u[a + 1] = ru[a];
    b->y[a + 1] = 100.0 * rv[a];
  }
  return 0;
}

/* Vertical RMSE (%) of b at x = 1..L, filling t[i] with the parameter where u(t) = u_i. */
static double vertical_rmse(const eahas_bezier *b, const double *y, int L, double *t) {
  int n = b->degree;
  double cu[EAHAS_BEZIER_MAX_DEGREE + 1], cy[EAHAS_BEZIER_MAX_DEGREE + 1];
  to_power(n, b->u, cu);
  to_power(n, b->y, cy);
  double ss = 0, prev = 0;
  for (int i = 0; i < L; i++) {
    double s = (double)i / (L - 1);
    double ti = (i == 0) ? 0.0 : (i == L - 1) ? 1.0 : solve_t(n, cu, s, prev, prev);
    t[i] = prev = ti;
    double e = horner(n, cy, ti) - y[i];
    ss += e * e;
  }
  return sqrt(ss / L);
}

/* Derivatives u'(t), y'(t): n times the Bezier of the control-point differences. */
static void bezier_deriv(const eahas_bezier *b, double t, double *du, double *dy) {
  int n = b->degree;
  double B[EAHAS_BEZIER_MAX_DEGREE + 1];
  bernstein(n - 1, t, B);
  double a = 0, c = 0;
  for (int k = 0; k < n; k++) {
    a += B[k] * (b->u[k + 1] - b->u[k]);
    c += B[k] * (b->y[k + 1] - b->y[k]);
  }
  *du = n * a;
  *dy = n * c;
}

/* Levenberg-Marquardt refinement of the inner control points of b (see eahas_bezier_fit);
 * t holds the parameters of b on entry. Returns the final vertical RMSE. */
static double lm_refine(eahas_bezier *b, const double *y, int L, double *t, double rmse) {
  int n = b->degree, m = n - 1, P = 2 * m;
  double lambda = 1e-3, B[EAHAS_BEZIER_MAX_DEGREE + 1], tt[EAHAS_MAX_EPOCHS];
  for (int it = 0; it < 200 && rmse > 1e-10; it++) {
    double JTJ[14 * 14] = {0}, g[14] = {0};
    for (int i = 0; i < L; i++) {
      double uu, yy, du, dy, J[14];
      bernstein(n, t[i], B);
      eahas_bezier_point(b, t[i], &uu, &yy);
      bezier_deriv(b, t[i], &du, &dy);
      double r = yy - y[i], q = du > 1e-9 ? -dy / du : 0.0;
      if (i == 0 || i == L - 1) q = 0.0; /* pinned ends do not move with u */
      for (int k = 0; k < m; k++) {
        J[k] = q * B[k + 1];
        J[m + k] = B[k + 1];
      }
      for (int a = 0; a < P; a++) {
        g[a] += J[a] * r;
        for (int c = 0; c <= a; c++) JTJ[a * P + c] += J[a] * J[c];
      }
    }
    for (int a = 0; a < P; a++)
      for (int c = a + 1; c < P; c++) JTJ[a * P + c] = JTJ[c * P + a];
    int improved = 0;
    for (int tries = 0; tries < 16 && !improved; tries++) {
      double A[14 * 14], d[14];
      memcpy(A, JTJ, sizeof A);
      for (int a = 0; a < P; a++) {
        A[a * P + a] += lambda * (JTJ[a * P + a] + 1e-9);
        d[a] = -g[a];
      }
      if (cholesky_solve(P, A, d)) {
        lambda *= 10;
        continue;
      }
      eahas_bezier c = *b;
      for (int k = 0; k < m; k++) {
        c.u[k + 1] += d[k];
        c.y[k + 1] += d[m + k];
      }
      eahas_bezier_make_monotone(&c);
      double r = vertical_rmse(&c, y, L, tt);
      if (r < rmse) {
        improved = 1;
        double gain = rmse - r;
        *b = c;
        rmse = r;
        memcpy(t, tt, sizeof(double) * (size_t)L);
        lambda = fmax(lambda / 5, 1e-12);
        /* noisy curves: stop once a step gains less than 1e-6 of the error */
        if (gain < 1e-6 * rmse) return rmse;
      } else {
        lambda *= 8;
      }
    }
    if (!improved) break;
  }
  return rmse;
}

int eahas_bezier_fit(const double *y, int L, int degree, eahas_bezier *out, double *rmse, eahas_err *err) {
  if (degree < EAHAS_BEZIER_MIN_DEGREE || degree > EAHAS_BEZIER_MAX_DEGREE)
    return eahas_err_set(err, EAHAS_EINVAL, "Bezier degree %d is outside [%d, %d]", degree,
                         EAHAS_BEZIER_MIN_DEGREE, EAHAS_BEZIER_MAX_DEGREE);
  if (L < 2 || L > EAHAS_MAX_EPOCHS)
    return eahas_err_set(err, EAHAS_EINVAL, "curve length %d is outside [2, %d]", L, EAHAS_MAX_EPOCHS);
  for (int i = 0; i < L; i++)
    if (!isfinite(y[i]))
      return eahas_err_set(err, EAHAS_EINVAL, "curve value at epoch %d is not finite", i + 1);
  int n = degree;
  double u[EAHAS_MAX_EPOCHS], v[EAHAS_MAX_EPOCHS], t[EAHAS_MAX_EPOCHS];
  for (int i = 0; i < L; i++) {
    u[i] = (double)i / (L - 1);
    v[i] = y[i] / 100.0;
  }
  /* Chord-length parameters in the normalized plane (u, y/100). */
  t[0] = 0;
  for (int i = 1; i < L; i++) t[i] = t[i - 1] + hypot(u[i] - u[i - 1], v[i] - v[i - 1]);
  for (int i = 1; i < L; i++) t[i] /= t[L - 1];
  eahas_bezier b = {.degree = n};
  b.u[0] = 0;
  b.u[n] = 1;
  b.y[0] = y[0];
  b.y[n] = y[L - 1];
  for (int k = 1; k < n; k++) { /* fallback if the first solve fails: a straight line */
    b.u[k] = (double)k / n;
    b.y[k] = y[0] + (y[L - 1] - y[0]) * k / n;
  }
  /* Start: least squares at the chord-length parameters. */
  ls_inner(n, L, t, u, v, &b);
  eahas_bezier_make_monotone(&b);
  eahas_bezier best = b;
  double best_rmse = vertical_rmse(&b, y, L, t);
  /* Then Levenberg-Marquardt on the quantity that decoding reproduces: the vertical residual
   * r_i = y(t_i) - y_i with u(t_i) = u_i, over the inner control points (u_k, y_k). With
   * u'(t) dt = -B_k(t) du_k, dr_i/du_k = -y'(t_i) B_k(t_i) / u'(t_i) and dr_i/dy_k = B_k(t_i). */
  best_rmse = lm_refine(&best, y, L, t, best_rmse);
  if (!isfinite(best_rmse)) best_rmse = vertical_rmse(&best, y, L, t);
  *out = best;
  if (rmse) *rmse = best_rmse;
  return 0;
}
