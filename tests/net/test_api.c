/* The net API: construction errors, parameter list against pycls complexity, initialization,
 * batch sizes below max_batch (plan cache), evaluation vs training mode, copy_state, the
 * label-smoothed cross entropy, thread setting, ReLU masks and frozen ReLU states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "net/fixture.h"

static eahas_regnet small_rn(void) {
  eahas_regnet rn;
  memset(&rn, 0, sizeof rn);
  rn.num_stages = 2;
  rn.max_stages = 2;
  rn.widths[0] = 16;
  rn.widths[1] = 32;
  rn.depths[0] = 1;
  rn.depths[1] = 2;
  rn.group_widths[0] = 8;
  rn.group_widths[1] = 8;
  rn.strides[0] = rn.strides[1] = 2;
  return rn;
}

static const eahas_net_opts SMALL_OPTS = {EAHAS_STEM_RES_CIFAR, 8, 8, 3, 5, 1};

static void test_errors(void **s) {
  (void)s;
  eahas_regnet rn = small_rn();
  eahas_net_opts o = SMALL_OPTS;
  eahas_net *net = (eahas_net *)1;
  eahas_err err = {0, ""};
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 0, 1, &net, &err), EAHAS_EINVAL);
  assert_null(net);
  assert_non_null(strstr(err.msg, "max_batch=0"));
  o.num_classes = 0;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 1, &net, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "num_classes=0"));
  o = SMALL_OPTS;
  o.stem = (eahas_stem_kind)7;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 1, &net, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "stem kind 7"));
  o = SMALL_OPTS;
  rn.group_widths[1] = 24; /* 32 is not a multiple of 24 */
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 1, &net, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "stage 2 width 32 is not a multiple of its group width 24"));
  rn = small_rn();
  rn.num_stages = 0;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 1, &net, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "num_stages=0"));
  eahas_regnet_arch bad = {0, 48, 8, 20.0, 2.5};
  assert_int_equal(eahas_net_new(&bad, &o, 4, 1, &net, &err), EAHAS_EINVAL);
  assert_null(net);

  rn = small_rn();
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 1, &net, &err), 0);
  float x[4 * 3 * 64] = {0}, lg[4 * 5], dl[4 * 5] = {0};
  assert_int_equal(eahas_net_backward(net, dl, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "training-mode forward"));
  assert_int_equal(eahas_net_forward(net, x, 5, 1, lg, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "n=5 is outside [1, max_batch=4]"));
  assert_int_equal(eahas_net_forward(net, x, 0, 1, lg, &err), EAHAS_EINVAL);
  assert_int_equal(eahas_net_forward(net, NULL, 2, 1, lg, &err), EAHAS_EINVAL);
  eahas_tensor_info none = eahas_net_param(net, 9999);
  assert_null(none.name);
  none = eahas_net_buffer(net, -1);
  assert_null(none.data);
  eahas_net_free(net);
  eahas_net_free(NULL);
  assert_int_equal(eahas_net_set_threads(-1, &err), EAHAS_EINVAL);
  assert_int_equal(eahas_net_set_threads(0, &err), 0);
  assert_int_equal(strncmp(eahas_net_backend_version(), "2.", 2), 0);
}

/* The parameter tensors add up to pycls's parameter count, for every preset. */
static void test_params_match_complexity(void **s) {
  (void)s;
  const char *names[] = {"cifar10", "fashion-mnist", "tinyimagenet"};
  eahas_rng rng;
  eahas_rng_seed(&rng, 9);
  for (int i = 0; i < 3; i++) {
    const eahas_preset *p = eahas_preset_get(names[i]);
    assert_non_null(p);
    eahas_config c;
    eahas_regnet rn;
    eahas_complexity cx;
    eahas_err err = {0, ""};
    assert_int_equal(eahas_config_sample(&rng, p, 0, &c, &err), 0);
    assert_int_equal(eahas_config_complexity(&c, p, &rn, &cx, &err), 0);
    eahas_net_opts o = eahas_preset_net_opts(p);
    eahas_regnet_arch a = eahas_config_arch(&c);
    eahas_net *net = NULL;
    assert_int_equal(eahas_net_new(&a, &o, 2, 1, &net, &err), 0);
    double np = 0;
    for (int k = 0; k < eahas_net_num_params(net); k++) np += (double)eahas_net_param(net, k).n;
    assert_true(np == cx.params);
    assert_int_equal(eahas_net_num_buffers(net) % 2, 0);
    assert_string_equal(eahas_net_param(net, 0).name, "stem.conv.weight");
    assert_string_equal(eahas_net_param(net, eahas_net_num_params(net) - 1).name, "head.fc.bias");
    eahas_net_free(net);
  }
}

