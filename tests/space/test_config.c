/* Tests of the config text and JSON forms, parsing errors (every bad-input kind of issue 2),
 * validation under presets, hashing and the 26-value encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eahas/space.h"

static const char *CANON = "d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100";

/* Parses text expecting failure with a message containing every one of the given pieces. */
static void expect_error(const char *text, const char *piece1, const char *piece2) {
  eahas_config c;
  eahas_err e = {0};
  int rc = eahas_config_parse(text, &c, &e);
  if (rc != EAHAS_EINVAL || !strstr(e.msg, piece1) || (piece2 && !strstr(e.msg, piece2)))
    fail_msg("input '%.80s': rc=%d msg='%s', wanted '%s' and '%s'", text, rc, e.msg, piece1, piece2 ? piece2 : "");
}

static void test_parse_canonical(void **state) {
  (void)state;
  eahas_config c;
  eahas_err e = {0};
  assert_int_equal(eahas_config_parse(CANON, &c, &e), 0);
  assert_int_equal(c.d, 12);
  assert_int_equal(c.w0, 64);
  assert_int_equal(c.wa10, 203);
  assert_int_equal(c.wm1000, 2712);
  assert_int_equal(c.gw, 8);
  assert_true(eahas_config_lr(&c) == 0.1);
  assert_int_equal(c.opt, EAHAS_OPT_SGD);
  assert_int_equal(c.sched, EAHAS_SCHED_COS);
  assert_int_equal(c.cutout, 16);
  assert_int_equal(c.epochs, 100);
  assert_true(eahas_config_wa(&c) == 20.3);
  assert_true(eahas_config_wm(&c) == 2.712);
  char buf[EAHAS_CONFIG_TEXT_MAX];
  assert_int_equal(eahas_config_format(&c, buf, sizeof buf), (int)strlen(CANON));
  assert_string_equal(buf, CANON);
  /* snprintf style: a short buffer reports the length needed. */
  char small[8];
  assert_int_equal(eahas_config_format(&c, small, sizeof small), (int)strlen(CANON));
  assert_string_equal(small, "d=12,w0");
}

/* Any key order, spaces, other spellings of the same value, trailing newline. */
static void test_parse_variants(void **state) {
  (void)state;
  eahas_config a, b;
  assert_int_equal(eahas_config_parse(CANON, &a, NULL), 0);
  assert_int_equal(eahas_config_parse(
                       " epochs=100, cutout=16,sched=cos,opt=sgd,lr=1e-1,gw=8.0,wm=2.7120,wa=20.30,w0=64,d=12 \n",
                       &b, NULL),
                   0);
  assert_true(eahas_config_equal(&a, &b));
  assert_int_equal(eahas_config_parse("d=6,w0=48,wa=8,wm=2.5,gw=1,lr=0.001,opt=adamw,sched=lin,cutout=0,epochs=50",
                                      &b, NULL),
                   0);
  char buf[EAHAS_CONFIG_TEXT_MAX];
  eahas_config_format(&b, buf, sizeof buf);
  assert_string_equal(buf, "d=6,w0=48,wa=8.0,wm=2.500,gw=1,lr=0.001,opt=adamw,sched=lin,cutout=0,epochs=50");
}

/* format(parse(x)) == x and parse(to_json(c)) == c over every value of every dimension. */
static void test_round_trip_all_values(void **state) {
  (void)state;
  eahas_config c;
  assert_int_equal(eahas_config_parse(CANON, &c, NULL), 0);
  char buf[EAHAS_CONFIG_TEXT_MAX];
  long n = 0;
  for (int wa = 80; wa <= 320; wa++)
    for (int wm = 1500; wm <= 3000; wm += 7) {
      c.wa10 = wa;
      c.wm1000 = wm;
      c.lr_idx = (wa + wm) % EAHAS_NUM_LR;
      c.gw = EAHAS_GW_VALUES[wa % EAHAS_NUM_GW];
      c.d = 6 + wm % 10;
      c.w0 = 48 + 8 * (wa % 11);
      c.opt = (eahas_opt_kind)(wa % 3);
      c.sched = (eahas_sched_kind)(wm % 3);
      c.cutout = wa % 2 ? 16 : 0;
      c.epochs = EAHAS_EPOCH_VALUES[wm % 3];
      eahas_config_format(&c, buf, sizeof buf);
      eahas_config back, back_json;
      eahas_err e = {0};
      if (eahas_config_parse(buf, &back, &e) != 0) fail_msg("%s: %s", buf, e.msg);
      assert_true(eahas_config_equal(&c, &back));
      char buf2[EAHAS_CONFIG_TEXT_MAX];
      eahas_config_format(&back, buf2, sizeof buf2);
      assert_string_equal(buf, buf2);
      char *js = eahas_config_to_json(&c);
      assert_non_null(js);
      if (eahas_config_parse(js, &back_json, &e) != 0) fail_msg("%s: %s", js, e.msg);
      assert_true(eahas_config_equal(&c, &back_json));
      free(js);
      n++;
    }
  assert_true(n > 50000);
  /* Every wm value on its own (the 0.001 grid is where binary doubles go wrong). */
  for (int wm = 1500; wm <= 3000; wm++) {
    c.wm1000 = wm;
    eahas_config_format(&c, buf, sizeof buf);
    eahas_config back;
    assert_int_equal(eahas_config_parse(buf, &back, NULL), 0);
    assert_int_equal(back.wm1000, wm);
  }
}

