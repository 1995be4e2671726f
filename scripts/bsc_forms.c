/* Shared or per-curve BSC networks, replicated: trains the BSC ensembles (5 members, h as given,
 * the fit's defaults otherwise) of every curve kind either per kind (mode 0) or as one shared
 * network per member (mode 1) on a 30 % hash split of a benchmark file, and prints per kind the
 * held-out R² and Kendall tau of the final accuracy and the RMSE over all epochs. The training
 * seeds follow the split seed and an optional replicate number, so that one split can be fitted
 * several times (eahas eval fits once per split). An experiment behind docs/eval-report.md
 * ("Shared or per-curve networks"), not part of the library; its output of 2026-11-30 is
 * perf/results/bsc_forms_200runs.txt.
 *
 * cc -O2 -std=c11 -Iinclude -Isrc scripts/bsc_forms.c -Lbuild -leahas -Wl,-rpath,$PWD/build -lm \
 *    -o build/bsc_forms
 * for r in 0 1 2; do for s in 0 1 2; do for m in 0 1; do build/bsc_forms FILE $s $m 32 $r; done; done; done
 * usage: bsc_forms FILE.eahas SPLIT_SEED MODE(0 per-curve, 1 shared) HIDDEN [REPLICATE] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eahas/surrogate.h"
#include "eahas/tabular.h"
#include "surrogate/internal.h"
#define NK EAHAS_NUM_CURVES
static double r2(const double *y, const double *p, int n) {
  double m = 0, ss = 0, se = 0;
  for (int i = 0; i < n; i++) m += y[i];
  m /= n;
  for (int i = 0; i < n; i++) { ss += (y[i]-m)*(y[i]-m); se += (y[i]-p[i])*(y[i]-p[i]); }
  return 1 - se/ss;
}
static double tau(const double *y, const double *p, int n) {
  long c = 0, d = 0;
  for (int i = 0; i < n; i++) for (int j = i+1; j < n; j++) {
    double a = (y[i]-y[j])*(p[i]-p[j]);
    if (a > 0) c++; else if (a < 0) d++;
  }
  return (double)(c-d)/(c+d);
}
int main(int argc, char **argv) {
  const char *path = argv[1]; uint64_t seed = strtoull(argv[2],0,10); int mode = atoi(argv[3]); int h = atoi(argv[4]);
  int K = 5, deg = 5, no = 2*deg;
  eahas_err err = {0}; eahas_table *t; eahas_run_record *runs; int n;
  if (eahas_table_open(path, 0, 1, &t, &err) || eahas_table_load_runs(t, &runs, &n, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  const eahas_preset *p = eahas_preset_get("fashion-mnist");
  int *tr = malloc(n*sizeof(int)), *te = malloc(n*sizeof(int)), ntr = 0, nte = 0;
  for (int i = 0; i < n; i++) { if (!eahas__curve_usable(&runs[i])) continue;
    if (eahas_split_is_holdout(&runs[i].config, 0.3, seed)) te[nte++] = i; else tr[ntr++] = i; }
  int nout = mode ? NK*no : no;
  float *X = malloc(sizeof(float)*26*ntr), *Y = malloc(sizeof(float)*NK*no*ntr);
  for (int i = 0; i < ntr; i++) {
    eahas_config_encode(&runs[tr[i]].config, p, X + 26*i);
    for (int k = 0; k < NK; k++) {
      eahas_bezier b; float tg[16];
      eahas_bezier_fit(eahas__curve_of(&runs[tr[i]], k), runs[tr[i]].epochs_trained, deg, &b, NULL, &err);
      eahas__bezier_to_target(&b, tg);
      if (!mode) memcpy(Y + (size_t)(k*ntr + i)*no, tg, sizeof(float)*no);
      else { float *y = Y + (size_t)i*nout; y[2*k] = tg[0]; y[2*k+1] = tg[1]; memcpy(y + 2*NK + (no-2)*k, tg+2, sizeof(float)*(no-2)); }
    }
  }
  static eahas_mlp m[NK][5];
  int nnet = mode ? 1 : NK;
  for (int k = 0; k < nnet; k++) for (int j = 0; j < K; j++) {
    uint64_t s = eahas_mix64(seed*7 ^ (argc > 5 ? strtoull(argv[5],0,10) * 0x9e3779b97f4a7c15ULL : 0) ^ eahas_mix64(0x6d6c70ULL + 977u*(uint64_t)k + (uint64_t)j));
    eahas_mlp_init(&m[k][j], 5, 21, h, nout, mode ? 2*NK : 2, 0.1f, s, &err);
    eahas_mlp_train_opts to = {.epochs = 300, .batch = 32, .lr = 1e-3, .seed = s ^ 1};
    if (eahas_mlp_train(&m[k][j], X, mode ? Y : Y + (size_t)k*ntr*no, NULL, ntr, &to, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
  }
  for (int k = 0; k < NK; k++) {
    double *yf = malloc(8*nte), *pf = malloc(8*nte), se = 0; long cnt = 0;
    for (int i = 0; i < nte; i++) {
      const eahas_run_record *r = &runs[te[i]]; float x[26], o[256], acc[16] = {0}; int L = r->epochs_trained;
      eahas_config_encode(&r->config, p, x);
      for (int j = 0; j < K; j++) {
        eahas_mlp_forward(&m[mode ? 0 : k][j], x, o);
        float tg[16];
        if (!mode) memcpy(tg, o, sizeof(float)*no);
        else { tg[0] = o[2*k]; tg[1] = o[2*k+1]; memcpy(tg+2, o + 2*NK + (no-2)*k, sizeof(float)*(no-2)); }
        for (int q = 0; q < no; q++) acc[q] += tg[q]/K;
      }
      eahas_bezier b; eahas__target_to_bezier(acc, deg, &b); eahas_bezier_make_monotone(&b);
      float cur[256]; eahas_bezier_decode(&b, L, cur);
      const double *y = eahas__curve_of(r, k);
      for (int e = 0; e < L; e++) { double v = fmin(100, fmax(0, cur[e])); se += (v-y[e])*(v-y[e]); cnt++; }
      yf[i] = y[L-1]; pf[i] = fmin(100, fmax(0, cur[L-1]));
    }
    printf("seed %llu mode %d h %d %-15s R2 %.3f tau %.3f rmse_all %.2f (ntr %d nte %d)\n", (unsigned long long)seed, mode, h,
           EAHAS_CURVE_NAMES[k], r2(yf, pf, nte), tau(yf, pf, nte), sqrt(se/cnt), ntr, nte);
  }
  return 0;
}
