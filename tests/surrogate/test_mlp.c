/* The BSC MLP: gradient against central finite differences, forward = training forward without
 * dropout, Adam fits a smooth function, determinism for a seed, option errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/surrogate.h"
#include "surrogate/internal.h"

/* n samples of 26 features shaped like the encoding: 5 reals, then five one-hot groups. */
static void make_inputs(int n, uint64_t seed, float *X) {
  static const int groups[5] = {10, 3, 3, 2, 3};
  eahas_rng r;
  eahas_rng_seed(&r, seed);
  for (int s = 0; s < n; s++) {
    float *x = X + s * 26;
    memset(x, 0, 26 * sizeof(float));
    for (int i = 0; i < 5; i++) x[i] = (float)eahas_rng_uniform(&r);
    int off = 5;
    for (int g = 0; g < 5; g++) {
      x[off + eahas_rng_below(&r, (uint64_t)groups[g])] = 1.0f;
      off += groups[g];
    }
  }
}

static void target(const float *x, float *y, int no) {
  for (int o = 0; o < no; o++) {
    double v = 0.3 + 0.2 * sin(3 * x[0] + o) + 0.1 * x[1] * x[2] + 0.05 * (x[5 + o % 10] - 0.5) + 0.1 * x[16];
    y[o] = (float)v;
  }
}

static void test_gradient_check(void **state) {
  (void)state;
  eahas_mlp m;
  int n = 6, no = 7;
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 8, no, 2, 0.0f, 11, NULL), 0);
  float X[6 * 26], Y[6 * 7], mask[6 * 7];
  make_inputs(n, 3, X);
  for (int s = 0; s < n; s++) target(X + s * 26, Y + s * no, no);
  for (int k = 0; k < n * no; k++) mask[k] = (k % 5 == 4) ? 0.0f : 1.0f; /* masked entries too */
  float *g = calloc(m.n_params, sizeof(float));
  eahas_mlp_loss_grad(&m, X, Y, mask, n, NULL, g);
  int bad = 0;
  double worst = 0;
  for (size_t k = 0; k < m.n_params; k++) {
    float p0 = m.params[k];
    const float eps = 1e-3f;
    m.params[k] = p0 + eps;
    double lp = eahas_mlp_loss_grad(&m, X, Y, mask, n, NULL, NULL);
    m.params[k] = p0 - eps;
    double lm = eahas_mlp_loss_grad(&m, X, Y, mask, n, NULL, NULL);
    m.params[k] = p0;
    double fd = (lp - lm) / (2 * eps), err = fabs(fd - g[k]);
    if (err > 2e-5 + 2e-2 * fabs(fd)) {
      bad++;
      fprintf(stderr, "param %zu: analytic %g, finite difference %g\n", k, (double)g[k], fd);
    }
    if (err > worst) worst = err;
  }
  fprintf(stderr, "gradient check: %zu parameters, worst abs error %.2e\n", m.n_params, worst);
  /* ReLU kinks can spoil a finite difference now and then; none expected at this scale. */
  assert_true(bad <= (int)(m.n_params / 200));
  free(g);
  eahas_mlp_free(&m);
}

static void test_forward_matches_training_forward(void **state) {
  (void)state;
  eahas_mlp m;
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 16, 10, 2, 0.2f, 5, NULL), 0);
  float X[26], Y[10], out[10];
  make_inputs(1, 9, X);
  eahas_mlp_forward(&m, X, out);
  /* loss with target = the forward output and no dropout is zero */
  memcpy(Y, out, sizeof out);
  assert_true(eahas_mlp_loss_grad(&m, X, Y, NULL, 1, NULL, NULL) < 1e-12);
  assert_true(out[0] > 0 && out[0] < 1 && out[1] > 0 && out[1] < 1);
  eahas_mlp_free(&m);
}

