/* Run record JSON: exact round trips and every validation error with its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/train.h"
#include "tabular/fixture.h"

static void assert_records_equal(const eahas_run_record *a, const eahas_run_record *b) {
  assert_string_equal(a->id, b->id);
  assert_string_equal(a->preset, b->preset);
  assert_true(eahas_config_equal(&a->config, &b->config));
  assert_true(a->seed == b->seed);
  assert_int_equal(a->epochs_planned, b->epochs_planned);
  assert_int_equal(a->epochs_limit, b->epochs_limit);
  assert_int_equal(a->epochs_trained, b->epochs_trained);
  assert_string_equal(a->status, b->status);
  assert_string_equal(a->reason, b->reason);
  assert_true(a->cx.flops == b->cx.flops && a->cx.params == b->cx.params && a->cx.acts == b->cx.acts);
  for (int e = 0; e < a->epochs_trained; e++) {
    assert_true(a->train_loss[e] == b->train_loss[e]);
    assert_true(a->train_acc[e] == b->train_acc[e]);
    assert_true(a->val_acc[e] == b->val_acc[e]);
    assert_true(a->test_acc[e] == b->test_acc[e]);
    assert_true(a->test_acc_ema[e] == b->test_acc_ema[e]);
    assert_true(a->lr[e] == b->lr[e]);
    assert_true(a->epoch_time_s[e] == b->epoch_time_s[e]);
    assert_true(a->train_energy_j[e] == b->train_energy_j[e]);
    assert_true(a->eval_energy_j[e] == b->eval_energy_j[e]);
  }
  assert_true(a->train_time_s == b->train_time_s);
  assert_true(a->total_energy_j == b->total_energy_j);
  assert_true(a->tec_kwh == b->tec_kwh);
  assert_true(a->iec_j_per_image == b->iec_j_per_image);
  assert_string_equal(a->energy_method, b->energy_method);
  assert_string_equal(a->energy_domains, b->energy_domains);
  assert_int_equal(a->energy_shared, b->energy_shared);
  assert_string_equal(a->machine, b->machine);
  assert_string_equal(a->cpu, b->cpu);
  assert_int_equal(a->threads, b->threads);
  assert_string_equal(a->dataset, b->dataset);
  assert_string_equal(a->versions, b->versions);
  assert_string_equal(a->trainer, b->trainer);
}

static void test_init_bounds(void **state) {
  (void)state;
  eahas_run_record r;
  eahas_err err = {0};
  assert_int_equal(eahas_run_record_init(&r, -1, &err), EAHAS_EINVAL);
  assert_string_equal(err.msg, "epochs=-1 is outside [0, 200]");
  assert_int_equal(eahas_run_record_init(&r, 201, &err), EAHAS_EINVAL);
  assert_int_equal(eahas_run_record_init(&r, 0, &err), 0);
  assert_non_null(r.test_acc);
  assert_int_equal(r.schema_version, EAHAS_RECORD_SCHEMA_VERSION);
  eahas_run_record_free(&r);
  assert_null(r.test_acc);
  eahas_run_record_free(&r); /* idempotent */
}

static void test_run_id(void **state) {
  (void)state;
  eahas_config c = fixture_config(3);
  char a[17], b[17], f[17];
  eahas_run_id("cifar10", &c, a);
  eahas_run_id("cifar10", &c, b);
  eahas_run_id("fashion-mnist", &c, f);
  assert_int_equal(strlen(a), 16);
  assert_int_equal(strspn(a, "0123456789abcdef"), 16);
  assert_string_equal(a, b);
  assert_string_not_equal(a, f);
  /* the definition: hash64 of "<preset>|<canonical text>" */
  char text[256] = "cifar10|";
  eahas_config_format(&c, text + 8, (int)sizeof text - 8);
  char want[17];
  snprintf(want, sizeof want, "%016llx", (unsigned long long)eahas_hash64(text, strlen(text)));
  assert_string_equal(a, want);
  c.lr_idx = (c.lr_idx + 1) % EAHAS_NUM_LR;
  eahas_run_id("cifar10", &c, b);
  assert_string_not_equal(a, b);
}