static double stdev(const float *x, size_t n, double *mean) {
  double m = 0, v = 0;
  for (size_t i = 0; i < n; i++) m += x[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  return sqrt(v / (double)n);
}

/* pycls init: conv normal(0, sqrt(2 / (k k w_out))), BN 1/0, head normal(0, 0.01) bias 0,
 * SE biases 0, running mean 0 / var 1; deterministic in the seed. */
static void test_init(void **s) {
  (void)s;
  eahas_regnet rn = small_rn();
  rn.widths[1] = 64;
  eahas_net_opts o = SMALL_OPTS;
  o.num_classes = 100;
  eahas_net *a = NULL, *b = NULL, *c = NULL;
  eahas_err err = {0, ""};
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 2, 42, &a, &err), 0);
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 2, 42, &b, &err), 0);
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 2, 43, &c, &err), 0);
  int diff_seed_differs = 0;
  for (int i = 0; i < eahas_net_num_params(a); i++) {
    eahas_tensor_info t = eahas_net_param(a, i), u = eahas_net_param(b, i), w = eahas_net_param(c, i);
    assert_memory_equal(t.data, u.data, t.n * sizeof(float));
    if (memcmp(t.data, w.data, t.n * sizeof(float))) diff_seed_differs = 1;
    double mean, sd = stdev(t.data, t.n, &mean);
    if (t.is_bn) {
      int is_gamma = strstr(t.name, ".weight") != NULL;
      for (size_t j = 0; j < t.n; j++) assert_true(t.data[j] == (is_gamma ? 1.0f : 0.0f));
    } else if (strstr(t.name, ".bias")) {
      for (size_t j = 0; j < t.n; j++) assert_true(t.data[j] == 0.0f);
    } else if (!strcmp(t.name, "head.fc.weight")) {
      assert_true(fabs(sd - 0.01) < 0.001);
    } else if (!strcmp(t.name, "s2.b2.f.b.weight")) { /* 3x3, 64 out: std sqrt(2/576) */
      assert_true(t.n == 64 * 8 * 9);
      assert_true(fabs(sd - sqrt(2.0 / 576)) < 0.05 * sqrt(2.0 / 576));
      assert_true(fabs(mean) < 0.005);
    } else if (!strcmp(t.name, "s2.b2.f.c.weight")) { /* 1x1, 64 out: std sqrt(2/64) */
      assert_true(fabs(sd - sqrt(2.0 / 64)) < 0.05 * sqrt(2.0 / 64));
    } else if (!strcmp(t.name, "s2.b2.f.se.f_ex.0.weight")) { /* 1x1 conv 64 -> 16: std sqrt(2/16) */
      assert_true(t.n == 16 * 64);
      assert_true(fabs(sd - sqrt(2.0 / 16)) < 0.08 * sqrt(2.0 / 16));
    }
  }
  assert_true(diff_seed_differs);
  for (int i = 0; i < eahas_net_num_buffers(a); i++) {
    eahas_tensor_info t = eahas_net_buffer(a, i);
    assert_null(t.grad);
    assert_int_equal(t.is_buffer, 1);
    float want = strstr(t.name, "running_var") ? 1.0f : 0.0f;
    for (size_t j = 0; j < t.n; j++) assert_true(t.data[j] == want);
  }
  eahas_net_free(a);
  eahas_net_free(b);
  eahas_net_free(c);
}

/* Evaluation-mode logits of a batch prefix equal the prefix of the full batch (each image is
 * independent there), for several n below max_batch (more than the plan cache holds). Training
 * forward moves the running statistics, evaluation forward does not. */
static void test_batch_sizes_and_modes(void **s) {
  (void)s;
  eahas_regnet rn = small_rn();
  eahas_net_opts o = SMALL_OPTS;
  eahas_net *net = NULL;
  eahas_err err = {0, ""};
  const int N = 9, K = 5;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, N, 3, &net, &err), 0);
  size_t per = 3 * 64;
  float *x = malloc(N * per * sizeof(float)), full[9 * 5], part[9 * 5];
  eahas_rng rng;
  eahas_rng_seed(&rng, 1);
  for (size_t i = 0; i < N * per; i++) x[i] = (float)eahas_rng_normal(&rng);
  assert_int_equal(eahas_net_forward(net, x, N, 1, full, &err), 0); /* move running stats off 0/1 */
  eahas_tensor_info rv = eahas_net_buffer(net, 1);
  assert_true(rv.data[0] != 1.0f);
  float before = rv.data[0];
  assert_int_equal(eahas_net_forward(net, x, N, 0, full, &err), 0);
  assert_true(rv.data[0] == before);
  int ns[] = {1, 2, 3, 5, 7, 8, 2, 1};
  for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
    assert_int_equal(eahas_net_forward(net, x, ns[t], 0, part, &err), 0);
    assert_true(rel_err(part, full, (size_t)ns[t] * K) < 1e-5);
  }
  /* a training step on a smaller batch, then backward works on that batch */
  float dl[3 * 5];
  int lab[3] = {0, 1, 4};
  assert_int_equal(eahas_net_forward(net, x, 3, 1, part, &err), 0);
  eahas_softmax_xent(part, lab, 3, K, 0.1, dl, NULL);
  assert_int_equal(eahas_net_backward(net, dl, &err), 0);
  assert_true(rv.data[0] != before);
  free(x);
  eahas_net_free(net);
}

