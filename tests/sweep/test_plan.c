/* Plans (distinct, valid under the preset's constraints, reproducible, strict reading) and the
 * Slurm script (quoting, validation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/sweep.h"

static char g_path[64];

static int setup(void **state) {
  (void)state;
  strcpy(g_path, "/tmp/eahas_test_plan_XXXXXX");
  int fd = mkstemp(g_path);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}
static int teardown(void **state) {
  (void)state;
  unlink(g_path);
  return 0;
}

static void write_text(const char *text) {
  FILE *f = fopen(g_path, "w");
  fputs(text, f);
  fclose(f);
}

static void test_plan_distinct_valid(void **state) {
  (void)state;
  const eahas_preset *p = eahas_preset_get("cifar10");
  eahas_plan_entry *e, *e2;
  eahas_err err = {0};
  assert_int_equal(eahas_sweep_plan(p, 20, 42, &e, &err), 0);
  for (int i = 0; i < 20; i++) {
    char id[17];
    eahas_run_id("cifar10", &e[i].config, id);
    assert_string_equal(e[i].id, id);
    assert_string_equal(e[i].preset, "cifar10");
    assert_true(e[i].seed == 42);
    /* under the preset's constraints: flops, params, acts, exactly 2 stages */
    assert_int_equal(eahas_config_validate(&e[i].config, p, 1, &err), 0);
    for (int j = 0; j < i; j++) assert_string_not_equal(e[i].id, e[j].id);
  }
  assert_int_equal(eahas_sweep_plan(p, 20, 42, &e2, &err), 0);
  assert_memory_equal(e, e2, 20 * sizeof *e); /* reproducible */
  free(e2);
  /* write and read back */
  assert_int_equal(eahas_plan_write(g_path, e, 20, &err), 0);
  int n;
  assert_int_equal(eahas_plan_read(g_path, &e2, &n, &err), 0);
  assert_int_equal(n, 20);
  for (int i = 0; i < 20; i++) {
    assert_string_equal(e[i].id, e2[i].id);
    assert_true(eahas_config_equal(&e[i].config, &e2[i].config));
    assert_true(e2[i].seed == 42);
  }
  free(e2);
  /* a seed above 2^53 survives the file exactly */
  e[0].seed = 18446744073709551557ull;
  assert_int_equal(eahas_plan_write(g_path, e, 2, &err), 0);
  assert_int_equal(eahas_plan_read(g_path, &e2, &n, &err), 0);
  assert_true(e2[0].seed == 18446744073709551557ull);
  assert_true(e2[1].seed == 42);
  free(e2);
  free(e);
  assert_int_equal(eahas_sweep_plan(p, 0, 1, &e, &err), EAHAS_EINVAL);
  assert_string_equal(err.msg, "-n 0 is outside [1, 10000000]");
}

static void expect_read_error(const char *text, const char *msg) {
  write_text(text);
  eahas_plan_entry *e = (eahas_plan_entry *)1;
  int n = -1;
  eahas_err err = {0};
  int rc = eahas_plan_read(g_path, &e, &n, &err);
  if (rc != EAHAS_EFORMAT || !strstr(err.msg, msg)) print_error("got %d \"%s\", want \"%s\"\n", rc, err.msg, msg);
  assert_int_equal(rc, EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, msg));
  assert_null(e);
  assert_int_equal(n, 0);
}

#define GOOD_CFG "{\"d\":6,\"w0\":64,\"wa\":19.6,\"wm\":2.616,\"gw\":16,\"lr\":0.5,\"opt\":\"adamw\",\"sched\":\"lin\",\"cutout\":16,\"epochs\":100}"