static void test_json(void **state) {
  (void)state;
  eahas_config c, b;
  assert_int_equal(eahas_config_parse(CANON, &c, NULL), 0);
  char *js = eahas_config_to_json(&c);
  assert_string_equal(js, "{\"d\":12,\"w0\":64,\"wa\":20.3,\"wm\":2.712,\"gw\":8,\"lr\":0.1,\"opt\":\"sgd\","
                          "\"sched\":\"cos\",\"cutout\":16,\"epochs\":100}");
  free(js);
  /* Strings for numbers, any order, whitespace. */
  assert_int_equal(eahas_config_parse("{ \"epochs\": \"100\", \"d\": \"12\", \"w0\": 64, \"wa\": \"20.3\", "
                                      "\"wm\": 2.712, \"gw\": 8, \"lr\": \"0.1\", \"opt\": \"sgd\", "
                                      "\"sched\": \"cos\", \"cutout\": 16 }",
                                      &b, NULL),
                   0);
  assert_true(eahas_config_equal(&c, &b));
  expect_error("{\"d\":12,\"d\":13,\"w0\":64,\"wa\":20.3,\"wm\":2.712,\"gw\":8,\"lr\":0.1,\"opt\":\"sgd\","
               "\"sched\":\"cos\",\"cutout\":16,\"epochs\":100}",
               "duplicate key 'd'", NULL);
  expect_error("{\"d\":12,\"w0\":64,\"wa\":20.3,\"wm\":2.712,\"gw\":8,\"lr\":0.1,\"opt\":\"sgd\","
               "\"sched\":\"cos\",\"cutout\":16}",
               "missing key 'epochs'", NULL);
  expect_error("{\"d\":12,\"w0\":64,\"wa\":20.35,\"wm\":2.712,\"gw\":8,\"lr\":0.1,\"opt\":\"sgd\","
               "\"sched\":\"cos\",\"cutout\":16,\"epochs\":100}",
               "wa=20.35 is off the grid", "steps of 0.1");
  expect_error("{\"d\":true}", "d: JSON value must be a number or a string", NULL);
  expect_error("{\"d\":12,", "not valid JSON", NULL);
  expect_error("{\"bogus\":1}", "unknown key 'bogus'", NULL);
}

