/* The pycls quantized samplers (pycls/sweep/samplers.py, REFERENCE.md §2), config sampling under
 * a preset's constraints by rejection, mutation and the local-search neighbourhood
 * (EA-HAS-Bench (ICLR 2023), REFERENCE.md §7).
 *
 * Each sampler is computed as an integer count of steps q (k with value k*q) so that the 0.1
 * and 0.001 grids are exact: the config stores those counts, and the double-valued public
 * functions convert only at the end. */
#include <math.h>
#include <string.h>

#include "eahas/space.h"

/* U[a, b) from the stream, as numpy.random.uniform computes it. */
static double unif(eahas_rng *rng, double a, double b) { return a + (b - a) * eahas_rng_uniform(rng); }

static long long clampll(long long v, long long lo, long long hi) { return v < lo ? lo : v > hi ? hi : v; }

/* uniform: f ~ U[low, high + q), floored to a multiple of q. */
static long long uniform_steps(eahas_rng *rng, double low, double high, double q) {
  double f = unif(rng, low, high + q);
  /* Float guard: f/q can land a hair off an integer; the result must stay in [low, high]. */
  return clampll((long long)floor(f / q), (long long)ceil(low / q - 1e-9), (long long)floor(high / q + 1e-9));
}

/* log_uniform: f = exp(-U(-ln high, -ln(low - min(q, low/2)))), i.e. log-uniform on
 * (low - min(q, low/2), high], then ceiled to a multiple of q. */
static long long log_uniform_steps(eahas_rng *rng, double low, double high, double q) {
  double lo_open = low - fmin(q, low / 2);
  double f = exp(-unif(rng, -log(high), -log(lo_open)));
  return clampll((long long)ceil(f / q), (long long)ceil(low / q - 1e-9), (long long)floor(high / q + 1e-9));
}

/* power2_uniform: e = floor(U[log2 low, log2 high + 1)), value 2^e floored to q. */
static double power2_uniform(eahas_rng *rng, double low, double high, double q) {
  double e = floor(unif(rng, log2(low), log2(high) + 1));
  if (e > log2(high)) e = log2(high); /* float guard on the open end */
  return floor(exp2(e) / q) * q;
}

/* Value of k steps of q: k / (1/q) when 1/q is an integer, so 203 steps of 0.1 give exactly the
 * double nearest 20.3. */
static double steps_value(long long k, double q) {
  double inv = 1.0 / q;
  if (q < 1 && fabs(inv - rint(inv)) < 1e-9) return (double)k / rint(inv);
  return (double)k * q;
}

double eahas_sample_uniform(eahas_rng *rng, double low, double high, double q) {
  return steps_value(uniform_steps(rng, low, high, q), q);
}

double eahas_sample_log_uniform(eahas_rng *rng, double low, double high, double q) {
  return steps_value(log_uniform_steps(rng, low, high, q), q);
}

double eahas_sample_power2_uniform(eahas_rng *rng, double low, double high, double q) {
  return power2_uniform(rng, low, high, q);
}

/* power2_or_log_uniform: a power of two in [low, high]; if it is >= q, redraw log-uniformly on
 * [max(low, q), high] with step min(high, q). */
double eahas_sample_power2_or_log_uniform(eahas_rng *rng, double low, double high, double q) {
  double f = power2_uniform(rng, low, high, low);
  if (f >= q) f = eahas_sample_log_uniform(rng, fmax(low, q), high, fmin(high, q));
  return f;
}

/* ---- one dimension at a time (shared by sampling and mutation) --------------------------- */

enum { DIM_D, DIM_W0, DIM_WA, DIM_WM, DIM_GW, DIM_LR, DIM_OPT, DIM_SCHED, DIM_CUTOUT, DIM_EPOCHS, NUM_DIMS };

static void draw_dim(eahas_rng *rng, const eahas_preset *p, int dim, eahas_config *c) {
  switch (dim) {
  case DIM_D: c->d = (int)uniform_steps(rng, 6, 15, 1); break;
  case DIM_W0: c->w0 = (int)log_uniform_steps(rng, 48, 128, 8) * 8; break;
  case DIM_WA: c->wa10 = (int)log_uniform_steps(rng, 8.0, 32.0, 0.1); break;
  case DIM_WM:
    c->wm1000 = (int)clampll(log_uniform_steps(rng, p->wm1000_min / 1000.0, p->wm1000_max / 1000.0, 0.001),
                             p->wm1000_min, p->wm1000_max);
    break;
  case DIM_GW: c->gw = (int)eahas_sample_power2_or_log_uniform(rng, 1, 32, 8); break;
  case DIM_LR: c->lr_idx = (int)eahas_rng_below(rng, EAHAS_NUM_LR); break;
  case DIM_OPT: c->opt = (eahas_opt_kind)eahas_rng_below(rng, 3); break;
  case DIM_SCHED: c->sched = (eahas_sched_kind)eahas_rng_below(rng, 3); break;
  case DIM_CUTOUT: c->cutout = eahas_rng_below(rng, 2) ? 16 : 0; break;
  default: c->epochs = EAHAS_EPOCH_VALUES[eahas_rng_below(rng, EAHAS_NUM_EPOCHS)]; break;
  }
}

