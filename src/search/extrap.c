/* Learning-curve extrapolation for the EA- variants: a parametric ensemble of pow3, exp3 and
 * ilog2 curves (the shapes of Domhan et al. 2015), each fitted by least squares with the
 * variable-projection trick: for a fixed nonlinear parameter the model is linear in (c, a), so
 * the fit is a 1-D search over that one parameter with a closed-form solve inside. */
#include <math.h>

#include "eahas/search.h"

typedef double (*basis_fn)(double x, double theta);

static double pow3_phi(double x, double alpha) { return pow(x, -alpha); }
static double exp3_phi(double x, double b) { return exp(-b * x); }
static double ilog2_phi(double x, double unused) {
  (void)unused;
  return 1.0 / log(x + 1.0);
}

/* Fits y = c - a phi(x; theta) for fixed theta; returns the sum of squared errors (INFINITY if
 * the design is degenerate) and the linear parameters. */
static double fit_linear(const float *y, int n, basis_fn phi, double theta, double *c, double *a) {
  double mu = 0, my = 0;
  for (int i = 0; i < n; i++) {
    mu += -phi(i + 1, theta);
    my += y[i];
  }
  mu /= n;
  my /= n;
  double suu = 0, suy = 0;
  for (int i = 0; i < n; i++) {
    double u = -phi(i + 1, theta) - mu;
    suu += u * u;
    suy += u * (y[i] - my);
  }
  if (!(suu > 1e-12 * n)) return INFINITY;
  *a = suy / suu;
  *c = my - *a * mu;
  double sse = 0;
  for (int i = 0; i < n; i++) {
    double r = y[i] - (*c - *a * phi(i + 1, theta));
    sse += r * r;
  }
  return isfinite(sse) ? sse : INFINITY;
}

/* Best theta on a log grid over [lo, hi], refined by golden-section search between the grid
 * neighbours of the best point. Returns the prediction at x_pred, or NAN. */
static double fit_predict(const float *y, int n, basis_fn phi, double lo, double hi, double x_pred) {
  enum { G = 60 };
  double c, a, best = INFINITY, bt = lo;
  int bi = -1;
  for (int i = 0; i < G; i++) {
    double t = lo * pow(hi / lo, (double)i / (G - 1));
    double sse = fit_linear(y, n, phi, t, &c, &a);
    if (sse < best) best = sse, bt = t, bi = i;
  }
  if (bi < 0) return NAN;
  double l = log(lo) + log(hi / lo) * (bi > 0 ? bi - 1 : 0) / (G - 1);
  double h = log(lo) + log(hi / lo) * (bi < G - 1 ? bi + 1 : G - 1) / (G - 1);
  const double gr = 0.6180339887498949;
  for (int it = 0; it < 40; it++) {
    double m1 = h - gr * (h - l), m2 = l + gr * (h - l);
    double f1 = fit_linear(y, n, phi, exp(m1), &c, &a), f2 = fit_linear(y, n, phi, exp(m2), &c, &a);
    if (f1 < f2) h = m2;
    else l = m1;
  }
  double t = exp(0.5 * (l + h));
  double sse = fit_linear(y, n, phi, t, &c, &a);
  if (!(sse <= best)) t = bt, fit_linear(y, n, phi, t, &c, &a);
  double p = c - a * phi(x_pred, t);
  return isfinite(p) ? p : NAN;
}

double eahas_extrapolate(const float *y, int n, int epoch) {
  if (n <= 0) return NAN;
  if (epoch <= n) return y[epoch > 0 ? epoch - 1 : 0];
  if (n < 3) return y[n - 1];
  double preds[3], c, a;
  preds[0] = fit_predict(y, n, pow3_phi, 1e-2, 5.0, epoch);
  preds[1] = fit_predict(y, n, exp3_phi, 1e-3, 2.0, epoch);
  double sse = fit_linear(y, n, ilog2_phi, 0, &c, &a);
  preds[2] = isfinite(sse) ? c - a * ilog2_phi(epoch, 0) : NAN;
  double sum = 0;
  int k = 0;
  for (int i = 0; i < 3; i++) {
    if (!isfinite(preds[i])) continue;
    sum += fmin(100.0, fmax(0.0, preds[i]));
    k++;
  }
  /* A flat curve makes every design degenerate: then the last value is the best guess. */
  return k ? sum / k : y[n - 1];
}
