/* Tests of util: errors, RNG reproducibility and ranges, hashing, atomic writes, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include "eahas/util.h"

static void test_err_set_and_prefix(void **state) {
  (void)state;
  eahas_err e = {0};
  assert_int_equal(eahas_err_set(&e, EAHAS_EINVAL, "wm=%s is outside [%s, %s]", "3.5", "2.5", "3.0"), EAHAS_EINVAL);
  assert_string_equal(e.msg, "wm=3.5 is outside [2.5, 3.0]");
  eahas_err_prefix(&e, EAHAS_EINVAL, "line %d of %s", 12, "plan.jsonl");
  assert_string_equal(e.msg, "line 12 of plan.jsonl: wm=3.5 is outside [2.5, 3.0]");
  assert_int_equal(eahas_err_set(NULL, EAHAS_EIO, "x"), EAHAS_EIO);
  assert_int_equal(eahas_exit_status(EAHAS_EINVAL), 1);
  assert_int_equal(eahas_exit_status(EAHAS_EIO), 2);
  assert_int_equal(eahas_exit_status(EAHAS_OK), 0);
}

static void test_rng_known_values(void **state) {
  (void)state;
  /* splitmix64 of 0 is a published reference value (Vigna's splitmix64.c, seed 0). */
  assert_true(eahas_mix64(0) == 0xe220a8397b1dcdafULL);
  eahas_rng a, b;
  eahas_rng_seed(&a, 42);
  eahas_rng_seed(&b, 42);
  for (int i = 0; i < 1000; i++) assert_true(eahas_rng_u64(&a) == eahas_rng_u64(&b));
  eahas_rng_seed(&b, 43);
  assert_true(eahas_rng_u64(&a) != eahas_rng_u64(&b));
}

static void test_rng_uniform_moments(void **state) {
  (void)state;
  eahas_rng r;
  eahas_rng_seed(&r, 7);
  const int n = 200000;
  double s = 0, s2 = 0;
  long counts[10] = {0};
  for (int i = 0; i < n; i++) {
    double u = eahas_rng_uniform(&r);
    assert_true(u >= 0.0 && u < 1.0);
    s += u;
    s2 += u * u;
    counts[eahas_rng_below(&r, 10)]++;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  assert_true(mean > 0.5 - 4 * 0.2887 / 447.2 && mean < 0.5 + 4 * 0.2887 / 447.2);
  assert_true(var > 1.0 / 12 - 0.002 && var < 1.0 / 12 + 0.002);
  for (int k = 0; k < 10; k++) {
    double se = sqrt(n * 0.1 * 0.9);
    assert_true(counts[k] > n * 0.1 - 4 * se && counts[k] < n * 0.1 + 4 * se);
  }
  double z = 0, z2 = 0;
  for (int i = 0; i < n; i++) {
    double v = eahas_rng_normal(&r);
    z += v;
    z2 += v * v;
  }
  assert_true(fabs(z / n) < 4.0 / sqrt(n));
  assert_true(fabs(z2 / n - 1.0) < 0.02);
}

static void test_hash_stable(void **state) {
  (void)state;
  /* FNV-1a of "" is the offset basis; our hash is its splitmix finalization. */
  assert_true(eahas_hash64("", 0) == eahas_mix64(0xcbf29ce484222325ULL));
  assert_true(eahas_hash64("a", 1) == eahas_mix64(0xaf63dc4c8601ec8cULL));
}

static void test_atomic_write_roundtrip(void **state) {
  (void)state;
  char dir[] = "/tmp/eahas_util_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/sub/dir/file.txt", dir);
  eahas_err e = {0};
  char sub[256];
  snprintf(sub, sizeof sub, "%s/sub/dir", dir);
  assert_int_equal(eahas_mkdir_p(sub, &e), 0);
  assert_int_equal(eahas_write_file_atomic(path, "hello", 5, &e), 0);
  assert_int_equal(eahas_write_file_atomic(path, "world!", 6, &e), 0);
  char *buf;
  size_t n;
  assert_int_equal(eahas_read_file(path, 0, &buf, &n, &e), 0);
  assert_int_equal(n, 6);
  assert_string_equal(buf, "world!");
  free(buf);
  assert_int_equal(eahas_read_file(path, 4, &buf, &n, &e), EAHAS_EFORMAT);
  assert_non_null(strstr(e.msg, "limit"));
  char missing[300];
  snprintf(missing, sizeof missing, "%s/nope/x", dir);
  assert_int_equal(eahas_write_file_atomic(missing, "x", 1, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, missing));
  /* a wrong path is bad input (exit status 1), not an I/O failure (2) */
  assert_int_equal(eahas_read_file(missing, 0, &buf, &n, &e), EAHAS_ENOTFOUND);
  assert_non_null(strstr(e.msg, "No such file or directory"));
  assert_int_equal(eahas_write_file_atomic(dir, "x", 1, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "Is a directory"));
  /* a file where a directory should be: bad input, not an I/O failure */
  assert_int_equal(eahas_mkdir_p(path, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "exists and is not a directory"));
  char below[300];
  snprintf(below, sizeof below, "%s/deeper", path);
  assert_int_equal(eahas_mkdir_p(below, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "Not a directory"));
  assert_int_equal(eahas_read_file(dir, 0, &buf, &n, &e), EAHAS_EINVAL);
  assert_non_null(strstr(e.msg, "Is a directory"));
  assert_null(buf);
  unlink(path);
  rmdir(sub);
  snprintf(sub, sizeof sub, "%s/sub", dir);
  rmdir(sub);
  rmdir(dir);
}

static void test_utf8(void **state) {
  (void)state;
  assert_int_equal(eahas_utf8_invalid_at("abc", 3), -1);
  assert_int_equal(eahas_utf8_invalid_at("a\xc3\xa9", 3), -1);
  assert_int_equal(eahas_utf8_invalid_at("ab\xff", 3), 2);
  assert_int_equal(eahas_utf8_invalid_at("\xc0\x80", 2), 0); /* overlong NUL */
  assert_int_equal(eahas_utf8_invalid_at("\xed\xa0\x80", 3), 0); /* surrogate */
  assert_int_equal(eahas_utf8_invalid_at("x\xe2\x82", 3), 1); /* truncated */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_err_set_and_prefix), cmocka_unit_test(test_rng_known_values),
    cmocka_unit_test(test_rng_uniform_moments), cmocka_unit_test(test_hash_stable),
    cmocka_unit_test(test_atomic_write_roundtrip), cmocka_unit_test(test_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
