/* Query benchmark of the surrogate (not a test): full queries per second on one core and on all
 * cores, memory after opening, and an export of the models and configs for perf/query_torch.py
 * (the original's query path in PyTorch), so both run on the same configs.
 *
 * Build (after cmake --build BUILD --target eahas):
 *   cc -O2 -Iinclude -Isrc perf/query_bench.c -LBUILD -leahas -Wl,-rpath,$PWD/BUILD -lpthread -lm -o BUILD/query_bench
 * Run:
 *   BUILD/query_bench FILE.eahas [--configs N] [--seconds S] [--threads T] [--export DIR] [--parts 1|2]
 *                     [--watch S]
 * Rates of single queries (eahas_query) and of batches of 64 configs (eahas_query_batch), plain
 * and with noise, on one thread (per CPU second and per wall second) and on T threads.
 * --parts 1 adds the CPU time of each part of a query; --parts 2 prints only that.
 * --watch S prints only the batch rate of every 1-second window over S seconds (at most 7200), on
 * T threads, with how long the rate stayed at or above the goal of 100,000 queries per second.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eahas/surrogate.h"
#include "eahas/tabular.h"
#include "surrogate/internal.h" /* the fused paths, for --parts (libeahas exports them) */

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

typedef struct job {
  const eahas_bench *b;
  const eahas_config *cfg;
  int n, noise, batch;
  double seconds, cpu;
  long done;
  double sink;
} job;

enum { CHUNK = 64 }; /* configs per eahas_query_batch call, as `eahas query -` does */

static void *run(void *arg) {
  job *j = arg;
  eahas_query_result *r = malloc(sizeof *r * CHUNK);
  if (!r) return NULL;
  eahas_query_opts o = {.noise = j->noise, .noise_seed = 1};
  double t0 = eahas_now_s(), c0 = eahas_cpu_time_s();
  long done = 0;
  while (eahas_now_s() - t0 < j->seconds) {
    for (int i = 0; i < j->n; i += j->batch ? CHUNK : 1) {
      int k = j->batch ? (j->n - i < CHUNK ? j->n - i : CHUNK) : 1;
      int rc = j->batch ? eahas_query_batch(j->b, &j->cfg[i], k, &o, r, NULL, NULL)
                        : eahas_query(j->b, &j->cfg[i], &o, r, NULL);
      if (rc) {
        free(r);
        return NULL;
      }
      j->sink += r[0].final_test_acc;
    }
    done += j->n;
  }
  free(r);
  j->seconds = eahas_now_s() - t0;
  j->cpu = eahas_cpu_time_s() - c0; /* whole process: meaningful with one thread */
  j->done = done;
  return NULL;
}

/* Queries per second of wall time, summed over threads; *per_cpu_s (may be NULL) gets queries
 * per second of process CPU time, which is what one core delivers when the machine is shared. */
static double rate(const eahas_bench *b, const eahas_config *cfg, int n, int threads, double seconds, int noise,
                   int batch, double *per_cpu_s) {
  pthread_t th[256];
  job js[256];
  for (int t = 0; t < threads; t++) {
    js[t] = (job){b, cfg, n, noise, batch, seconds, 0, 0, 0};
    pthread_create(&th[t], NULL, run, &js[t]);
  }
  double q = 0;
  long total = 0;
  for (int t = 0; t < threads; t++) {
    pthread_join(th[t], NULL);
    q += js[t].done / js[t].seconds;
    total += js[t].done;
  }
  if (per_cpu_s) *per_cpu_s = total / js[threads - 1].cpu;
  return q;
}

static void write_floats(FILE *f, const float *v, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) fprintf(f, "%s%.9g", i ? "," : "", (double)v[i]);
  fputc(']', f);
}

/* --watch: batches of CHUNK configs on one thread per core for a long time, the rate of every
 * 1-second window of wall time kept (queries per second of that thread's CPU time, so time the
 * thread waited for a core does not count). A shared machine's speed changes from minute to
 * minute; the windows show how long one core sustains a rate, not only its best moments. */
