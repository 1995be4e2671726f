/* The umbrella header compiles on its own and exposes every module (a C API user's view). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "eahas/eahas.h"

static void test_umbrella_header(void **state) {
  (void)state;
  assert_string_equal(eahas_version(), "0.1.0");
  assert_int_equal(EAHAS_ENCODING_LEN, 26);
  assert_int_equal(EAHAS_MAX_EPOCHS, 200);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_umbrella_header)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