static void test_adam_fits_and_is_deterministic(void **state) {
  (void)state;
  int n = 400, no = 6;
  float *X = malloc(sizeof(float) * 26 * (size_t)n), *Y = malloc(sizeof(float) * (size_t)(no * n));
  make_inputs(n, 1, X);
  for (int s = 0; s < n; s++) target(X + s * 26, Y + s * no, no);
  eahas_mlp a, b;
  assert_int_equal(eahas_mlp_init(&a, 5, 21, 32, no, 2, 0.0f, 2, NULL), 0);
  assert_int_equal(eahas_mlp_init(&b, 5, 21, 32, no, 2, 0.0f, 2, NULL), 0);
  double before = eahas_mlp_loss_grad(&a, X, Y, NULL, n, NULL, NULL);
  eahas_mlp_train_opts o = {.epochs = 60, .batch = 32, .lr = 3e-3, .seed = 4};
  assert_int_equal(eahas_mlp_train(&a, X, Y, NULL, n, &o, NULL), 0);
  assert_int_equal(eahas_mlp_train(&b, X, Y, NULL, n, &o, NULL), 0);
  double after = eahas_mlp_loss_grad(&a, X, Y, NULL, n, NULL, NULL);
  fprintf(stderr, "Adam: MSE %.5f -> %.5f\n", before, after);
  assert_true(after < 0.1 * before);
  assert_true(after < 2e-3);
  assert_memory_equal(a.params, b.params, a.n_params * sizeof(float));
  eahas_mlp_free(&a);
  eahas_mlp_free(&b);
  free(X);
  free(Y);
}

static void test_errors(void **state) {
  (void)state;
  eahas_mlp m;
  eahas_err e = {0};
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 0, 10, 2, 0.1f, 0, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "hidden width 0 is outside [1, 256]"));
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 8, 10, 11, 0.1f, 0, &e), EAHAS_EINVAL);
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 8, 10, 2, 1.0f, 0, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "dropout 1 is outside [0, 1)"));
  assert_int_equal(eahas_mlp_init(&m, 5, 21, 8, 10, 2, 0.1f, 0, NULL), 0);
  eahas_mlp_train_opts o = {.epochs = 1, .batch = 0, .lr = 1e-3};
  float x[26] = {0}, y[10] = {0};
  assert_int_equal(eahas_mlp_train(&m, x, y, NULL, 1, &o, &e), EAHAS_EINVAL);
  assert_int_equal(eahas_mlp_train(&m, x, y, NULL, 0, &o, &e), EAHAS_EINVAL);
  eahas_mlp_free(&m);
}

/* Queries run many networks of one shape on one input, interleaved and skipping zero inputs:
 * the outputs equal eahas_mlp_forward's bit for bit, for the widths compiled specially and
 * others, odd and even counts, one-hot and arbitrary inputs, and a mixed-shape set (fallback). */
static void test_forward_many_matches_forward(void **state) {
  (void)state;
  static const int hidden[] = {16, 32, 64, 20}, n_out[] = {10, 6, 40};
  float X[8 * 26];
  make_inputs(6, 11, X);
  for (int i = 0; i < 26; i++) X[6 * 26 + i] = (float)(i % 3) - 0.5f; /* no zeros at all */
  memset(X + 7 * 26, 0, 26 * sizeof(float));                         /* all zeros */
  for (int h = 0; h < 4; h++)
    for (int o = 0; o < 3; o++)
      for (int n = 1; n <= 5; n++) {
        eahas_mlp m[5];
        const eahas_mlp *mp[5];
        float buf[5][EAHAS_MLP_MAX_OUT], *outs[5];
        for (int k = 0; k < n; k++) {
          /* the last network of a set of 5 at width 20 has another width: the fallback path */
          int hk = (h == 3 && n == 5 && k == 4) ? 24 : hidden[h];
          assert_int_equal(eahas_mlp_init(&m[k], 5, 21, hk, n_out[o], 2, 0.1f, (uint64_t)(100 * h + 10 * n + k), NULL), 0);
          mp[k] = &m[k];
          outs[k] = buf[k];
        }
        for (int s = 0; s < 8; s++) {
          eahas__mlp_forward_many(mp, n, X + 26 * s, outs);
          for (int k = 0; k < n; k++) {
            float want[EAHAS_MLP_MAX_OUT];
            eahas_mlp_forward(&m[k], X + 26 * s, want);
            assert_memory_equal(want, buf[k], sizeof(float) * (size_t)n_out[o]);
          }
        }
        for (int k = 0; k < n; k++) eahas_mlp_free(&m[k]);
      }
}

