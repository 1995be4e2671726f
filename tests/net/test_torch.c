/* Agreement with PyTorch (tests/ref/gen_net_fixtures.py): logits, label-smoothed loss, every
 * parameter gradient and the BN running statistics of one training batch, then evaluation-mode
 * logits after an SGD-like update. Tolerance 1e-4 relative (norm-based per tensor). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "net/fixture.h"

#define TOL 1e-4

static void check_fixture(const char *path, int extra_batch) {
  fx_file f;
  assert_int_equal(fx_load(path, &f), 0);
  eahas_regnet rn;
  eahas_net_opts o;
  int n = 0;
  assert_int_equal(fx_build_from_meta(&f, &rn, &o, &n), 0);
  eahas_net *net = NULL;
  eahas_err err = {0, ""};
  int rc = eahas_net_new_regnet(&rn, &o, n + extra_batch, 7, &net, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);

  /* parameters and buffers: same names, order and sizes as PyTorch's state_dict */
  int np = 0, nb = 0;
  for (int i = 0; i < f.count; i++) {
    fx_rec *r = &f.recs[i];
    if (strncmp(r->name, "init/", 5)) continue;
    int is_buf = strstr(r->name, "running_") != NULL;
    eahas_tensor_info t = is_buf ? eahas_net_buffer(net, nb++) : eahas_net_param(net, np++);
    assert_non_null(t.name);
    if (strcmp(t.name, r->name + 5)) fprintf(stderr, "C %s vs torch %s\n", t.name, r->name + 5);
    assert_string_equal(t.name, r->name + 5);
    assert_int_equal(t.n, r->n);
    assert_int_equal(t.is_buffer, is_buf);
    assert_int_equal(t.is_bn, !is_buf && (strstr(t.name, "bn.") != NULL));
    memcpy(t.data, r->data, r->n * sizeof(float));
  }
  assert_int_equal(np, eahas_net_num_params(net));
  assert_int_equal(nb, eahas_net_num_buffers(net));

  /* training-mode forward */
  fx_rec *x = fx_get(&f, "input"), *lab = fx_get(&f, "labels"), *lg = fx_get(&f, "logits");
  int k = o.num_classes;
  float *logits = calloc((size_t)n * k, sizeof(float)), *dl = calloc((size_t)n * k, sizeof(float));
  int *labels = calloc((size_t)n, sizeof(int));
  for (int i = 0; i < n; i++) labels[i] = (int)lab->data[i];
  assert_int_equal(eahas_net_forward(net, x->data, n, 1, logits, &err), 0);
  double e = rel_err(logits, lg->data, lg->n);
  printf("%s: logits rel err %.2e\n", path, e);
  assert_true(e < TOL);
  double loss = eahas_softmax_xent(logits, labels, n, k, 0.1, dl, NULL);
  double ref = fx_get(&f, "loss")->data[0];
  printf("%s: loss %.7f torch %.7f\n", path, loss, ref);
  assert_true(fabs(loss - ref) / fabs(ref) < TOL);

  /* backward: every gradient */
  rc = eahas_net_backward(net, dl, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  assert_int_equal(rc, 0);
  double worst = 0.0;
  for (int i = 0; i < eahas_net_num_params(net); i++) {
    eahas_tensor_info t = eahas_net_param(net, i);
    char nm[200];
    snprintf(nm, sizeof nm, "grad/%s", t.name);
    fx_rec *g = fx_get(&f, nm);
    assert_non_null(g);
    e = rel_err(t.grad, g->data, t.n);
    if (e > worst) worst = e;
    if (e >= TOL) fprintf(stderr, "%s: grad %s rel err %.2e\n", path, t.name, e);
    assert_true(e < TOL);
  }
  printf("%s: worst gradient rel err %.2e over %d tensors\n", path, worst, eahas_net_num_params(net));

  /* running statistics after one training forward (momentum 0.1, unbiased variance) */
  for (int i = 0; i < eahas_net_num_buffers(net); i++) {
    eahas_tensor_info t = eahas_net_buffer(net, i);
    char nm[200];
    snprintf(nm, sizeof nm, "stats/%s", t.name);
    fx_rec *s = fx_get(&f, nm);
    assert_non_null(s);
    e = rel_err(t.data, s->data, t.n);
    if (e >= TOL) fprintf(stderr, "%s: %s rel err %.2e\n", path, t.name, e);
    assert_true(e < TOL);
  }

  /* evaluation mode after p -= 0.1 grad */
  for (int i = 0; i < eahas_net_num_params(net); i++) {
    eahas_tensor_info t = eahas_net_param(net, i);
    for (size_t j = 0; j < t.n; j++) t.data[j] -= 0.1f * t.grad[j];
  }
  assert_int_equal(eahas_net_forward(net, fx_get(&f, "input2")->data, n, 0, logits, &err), 0);
  e = rel_err(logits, fx_get(&f, "eval_logits")->data, (size_t)n * k);
  printf("%s: eval logits rel err %.2e\n", path, e);
  assert_true(e < TOL);
  /* an evaluation forward invalidates the saved activations */
  assert_int_equal(eahas_net_backward(net, dl, &err), EAHAS_EINVAL);
  assert_non_null(strstr(err.msg, "training-mode forward"));

  free(logits);
  free(dl);
  free(labels);
  eahas_net_free(net);
  fx_free(&f);
}

static void test_cifar(void **s) {
  (void)s;
  check_fixture("tests/ref/fixtures/net_cifar.bin", 0);
}
static void test_simple(void **s) {
  (void)s;
  check_fixture("tests/ref/fixtures/net_simple.bin", 3);
}
static void test_nose(void **s) {
  (void)s;
  check_fixture("tests/ref/fixtures/net_nose.bin", 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cifar), cmocka_unit_test(test_simple),
                                     cmocka_unit_test(test_nose)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
