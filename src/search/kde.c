/* BOHB's model (Falkner et al. 2018): product-kernel density estimates over the config's 10
 * dimensions, Gaussian kernels on the 4 continuous ones, Wang-van Ryzin on ordinal codes and
 * Aitchison-Aitken on unordered ones, normal-reference bandwidths (as statsmodels computes them
 * for BOHB's reference implementation). */
#include <math.h>
#include <string.h>

#include "search/internal.h"

/* Kinds and number of values per dimension: 0 = continuous in [0,1], else the count. */
static const int KIND_ORDINAL[SEARCH_KDE_DIMS] = {0, 0, 0, 0, 1, 1, 0, 0, 0, 1};
static const int LEVELS[SEARCH_KDE_DIMS] = {0, 0, 0, 0, EAHAS_NUM_GW, EAHAS_NUM_LR, 3, 3, 2, EAHAS_NUM_EPOCHS};

static void wm_range(const eahas_preset *p, int *lo, int *hi) {
  *lo = p && p->wm1000_min ? p->wm1000_min : 2500;
  *hi = p && p->wm1000_max ? p->wm1000_max : 3000;
  if (*hi <= *lo) *hi = *lo + 1;
}

void search_kde_vector(const eahas_config *c, const eahas_preset *p, double v[SEARCH_KDE_DIMS]) {
  int lo, hi;
  wm_range(p, &lo, &hi);
  v[0] = (c->d - 6) / 9.0;
  v[1] = (c->w0 - 48) / 80.0;
  v[2] = (c->wa10 - 80) / 240.0;
  v[3] = (double)(c->wm1000 - lo) / (hi - lo);
  int gi = 0;
  for (int i = 0; i < EAHAS_NUM_GW; i++)
    if (EAHAS_GW_VALUES[i] == c->gw) gi = i;
  int ei = 0;
  for (int i = 0; i < EAHAS_NUM_EPOCHS; i++)
    if (EAHAS_EPOCH_VALUES[i] == c->epochs) ei = i;
  v[4] = gi;
  v[5] = c->lr_idx;
  v[6] = c->opt;
  v[7] = c->sched;
  v[8] = c->cutout ? 1 : 0;
  v[9] = ei;
}

static int clampi(long x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : (int)x; }

void search_kde_config(const double v[SEARCH_KDE_DIMS], const eahas_preset *p, eahas_config *c) {
  int lo, hi;
  wm_range(p, &lo, &hi);
  memset(c, 0, sizeof *c);
  c->d = clampi(lround(6 + 9 * v[0]), 6, 15);
  c->w0 = 8 * clampi(lround((48 + 80 * v[1]) / 8.0), 6, 16);
  c->wa10 = clampi(lround(80 + 240 * v[2]), 80, 320);
  c->wm1000 = clampi(lround(lo + (hi - lo) * v[3]), lo, hi);
  c->gw = EAHAS_GW_VALUES[clampi(lround(v[4]), 0, EAHAS_NUM_GW - 1)];
  c->lr_idx = clampi(lround(v[5]), 0, EAHAS_NUM_LR - 1);
  c->opt = (eahas_opt_kind)clampi(lround(v[6]), 0, 2);
  c->sched = (eahas_sched_kind)clampi(lround(v[7]), 0, 2);
  c->cutout = clampi(lround(v[8]), 0, 1) ? 16 : 0;
  c->epochs = EAHAS_EPOCH_VALUES[clampi(lround(v[9]), 0, EAHAS_NUM_EPOCHS - 1)];
}

void search_kde_fit(search_kde *k, const double *data, int n, double min_bw) {
  k->n = n;
  k->data = data;
  double f = 1.06 * pow((double)(n > 0 ? n : 1), -1.0 / (4.0 + SEARCH_KDE_DIMS));
  for (int j = 0; j < SEARCH_KDE_DIMS; j++) {
    double mu = 0, var = 0;
    for (int i = 0; i < n; i++) mu += data[i * SEARCH_KDE_DIMS + j];
    mu /= n > 0 ? n : 1;
    for (int i = 0; i < n; i++) {
      double d = data[i * SEARCH_KDE_DIMS + j] - mu;
      var += d * d;
    }
    double sd = n > 1 ? sqrt(var / (n - 1)) : 0;
    double bw = f * sd;
    if (bw < min_bw) bw = min_bw;
    if (LEVELS[j] && bw > 0.99) bw = 0.99;
    k->bw[j] = bw;
  }
}

static double kernel(int j, double bw, double x, double xi) {
  if (!LEVELS[j]) {
    double z = (x - xi) / bw;
    return exp(-0.5 * z * z) / (bw * 2.5066282746310002);
  }
  int same = lround(x) == lround(xi);
  if (KIND_ORDINAL[j]) return same ? 1 - bw : 0.5 * (1 - bw) * pow(bw, fabs(round(x) - round(xi)));
  return same ? 1 - bw : bw / (LEVELS[j] - 1);
}

double search_kde_pdf(const search_kde *k, const double *x) {
  double s = 0;
  for (int i = 0; i < k->n; i++) {
    double p = 1;
    for (int j = 0; j < SEARCH_KDE_DIMS && p > 0; j++) p *= kernel(j, k->bw[j], x[j], k->data[i * SEARCH_KDE_DIMS + j]);
    s += p;
  }
  return k->n ? s / k->n : 0;
}

void search_kde_sample(const search_kde *k, double bw_factor, eahas_rng *rng, double *x) {
  const double *m = k->data + (size_t)eahas_rng_below(rng, (uint64_t)k->n) * SEARCH_KDE_DIMS;
  for (int j = 0; j < SEARCH_KDE_DIMS; j++) {
    if (!LEVELS[j]) {
      double sd = k->bw[j] * bw_factor, v = m[j];
      int ok = 0;
      for (int t = 0; t < 100 && !ok; t++) {
        v = m[j] + sd * eahas_rng_normal(rng);
        ok = v >= 0 && v <= 1;
      }
      x[j] = ok ? v : fmin(1.0, fmax(0.0, m[j]));
    } else {
      x[j] = eahas_rng_uniform(rng) < 1 - k->bw[j] ? m[j] : (double)eahas_rng_below(rng, (uint64_t)LEVELS[j]);
    }
  }
}