/* One test per bad-input kind of issue 2; each asserts the message names the problem. */
static void test_bad_inputs(void **state) {
  (void)state;
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100,foo=1",
               "unknown key 'foo'", "allowed keys: d, w0, wa");
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16", "missing key 'epochs'", NULL);
  expect_error("d=12,d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "duplicate key 'd'", NULL);
  /* out of range */
  expect_error("d=16,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "d=16 is out of range", "6..15");
  expect_error("d=12,w0=136,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "w0=136 is out of range", "48..128 in steps of 8");
  expect_error("d=12,w0=64,wa=32.1,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "wa=32.1 is out of range", "8.0..32.0");
  expect_error("d=12,w0=64,wa=20.3,wm=3.5,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "wm=3.5 is out of range", "1.500..3.000");
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=150",
               "epochs=150 is not one of 50, 100, 200", NULL);
  /* off grid */
  expect_error("d=12,w0=60,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "w0=60 is off the grid", "steps of 8");
  expect_error("d=12,w0=64,wa=20.3,wm=2.7125,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "wm=2.7125 is off the grid", "steps of 0.001");
  expect_error("d=12.5,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "d=12.5 is off the grid", "integers 6..15");
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=3,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "gw=3 is not one of 1, 2, 4, 8, 16, 24, 32", NULL);
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.2,opt=sgd,sched=cos,cutout=16,epochs=100",
               "lr=0.2 is not one of 0.001", NULL);
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=rmsprop,sched=cos,cutout=16,epochs=100",
               "opt='rmsprop' is not one of sgd, adam, adamw", NULL);
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=step,cutout=16,epochs=100",
               "sched='step' is not one of cos, exp, lin", NULL);
  /* not a number */
  expect_error("d=twelve,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "d='twelve' is not a number", "integers 6..15");
  expect_error("d=12,w0=64,wa=,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "wa='' is not a number", NULL);
  expect_error("d=12,w0=64,wa=20.3x,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100",
               "wa='20.3x' is not a number", NULL);
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=nan,opt=sgd,sched=cos,cutout=16,epochs=100",
               "lr='nan' is not a number", NULL);
  /* empty line */
  expect_error("", "empty config", NULL);
  expect_error("  \n", "empty config", NULL);
  /* not key=value */
  expect_error("d=12,w0", "'w0' is not key=value", NULL);
  /* a 1 MB line */
  size_t big = 1 << 20;
  char *line = malloc(big + 1);
  assert_non_null(line);
  memset(line, 'd', big);
  line[big] = 0;
  expect_error(line, "too long", "4096 bytes");
  free(line);
  /* non-UTF-8 bytes */
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=s\xff\xfe,sched=cos,cutout=16,epochs=100",
               "not valid UTF-8", "0xff at offset 45");
  /* valid UTF-8 that is not a key still names it */
  expect_error("d=12,w0=64,wa=20.3,wm=2.712,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=16,epochs=100,\xc3\xa9=1",
               "unknown key '\xc3\xa9'", NULL);
  /* NULL input */
  eahas_config c;
  eahas_err e = {0};
  assert_int_equal(eahas_config_parse(NULL, &c, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "empty config"));
}

static void test_validate(void **state) {
  (void)state;
  const eahas_preset *cifar = eahas_preset_get("cifar10"), *tiny = eahas_preset_get("tinyimagenet");
  eahas_config c;
  eahas_err e = {0};
  /* A known valid cifar10 config: flops 123227848 (printed by describe), 2 stages. */
  assert_int_equal(eahas_config_parse("d=15,w0=80,wa=9.2,wm=2.844,gw=24,lr=0.001,opt=adam,sched=exp,cutout=16,epochs=50",
                                      &c, NULL),
                   0);
  assert_int_equal(eahas_config_validate(&c, cifar, 1, &e), 0);
  eahas_complexity cx;
  eahas_regnet r;
  assert_int_equal(eahas_config_complexity(&c, cifar, &r, &cx, NULL), 0);
  assert_true(cx.flops >= 0.12e9 && cx.flops <= 0.13e9);
  assert_int_equal(r.num_stages, 2);
  /* wm below the cifar10 range but inside tinyimagenet's. */
  c.wm1000 = 2000;
  assert_int_equal(eahas_config_validate(&c, cifar, 0, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "wm=2.000 is outside [2.500, 3.000] of preset cifar10");
  assert_int_equal(eahas_config_validate(&c, tiny, 0, &e), 0);
  /* flops band */
  assert_int_equal(eahas_config_parse(CANON, &c, NULL), 0);
  assert_int_equal(eahas_config_validate(&c, cifar, 0, &e), 0);
  assert_int_equal(eahas_config_complexity(&c, cifar, &r, &cx, NULL), 0);
  int rc = eahas_config_validate(&c, cifar, 1, &e);
  assert_int_equal(rc, EAHAS_EINVAL);
  assert_true(strstr(e.msg, "preset cifar10") != NULL);
  /* stage count: wa small relative to w0 keeps one stage. */
  assert_int_equal(eahas_config_parse("d=6,w0=128,wa=8.0,wm=3.0,gw=8,lr=0.1,opt=sgd,sched=cos,cutout=0,epochs=50",
                                      &c, NULL),
                   0);
  assert_int_equal(eahas_config_validate(&c, cifar, 1, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "num_stages=1, max_stages=1: preset cifar10 requires exactly 2 stages (both equal to 2)");
  /* fields of a config built in code */
  c.gw = 5;
  assert_int_equal(eahas_config_validate(&c, cifar, 0, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "gw=5 is not one of 1, 2, 4, 8, 16, 24, 32");
}

static void test_hash_and_presets(void **state) {
  (void)state;
  eahas_config a, b;
  assert_int_equal(eahas_config_parse(CANON, &a, NULL), 0);
  b = a;
  assert_true(eahas_config_hash(&a) == eahas_config_hash(&b));
  assert_true(eahas_config_hash(&a) == eahas_hash64(CANON, strlen(CANON)));
  b.wm1000++;
  assert_true(eahas_config_hash(&a) != eahas_config_hash(&b));
  const eahas_preset *const *all = eahas_preset_all();
  int n = 0;
  while (all[n]) n++;
  assert_int_equal(n, 3);
  const eahas_preset *p;
  eahas_err e = {0};
  assert_int_equal(eahas_preset_lookup("cifar100", &p, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "preset 'cifar100' is unknown; allowed: cifar10, tinyimagenet, fashion-mnist");
  assert_int_equal(eahas_preset_lookup("fashion-mnist", &p, &e), 0);
  assert_int_equal(p->in_channels, 1);
  assert_int_equal(p->num_classes, 10);
  assert_int_equal(p->stem, EAHAS_STEM_RES_CIFAR);
  assert_int_equal(p->stem_w, 16);
  assert_int_equal(p->required_stages, 2);
  assert_true(p->flops_max == 0);
  assert_int_equal(p->data_im_size, 28);
  p = eahas_preset_get("tinyimagenet");
  assert_int_equal(p->num_classes, 200);
  assert_int_equal(p->stem_w, 32);
  assert_int_equal(p->wm1000_min, 1500);
  assert_int_equal(p->data_im_size, 64);
  assert_int_equal(p->im_size, 32);
  p = eahas_preset_get("cifar10");
  assert_true(p->flops_min == 0.12e9 && p->flops_max == 0.13e9 && p->params_max == 2.0e6 && p->acts_max == 1.0e6);
  assert_int_equal(p->batch_size, 1024);
  assert_int_equal(p->test_batch_size, 1000);
  assert_null(eahas_preset_get("nope"));
}

static void test_encode(void **state) {
  (void)state;
  eahas_config c;
  assert_int_equal(eahas_config_parse("d=15,w0=128,wa=8.0,wm=2.750,gw=32,lr=0.5,opt=adamw,sched=lin,cutout=0,epochs=200",
                                      &c, NULL),
                   0);
  float enc[EAHAS_ENCODING_LEN];
  eahas_config_encode(&c, eahas_preset_get("cifar10"), enc);
  const float want[EAHAS_ENCODING_LEN] = {1, 1, 0, 0.5f, 1,                   /* arch */
                                          0, 0, 0, 0, 0, 0, 0, 0, 1, 0,       /* lr 0.5 */
                                          0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1};  /* adamw lin 0 200 */
  for (int i = 0; i < EAHAS_ENCODING_LEN; i++) assert_float_equal(enc[i], want[i], 1e-6);
  /* tinyimagenet scales wm over 1.5..3.0: 2.75 -> 1.25/1.5 */
  eahas_config_encode(&c, eahas_preset_get("tinyimagenet"), enc);
  assert_float_equal(enc[3], 1.25f / 1.5f, 1e-6);
  eahas_config d = {0};
  assert_int_equal(eahas_config_decode_categorical(enc, &d, NULL), 0);
  assert_int_equal(d.lr_idx, 8);
  assert_int_equal(d.opt, EAHAS_OPT_ADAMW);
  assert_int_equal(d.sched, EAHAS_SCHED_LIN);
  assert_int_equal(d.cutout, 0);
  assert_int_equal(d.epochs, 200);
  /* arg-max of soft values */
  enc[15] = 0.2f;
  enc[16] = 0.7f;
  enc[17] = 0.1f;
  assert_int_equal(eahas_config_decode_categorical(enc, &d, NULL), 0);
  assert_int_equal(d.opt, EAHAS_OPT_ADAM);
  enc[15] = enc[16] = enc[17] = 0;
  eahas_err e = {0};
  assert_int_equal(eahas_config_decode_categorical(enc, &d, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "encoding: the opt one-hot (values 15..17) has no positive entry");
}

/* Architectures alone, off the benchmark grid (pycls zoo models). */
static void test_arch_parse(void **state) {
  (void)state;
  eahas_regnet_arch a;
  eahas_err e = {0};
  assert_int_equal(eahas_regnet_arch_parse(" gw=8, wm=2.49,wa=36.44,w0=24,d=13\n", &a, &e), 0);
  assert_int_equal(a.d, 13);
  assert_int_equal(a.w0, 24);
  assert_int_equal(a.gw, 8);
  assert_true(a.wa == 36.44 && a.wm == 2.49);
  struct {
    const char *text, *msg;
  } bad[] = {
      {"d=13,w0=24,wa=36.44,wm=2.49", "missing key 'gw' (an architecture needs d, w0, wa, wm, gw)"},
      {"d=13,w0=24,wa=36.44,wm=2.49,gw=8,lr=0.1", "unknown key 'lr' (architecture keys: d, w0, wa, wm, gw)"},
      {"d=13,d=13,w0=24,wa=36.44,wm=2.49,gw=8", "duplicate key 'd'"},
      {"d=0,w0=24,wa=36.44,wm=2.49,gw=8", "d=0 is out of range (allowed: an integer in [1, 100000])"},
      {"d=13,w0=24.5,wa=36.44,wm=2.49,gw=8", "w0=24.5 is off the grid (allowed: an integer in [1, 100000])"},
      {"d=13,w0=24,wa=-1,wm=2.49,gw=8", "wa=-1 is out of range (allowed: a real >= 0)"},
      {"d=13,w0=24,wa=36.44,wm=1,gw=8", "wm=1 is out of range (allowed: a real > 1)"},
      {"d=13,w0=24,wa=abc,wm=2.49,gw=8", "wa='abc' is not a number (allowed: a real >= 0)"},
      {"d=13,w0=24,wa=inf,wm=2.49,gw=8", "wa='inf' is not a number (allowed: a real >= 0)"},
      {"", "empty architecture"},
      {"d=13,w0", "'w0' is not key=value"},
      {"d=\xff", "not valid UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    e.msg[0] = 0;
    assert_int_equal(eahas_regnet_arch_parse(bad[i].text, &a, &e), EAHAS_EINVAL);
    if (!strstr(e.msg, bad[i].msg)) fail_msg("'%s': got '%s', wanted '%s'", bad[i].text, e.msg, bad[i].msg);
  }
}

/* The constraint check on its own, each constraint at and past its bound. */
static void test_check_constraints(void **state) {
  (void)state;
  const eahas_preset *p = eahas_preset_get("cifar10");
  eahas_regnet r = {0};
  r.num_stages = r.max_stages = 2;
  eahas_complexity cx = {0.12e9, 2.0e6, 1.0e6};
  eahas_err e = {0};
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), 0);
  cx.flops = 0.13e9;
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), 0);
  cx.flops = 0.13e9 + 1;
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "flops=130000001 is outside [120000000, 130000000] of preset cifar10");
  cx.flops = 0.12e9 - 1;
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), EAHAS_EINVAL);
  cx.flops = 0.125e9;
  cx.params = 2.0e6 + 1;
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "params=2000001 is above the maximum 2000000 of preset cifar10");
  cx.params = 1e6;
  cx.acts = 1.0e6 + 1;
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "acts=1000001 is above the maximum 1000000 of preset cifar10");
  cx.acts = 1;
  r.max_stages = 3; /* two distinct widths but three possible: rejected (pycls num_s != max_s) */
  assert_int_equal(eahas_preset_check_constraints(p, &r, &cx, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "num_stages=2, max_stages=3: preset cifar10 requires exactly 2 stages (both equal to 2)");
  /* tinyimagenet has no complexity band */
  r.max_stages = 2;
  cx.flops = 1e12;
  cx.params = cx.acts = 1e12;
  assert_int_equal(eahas_preset_check_constraints(eahas_preset_get("tinyimagenet"), &r, &cx, &e), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_canonical), cmocka_unit_test(test_parse_variants),
      cmocka_unit_test(test_round_trip_all_values), cmocka_unit_test(test_json),
      cmocka_unit_test(test_bad_inputs),      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_hash_and_presets), cmocka_unit_test(test_encode),
      cmocka_unit_test(test_arch_parse),      cmocka_unit_test(test_check_constraints),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