static void test_round_trip(void **state) {
  (void)state;
  eahas_run_record r, back;
  assert_int_equal(fixture_record(&r, "fashion-mnist", 4, 3), 0);
  r.seed = 18446744073709551615ull; /* above 2^53: written as a string */
  strcpy(r.energy_method, "nvml-counter+rapl");
  r.energy_shared = 1;
  char *s = eahas_run_record_to_json(&r);
  assert_non_null(s);
  assert_non_null(strstr(s, "\"18446744073709551615\""));
  eahas_err err = {0};
  assert_int_equal(eahas_run_record_from_json(s, &back, &err), 0);
  assert_records_equal(&r, &back);
  eahas_run_record_free(&back);
  free(s);
  /* through a file */
  char path[] = "/tmp/eahas_test_record_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(eahas_run_record_write(&r, path, &err), 0);
  assert_int_equal(eahas_run_record_read(path, &back, &err), 0);
  assert_records_equal(&r, &back);
  eahas_run_record_free(&back);
  unlink(path);
  assert_int_equal(eahas_run_record_read(path, &back, &err), EAHAS_ENOTFOUND);
  assert_non_null(strstr(err.msg, path));
  assert_null(back.test_acc);
  eahas_run_record_free(&r);
}

/* A zero-epoch failed record (a crashed trainer) is still a valid record. */
static void test_failed_zero_epochs(void **state) {
  (void)state;
  eahas_run_record r, back;
  assert_int_equal(fixture_record(&r, "cifar10", 1, 0), 0);
  r.epochs_limit = 2;
  strcpy(r.status, "failed");
  strcpy(r.reason, "trainer crashed");
  char *s = eahas_run_record_to_json(&r);
  eahas_err err = {0};
  assert_int_equal(eahas_run_record_from_json(s, &back, &err), 0);
  assert_records_equal(&r, &back);
  eahas_run_record_free(&back);
  free(s);
  eahas_run_record_free(&r);
}

/* ---- every validation error ------------------------------------------------------------ */

typedef void (*mutate_fn)(cJSON *o);

/* Builds a good record's JSON, applies a mutation, and expects EAHAS_EFORMAT with msg. */
static void expect_reject(mutate_fn f, const char *msg) {
  eahas_run_record r, back;
  assert_int_equal(fixture_record(&r, "fashion-mnist", 2, 3), 0);
  char *s = eahas_run_record_to_json(&r);
  cJSON *o = cJSON_Parse(s);
  free(s);
  f(o);
  s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  eahas_err err = {0};
  int rc = eahas_run_record_from_json(s, &back, &err);
  if (rc != EAHAS_EFORMAT || !strstr(err.msg, msg)) print_error("got %d \"%s\", expected \"%s\"\n", rc, err.msg, msg);
  assert_int_equal(rc, EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, msg));
  assert_null(back.test_acc);
  free(s);
  eahas_run_record_free(&r);
}

static cJSON *get(cJSON *o, const char *a, const char *b) {
  cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
  return b ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}
static void set_num(cJSON *o, const char *a, const char *b, double v) { cJSON_SetNumberValue(get(o, a, b), v); }
static void set_str(cJSON *o, const char *a, const char *b, const char *v) {
  cJSON *x = b ? get(o, a, NULL) : o;
  cJSON_ReplaceItemInObjectCaseSensitive(x, b ? b : a, cJSON_CreateString(v));
}

