/* Tests of `eahas train` argument handling: --help, and every bad-input path with its exit
 * status 1 and message (no training happens). Runs the binary named by EAHAS_BIN (set by ctest);
 * skipped when it is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define GOOD "d=6,w0=48,wa=8.0,wm=2.5,gw=8,lr=0.5,opt=sgd,sched=cos,cutout=0,epochs=50"

static const char *bin(void) {
  const char *b = getenv("EAHAS_BIN");
  return b && access(b, X_OK) == 0 ? b : NULL;
}

/* Runs "$EAHAS_BIN train <args>" capturing stdout+stderr; returns the exit status. */
static int run(const char *args, char *out, size_t n) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "'%s' train %s 2>&1", bin(), args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t got = fread(out, 1, n - 1, p);
  out[got] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect(const char *args, int status, const char *fragment) {
  char out[8192];
  int st = run(args, out, sizeof out);
  if (st != status) fail_msg("'%s': exit %d, want %d; output: %s", args, st, status, out);
  if (fragment && !strstr(out, fragment)) fail_msg("'%s': output lacks '%s': %s", args, fragment, out);
}

static void test_help_and_errors(void **state) {
  (void)state;
  if (!bin()) skip();
  expect("--help", 0, "usage: eahas train CONFIG --preset P");
  expect("--help", 0, "--epochs N");
  expect("", 1, "CONFIG is missing");
  expect(GOOD " -o /tmp/x.json", 1, "--preset is missing");
  expect(GOOD " --preset fashion-mnist", 1, "-o FILE is missing");
  expect("d=6 --preset fashion-mnist -o /tmp/x.json", 1, "missing key 'w0'");
  expect(GOOD " --preset mnist9 -o /tmp/x.json", 1, "preset 'mnist9' is unknown");
  expect(GOOD " --preset cifar10 -o /tmp/x.json", 1, "--data DIR is required for preset cifar10");
  expect(GOOD " --preset fashion-mnist --epochs 0 -o /tmp/x.json", 1, "--epochs: '0' is not an integer in [1, 200]");
  expect(GOOD " --preset fashion-mnist --epochs 51 -o /tmp/x.json", 1, "epochs limit 51 is outside [1, 50]");
  expect(GOOD " --preset fashion-mnist --threads x -o /tmp/x.json", 1, "--threads: 'x'");
  expect(GOOD " --preset fashion-mnist --seed -3 -o /tmp/x.json", 1, "--seed: '-3'");
  expect(GOOD " --preset fashion-mnist --meter joules -o /tmp/x.json", 1, "'joules' is not one of auto, nvml");
  expect(GOOD " --preset fashion-mnist --frobnicate -o /tmp/x.json", 1, "unknown option '--frobnicate'");
  expect(GOOD " " GOOD " --preset fashion-mnist -o /tmp/x.json", 1, "more than one CONFIG");
  expect(GOOD " --preset fashion-mnist -o", 1, "-o needs a value");
  expect(GOOD " --preset fashion-mnist --meter estimate --data /nonexistent -o /tmp/x.json", 1,
         "/nonexistent/train-images-idx3-ubyte[.gz] not found");
  /* wm outside the preset's range (tinyimagenet-only values) */
  expect("d=6,w0=48,wa=8.0,wm=1.6,gw=8,lr=0.5,opt=sgd,sched=cos,cutout=0,epochs=50 --preset fashion-mnist -o /tmp/x.json",
         1, "wm");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_help_and_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