static void test_copy_state(void **s) {
  (void)s;
  eahas_regnet rn = small_rn();
  eahas_net_opts o = SMALL_OPTS;
  eahas_net *a = NULL, *b = NULL, *c = NULL;
  eahas_err err = {0, ""};
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 2, 1, &a, &err), 0);
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 4, 2, &b, &err), 0);
  eahas_net_buffer(a, 0).data[0] = 0.25f;
  assert_int_equal(eahas_net_copy_state(b, a, &err), 0);
  for (int i = 0; i < eahas_net_num_params(a); i++)
    assert_memory_equal(eahas_net_param(a, i).data, eahas_net_param(b, i).data, eahas_net_param(a, i).n * 4);
  assert_true(eahas_net_buffer(b, 0).data[0] == 0.25f);
  rn.depths[1] = 1;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, 2, 1, &c, &err), 0);
  assert_int_equal(eahas_net_copy_state(c, a, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "different architectures"));
  assert_int_equal(eahas_net_copy_state(NULL, a, &err), EAHAS_EINVAL);
  eahas_net_free(a);
  eahas_net_free(b);
  eahas_net_free(c);
}

/* PyTorch CrossEntropyLoss(label_smoothing=eps): values worked out by hand. */
static void test_xent(void **s) {
  (void)s;
  float z[2 * 3] = {0, 0, 0, 1, 2, 3};
  int y[2] = {1, 0};
  float d[6];
  int correct = -1;
  /* row 0: uniform, loss log 3 whatever eps; row 1: log p = z - lse, lse = 3 + log(1 + e^-1 + e^-2) */
  double lse = 3.0 + log(1.0 + exp(-1.0) + exp(-2.0));
  double l1_plain = lse - 1.0, l1_smooth = 0.9 * (lse - 1.0) + 0.1 * (lse - 2.0);
  double l = eahas_softmax_xent(z, y, 2, 3, 0.0, d, &correct);
  assert_true(fabs(l - (log(3.0) + l1_plain) / 2) < 1e-12);
  assert_int_equal(correct, 0); /* row 0: tie -> class 0 != 1; row 1: argmax 2 != 0 */
  l = eahas_softmax_xent(z, y, 2, 3, 0.1, d, &correct);
  assert_true(fabs(l - (log(3.0) + l1_smooth) / 2) < 1e-12);
  /* gradient: (softmax - q) / n, q = 0.9 onehot + 0.1 / 3 */
  assert_true(fabs(d[0] - (1.0 / 3 - 0.1 / 3) / 2) < 1e-7);
  assert_true(fabs(d[1] - (1.0 / 3 - 0.9 - 0.1 / 3) / 2) < 1e-7);
  double p2 = exp(3.0 - lse);
  assert_true(fabs(d[5] - (p2 - 0.1 / 3) / 2) < 1e-7);
  for (int r = 0; r < 2; r++) assert_true(fabs(d[3 * r] + d[3 * r + 1] + d[3 * r + 2]) < 1e-7);
  int y2[2] = {0, 2};
  eahas_softmax_xent(z, y2, 2, 3, 0.1, NULL, &correct);
  assert_int_equal(correct, 2);
  /* large logits stay finite */
  float big[3] = {1000.0f, -1000.0f, 0.0f};
  int y3 = 1;
  l = eahas_softmax_xent(big, &y3, 1, 3, 0.1, d, NULL);
  assert_true(isfinite(l) && fabs(l - (0.9 * 2000.0 + 0.1 * (0.0 + 2000.0 + 1000.0) / 3)) < 1e-6);
}

/* eahas_net_relu_mask / relu_count / freeze_relu: the mask matches the activations, a frozen
 * forward with the net's own states reproduces it, flipped states change it, errors. */
