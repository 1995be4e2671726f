/* Regression and rank metrics of the surrogate evaluation (EA-HAS-Bench reports R², Kendall tau
 * and Spearman rho). */
#include <math.h>
#include <stdlib.h>

#include "eahas/surrogate.h"

double eahas_r2(const double *y, const double *pred, int n) {
  if (n < 2) return NAN;
  double mean = 0, ss_tot = 0, ss_res = 0;
  for (int i = 0; i < n; i++) mean += y[i];
  mean /= n;
  for (int i = 0; i < n; i++) {
    ss_tot += (y[i] - mean) * (y[i] - mean);
    ss_res += (y[i] - pred[i]) * (y[i] - pred[i]);
  }
  return ss_tot > 0 ? 1.0 - ss_res / ss_tot : NAN;
}

double eahas_rmse(const double *y, const double *pred, int n) {
  if (n < 1) return NAN;
  double s = 0;
  for (int i = 0; i < n; i++) s += (y[i] - pred[i]) * (y[i] - pred[i]);
  return sqrt(s / n);
}

/* Kendall tau-b by the O(n^2) pair count: the evaluation sets are small. */
double eahas_kendall_tau(const double *a, const double *b, int n) {
  if (n < 2) return NAN;
  double conc = 0, disc = 0, ties_a = 0, ties_b = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) {
      double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) ties_a++;
      else if (db == 0) ties_b++;
      else if ((da > 0) == (db > 0)) conc++;
      else disc++;
    }
  double den = sqrt((conc + disc + ties_a) * (conc + disc + ties_b));
  return den > 0 ? (conc - disc) / den : NAN;
}

typedef struct { double v; int i; } vi;
static int cmp_vi(const void *p, const void *q) {
  double a = ((const vi *)p)->v, b = ((const vi *)q)->v;
  return (a > b) - (a < b);
}

/* Average ranks (ties share the mean rank). */
static int ranks(const double *x, int n, double *r) {
  vi *t = malloc(sizeof(vi) * (size_t)n);
  if (!t) return -1;
  for (int i = 0; i < n; i++) t[i] = (vi){x[i], i};
  qsort(t, (size_t)n, sizeof(vi), cmp_vi);
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && t[j + 1].v == t[i].v) j++;
    for (int k = i; k <= j; k++) r[t[k].i] = 0.5 * (i + j) + 1;
    i = j + 1;
  }
  free(t);
  return 0;
}

double eahas_spearman_rho(const double *a, const double *b, int n) {
  if (n < 2) return NAN;
  double *ra = malloc(sizeof(double) * (size_t)n), *rb = malloc(sizeof(double) * (size_t)n), rho = NAN;
  if (ra && rb && ranks(a, n, ra) == 0 && ranks(b, n, rb) == 0) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
      ma += ra[i];
      mb += rb[i];
    }
    ma /= n;
    mb /= n;
    for (int i = 0; i < n; i++) {
      sab += (ra[i] - ma) * (rb[i] - mb);
      saa += (ra[i] - ma) * (ra[i] - ma);
      sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    if (saa > 0 && sbb > 0) rho = sab / sqrt(saa * sbb);
  }
  free(ra);
  free(rb);
  return rho;
}
