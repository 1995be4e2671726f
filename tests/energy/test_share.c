/* Domain-share locks (issue 4, item 5): alone, overlapping from before, a run that comes and
 * goes inside ours, sequential runs, other domains, per-domain answers, a crashed holder, errors.
 * flock locks belong to open file descriptions, so two "runs" in one process see each other
 * exactly as two processes do; one case uses a real second process that is killed. */
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "energy/fake_tree.h"
#include "energy/internal.h"

static char *dir;

static int setup(void **state) {
  (void)state;
  dir = ft_root();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ft_rm(dir);
  free(dir);
  return 0;
}

static eahas_domain_share *begin(const char *a, const char *b) {
  const char *d[2] = {a, b};
  eahas_domain_share *s = NULL;
  eahas_err e = {0};
  int rc = eahas_domain_share_begin(d, b ? 2 : 1, dir, &s, &e);
  if (rc != 0) fail_msg("begin: %s", e.msg);
  return s;
}

static int end(eahas_domain_share *s) {
  int shared = -1;
  eahas_err e = {0};
  assert_int_equal(eahas_domain_share_end(s, &shared, NULL, &e), 0);
  return shared;
}

static void test_alone_and_sequential(void **state) {
  (void)state;
  eahas_domain_share *a = begin("package-0", NULL);
  assert_int_equal(end(a), 0);
  eahas_domain_share *b = begin("package-0", NULL);
  assert_int_equal(end(b), 0);
  /* Different domains never share. */
  a = begin("gpu-0", NULL);
  b = begin("gpu-1", NULL);
  assert_int_equal(end(a), 0);
  assert_int_equal(end(b), 0);
}

static void test_overlaps(void **state) {
  (void)state;
  /* b begins while a runs: both shared. */
  eahas_domain_share *a = begin("package-0", NULL);
  eahas_domain_share *b = begin("package-0", NULL);
  int sh = -1;
  eahas_err e = {0};
  assert_int_equal(eahas_domain_share_check(b, &sh, NULL, &e), 0);
  assert_int_equal(sh, 1);
  assert_int_equal(end(b), 1);
  assert_int_equal(end(a), 1);
  /* c comes and goes entirely inside d: d must know although c is gone at d's end. */
  eahas_domain_share *d = begin("package-0", NULL);
  assert_int_equal(eahas_domain_share_check(d, &sh, NULL, &e), 0);
  assert_int_equal(sh, 0);
  eahas_domain_share *c = begin("package-0", NULL);
  assert_int_equal(end(c), 1);
  assert_int_equal(end(d), 1);
  /* Per domain: x holds package-0 and gpu-0, y only gpu-0. */
  eahas_domain_share *x = begin("package-0", "gpu-0");
  eahas_domain_share *y = begin("gpu-0", NULL);
  assert_int_equal(end(y), 1);
  int per[2] = {-1, -1};
  assert_int_equal(eahas_domain_share_end(x, &sh, per, &e), 0);
  assert_int_equal(sh, 1);
  assert_int_equal(per[0], 0);
  assert_int_equal(per[1], 1);
}

static void test_crashed_holder(void **state) {
  (void)state;
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    const char *d[1] = {"gpu-3"};
    eahas_domain_share *s;
    if (eahas_domain_share_begin(d, 1, dir, &s, NULL) != 0) _exit(1);
    if (write(pipefd[1], "x", 1) != 1) _exit(1);
    pause(); /* killed while holding the lock */
    _exit(0);
  }
  char c;
  assert_int_equal(read(pipefd[0], &c, 1), 1);
  /* While the other process runs, our run shares the domain. */
  eahas_domain_share *a = begin("gpu-3", NULL);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  assert_int_equal(end(a), 1);
  /* Its lock died with it: nothing stale is left for the next run. */
  eahas_domain_share *b = begin("gpu-3", NULL);
  assert_int_equal(end(b), 0);
  close(pipefd[0]);
  close(pipefd[1]);
}

static void test_errors(void **state) {
  (void)state;
  eahas_domain_share *s;
  eahas_err e = {0};
  const char *bad[1] = {"../etc"};
  assert_int_equal(eahas_domain_share_begin(bad, 1, dir, &s, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "domain name '../etc' (number 0) is not 1-31 letters, digits, '-', '_' or '.' (not starting with '.')");
  const char *ok[1] = {"package-0"};
  assert_int_equal(eahas_domain_share_begin(ok, 0, dir, &s, &e), EAHAS_EINVAL);
  assert_string_equal(e.msg, "0 domains to lock, expected 1 to 16");
  assert_int_equal(eahas_domain_share_begin(ok, 1, "/proc/eahas-locks", &s, &e), EAHAS_EIO);
  assert_non_null(strstr(e.msg, "/proc/eahas-locks"));
  /* The default directory and its override. */
  setenv("EAHAS_LOCK_DIR", dir, 1);
  assert_string_equal(eahas_domain_share_default_dir(), dir);
  assert_int_equal(eahas_domain_share_begin(ok, 1, NULL, &s, &e), 0);
  char p[2 * PATH_MAX];
  snprintf(p, sizeof p, "%s/package-0.lock", dir);
  assert_int_equal(access(p, F_OK), 0);
  assert_int_equal(end(s), 0);
  unsetenv("EAHAS_LOCK_DIR");
  assert_string_equal(eahas_domain_share_default_dir(), "/tmp/eahas-locks");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alone_and_sequential), cmocka_unit_test(test_overlaps),
      cmocka_unit_test(test_crashed_holder), cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
