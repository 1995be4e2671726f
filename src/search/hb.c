/* Hyperband (Li et al. 2018) and BOHB (Falkner et al. 2018) with the brackets of EA-HAS-Bench's
 * NASLib settings: max 512, min 4, eta 3, epochs capped at 200 and at each config's max epoch.
 * Promotions continue training from the checkpoint when the budget's reuse is on. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/internal.h"

int eahas_hb_brackets(int max_budget, int min_budget, int eta, int cap, int sizes[][EAHAS_HB_MAX_RUNGS],
                      int epochs[][EAHAS_HB_MAX_RUNGS], int *n_rungs, eahas_err *err) {
  if (min_budget < 1 || max_budget < min_budget || eta < 2 || cap < 1)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "Hyperband: need 1 <= min (%d) <= max (%d), eta (%d) >= 2 and cap (%d) >= 1", min_budget,
                         max_budget, eta, cap);
  const double eps = 1e-6;
  int s_max = (int)floor(log((double)max_budget / min_budget) / log((double)eta) + eps);
  if (s_max + 1 > EAHAS_HB_MAX_RUNGS)
    return eahas_err_set(err, EAHAS_EINVAL, "Hyperband: %d brackets (max %d, min %d, eta %d) exceed %d", s_max + 1,
                         max_budget, min_budget, eta, EAHAS_HB_MAX_RUNGS);
  for (int b = 0; b <= s_max; b++) {
    int s = s_max - b;
    double n = ceil((s_max + 1) * pow(eta, s) / (s + 1) - eps);
    double r = (double)max_budget / pow(eta, s);
    n_rungs[b] = s + 1;
    for (int i = 0; i <= s; i++) {
      sizes[b][i] = (int)floor(n / pow(eta, i) + eps);
      int e = (int)floor(r * pow(eta, i) + eps);
      epochs[b][i] = e < cap ? e : cap;
    }
  }
  return s_max + 1;
}

/* Observations per distinct rung budget, for BOHB's models. */
typedef struct obs {
  int budget;
  int n, cap;
  double *v;    /* n x SEARCH_KDE_DIMS */
  float *loss;  /* -val accuracy */
} obs;

typedef struct bohb {
  obs o[EAHAS_HB_MAX_RUNGS * EAHAS_HB_MAX_RUNGS];
  int n_obs;
} bohb;

static obs *obs_for(bohb *B, int budget) {
  for (int i = 0; i < B->n_obs; i++)
    if (B->o[i].budget == budget) return &B->o[i];
  obs *o = &B->o[B->n_obs++];
  memset(o, 0, sizeof *o);
  o->budget = budget;
  return o;
}

static int obs_add(search_ctx *S, obs *o, const eahas_config *c, float val) {
  if (o->n == o->cap) {
    int nc = o->cap ? 2 * o->cap : 64;
    double *v = realloc(o->v, (size_t)nc * SEARCH_KDE_DIMS * sizeof *v);
    if (v) o->v = v;
    float *l = realloc(o->loss, (size_t)nc * sizeof *l);
    if (l) o->loss = l;
    if (!v || !l) return eahas_err_set(S->err, EAHAS_ENOMEM, "BOHB: out of memory");
    o->cap = nc;
  }
  search_kde_vector(c, S->preset, o->v + (size_t)o->n * SEARCH_KDE_DIMS);
  o->loss[o->n++] = -val;
  return 0;
}

static int cmp_loss(const void *a, const void *b, void *loss) {
  float x = ((float *)loss)[*(const int *)a], y = ((float *)loss)[*(const int *)b];
  return x < y ? -1 : x > y ? 1 : *(const int *)a - *(const int *)b;
}

/* BOHB's model-based proposal: the KDEs of the largest budget with enough observations, good =
 * the best max(min_points, top% n) and bad = the next max(min_points, (100-top)% n); both need
 * more points than dimensions (as in BOHB's reference implementation). Returns 1 if a config was
 * proposed, 0 if no model exists yet or no sample was valid, < 0 on error. */