enum { WATCH_MAX = 7200 };
typedef struct watch_job {
  const eahas_bench *b;
  const eahas_config *cfg;
  int n, nw;
  double seconds, sink;
  float rate[WATCH_MAX]; /* queries per CPU second in window w */
  long done;
  double cpu;
} watch_job;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void *watch_run(void *arg) {
  watch_job *j = arg;
  eahas_query_result *r = malloc(sizeof *r * CHUNK);
  if (!r) return NULL;
  double t0 = eahas_now_s(), c0 = thread_cpu_s(), tw = t0, cw = c0;
  long in_window = 0;
  j->nw = 0;
  for (int i = 0; j->nw < WATCH_MAX; i = (i + CHUNK) % j->n) {
    int k = j->n - i < CHUNK ? j->n - i : CHUNK;
    if (eahas_query_batch(j->b, &j->cfg[i], k, NULL, r, NULL, NULL)) break;
    j->sink += r[0].final_test_acc;
    in_window += k;
    j->done += k;
    double t = eahas_now_s();
    if (t - tw < 1.0) continue;
    double c = thread_cpu_s();
    j->rate[j->nw++] = (float)(in_window / (c - cw));
    tw = t, cw = c, in_window = 0;
    if (t - t0 >= j->seconds) break;
  }
  j->cpu = thread_cpu_s() - c0;
  free(r);
  return NULL;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* One JSON object per thread: the windows' rates (queries per CPU second, in time order), their
 * quantiles, the share at or above the goal and the longest run of consecutive windows at or
 * above it, with that run's mean. */
static void watch(const eahas_bench *b, const eahas_config *cfg, int n, int threads, double seconds, double goal) {
  watch_job *js = calloc((size_t)threads, sizeof *js);
  pthread_t th[256];
  if (!js) return;
  for (int t = 0; t < threads; t++) {
    js[t] = (watch_job){.b = b, .cfg = cfg, .n = n, .seconds = seconds};
    pthread_create(&th[t], NULL, watch_run, &js[t]);
  }
  for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
  for (int t = 0; t < threads; t++) {
    watch_job *j = &js[t];
    float sorted[WATCH_MAX];
    int nw = j->nw, above = 0, run = 0, best = 0, best_end = 0;
    if (nw < 1) continue;
    for (int w = 0; w < nw; w++) {
      above += j->rate[w] >= goal;
      run = j->rate[w] >= goal ? run + 1 : 0;
      if (run > best) best = run, best_end = w + 1;
    }
    double run_mean = 0;
    for (int w = best_end - best; w < best_end; w++) run_mean += j->rate[w] / best;
    memcpy(sorted, j->rate, sizeof(float) * (size_t)nw);
    qsort(sorted, (size_t)nw, sizeof(float), cmp_float);
    printf("{\"thread\":%d,\"windows_s\":%d,\"queries_per_cpu_s\":%.0f,\"window_min\":%.0f,\"p10\":%.0f,"
           "\"median\":%.0f,\"p90\":%.0f,\"window_max\":%.0f,\"goal\":%.0f,\"share_at_goal\":%.3f,"
           "\"longest_run_at_goal_s\":%d,\"longest_run_mean\":%.0f,\"longest_run_ends_at_s\":%d,\"rates\":[",
           t, nw, j->done / j->cpu, sorted[0], sorted[nw / 10], sorted[nw / 2], sorted[nw * 9 / 10], sorted[nw - 1],
           goal, (double)above / nw, best, run_mean, best_end);
    for (int w = 0; w < nw; w++) printf("%s%.0f", w ? "," : "", j->rate[w]);
    printf("]}\n");
  }
  free(js);
}

/* Weights of every member (input-major, as eahas_mlp stores them), the configs' encodings and
 * the C answers, for query_torch.py. */
/* The same work as query_torch.py: every member's MLP for every curve kind, mean, decode.
 * Queries per CPU second, one thread. */
static double curves_only(const eahas_surrogate *s, const eahas_preset *p, const eahas_config *cfg, int n,
                          double seconds) {
  double c0 = eahas_cpu_time_s(), t0 = eahas_now_s(), sink = 0;
  long done = 0;
  float out[EAHAS_MAX_EPOCHS];
  while (eahas_now_s() - t0 < seconds) {
    for (int i = 0; i < n; i++) {
      float x[EAHAS_ENCODING_LEN];
      eahas_config_encode(&cfg[i], p, x);
      eahas_bezier mus[EAHAS_NUM_CURVES];
      eahas__surrogate_predict_all(s, x, mus, NULL); /* every member and kind, as queries do */
      for (int k = 0; k < EAHAS_NUM_CURVES; k++) {
        if (!(s->curves_mask & (1 << k))) continue;
        eahas_bezier mu = mus[k];
        eahas_bezier_make_monotone(&mu);
        eahas_bezier_decode(&mu, cfg[i].epochs, out);
        sink += out[0];
      }
    }
    done += n;
  }
  return sink > -1 ? done / (eahas_cpu_time_s() - c0) : 0;
}

/* The fitted surrogate stored in the benchmark file at path (for the parts and export modes,
 * which work on the models directly). Returns 0, or 1 after printing the error. */
static int load_surrogate(const char *path, const char *who, eahas_surrogate *s) {
  eahas_table *t = NULL;
  void *blob = NULL;
  size_t len;
  eahas_err e = {0};
  int rc = eahas_table_open(path, 0, 1, &t, &e) || eahas_table_get_blob(t, EAHAS_SURROGATE_BLOB_NAME, &blob, &len, &e) ||
           eahas_surrogate_load(blob, len, s, &e);
  if (rc) fprintf(stderr, "%s: %s\n", who, e.msg);
  if (t) eahas_table_close(t);
  free(blob);
  return rc;
}

static double curves_rate = 0;

static int export(const char *path, const char *dir, const eahas_bench *b, const eahas_config *cfg, int n) {
  eahas_surrogate s;
  eahas_err e = {0};
  if (load_surrogate(path, "export", &s)) return 1;
  char fn[1024];
  if (eahas_mkdir_p(dir, &e)) {
    fprintf(stderr, "export: %s\n", e.msg);
    return 1;
  }
  snprintf(fn, sizeof fn, "%s/model.json", dir);
  FILE *f = fopen(fn, "w");
  if (!f) {
    perror(fn);
    return 1;
  }
  /* per-curve form: "kinds" each with its members' networks; shared form: the kinds' names and
   * one list of members' networks (outputs as eahas_surrogate.shared lays them out) */
  fprintf(f, "{\"degree\":%d,\"members\":%d,\"hidden\":%d,\"shared\":%s,\"kinds\":[", s.degree, s.members,
          s.hidden, s.shared ? "true" : "false");
  int first = 1;
  for (int k = 0; k < EAHAS_NUM_CURVES; k++) {
    if (!(s.curves_mask & (1 << k))) continue;
    fprintf(f, "%s{\"name\":\"%s\",\"members\":[", first ? "" : ",", EAHAS_CURVE_NAMES[k]);
    first = 0;
    for (int m = 0; m < s.members && !s.shared; m++) {
      const eahas_mlp *mm = &s.mlp[k][m];
      fprintf(f, "%s", m ? "," : "");
      write_floats(f, mm->params, mm->n_params);
    }
    fprintf(f, "]}");
  }
  fprintf(f, "],\"shared_members\":[");
  for (int m = 0; m < s.members && s.shared; m++) {
    fprintf(f, "%s", m ? "," : "");
    write_floats(f, s.mlp[0][m].params, s.mlp[0][m].n_params);
  }
  fprintf(f, "]}\n");
  fclose(f);
  snprintf(fn, sizeof fn, "%s/configs.json", dir);
  f = fopen(fn, "w");
  if (!f) return 1;
  fprintf(f, "[");
  eahas_query_result r;
  for (int i = 0; i < n; i++) {
    float x[EAHAS_ENCODING_LEN];
    eahas_config_encode(&cfg[i], eahas_bench_preset(b), x);
    eahas_query(b, &cfg[i], NULL, &r, NULL);
    fprintf(f, "%s{\"x\":", i ? ",\n" : "");
    write_floats(f, x, EAHAS_ENCODING_LEN);
    fprintf(f, ",\"epochs\":%d,\"test_acc\":", cfg[i].epochs);
    write_floats(f, r.test_acc, (size_t)r.epochs);
    fprintf(f, "}");
  }
  fprintf(f, "]\n");
  fclose(f);
  curves_rate = curves_only(&s, eahas_bench_preset(b), cfg, n, 2.0);
  eahas_surrogate_free(&s);
  return 0;
}


/* CPU time per query of each part of a full query, measured separately on the same configs (one
 * thread, CPU clock; rounds of every part in turn, the fastest round of each part kept, since
 * the machine's load varies): validation, complexity, encoding, the MLPs of every member and
 * curve kind with the mean of the control points (as queries do it: eahas__surrogate_predict_all,
 * and one network at a time: eahas_surrogate_predict_curve), monotone projection + decoding,
 * the tree ensembles (the fused walk queries use, and one forest at a time), the full query. */
enum { N_PARTS = 10 };
static void parts(const char *path, const eahas_bench *b, const eahas_config *cfg, int n, double seconds) {
  eahas_surrogate s;
  eahas_err e = {0};
  if (load_surrogate(path, "parts", &s)) return;
  static eahas_forest f[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS];
  const eahas_forest *fs[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS];
  int nf = EAHAS_NUM_TQ * s.members;
  for (int q = 0; q < EAHAS_NUM_TQ; q++)
    for (int m = 0; m < s.members; m++) {
      if (eahas_forest_from_json(s.xgb[q][m], s.xgb_len[q][m], &f[q * s.members + m], &e)) {
        fprintf(stderr, "parts: %s\n", e.msg);
        return;
      }
      fs[q * s.members + m] = &f[q * s.members + m];
    }
  eahas__fused_trees *ft = eahas__fused_trees_build(fs, nf);
  const eahas_preset *p = eahas_bench_preset(b);
  float(*x)[EAHAS_ENCODING_LEN] = malloc(sizeof *x * (size_t)n);
  eahas_bezier(*mu)[EAHAS_NUM_CURVES] = malloc(sizeof *mu * (size_t)n);
  for (int i = 0; i < n; i++) eahas_config_encode(&cfg[i], p, x[i]);
  for (int i = 0; i < n; i++) eahas__surrogate_predict_all(&s, x[i], mu[i], NULL);
  double us[N_PARTS], sink = 0;
  for (int part = 0; part < N_PARTS; part++) us[part] = 1e30;
  const char *names[N_PARTS] = {"validate", "complexity", "encode", "mlps", "mlps_one_at_a_time", "decode",
                                "trees", "trees_one_at_a_time", "full_query", "rest"};
  static eahas_query_result r;
  for (int round = 0; round < 5; round++)
    for (int part = 0; part < N_PARTS - 1; part++) {
      long done = 0;
      double c0 = eahas_cpu_time_s(), t0 = eahas_now_s();
      while (eahas_now_s() - t0 < seconds / (5 * (N_PARTS - 1))) {
        for (int i = 0; i < n; i++) {
          const eahas_config *c = &cfg[i];
          switch (part) {
          case 0: sink += eahas_config_validate(c, p, 0, NULL); break;
          case 1: {
            eahas_complexity cx;
            eahas_config_complexity(c, p, NULL, &cx, NULL);
            sink += cx.flops;
          } break;
          case 2: {
            float xx[EAHAS_ENCODING_LEN];
            eahas_config_encode(c, p, xx);
            sink += xx[3];
          } break;
          case 3:
            eahas__surrogate_predict_all(&s, x[i], mu[i], NULL);
            sink += mu[i][0].y[1];
            break;
          case 4:
            for (int k = 0; k < EAHAS_NUM_CURVES; k++)
              if (s.curves_mask & (1 << k)) eahas_surrogate_predict_curve(&s, k, x[i], c, &mu[i][k], NULL);
            sink += mu[i][0].y[1];
            break;
          case 5:
            for (int k = 0; k < EAHAS_NUM_CURVES; k++)
              if (s.curves_mask & (1 << k)) {
                eahas_bezier m = mu[i][k];
                eahas_bezier_make_monotone(&m);
                eahas_bezier_decode(&m, c->epochs, r.test_acc);
                sink += r.test_acc[0];
              }
            break;
          case 6: {
            float v[EAHAS_NUM_TQ * EAHAS_MAX_MEMBERS];
            if (ft && eahas__fused_trees_predict(ft, x[i], v) == 0) sink += v[0];
          } break;
          case 7:
            for (int k = 0; k < nf; k++) sink += eahas_forest_predict(fs[k], x[i]);
            break;
          default:
            eahas_query(b, c, NULL, &r, NULL);
            sink += r.final_test_acc;
          }
        }
        done += n;
      }
      double v = 1e6 * (eahas_cpu_time_s() - c0) / (double)done;
      if (v < us[part]) us[part] = v;
    }
  /* what the full query costs beyond its parts (clamping, time and TEC sums, exp, copies) */
  us[9] = us[8] - us[0] - us[1] - us[2] - us[3] - us[5] - us[6];
  printf("{\"parts_cpu_us_per_query\":{");
  for (int part = 0; part < N_PARTS; part++) printf("%s\"%s\":%.3f", part ? "," : "", names[part], us[part]);
  printf("},\"fused_trees\":%s,\"sink\":%g}\n", ft ? "true" : "false", sink > 0 ? 1.0 : 0.0);
  eahas__fused_trees_free(ft);
  for (int k = 0; k < nf; k++) eahas_forest_free(&f[k]);
  free(x);
  free(mu);
  eahas_surrogate_free(&s);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: query_bench FILE.eahas [--configs N] [--seconds S] [--threads T] [--export DIR] [--parts 1|2] [--watch S]\n");
    return 1;
  }
  const char *path = argv[1], *dir = NULL;
  int want_parts = 0;
  double watch_s = 0;
  int n = 1000, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  double seconds = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--configs")) n = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--export")) dir = argv[i + 1];
    else if (!strcmp(argv[i], "--parts")) want_parts = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--watch")) watch_s = atof(argv[i + 1]);
  }
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  long rss0 = rss_kb();
  double t0 = eahas_now_s();
  eahas_bench *b;
  eahas_err e = {0};
  if (eahas_bench_open(path, &b, &e)) {
    fprintf(stderr, "query_bench: %s\n", e.msg);
    return 1;
  }
  double t_open = eahas_now_s() - t0;
  long rss1 = rss_kb();
  eahas_config *cfg = malloc(sizeof *cfg * (size_t)n);
  eahas_rng rng;
  eahas_rng_seed(&rng, 123);
  for (int i = 0; i < n; i++)
    if (eahas_config_sample(&rng, eahas_bench_preset(b), 0, &cfg[i], &e)) return 1;
  if (dir && export(path, dir, b, cfg, n)) return 1;
  if (watch_s > 0) { /* --watch S: only the windows (threads: --threads, default every core) */
    watch(b, cfg, n, threads, watch_s, 100000);
    return 0;
  }
  if (want_parts) {
    parts(path, b, cfg, n, seconds);
    if (want_parts > 1) return 0; /* --parts 2: the breakdown only */
  }
  /* Single queries and batches alternate, 3 rounds each, the best round of each kept: the
   * machine's load changes between rounds, and both sides see the same changes. */
  double c1 = 0, c1n = 0, cb = 0, cbn = 0, q1 = 0, q1n = 0, qb = 0, qbn = 0;
  for (int round = 0; round < 3; round++) {
    double c, q;
    q = rate(b, cfg, n, 1, seconds / 3, 0, 0, &c);
    if (c > c1) c1 = c, q1 = q;
    q = rate(b, cfg, n, 1, seconds / 3, 0, 1, &c);
    if (c > cb) cb = c, qb = q;
    q = rate(b, cfg, n, 1, seconds / 3, 1, 0, &c);
    if (c > c1n) c1n = c, q1n = q;
    q = rate(b, cfg, n, 1, seconds / 3, 1, 1, &c);
    if (c > cbn) cbn = c, qbn = q;
  }
  double qa = rate(b, cfg, n, threads, seconds, 0, 0, NULL);
  double qab = rate(b, cfg, n, threads, seconds, 0, 1, NULL);
  printf("{\"file\":\"%s\",\"configs\":%d,\"open_s\":%.4f,\"model_bytes\":%zu,\"rss_delta_kb\":%ld,"
         "\"queries_per_s_1core\":%.0f,\"queries_per_s_1core_noise\":%.0f,\"threads\":%d,"
         "\"queries_per_s_all\":%.0f,\"queries_per_cpu_s_1core\":%.0f,\"queries_per_cpu_s_1core_noise\":%.0f,"
         "\"cpu_us_per_query\":%.3f,\"curves_only_per_cpu_s\":%.0f,"
         "\"batch\":{\"configs_per_call\":%d,\"queries_per_s_1core\":%.0f,\"queries_per_s_1core_noise\":%.0f,"
         "\"queries_per_s_all\":%.0f,\"queries_per_cpu_s_1core\":%.0f,\"queries_per_cpu_s_1core_noise\":%.0f,"
         "\"cpu_us_per_query\":%.3f,\"speedup_cpu_1core\":%.2f}}\n",
         path, n, t_open, eahas_bench_memory(b), rss1 - rss0, q1, q1n, threads, qa, c1, c1n, 1e6 / c1, curves_rate,
         CHUNK, qb, qbn, qab, cb, cbn, 1e6 / cb, cb / c1);
  free(cfg);
  eahas_bench_close(b);
  return 0;
}