static void test_plan_read_errors(void **state) {
  (void)state;
  eahas_config c;
  assert_int_equal(eahas_config_parse(GOOD_CFG, &c, NULL), 0);
  char id[17], good[512], line[1200];
  eahas_run_id("fashion-mnist", &c, id);
  snprintf(good, sizeof good, "{\"id\":\"%s\",\"preset\":\"fashion-mnist\",\"seed\":1,\"config\":%s}\n", id, GOOD_CFG);
  /* a good file with a blank line reads */
  snprintf(line, sizeof line, "%s\n\n", good);
  write_text(line);
  eahas_plan_entry *e;
  int n;
  assert_int_equal(eahas_plan_read(g_path, &e, &n, NULL), 0);
  assert_int_equal(n, 1);
  free(e);
  char msg[128];
  snprintf(line, sizeof line, "%s{\"id\":", good);
  snprintf(msg, sizeof msg, "line 2 of %s: not a JSON object", g_path);
  expect_read_error(line, msg);
  expect_read_error("{\"id\":\"x\",\"preset\":\"mnist\",\"config\":{}}\n", "\"preset\" is missing or not one of");
  expect_read_error("{\"id\":\"x\",\"preset\":\"cifar10\"}\n", "\"config\" is missing or not an object");
  expect_read_error("{\"id\":\"x\",\"preset\":\"cifar10\",\"seed\":-1,\"config\":" GOOD_CFG "}\n",
                    "\"seed\" is not an integer in [0, 2^53] or a decimal string in [0, 2^64)");
  expect_read_error("{\"id\":\"x\",\"preset\":\"cifar10\",\"seed\":\"12x\",\"config\":" GOOD_CFG "}\n",
                    "\"seed\" is not an integer");
  expect_read_error("{\"id\":\"x\",\"preset\":\"cifar10\",\"config\":{\"d\":6}}\n", "config");
  snprintf(msg, sizeof msg, "\"id\" is \"x\", but preset and config give %s", id);
  expect_read_error("{\"id\":\"x\",\"preset\":\"fashion-mnist\",\"config\":" GOOD_CFG "}\n", msg);
  /* the same config under another preset has another id */
  snprintf(line, sizeof line, "{\"id\":\"%s\",\"preset\":\"cifar10\",\"config\":%s}\n", id, GOOD_CFG);
  expect_read_error(line, "but preset and config give");
  snprintf(line, sizeof line, "%s%s", good, good);
  snprintf(msg, sizeof msg, "line 2 of %s: id %s appears twice", g_path, id);
  expect_read_error(line, msg);
  expect_read_error("\n  \n", "holds no plan entries");
}

static void test_slurm_script(void **state) {
  (void)state;
  eahas_slurm_opts o = {.exe = "/opt/ea has/eahas", .plan_path = "/p/it's.jsonl", .out_dir = "/scratch/sw", .n = 12,
                        .time_limit = "00:10:00", .epochs = 5, .trainer = "python3 train.py --amp"};
  char *s;
  eahas_err err = {0};
  assert_int_equal(eahas_slurm_script(&o, &s, &err), 0);
  assert_non_null(strstr(s, "#SBATCH --array=0-11\n"));
  assert_non_null(strstr(s, "#SBATCH --output=/scratch/sw/logs/slurm-%A_%a.out\n"));
  assert_non_null(strstr(s, "#SBATCH --time=00:10:00\n"));
  assert_null(strstr(s, "--partition"));
  assert_non_null(strstr(s, "exec '/opt/ea has/eahas' sweep run-one '/p/it'\\''s.jsonl' --index \"$SLURM_ARRAY_TASK_ID\" "
                            "--out '/scratch/sw' --epochs 5 --trainer 'python3 train.py --amp'\n"));
  free(s);
  o.n = 0;
  assert_int_equal(eahas_slurm_script(&o, &s, &err), EAHAS_EINVAL);
  assert_null(s);
  o.n = 3;
  const char *bad_times[] = {"10:00", "1:60:00", "00:00:75", "x1:00:00", "1-2:00", "-1-01:00:00"};
  for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
    o.time_limit = bad_times[i];
    assert_int_equal(eahas_slurm_script(&o, &s, &err), EAHAS_EINVAL);
    assert_non_null(strstr(err.msg, "is not [D-]HH:MM:SS"));
  }
  o.time_limit = "2-12:00:00";
  o.partition = "gpu a";
  assert_int_equal(eahas_slurm_script(&o, &s, &err), EAHAS_EINVAL);
  assert_string_equal(err.msg, "--partition 'gpu a' has characters other than letters, digits, - _ , .");
  o.partition = "gpu,debug";
  assert_int_equal(eahas_slurm_script(&o, &s, &err), 0);
  assert_non_null(strstr(s, "#SBATCH --partition=gpu,debug\n#"));
  free(s);
}

static void test_state_of(void **state) {
  (void)state;
  char dir[] = "/tmp/eahas_test_state_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[256];
  int a = -1;
  assert_int_equal(eahas_sweep_state_of(dir, "00000000000000aa", 0, &a), EAHAS_SWEEP_TODO);
  assert_int_equal(a, 0);
  snprintf(p, sizeof p, "%s/failed", dir);
  assert_int_equal(eahas_mkdir_p(p, NULL), 0);
  snprintf(p, sizeof p, "%s/failed/00000000000000aa.json", dir);
  assert_int_equal(eahas_write_file_atomic(p, "{\"attempts\":2,\"reason\":\"x\"}", 27, NULL), 0);
  assert_int_equal(eahas_sweep_state_of(dir, "00000000000000aa", 1, &a), EAHAS_SWEEP_FAILED);
  assert_int_equal(a, 2);
  assert_int_equal(eahas_sweep_state_of(dir, "00000000000000aa", 2, &a), EAHAS_SWEEP_TODO);
  unlink(p);
  snprintf(p, sizeof p, "%s/failed", dir);
  rmdir(p);
  rmdir(dir);
  assert_int_equal(eahas_sweep_default_jobs(), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_plan_distinct_valid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plan_read_errors, setup, teardown),
      cmocka_unit_test(test_slurm_script),
      cmocka_unit_test(test_state_of),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
