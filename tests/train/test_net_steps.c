/* Issue 3 "Must show": the parameters of a tiny RegNetY after 3 real training steps (forward,
 * label-smoothed loss, backward, optimizer step with the schedule's lr) of each of sgd, adam,
 * adamw with each lr policy match PyTorch (tests/ref/gen_train_fixtures.py, float64 reference)
 * within 5e-4 relative, per tensor in norm, on the change of the tensor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "eahas/train.h"
#include "net/fixture.h" /* the fixture reader of the net tests (same file format) */

#define FIXTURE "tests/ref/fixtures/train_net_steps.bin"
#define TOL 5e-4

/* Loads init/<name> into every parameter and buffer of the net. */
static void load_init(fx_file *f, eahas_net *net) {
  char key[200];
  for (int i = 0; i < eahas_net_num_params(net) + eahas_net_num_buffers(net); i++) {
    int np = eahas_net_num_params(net);
    eahas_tensor_info t = i < np ? eahas_net_param(net, i) : eahas_net_buffer(net, i - np);
    snprintf(key, sizeof key, "init/%s", t.name);
    fx_rec *r = fx_get(f, key);
    if (!r) fail_msg("fixture lacks %s", key);
    assert_int_equal(r->n, t.n);
    memcpy(t.data, r->data, t.n * sizeof(float));
  }
}

static void test_three_steps(void **state) {
  (void)state;
  fx_file f;
  assert_int_equal(fx_load(FIXTURE, &f), 0);
  eahas_regnet rn;
  eahas_net_opts no;
  int n = 0;
  assert_int_equal(fx_build_from_meta(&f, &rn, &no, &n), 0);
  eahas_net *net = NULL;
  eahas_err err = {0};
  /* One thread: on a network this small, OpenMP threads only wait for each other. */
  eahas_net_set_threads(1, NULL);
  if (eahas_net_new_regnet(&rn, &no, n, 1, &net, &err)) fail_msg("%s", err.msg);
  fx_rec *ep = fx_get(&f, "epochs");
  assert_non_null(ep);
  int k = no.num_classes, np = eahas_net_num_params(net);
  float *logits = malloc(sizeof(float) * (size_t)n * k), *dl = malloc(sizeof(float) * (size_t)n * k);
  int *labels = malloc(sizeof(int) * (size_t)n);
  eahas_tensor_info *params = malloc(sizeof *params * (size_t)np);
  const char *opts[3] = {"sgd", "adam", "adamw"}, *scheds[3] = {"cos", "exp", "lin"};
  double worst = 0;
  for (int oi = 0; oi < 3; oi++) {
    char key[200];
    snprintf(key, sizeof key, "base.%s", opts[oi]);
    double base = fx_get(&f, key)->data[0];
    for (int si = 0; si < 3; si++) {
      load_init(&f, net);
      for (int i = 0; i < np; i++) params[i] = eahas_net_param(net, i);
      eahas_optim *o = NULL;
      assert_int_equal(eahas_optim_new((eahas_opt_kind)oi, params, np, &o, NULL), 0);
      snprintf(key, sizeof key, "lr.%s.%s", opts[oi], scheds[si]);
      fx_rec *lrs = fx_get(&f, key);
      assert_non_null(lrs);
      for (int s = 0; s < 3; s++) {
        double lr = eahas_lr_at((eahas_sched_kind)si, base, (int)ep->data[s], (int)ep->data[3]);
        assert_float_equal(lr, lrs->data[s], 1e-6 * lr);
        snprintf(key, sizeof key, "x.%d", s);
        fx_rec *x = fx_get(&f, key);
        snprintf(key, sizeof key, "y.%d", s);
        fx_rec *y = fx_get(&f, key);
        for (int i = 0; i < n; i++) labels[i] = (int)y->data[i];
        if (eahas_net_forward(net, x->data, n, 1, logits, &err)) fail_msg("%s", err.msg);
        eahas_softmax_xent(logits, labels, n, k, EAHAS_LABEL_SMOOTHING, dl, NULL);
        if (eahas_net_backward(net, dl, &err)) fail_msg("%s", err.msg);
        eahas_optim_step(o, lr);
      }
      /* Compare the change of every parameter (final - init) in norm: the absolute values are
       * dominated by the initialization and would hide an optimizer error. */
      for (int i = 0; i < np; i++) {
        eahas_tensor_info t = params[i];
        char fk[200], ik[200];
        snprintf(fk, sizeof fk, "final.%s.%s/%s", opts[oi], scheds[si], t.name);
        snprintf(ik, sizeof ik, "init/%s", t.name);
        fx_rec *want = fx_get(&f, fk), *init = fx_get(&f, ik);
        if (!want) fail_msg("fixture lacks %s", fk);
        double num = 0, den = 0;
        for (size_t j = 0; j < t.n; j++) {
          double dc = (double)t.data[j] - init->data[j], dt = (double)want->data[j] - init->data[j];
          num += (dc - dt) * (dc - dt);
          den += dt * dt;
        }
        /* allowance for the float32 rounding of the parameters themselves */
        double e = sqrt(num) / fmax(sqrt(den), 1e-7 * sqrt((double)t.n));
        if (e > worst) worst = e;
        if (getenv("VERBOSE")) printf("%s %s %s: %.3g (change %.3g)\n", opts[oi], scheds[si], t.name, e, sqrt(den));
        else if (e > TOL) fail_msg("%s %s %s: relative error of the change %.3g", opts[oi], scheds[si], t.name, e);
      }
      eahas_optim_free(o);
    }
  }
  printf("worst relative error of a parameter change over 9 runs: %.2e\n", worst);
  free(logits);
  free(dl);
  free(labels);
  free(params);
  eahas_net_free(net);
  fx_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_three_steps)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