static void m_version(cJSON *o) { set_num(o, "schema_version", NULL, 2); }
static void m_preset(cJSON *o) { set_str(o, "preset", NULL, "imagenet"); }
static void m_foreign_id(cJSON *o) { set_str(o, "id", NULL, "0123456789abcdef"); }
static void m_config(cJSON *o) { set_num(o, "config", "d", 42); }
static void m_short_curve(cJSON *o) { cJSON_DeleteItemFromArray(get(o, "curves", "val_acc"), 2); }
static void m_nan(cJSON *o) { cJSON_ReplaceItemInArray(get(o, "curves", "test_acc"), 1, cJSON_CreateNull()); }
static void m_acc_range(cJSON *o) { cJSON_SetNumberValue(cJSON_GetArrayItem(get(o, "curves", "train_acc"), 0), 150); }
static void m_neg_energy(cJSON *o) {
  cJSON_SetNumberValue(cJSON_GetArrayItem(get(o, "curves", "eval_energy_j"), 2), -1);
}
static void m_flops(cJSON *o) { set_num(o, "complexity", "flops", 1); }
static void m_acts(cJSON *o) { set_num(o, "complexity", "acts", get(o, "complexity", "acts")->valuedouble + 1); }
static void m_units(cJSON *o) { set_str(o, "units", "tec", "Wh"); }
static void m_tec(cJSON *o) { set_num(o, "totals", "tec_kwh", get(o, "totals", "tec_kwh")->valuedouble * 1000); }
static void m_time(cJSON *o) { set_num(o, "totals", "train_time_s", 1.0); }
static void m_method(cJSON *o) { set_str(o, "energy", "method", "nvidia-smi"); }
static void m_none_with_energy(cJSON *o) { set_str(o, "energy", "method", "none"); }
static void m_method2(cJSON *o) { set_str(o, "energy", "method", "rapl+"); }
static void m_method3(cJSON *o) { set_str(o, "energy", "method", "estimate:"); }
static void m_status(cJSON *o) { set_str(o, "status", NULL, "done"); }
static void m_ok_short(cJSON *o) { set_num(o, "epochs_limit", NULL, 5); }
static void m_planned(cJSON *o) { set_num(o, "epochs_planned", NULL, 100); }
static void m_missing(cJSON *o) { cJSON_DeleteItemFromObject(get(o, "provenance", NULL), "machine"); }
static void m_type(cJSON *o) { set_str(o, "epochs_trained", NULL, "3"); }
static void m_shared(cJSON *o) { cJSON_ReplaceItemInObjectCaseSensitive(get(o, "energy", NULL), "shared", cJSON_CreateNumber(1)); }
static void m_long(cJSON *o) {
  char b[300];
  memset(b, 'x', sizeof b - 1);
  b[sizeof b - 1] = '\0';
  set_str(o, "reason", NULL, b);
}
static void m_seed(cJSON *o) { set_num(o, "seed", NULL, -3); }
/* a second key of the same name: cJSON would read the first silently */
static void m_dup(cJSON *o) { cJSON_AddItemToObject(o, "status", cJSON_CreateString("diverged")); }
static void m_dup_nested(cJSON *o) { cJSON_AddItemToObject(get(o, "provenance", NULL), "machine", cJSON_CreateString("x")); }

/* A number too large for a double parses as Inf: the text is valid JSON, the value is not. */
static void test_rejects_overflow(void **state) {
  (void)state;
  eahas_run_record r, back;
  assert_int_equal(fixture_record(&r, "fashion-mnist", 2, 3), 0);
  char *f = eahas_run_record_to_json(&r);
  cJSON *o = cJSON_Parse(f);
  free(f);
  char *s = cJSON_PrintUnformatted(o); /* no whitespace to step over */
  cJSON_Delete(o);
  const char *key = "\"test_acc\":[";
  char *at = strstr(s, key);
  assert_non_null(at);
  at += strlen(key);
  size_t n = strcspn(at, ",]");
  char *t = malloc(strlen(s) + 16);
  assert_non_null(t);
  snprintf(t, strlen(s) + 16, "%.*s1e999%s", (int)(at - s), s, at + n);
  eahas_err err = {0};
  assert_int_equal(eahas_run_record_from_json(t, &back, &err), EAHAS_EFORMAT);
  assert_string_equal(err.msg, "curves.test_acc[0] is not finite");
  assert_null(back.test_acc);
  free(t);
  free(s);
  eahas_run_record_free(&r);
}