static int bohb_propose(search_ctx *S, bohb *B, eahas_config *out) {
  const eahas_search_params *p = S->prm;
  obs *best = NULL;
  for (int i = 0; i < B->n_obs; i++) {
    obs *o = &B->o[i];
    int ng = (int)fmax(p->bohb_min_points, floor(p->bohb_top_percent * o->n / 100.0));
    int nb = (int)fmin(o->n - ng, fmax(p->bohb_min_points, floor((100 - p->bohb_top_percent) * o->n / 100.0)));
    if (ng > SEARCH_KDE_DIMS && nb > SEARCH_KDE_DIMS && (!best || o->budget > best->budget)) best = o;
  }
  if (!best) return 0;
  obs *o = best;
  int *idx = malloc((size_t)o->n * sizeof *idx);
  double *good = malloc((size_t)o->n * SEARCH_KDE_DIMS * sizeof *good);
  if (!idx || !good) {
    free(idx);
    free(good);
    return eahas_err_set(S->err, EAHAS_ENOMEM, "BOHB: out of memory");
  }
  for (int i = 0; i < o->n; i++) idx[i] = i;
  qsort_r(idx, (size_t)o->n, sizeof *idx, cmp_loss, o->loss);
  for (int i = 0; i < o->n; i++)
    memcpy(good + (size_t)i * SEARCH_KDE_DIMS, o->v + (size_t)idx[i] * SEARCH_KDE_DIMS, SEARCH_KDE_DIMS * sizeof(double));
  int ng = (int)fmax(p->bohb_min_points, floor(p->bohb_top_percent * o->n / 100.0));
  int nb = (int)fmin(o->n - ng, fmax(p->bohb_min_points, floor((100 - p->bohb_top_percent) * o->n / 100.0)));
  search_kde lk, gk;
  search_kde_fit(&lk, good, ng, p->bohb_min_bw);
  search_kde_fit(&gk, good + (size_t)ng * SEARCH_KDE_DIMS, nb, p->bohb_min_bw);
  double best_ratio = -1;
  int found = 0;
  for (int s = 0; s < p->bohb_samples; s++) {
    double x[SEARCH_KDE_DIMS];
    search_kde_sample(&lk, p->bohb_bw_factor, &S->rng, x);
    eahas_config c;
    search_kde_config(x, S->preset, &c);
    if (eahas_config_validate(&c, S->preset, 1, NULL)) continue;
    /* Score the quantized config, the one that will be trained. */
    search_kde_vector(&c, S->preset, x);
    double l = fmax(search_kde_pdf(&lk, x), 1e-32), g = fmax(search_kde_pdf(&gk, x), 1e-32);
    if (l / g > best_ratio) {
      best_ratio = l / g;
      *out = c;
      found = 1;
    }
  }
  free(idx);
  free(good);
  return found;
}

typedef struct member {
  eahas_config c;
  float score;
  int idx;
} member;

static int cmp_member(const void *a, const void *b) {
  const member *x = a, *y = b;
  return x->score > y->score ? -1 : x->score < y->score ? 1 : x->idx - y->idx;
}

int search_run_hb(search_ctx *S, int use_bohb) {
  const eahas_search_params *p = S->prm;
  int sizes[EAHAS_HB_MAX_RUNGS][EAHAS_HB_MAX_RUNGS], epochs[EAHAS_HB_MAX_RUNGS][EAHAS_HB_MAX_RUNGS];
  int nr[EAHAS_HB_MAX_RUNGS];
  int nb = eahas_hb_brackets(p->hb_max, p->hb_min, p->hb_eta, EAHAS_MAX_EPOCHS, sizes, epochs, nr, S->err);
  if (nb < 0) return nb;
  int n_max = sizes[0][0];
  for (int b = 0; b < nb; b++)
    if (sizes[b][0] > n_max) n_max = sizes[b][0];
  member *m = malloc((size_t)n_max * sizeof *m);
  bohb *B = use_bohb ? calloc(1, sizeof *B) : NULL;
  int rc = 0;
  if (!m || (use_bohb && !B)) {
    rc = eahas_err_set(S->err, EAHAS_ENOMEM, "Hyperband: out of memory");
    goto out;
  }
  for (long iter = 0; !rc; iter++) {
    int b = (int)(iter % nb), n = sizes[b][0];
    for (int i = 0; i < n && !rc; i++) {
      int got = 0;
      if (use_bohb && eahas_rng_uniform(&S->rng) >= p->bohb_random_fraction) got = bohb_propose(S, B, &m[i].c);
      if (got < 0) rc = got;
      else if (!got) rc = search_sample(S, &m[i].c);
      m[i].idx = i;
    }
    for (int r = 0; r < nr[b] && !rc; r++) {
      for (int i = 0; i < n && !rc; i++) {
        eahas_ledger_result res;
        int st = eahas_ledger_train(S->L, &m[i].c, epochs[b][r], &res, S->err);
        if (st < 0) rc = st;
        else if (st != EAHAS_LEDGER_OK) rc = 1;
        else {
          m[i].score = res.val_acc;
          if (use_bohb) rc = obs_add(S, obs_for(B, epochs[b][r]), &m[i].c, res.val_acc);
        }
      }
      if (rc || r + 1 == nr[b]) break;
      qsort(m, (size_t)n, sizeof *m, cmp_member);
      n = sizes[b][r + 1] < n ? sizes[b][r + 1] : n;
      for (int i = 0; i < n; i++) m[i].idx = i;
    }
  }
out:
  if (B)
    for (int i = 0; i < B->n_obs; i++) {
      free(B->o[i].v);
      free(B->o[i].loss);
    }
  free(B);
  free(m);
  return rc;
}
