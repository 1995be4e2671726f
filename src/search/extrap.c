/* Learning-curve extrapolation for the EA- variants: a parametric ensemble of pow3, exp3 and
 * ilog2 curves (the shapes of Domhan et al. 2015), each fitted by least squares with the
 * variable-projection trick: for a fixed nonlinear parameter the model is linear in (c, a), so
 * the fit is a 1-D search over that one parameter with a closed-form solve inside. */
#include <math.h>

#include "search/internal.h"

/* phi(x; theta) for x = 1..n, written into f. kind 0: pow3 x^-theta, 1: exp3 exp(-theta x),
 * 2: ilog2 1 / ln(x + 1) (theta unused). */
static double phi_at(int kind, double x, double theta) {
  return kind == 0 ? exp(-theta * log(x)) : kind == 1 ? exp(-theta * x) : 1.0 / log(x + 1.0);
}

/* Fits y = c - a phi for fixed theta; returns the sum of squared errors (INFINITY if the design
 * is degenerate) and the linear parameters. */
static double fit_linear(const float *y, int n, int kind, double theta, double *c, double *a) {
  double f[EAHAS_MAX_EPOCHS], mu = 0, my = 0;
  for (int i = 0; i < n; i++) {
    f[i] = -phi_at(kind, i + 1, theta);
    mu += f[i];
    my += y[i];
  }
  mu /= n;
  my /= n;
  double suu = 0, suy = 0;
  for (int i = 0; i < n; i++) {
    suu += (f[i] - mu) * (f[i] - mu);
    suy += (f[i] - mu) * (y[i] - my);
  }
  if (!(suu > 1e-12 * n)) return INFINITY;
  *a = suy / suu;
  *c = my - *a * mu;
  double sse = 0;
  for (int i = 0; i < n; i++) {
    double r = y[i] - (*c + *a * f[i]);
    sse += r * r;
  }
  return isfinite(sse) ? sse : INFINITY;
}

/* Least-squares fit of one model: theta on a log grid over [lo, hi], refined by golden-section
 * search between the grid neighbours of the best point. Returns 0 and (c, a, theta), or -1. */
static int fit_model(const float *y, int n, int kind, double lo, double hi, double *c, double *a, double *theta) {
  if (kind == 2) {
    *theta = 0;
    return isfinite(fit_linear(y, n, kind, 0, c, a)) ? 0 : -1;
  }
  enum { G = 40 };
  double best = INFINITY, bt = lo;
  int bi = -1;
  for (int i = 0; i < G; i++) {
    double t = lo * pow(hi / lo, (double)i / (G - 1));
    double sse = fit_linear(y, n, kind, t, c, a);
    if (sse < best) best = sse, bt = t, bi = i;
  }
  if (bi < 0) return -1;
  double l = log(lo) + log(hi / lo) * (bi > 0 ? bi - 1 : 0) / (G - 1);
  double h = log(lo) + log(hi / lo) * (bi < G - 1 ? bi + 1 : G - 1) / (G - 1);
  const double gr = 0.6180339887498949;
  for (int it = 0; it < 30; it++) {
    double m1 = h - gr * (h - l), m2 = l + gr * (h - l);
    if (fit_linear(y, n, kind, exp(m1), c, a) < fit_linear(y, n, kind, exp(m2), c, a)) h = m2;
    else l = m1;
  }
  double t = exp(0.5 * (l + h));
  if (!(fit_linear(y, n, kind, t, c, a) <= best)) t = bt;
  fit_linear(y, n, kind, t, c, a);
  *theta = t;
  return 0;
}

void search_extrapolate2(const float *y, int n, const int *epochs, int n_epochs, double *out) {
  double c[3], a[3], th[3];
  int ok[3];
  static const double lo[3] = {1e-2, 1e-3, 0}, hi[3] = {5.0, 2.0, 0};
  if (n >= 3)
    for (int k = 0; k < 3; k++) ok[k] = fit_model(y, n, k, lo[k], hi[k], &c[k], &a[k], &th[k]) == 0;
  for (int j = 0; j < n_epochs; j++) {
    int e = epochs[j];
    if (n <= 0) {
      out[j] = NAN;
      continue;
    }
    if (e <= n) {
      out[j] = y[e > 0 ? e - 1 : 0];
      continue;
    }
    double sum = 0;
    int m = 0;
    for (int k = 0; k < 3 && n >= 3; k++) {
      double p = ok[k] ? c[k] - a[k] * phi_at(k, e, th[k]) : NAN;
      if (!isfinite(p)) continue;
      sum += fmin(100.0, fmax(0.0, p));
      m++;
    }
    /* Too short, or flat (every design degenerate): the last value is the best guess. */
    out[j] = m ? sum / m : y[n - 1];
  }
}

double eahas_extrapolate(const float *y, int n, int epoch) {
  double out;
  search_extrapolate2(y, n, &epoch, 1, &out);
  return out;
}
