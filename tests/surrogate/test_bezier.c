/* Bezier fitting and decoding: exact recovery of Bezier curves, lengths 50/100/200 and odd,
 * monotone projection, real-like learning curves fitted within 1 accuracy point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/internal.h"

/* Samples a Bezier at x = 1..L by bisection on u(t) (independent of the decoder's Newton). */
static void sample_bisect(const eahas_bezier *b, int L, double *y) {
  for (int j = 0; j < L; j++) {
    double s = L == 1 ? 0 : (double)j / (L - 1), lo = 0, hi = 1, u, yy;
    for (int it = 0; it < 200; it++) {
      double mid = 0.5 * (lo + hi);
      eahas_bezier_point(b, mid, &u, NULL);
      if (u < s) lo = mid;
      else hi = mid;
    }
    eahas_bezier_point(b, 0.5 * (lo + hi), NULL, &yy);
    y[j] = yy;
  }
}

static eahas_bezier make_curve(int n, double y0, double y1) {
  eahas_bezier b = {.degree = n};
  for (int k = 0; k <= n; k++) {
    /* Monotone, unevenly spaced x: learning curves crowd control points early. */
    b.u[k] = pow((double)k / n, 1.6);
    double r = (double)k / n;
    b.y[k] = y0 + (y1 - y0) * (1 - exp(-4 * r)) / (1 - exp(-4.0)) + (k % 2 ? 3.0 : -2.0) * (k > 0 && k < n);
  }
  return b;
}

static void test_exact_recovery(void **state) {
  (void)state;
  for (int n = EAHAS_BEZIER_MIN_DEGREE; n <= EAHAS_BEZIER_MAX_DEGREE; n++) {
    int Ls[] = {50, 101, 200};
    for (int li = 0; li < 3; li++) {
      int L = Ls[li];
      eahas_bezier truth = make_curve(n, 20.0, 85.0), fit;
      double y[EAHAS_MAX_EPOCHS], rmse;
      sample_bisect(&truth, L, y);
      assert_int_equal(eahas_bezier_fit(y, L, n, &fit, &rmse, NULL), 0);
      /* The fitted curve reproduces the data (hence the curve) to numerical precision. */
      if (rmse > 1e-9) fprintf(stderr, "n=%d L=%d rmse=%g\n", n, L, rmse);
      assert_true(rmse < 1e-4);
      /* and, up to degree 6, its control points are the generating ones (at degree 7 and 8 with
       * 50 points other control polygons fit within 1e-4 points: not identifiable). */
      if (n > 6) continue;
      for (int k = 0; k <= n; k++) {
        if (fabs(fit.u[k] - truth.u[k]) > 1e-6 || fabs(fit.y[k] - truth.y[k]) > 1e-4)
          fprintf(stderr, "n=%d L=%d k=%d u %g/%g y %g/%g\n", n, L, k, fit.u[k], truth.u[k], fit.y[k], truth.y[k]);
        assert_true(fabs(fit.u[k] - truth.u[k]) < 1e-6);
        assert_true(fabs(fit.y[k] - truth.y[k]) < 1e-4);
      }
    }
  }
}

static void test_decode_lengths(void **state) {
  (void)state;
  eahas_bezier b = make_curve(5, 10.0, 90.0);
  int Ls[] = {1, 2, 3, 49, 50, 77, 100, 133, 199, 200, 201, 1000}; /* beyond 200: no table */
  for (size_t i = 0; i < sizeof Ls / sizeof Ls[0]; i++) {
    int L = Ls[i];
    static float out[1000 + 8];
    static double ref[1000];
    for (int j = 0; j < 1000 + 8; j++) out[j] = -999.0f;
    eahas_bezier_decode(&b, L, out);
    sample_bisect(&b, L, ref);
    for (int j = 0; j < L; j++) assert_true(fabs(out[j] - ref[j]) < 1e-4);
    assert_true(out[L] == -999.0f); /* exactly L values written */
    assert_true(fabs(out[0] - 10.0) < 1e-6);
    if (L > 1) assert_true(fabs(out[L - 1] - 90.0) < 1e-4);
  }
}

/* A prefix of E values is the first E values of the full decoding, bit for bit, for lengths
 * 2 to 200 and every E from 0 to L + 1 (E > L gives L values; E = 0 writes nothing); the rest of
 * the buffer is left alone. Curves with flat stretches of u included. */
