/* Bezier learning curves (REFERENCE.md §6; EA-HAS-Bench's BSC): fitting with chord-length
 * parameters, pinned endpoints and parameter correction, and decoding at integer epochs by
 * solving x(t) = j on a monotone x(t). Written from the definitions (Farin, "Curves and Surfaces
 * for CAGD", ch. 4 and the least-squares section; Hoschek's parameter correction). */
#include <math.h>
#include <string.h>

#include "eahas/surrogate.h"

/* Hot loops get an AVX2 clone picked at run time (x86-64 with GCC or Clang). -std=c11 keeps
 * -ffp-contract=off, so both clones round identically: results do not depend on the CPU. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EAHAS_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EAHAS_HOT
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
 * vectorizes. */
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
        dv = dv * tj + v;
        v = v * tj + cu[k];
      }
      /* branch-free so that the loop vectorizes: a flat u (dv = 0) keeps tj */
      double ok = dv > 0 ? 1.0 : 0.0, den = dv > 0 ? dv : 1.0;
      double tn = tj - ok * ((v - s[j]) / den);
      tn = tn < lo[j] ? lo[j] : tn;
      tj = tn > hi[j] ? hi[j] : tn;
    }
    double y = cy[n];
    for (int k = n - 1; k >= 0; k--) y = y * tj + cy[k];
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

void eahas_bezier_decode(const eahas_bezier *b, int L, float *out) { eahas_bezier_decode_prefix(b, L, L, out); }

EAHAS_HOT
void eahas_bezier_decode_prefix(const eahas_bezier *b, int L, int E, float *out) {
  int n = b->degree;
  if (L <= 0 || E <= 0) return;
  if (E > L) E = L;
  if (L == 1) {
    out[0] = (float)b->y[0];
    return;
  }
  double cu[EAHAS_BEZIER_MAX_DEGREE + 1], cy[EAHAS_BEZIER_MAX_DEGREE + 1];
  to_power(n, b->u, cu);
  to_power(n, b->y, cy);
  /* A coarse table of u at uniform t brackets every root of u(t) = s; inverse linear
   * interpolation starts two Newton steps kept inside the bracket. */
  double tu[DECODE_TABLE + 1];
  switch (n) {
  case 3: u_table(3, cu, tu); break;
  case 4: u_table(4, cu, tu); break;
  case 5: u_table(5, cu, tu); break;
  case 6: u_table(6, cu, tu); break;
  case 7: u_table(7, cu, tu); break;
  default: u_table(8, cu, tu); break;
  }
  tu[0] = 0.0;
  tu[DECODE_TABLE] = 1.0;
  double s[EAHAS_MAX_EPOCHS], lo[EAHAS_MAX_EPOCHS], hi[EAHAS_MAX_EPOCHS], t[EAHAS_MAX_EPOCHS];
  int m = L - 2, k = 0;
  double ds = 1.0 / (L - 1);
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
  int me = E - 1 < m ? E - 1 : m; /* interior points inside the prefix: x = 2..min(E, L - 1) */
  for (int j = 0; j < me; j++) {
    double sj = (j + 1) * ds;
    k += from[j];
    double a = (double)k / DECODE_TABLE, c = (double)(k + 1) / DECODE_TABLE, du = tu[k + 1] - tu[k];
    s[j] = sj;
    lo[j] = a;
    hi[j] = c;
    t[j] = du > 0 ? a + (sj - tu[k]) / du * (c - a) : 0.5 * (a + c);
  }
  switch (n) {
  case 3: newton_pass(3, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 4: newton_pass(4, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 5: newton_pass(5, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 6: newton_pass(6, cu, cy, me, s, lo, hi, t, out + 1); break;
  case 7: newton_pass(7, cu, cy, me, s, lo, hi, t, out + 1); break;
  default: newton_pass(8, cu, cy, me, s, lo, hi, t, out + 1); break;
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
