/* Tests of RegNet expansion and complexity against the pycls model zoo (REFERENCE.md §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "eahas/space.h"

/* ImageNet settings of the pycls zoo: simple_stem_in, stem 32, 224x224x3, 1000 classes. */
static eahas_net_opts imagenet_opts(int se) {
  eahas_net_opts o = {EAHAS_STEM_SIMPLE_IN, 32, 224, 3, 1000, se};
  return o;
}

static void check_model(int d, int w0, double wa, double wm, int gw, int se, double flops, double params,
                        double acts) {
  eahas_regnet_arch a = {d, w0, gw, wa, wm};
  eahas_regnet r;
  eahas_complexity cx;
  eahas_err e = {0};
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), 0);
  eahas_net_opts o = imagenet_opts(se);
  assert_int_equal(eahas_regnet_complexity(&r, &o, &cx, &e), 0);
  assert_true(cx.flops == flops);
  assert_true(cx.params == params);
  assert_true(cx.acts == acts);
}

static void test_regnetx_200mf(void **state) {
  (void)state;
  check_model(13, 24, 36.44, 2.49, 8, 0, 199040872, 2684792, 2164056);
}

static void test_regnety_200mf(void **state) {
  (void)state;
  check_model(13, 24, 36.44, 2.49, 8, 1, 199519076, 3162996, 2168052);
}

static void test_regnety_800mf(void **state) {
  (void)state;
  check_model(14, 56, 38.84, 2.4, 16, 1, 797183328, 6263168, 5249888);
}

/* Stage structure of the zoo models (pycls RegNetX-200MF: widths 24 56 152 368, depths 1 1 4 7;
 * RegNetY-800MF: widths 64 128 320 768, depths 1 3 8 2). */
static void test_expand_stages(void **state) {
  (void)state;
  eahas_regnet r;
  eahas_regnet_arch a = {13, 24, 8, 36.44, 2.49};
  assert_int_equal(eahas_regnet_expand(&a, &r, NULL), 0);
  assert_int_equal(r.num_stages, 4);
  assert_int_equal(r.max_stages, 4);
  int w1[] = {24, 56, 152, 368}, d1[] = {1, 1, 4, 7};
  for (int s = 0; s < 4; s++) {
    assert_int_equal(r.widths[s], w1[s]);
    assert_int_equal(r.depths[s], d1[s]);
    assert_int_equal(r.group_widths[s], 8);
    assert_int_equal(r.strides[s], 2);
  }
  eahas_regnet_arch b = {14, 56, 16, 38.84, 2.4};
  assert_int_equal(eahas_regnet_expand(&b, &r, NULL), 0);
  int w2[] = {64, 128, 320, 768}, d2[] = {1, 3, 8, 2};
  assert_int_equal(r.num_stages, 4);
  for (int s = 0; s < 4; s++) {
    assert_int_equal(r.widths[s], w2[s]);
    assert_int_equal(r.depths[s], d2[s]);
  }
}

/* Group compatibility: a stage narrower than gw gets g = width; widths round to multiples of g
 * half-to-even (pycls uses Python's round). d=2, w0=8, wa=0: one stage of width 8; gw=32 -> g=8. */
static void test_group_compatibility(void **state) {
  (void)state;
  eahas_regnet r;
  eahas_regnet_arch a = {2, 8, 32, 0.0, 2.5};
  assert_int_equal(eahas_regnet_expand(&a, &r, NULL), 0);
  assert_int_equal(r.num_stages, 1);
  assert_int_equal(r.max_stages, 1);
  assert_int_equal(r.widths[0], 8);
  assert_int_equal(r.depths[0], 2);
  assert_int_equal(r.group_widths[0], 8);
  /* w0=48, wm=2.5 -> second stage 120; gw=16: 120/16 = 7.5 rounds to 8 (even) -> 128;
   * first stage 48 stays 48. */
  eahas_regnet_arch b = {3, 48, 16, 40.0, 2.5};
  assert_int_equal(eahas_regnet_expand(&b, &r, NULL), 0);
  assert_int_equal(r.num_stages, 2);
  assert_int_equal(r.widths[0], 48);
  assert_int_equal(r.widths[1], 128);
  /* gw=48 on width 120 -> 120/48 = 2.5 rounds half to even -> 2 -> 96. */
  eahas_regnet_arch c = {3, 48, 48, 40.0, 2.5};
  assert_int_equal(eahas_regnet_expand(&c, &r, NULL), 0);
  assert_int_equal(r.widths[1], 96);
  assert_int_equal(r.group_widths[1], 48);
}