static void test_relu_freeze(void **s) {
  (void)s;
  eahas_regnet rn = small_rn();
  eahas_net_opts o = SMALL_OPTS;
  eahas_net *net = NULL;
  eahas_err err = {0, ""};
  const int N = 4, K = 5;
  assert_int_equal(eahas_net_new_regnet(&rn, &o, N, 3, &net, &err), 0);
  assert_int_equal(eahas_net_relu_mask(net, NULL, 0), 0); /* no forward yet */
  assert_int_equal(eahas_net_relu_count(NULL, 4), 0);
  assert_int_equal(eahas_net_relu_count(net, 0), 0);
  /* count by hand: stem 8x8x8; s1.b1 (16 wide, 8x8 in, 4x4 out, w_se 2): 16*64 + 2*16*16 + 2;
     s2.b1 (32, 4x4 -> 2x2, w_se 4): 32*16 + 2*32*4 + 4; s2.b2 (2x2 -> 2x2, w_se 8): 32*4 * 3 + 8 */
  size_t per = 8 * 64 + (16 * 64 + 2 * 16 * 16 + 2) + (32 * 16 + 2 * 32 * 4 + 4) + (32 * 4 * 3 + 8);
  assert_int_equal(eahas_net_relu_count(net, 3), 3 * per);
  size_t xs = 3 * 64;
  float *x = malloc(N * xs * sizeof(float)), l0[4 * 5], l1[4 * 5], l2[4 * 5], dl[4 * 5] = {0};
  eahas_rng rng;
  eahas_rng_seed(&rng, 2);
  for (size_t i = 0; i < N * xs; i++) x[i] = (float)eahas_rng_normal(&rng);
  assert_int_equal(eahas_net_forward(net, x, 3, 1, l0, &err), 0);
  size_t nm = eahas_net_relu_mask(net, NULL, 0), on = 0;
  assert_int_equal(nm, 3 * per);
  unsigned char *m = malloc(nm), *m2 = malloc(nm);
  assert_int_equal(eahas_net_relu_mask(net, m, 5), nm); /* cap bounds the bytes written */
  assert_int_equal(eahas_net_relu_mask(net, m, nm), nm);
  for (size_t i = 0; i < nm; i++) on += m[i];
  assert_true(on > nm / 4 && on < nm); /* both states occur */
  /* frozen at its own states: the same logits, and the same states */
  assert_int_equal(eahas_net_freeze_relu(net, m, nm, &err), 0);
  assert_int_equal(eahas_net_forward(net, x, 3, 1, l1, &err), 0);
  assert_true(rel_err(l1, l0, 3 * K) < 1e-6);
  assert_int_equal(eahas_net_relu_mask(net, m2, nm), nm);
  assert_memory_equal(m, m2, nm);
  /* no backward after a frozen forward */
  assert_int_equal(eahas_net_backward(net, dl, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "training-mode forward"));
  /* another batch size: its count differs */
  assert_int_equal(eahas_net_forward(net, x, 4, 1, l1, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "frozen ReLU states given, but batch 4 has"));
  /* evaluation mode is not affected */
  assert_int_equal(eahas_net_freeze_relu(net, NULL, 0, &err), 0);
  assert_int_equal(eahas_net_forward(net, x, 4, 0, l2, &err), 0);
  assert_int_equal(eahas_net_freeze_relu(net, m, nm, &err), 0);
  assert_int_equal(eahas_net_forward(net, x, 4, 0, l1, &err), 0);
  assert_memory_equal(l1, l2, sizeof(float) * 4 * K);
  /* flipped states (all on: a linear net) give other logits */
  memset(m2, 1, nm);
  assert_int_equal(eahas_net_freeze_relu(net, m2, nm, &err), 0);
  assert_int_equal(eahas_net_forward(net, x, 3, 1, l1, &err), 0);
  assert_true(rel_err(l1, l0, 3 * K) > 1e-3);
  /* real ReLUs again: the original logits (running stats moved, but training mode ignores them) */
  assert_int_equal(eahas_net_freeze_relu(net, NULL, 0, &err), 0);
  assert_int_equal(eahas_net_forward(net, x, 3, 1, l1, &err), 0);
  assert_true(rel_err(l1, l0, 3 * K) < 1e-6);
  assert_int_equal(eahas_net_backward(net, dl, &err), 0);
  /* errors */
  assert_int_equal(eahas_net_freeze_relu(NULL, m, nm, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "NULL net"));
  assert_int_equal(eahas_net_freeze_relu(net, m, 0, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "count=0"));
  free(m);
  free(m2);
  free(x);
  eahas_net_free(net);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),      cmocka_unit_test(test_params_match_complexity),
      cmocka_unit_test(test_init),        cmocka_unit_test(test_batch_sizes_and_modes),
      cmocka_unit_test(test_copy_state),  cmocka_unit_test(test_xent),
      cmocka_unit_test(test_relu_freeze),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