/* Batch queries run one network on 16 inputs at once (feature-major): the outputs equal
 * eahas_mlp_forward's bit for bit, for the widths compiled specially and others, and output
 * counts with and without a tail of fewer than 8, and units dead for the whole block (whose rows
 * the block skips), a -0 output bias that must stay -0; with AVX2 code and with AVX-512 code,
 * each where the CPU has it. Where the
 * CPU lacks one, the block path declines (-1) and callers answer one at a time; the test says so. */
static void test_forward_block_matches_forward(void **state) {
  (void)state;
  enum { Q = EAHAS__MLP_BLOCK };
  static const int hidden[] = {16, 32, 64, 20}, n_out[] = {10, 6, 16, 40};
  float X[Q * 26], xT[26 * Q];
  make_inputs(Q - 2, 21, X);
  for (int i = 0; i < 26; i++) X[(Q - 2) * 26 + i] = (float)(i % 3) - 0.5f; /* no zeros at all */
  memset(X + (Q - 1) * 26, 0, 26 * sizeof(float));                         /* all zeros */
  for (int q = 0; q < Q; q++)
    for (int f = 0; f < 26; f++) xT[f * Q + q] = X[q * 26 + f];
  for (int path = EAHAS__MLP_BLOCK_AVX2; path <= EAHAS__MLP_BLOCK_AVX512; path++)
    for (int h = 0; h < 4; h++)
      for (int o = 0; o < 4; o++) {
        eahas_mlp m;
        assert_int_equal(eahas_mlp_init(&m, 5, 21, hidden[h], n_out[o], 2, 0.1f, (uint64_t)(10 * h + o), NULL), 0);
        /* units dead for every input (the block skips their all-zero rows) in each hidden layer */
        for (int u = 0; u < 3; u++) {
          m.ba[u] = m.b1[2 * u] = m.b2[u + 1] = m.b3[u] = -1e3f;
          m.bh[u + 2] = -1e3f;
        }
        if (h == 1 && o == 1) { /* the last hidden layer dead for every input, output 2 with a -0
                                   bias and negative weights: -0 + 0 * w (= -0) ... stays -0; outputs
                                   0 and 1 go through the sigmoid */
          for (int u = 0; u < hidden[h]; u++) m.b3[u] = -1e3f, m.Wo[(size_t)u * n_out[o] + 2] = -0.5f;
          m.bo[2] = -0.0f;
        }
        float outT[EAHAS_MLP_MAX_OUT * Q];
        eahas__mlp_block_path = path;
        int rc = eahas__mlp_forward_block(&m, xT, outT);
        eahas__mlp_block_path = EAHAS__MLP_BLOCK_AUTO;
        if (rc) {
          if (h == 0 && o == 0)
            fprintf(stderr, "no %s here: the block path declines, queries go one at a time\n",
                    path == EAHAS__MLP_BLOCK_AVX2 ? "AVX2" : "AVX-512F");
          eahas_mlp_free(&m);
          continue;
        }
        for (int q = 0; q < Q; q++) {
          float want[EAHAS_MLP_MAX_OUT];
          eahas_mlp_forward(&m, X + 26 * q, want);
          for (int j = 0; j < n_out[o]; j++)
            if (memcmp(&want[j], &outT[j * Q + q], sizeof(float)))
              fail_msg("hidden %d, outputs %d, input %d, output %d: %.9g vs %.9g", hidden[h], n_out[o], q, j,
                       (double)want[j], (double)outT[j * Q + q]);
        }
        eahas_mlp_free(&m);
      }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_gradient_check), cmocka_unit_test(test_forward_matches_training_forward),
    cmocka_unit_test(test_forward_many_matches_forward), cmocka_unit_test(test_forward_block_matches_forward),
    cmocka_unit_test(test_adam_fits_and_is_deterministic), cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