static void test_decode_prefix(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 31);
  static float full[EAHAS_MAX_EPOCHS + 2], part[EAHAS_MAX_EPOCHS + 2];
  int checked = 0;
  for (int trial = 0; trial < 40; trial++) {
    eahas_bezier b = {.degree = 3 + trial % 6};
    for (int k = 0; k <= b.degree; k++) {
      b.u[k] = eahas_rng_uniform(&r);
      b.y[k] = 100 * eahas_rng_uniform(&r);
    }
    if (trial % 5 == 0) b.u[1] = b.u[2] = 0.5; /* a flat stretch */
    eahas_bezier_make_monotone(&b);
    static const int Ls[] = {2, 3, 7, 50, 100, 131, 200};
    int L = Ls[trial % 7];
    eahas_bezier_decode(&b, L, full);
    for (int E = 0; E <= L + 1; E++) {
      for (int i = 0; i < EAHAS_MAX_EPOCHS + 2; i++) part[i] = -1.0f;
      eahas_bezier_decode_prefix(&b, L, E, part);
      int n = E < L ? E : L;
      if (memcmp(part, full, sizeof(float) * (size_t)n)) fail_msg("L %d, E %d: the prefix differs", L, E);
      for (int i = n; i < EAHAS_MAX_EPOCHS + 2; i++) assert_true(part[i] == -1.0f);
      checked++;
    }
  }
  assert_true(checked > 1000);
}

/* Same float, or both NaN (the sign of a NaN is the compiler's choice of operand order). */
static int same_value(float a, float b) { return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a); }

/* Every decoding path this CPU can run (the portable C compiled for x86-64-v3 and -v4, the AVX2
 * and the AVX-512 intrinsics) gives the values of the portable C compiled for baseline x86-64,
 * whose fma() is libm's, bit for bit: degrees 3 to 8, every length 2..200 with several
 * prefixes, flat stretches of u, a constant u (u' = 0 and table steps of 0 everywhere: the
 * branches for a zero slope), steep ends, table entries on the epochs exactly (u = t, L - 1 a
 * power of two),
 * control u that is not monotone or leaves [0, 1] (not the root then, but the same numbers), and
 * NaN or infinite control points in u, y or both (the same NaNs, and no crash). Skipped where
 * only the baseline path exists. */
static void test_decode_paths_agree(void **state) {
  (void)state;
  int paths[4], np = 0;
  for (int p = EAHAS__DECODE_V3; p <= EAHAS__DECODE_AVX512; p++)
    if (eahas__bezier_path_supported(p)) paths[np++] = p;
  if (np == 0) {
    print_message("only the baseline decoding path exists on this CPU\n");
    skip();
  }
  /* the default is the best path there is: AVX-512 where the CPU has it */
  assert_int_equal(eahas__bezier_avx512(), eahas__bezier_path_supported(EAHAS__DECODE_AVX512));
  eahas_rng r;
  eahas_rng_seed(&r, 77);
  static float a[EAHAS_MAX_EPOCHS + 2], g[EAHAS_MAX_EPOCHS + 2];
  int checked = 0;
  static const double odd[] = {NAN, INFINITY, -INFINITY, 1e300, -3.0, 7.5};
  for (int trial = 0; trial < 700; trial++) {
    eahas_bezier b = {.degree = 3 + trial % 6};
    int n = b.degree;
    for (int k = 0; k <= n; k++) {
      b.u[k] = eahas_rng_uniform(&r);
      b.y[k] = 100 * eahas_rng_uniform(&r);
    }
    if (trial % 7 == 1) b.u[1] = b.u[2] = 0.5;                 /* a flat stretch */
    if (trial % 7 == 2) for (int k = 1; k < n; k++) b.u[k] = 0; /* u'(0) = 0: steep start */
    if (trial % 7 == 3) for (int k = 1; k < n; k++) b.u[k] = 1; /* steep end */
    if (trial % 7 == 4) for (int k = 1; k < n; k++) b.u[k] = (double)k / n; /* u = t */
    if (trial % 7 != 5) eahas_bezier_make_monotone(&b);        /* 5: as drawn, not monotone */
    if (trial % 7 == 6) b.u[1 + trial % (n - 1)] = 2.5 - 6 * eahas_rng_uniform(&r); /* outside [0, 1] */
    if (trial % 50 == 13) for (int k = 0; k <= n; k++) b.u[k] = 0.5; /* constant, not projected */
    if (trial % 25 == 10) b.u[2] = odd[trial / 25 % 6];
    if (trial % 25 == 11) b.y[1] = odd[trial / 25 % 6];
    if (trial % 25 == 12) b.u[1] = odd[trial / 25 % 6], b.y[2] = odd[(trial / 25 + 1) % 6];
    int L = 2 + trial % 199;
    /* u = t with n = 4 or 8 and L - 1 a power of 2: table entries fall exactly on epochs */
    if (trial % 7 == 4 && (n == 4 || n == 8)) L = 1 + (1 << (1 + trial / 7 % 7));
    for (int E = 1; E <= L + 1; E += 1 + L / 9) {
      for (int i = 0; i < EAHAS_MAX_EPOCHS + 2; i++) g[i] = -1.0f;
      eahas__bezier_path = EAHAS__DECODE_BASE;
      eahas_bezier_decode_prefix(&b, L, E, g);
      for (int p = 0; p < np; p++) {
        for (int i = 0; i < EAHAS_MAX_EPOCHS + 2; i++) a[i] = -1.0f;
        eahas__bezier_path = paths[p];
        eahas_bezier_decode_prefix(&b, L, E, a);
        for (int i = 0; i < EAHAS_MAX_EPOCHS + 2; i++)
          if (!same_value(a[i], g[i]))
            fail_msg("trial %d, degree %d, L %d, E %d, path %d: value %d is %.9g, the baseline path's %.9g", trial,
                     n, L, E, paths[p], i, a[i], g[i]);
        checked++;
      }
      eahas__bezier_path = EAHAS__DECODE_AUTO;
    }
  }
  assert_true(checked > 5000 * np);
}