void eahas_config_sample_raw(eahas_rng *rng, const eahas_preset *p, eahas_config *out) {
  eahas_config c;
  memset(&c, 0, sizeof c);
  for (int dim = 0; dim < NUM_DIMS; dim++) draw_dim(rng, p, dim, &c);
  *out = c;
}

/* The preset's constraints only (fields are valid by construction). Cheap: one expansion and
 * one complexity count, both O(d). */
static int satisfies(const eahas_config *c, const eahas_preset *p) {
  return eahas_config_validate(c, p, 1, NULL) == 0;
}

static void describe_constraints(const eahas_preset *p, char *buf, size_t n) {
  int k = snprintf(buf, n, "wm in [%.3f, %.3f]", p->wm1000_min / 1000.0, p->wm1000_max / 1000.0);
  if (p->required_stages && k < (int)n) k += snprintf(buf + k, n - k, ", exactly %d stages", p->required_stages);
  if (p->flops_max > 0 && k < (int)n) k += snprintf(buf + k, n - k, ", flops in [%.3g, %.3g]", p->flops_min, p->flops_max);
  if (p->params_max > 0 && k < (int)n) k += snprintf(buf + k, n - k, ", params <= %.3g", p->params_max);
  if (p->acts_max > 0 && k < (int)n) snprintf(buf + k, n - k, ", acts <= %.3g", p->acts_max);
}

int eahas_config_sample(eahas_rng *rng, const eahas_preset *p, int max_attempts, eahas_config *out, eahas_err *err) {
  if (max_attempts <= 0) max_attempts = 100000;
  for (int i = 0; i < max_attempts; i++) {
    eahas_config c;
    eahas_config_sample_raw(rng, p, &c);
    if (satisfies(&c, p)) {
      *out = c;
      return 0;
    }
  }
  char cons[256];
  describe_constraints(p, cons, sizeof cons);
  return eahas_err_set(err, EAHAS_ECONSTRAINT, "no config satisfying preset %s (%s) in %d attempts", p->name, cons,
                       max_attempts);
}

/* ---- mutation and neighbourhood ---------------------------------------------------------- */

/* Redraws dimension dim of c until it changes (the dimensions have at least 2 values each;
 * bounded so that a degenerate preset cannot loop forever). Returns 1 if it changed. */
static int redraw_changed(eahas_rng *rng, const eahas_preset *p, int dim, eahas_config *c) {
  eahas_config orig = *c;
  for (int t = 0; t < 1000; t++) {
    draw_dim(rng, p, dim, c);
    if (!eahas_config_equal(c, &orig)) return 1;
  }
  return 0;
}

/* The eight mutable dimensions of REFERENCE.md §7 (cutout and epochs are not mutated). */
static const int MUTABLE[8] = {DIM_D, DIM_W0, DIM_WA, DIM_WM, DIM_GW, DIM_LR, DIM_OPT, DIM_SCHED};

int eahas_config_mutate(eahas_rng *rng, const eahas_preset *p, const eahas_config *in, int max_attempts,
                        eahas_config *out, eahas_err *err) {
  if (max_attempts <= 0) max_attempts = 10000;
  for (int i = 0; i < max_attempts; i++) {
    eahas_config c = *in;
    int dim = MUTABLE[eahas_rng_below(rng, 8)];
    if (!redraw_changed(rng, p, dim, &c)) continue;
    if (satisfies(&c, p)) {
      *out = c;
      return 0;
    }
  }
  char text[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(in, text, sizeof text);
  return eahas_err_set(err, EAHAS_ECONSTRAINT, "no valid mutation of %s under preset %s in %d attempts", text,
                       p->name, max_attempts);
}

static int contains(const eahas_config *list, int n, const eahas_config *c) {
  for (int i = 0; i < n; i++)
    if (eahas_config_equal(&list[i], c)) return 1;
  return 0;
}

/* Fills out[n..] with up to `want` distinct configs that take dims [d0, d1) from fresh draws and
 * the rest from c. Returns the new count. */
static int add_neighbours(eahas_rng *rng, const eahas_preset *p, const eahas_config *c, int d0, int d1, int want,
                          eahas_config *out, int n, int attempts) {
  int added = 0;
  for (int t = 0; t < attempts && added < want; t++) {
    eahas_config x = *c;
    for (int dim = d0; dim < d1; dim++) draw_dim(rng, p, dim, &x);
    if (eahas_config_equal(&x, c) || contains(out, n, &x) || !satisfies(&x, p)) continue;
    out[n++] = x;
    added++;
  }
  return n;
}

int eahas_config_neighbours(eahas_rng *rng, const eahas_preset *p, const eahas_config *c, int n_arch, int n_hp,
                            eahas_config *out, eahas_err *err) {
  if (n_arch < 0 || n_hp < 0)
    return eahas_err_set(err, EAHAS_EINVAL, "neighbour counts n_arch=%d, n_hp=%d must be >= 0", n_arch, n_hp);
  /* A new architecture: d, w0, wa, wm, gw redrawn together (rejection keeps the constraints).
   * New hyperparameters: lr, opt, sched, cutout, epochs redrawn together; the architecture is
   * unchanged, so they satisfy the constraints exactly when c does. */
  int n = add_neighbours(rng, p, c, DIM_D, DIM_LR, n_arch, out, 0, 200000);
  n = add_neighbours(rng, p, c, DIM_LR, NUM_DIMS, n_hp, out, n, 100000);
  return n;
}