/* A hand count of the smallest network: res_stem_cifar, stem 4, 1 block of width 8, gw 8,
 * SE on, 8x8x1 input, 2 classes.
 * stem conv 3x3 1->4 at 8x8: flops 9*4*64 = 2304, params 36, acts 256; BN params 8.
 * block (w_in 4, w_out 8, stride 2 -> 4x4): proj 1x1 4->8: flops 32*16=512, params 32, acts 128,
 * BN 16. a 1x1 4->8 at 8x8: flops 32*64 = 2048, params 32, acts 512, BN 16. b 3x3 8->8 g=1 at
 * 4x4: flops 576*16 = 9216, params 576, acts 128, BN 16. SE w_se = round(0.25*4) = 1:
 * 8->1 +bias: flops 9, params 9, acts 1; 1->8 +bias: flops 16, params 16, acts 8.
 * c 1x1 8->8 at 4x4: flops 1024, params 64, acts 128, BN 16. head 8->2 +bias: 18, 18, acts 2. */
static void test_hand_count(void **state) {
  (void)state;
  eahas_regnet r;
  eahas_regnet_arch a = {1, 8, 8, 0.0, 2.0};
  assert_int_equal(eahas_regnet_expand(&a, &r, NULL), 0);
  eahas_net_opts o = {EAHAS_STEM_RES_CIFAR, 4, 8, 1, 2, 1};
  eahas_complexity cx;
  assert_int_equal(eahas_regnet_complexity(&r, &o, &cx, NULL), 0);
  assert_true(cx.flops == 2304 + 512 + 2048 + 9216 + 9 + 16 + 1024 + 18);
  assert_true(cx.params == 36 + 8 + 32 + 16 + 32 + 16 + 576 + 16 + 9 + 16 + 64 + 16 + 18);
  assert_true(cx.acts == 256 + 128 + 512 + 128 + 1 + 8 + 128 + 2);
}

static void test_expand_errors(void **state) {
  (void)state;
  eahas_regnet r;
  eahas_err e = {0};
  eahas_regnet_arch a = {0, 48, 8, 20.0, 2.5};
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "d=0"));
  a.d = 6;
  a.wm = 1.0;
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "wm=1"));
  a.wm = 2.5;
  a.wa = -1;
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "wa=-1"));
}

/* Huge but parseable wa, wm barely above 1 and huge network options used to overflow double ->
 * int and int64 (garbage such as max_stages=-2147483647, undefined behaviour): now errors. */
static void test_overflow_errors(void **state) {
  (void)state;
  eahas_regnet r;
  eahas_complexity cx;
  eahas_err e = {0};
  eahas_regnet_arch a = {13, 24, 8, 1e308, 2.49};
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "RegNet d=13 w0=24 wa=1e+308 wm=2.49: block 2 has width 1.09271e+308, above 1000000");
  a.wa = 1e9;
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "block 2 has width "));
  assert_non_null(strstr(e.msg, "above 1000000"));
  a.wa = 8.0;
  a.wm = 1.0000000000001;
  assert_int_equal(eahas_regnet_expand(&a, &r, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "wm too close to 1"));
  /* widths in range, counts beyond int64: 1e6 x 1e6 pixels */
  eahas_regnet_arch b = {15, 100000, 8, 100000, 3.0};
  assert_int_equal(eahas_regnet_expand(&b, &r, &e), 0);
  eahas_net_opts o = {EAHAS_STEM_RES_CIFAR, 1000000, 1000000, 3, 1000000, 1};
  assert_int_equal(eahas_regnet_complexity(&r, &o, &cx, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "exceeds 2^63"));
  assert_non_null(strstr(e.msg, "im_size=1000000"));
}

/* The preset shortcut equals expand + complexity with the preset's options. */
static void test_config_complexity(void **state) {
  (void)state;
  const eahas_preset *p = eahas_preset_get("cifar10");
  assert_non_null(p);
  eahas_config c = {12, 64, 203, 2712, 8, 6, EAHAS_OPT_SGD, EAHAS_SCHED_COS, 16, 100};
  eahas_regnet r1, r2;
  eahas_complexity c1, c2;
  assert_int_equal(eahas_config_complexity(&c, p, &r1, &c1, NULL), 0);
  eahas_regnet_arch a = eahas_config_arch(&c);
  assert_true(a.wa == 20.3 && a.wm == 2.712 && a.gw == 8 && a.w0 == 64 && a.d == 12);
  eahas_net_opts o = eahas_preset_net_opts(p);
  assert_int_equal(o.stem_w, 16);
  assert_int_equal(o.im_size, 32);
  assert_int_equal(o.num_classes, 10);
  assert_int_equal(eahas_regnet_expand(&a, &r2, NULL), 0);
  assert_int_equal(eahas_regnet_complexity(&r2, &o, &c2, NULL), 0);
  assert_true(c1.flops == c2.flops && c1.params == c2.params && c1.acts == c2.acts);
  assert_int_equal(memcmp(&r1, &r2, sizeof r1), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_regnetx_200mf),     cmocka_unit_test(test_regnety_200mf),
      cmocka_unit_test(test_regnety_800mf),     cmocka_unit_test(test_expand_stages),
      cmocka_unit_test(test_group_compatibility), cmocka_unit_test(test_hand_count),
      cmocka_unit_test(test_expand_errors),     cmocka_unit_test(test_config_complexity),
      cmocka_unit_test(test_overflow_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