static void test_monotone_projection(void **state) {
  (void)state;
  eahas_bezier b = {.degree = 5, .u = {0, 0.5, 0.2, 0.3, 1.4, 1}, .y = {10, 20, 30, 40, 50, 60}};
  eahas_bezier_make_monotone(&b);
  for (int k = 0; k < 5; k++) assert_true(b.u[k] <= b.u[k + 1]);
  /* PAV pools 0.5, 0.2, 0.3 into their mean; 1.4 is clamped to 1. */
  assert_true(fabs(b.u[1] - 1.0 / 3) < 1e-12 && fabs(b.u[3] - 1.0 / 3) < 1e-12 && b.u[4] == 1.0);
  /* Decoding a projected curve gives values at the right epochs: u(t) = s exactly. */
  float out[100];
  double ref[100];
  eahas_bezier_decode(&b, 100, out);
  sample_bisect(&b, 100, ref);
  for (int j = 0; j < 100; j++) assert_true(fabs(out[j] - ref[j]) < 1e-4);
}

/* A pycls-like curve: fast rise, lr-schedule knee, noise. */
static void real_like(int L, int seed, double *y) {
  eahas_rng r;
  eahas_rng_seed(&r, (uint64_t)seed);
  double top = 85 + 8 * eahas_rng_uniform(&r), tau = 2 + 6 * eahas_rng_uniform(&r);
  for (int e = 1; e <= L; e++) {
    double base = 10 + (top - 10) * (1 - exp(-e / tau));
    double knee = 3.0 * (1 - cos(M_PI * e / L)) / 2; /* cosine schedule: late gain */
    y[e - 1] = fmin(100, base + knee + 0.3 * eahas_rng_normal(&r));
  }
}

static void test_real_like_fit(void **state) {
  (void)state;
  double worst = 0, mean = 0;
  for (int s = 0; s < 50; s++) {
    double y[50], rmse;
    eahas_bezier b;
    real_like(50, s, y);
    assert_int_equal(eahas_bezier_fit(y, 50, 5, &b, &rmse, NULL), 0);
    /* The reported RMSE is the decoder's. */
    float dec[50];
    eahas_bezier_decode(&b, 50, dec);
    double ss = 0;
    for (int j = 0; j < 50; j++) ss += (dec[j] - y[j]) * (dec[j] - y[j]);
    assert_true(fabs(sqrt(ss / 50) - rmse) < 1e-3);
    if (rmse > worst) worst = rmse;
    mean += rmse / 50;
  }
  fprintf(stderr, "real-like 50-epoch curves: mean RMSE %.3f, worst %.3f points\n", mean, worst);
  assert_true(worst < 1.0);
}

static void test_errors(void **state) {
  (void)state;
  double y[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  eahas_bezier b;
  eahas_err e = {0};
  assert_int_equal(eahas_bezier_fit(y, 10, 9, &b, NULL, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "degree 9 is outside [3, 8]"));
  assert_int_equal(eahas_bezier_fit(y, 1, 5, &b, NULL, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "length 1"));
  y[3] = NAN;
  assert_int_equal(eahas_bezier_fit(y, 10, 5, &b, NULL, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "epoch 4"));
  /* A short curve (fewer points than control points) is still fitted exactly. */
  double s[3] = {10, 50, 60};
  double rmse;
  assert_int_equal(eahas_bezier_fit(s, 3, 5, &b, &rmse, NULL), 0);
  assert_true(rmse < 1e-3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_exact_recovery), cmocka_unit_test(test_decode_lengths), cmocka_unit_test(test_decode_prefix),
      cmocka_unit_test(test_decode_paths_agree),
    cmocka_unit_test(test_monotone_projection), cmocka_unit_test(test_real_like_fit),
    cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