static void test_rejects(void **state) {
  (void)state;
  expect_reject(m_version, "schema_version=2, this eahas reads version 1");
  expect_reject(m_preset, "preset=\"imagenet\" is not a known preset");
  expect_reject(m_foreign_id, "id=\"0123456789abcdef\" does not match preset and config");
  expect_reject(m_config, "config");
  expect_reject(m_short_curve, "curves.val_acc has 2 entries, epochs_trained is 3");
  expect_reject(m_nan, "curves.test_acc[1] is not a number");
  expect_reject(m_acc_range, "curves.train_acc[0]=150 is outside [0, 100] (percent)");
  expect_reject(m_neg_energy, "curves.eval_energy_j[2]=-1 is negative");
  expect_reject(m_flops, "complexity.flops=1 differs from ");
  expect_reject(m_acts, "complexity.acts=");
  expect_reject(m_units, "field \"units.tec\"=\"Wh\", expected \"kWh\"");
  expect_reject(m_tec, "totals.tec_kwh (sum of train_energy_j / 3.6e6)=");
  expect_reject(m_time, "totals.train_time_s=1 disagrees with the curves");
  expect_reject(m_method, "energy.method=\"nvidia-smi\" is not nvml-counter, nvml-power, rapl, perf, estimate:<model>");
  expect_reject(m_method2, "energy.method=\"rapl+\" is not");
  expect_reject(m_method3, "energy.method=\"estimate:\" is not");
  expect_reject(m_none_with_energy, "energy.method is \"none\" but the record has non-zero energies");
  expect_reject(m_status, "status=\"done\" is not one of ok, diverged, failed");
  expect_reject(m_ok_short, "status \"ok\" but epochs_trained=3 is not epochs_limit=5");
  expect_reject(m_planned, "epochs_planned=100 differs from the config's epochs=50");
  expect_reject(m_missing, "missing field \"provenance.machine\"");
  expect_reject(m_type, "field \"epochs_trained\" is not a number");
  expect_reject(m_shared, "field \"energy.shared\" is not true or false");
  expect_reject(m_long, "field \"reason\" is 299 bytes long, at most 255 allowed");
  expect_reject(m_seed, "field \"seed\"=-3 is not an integer in [0, 2^53]");
  expect_reject(m_dup, "key \"status\" appears twice in one object");
  expect_reject(m_dup_nested, "key \"machine\" appears twice in one object");
}

static void test_reject_text(void **state) {
  (void)state;
  eahas_run_record r, back;
  eahas_err err = {0};
  assert_int_equal(fixture_record(&r, "cifar10", 5, 4), 0);
  char *s = eahas_run_record_to_json(&r);
  s[strlen(s) / 2] = '\0'; /* truncated */
  assert_int_equal(eahas_run_record_from_json(s, &back, &err), EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, "not valid JSON (truncated or corrupted)"));
  assert_int_equal(eahas_run_record_from_json("[1,2]", &back, &err), EAHAS_EFORMAT);
  assert_string_equal(err.msg, "not a JSON object");
  assert_int_equal(eahas_run_record_from_json("{\"a\":NaN}", &back, &err), EAHAS_EFORMAT);
  assert_non_null(strstr(err.msg, "not valid JSON"));
  assert_int_equal(eahas_run_record_from_json("", &back, &err), EAHAS_EFORMAT);
  free(s);
  eahas_run_record_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_bounds), cmocka_unit_test(test_run_id),   cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_failed_zero_epochs), cmocka_unit_test(test_rejects),
      cmocka_unit_test(test_rejects_overflow), cmocka_unit_test(test_reject_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
