/* Optimizer names, parameters, one run, and many runs on a thread pool. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "search/internal.h"

static const char *const NAMES[EAHAS_OPTIM_COUNT] = {"rs", "re", "ls", "bananas", "hb",
                                                     "bohb", "ea-re", "ea-ls", "ea-bananas"};

const char *eahas_optim_name(eahas_optim_kind k) {
  return (unsigned)k < EAHAS_OPTIM_COUNT ? NAMES[k] : "?";
}

int eahas_optim_parse(const char *name, eahas_optim_kind *out, eahas_err *err) {
  for (int i = 0; i < EAHAS_OPTIM_COUNT; i++)
    if (name && strcmp(name, NAMES[i]) == 0) {
      *out = (eahas_optim_kind)i;
      return 0;
    }
  return eahas_err_set(err, EAHAS_EINVAL,
                       "optimizer '%s' is unknown; allowed: rs, re, ls, bananas, hb, bohb, ea-re, ea-ls, ea-bananas",
                       name ? name : "");
}

int eahas_optim_base(eahas_optim_kind k) {
  switch (k) {
  case EAHAS_OPTIM_EA_RE: return EAHAS_OPTIM_RE;
  case EAHAS_OPTIM_EA_LS: return EAHAS_OPTIM_LS;
  case EAHAS_OPTIM_EA_BANANAS: return EAHAS_OPTIM_BANANAS;
  default: return -1;
  }
}

void eahas_search_params_default(eahas_search_params *p) {
  memset(p, 0, sizeof *p);
  p->re_population = 20;
  p->re_tournament = 10;
  p->ls_arch = 10;
  p->ls_hp = 10;
  p->bananas_init = 10;
  p->bananas_candidates = 100;
  p->bananas_parents = 10;
  p->bananas_select = 10;
  p->bananas_ensemble = 5;
  p->bananas_hidden = 16;
  p->bananas_steps = 60;
  p->hb_max = 512;
  p->hb_min = 4;
  p->hb_eta = 3;
  p->bohb_samples = 128;
  p->bohb_random_fraction = 0.33;
  p->bohb_top_percent = 10;
  p->bohb_bw_factor = 3;
  p->bohb_min_bw = 1e-3;
  p->bohb_min_points = SEARCH_KDE_DIMS + 1;
  p->ea_epochs = 20;
  p->ea_target = 100;
}

#define CHECK_INT(field, lo, hi)                                                                          \
  if (p->field < (lo) || p->field > (hi))                                                                 \
    return eahas_err_set(err, EAHAS_EINVAL, "search parameter " #field "=%d is outside [%d, %d]", p->field, \
                         (lo), (hi));
#define CHECK_DBL(field, lo, hi)                                                                           \
  if (!(p->field >= (lo) && p->field <= (hi)))                                                             \
    return eahas_err_set(err, EAHAS_EINVAL, "search parameter " #field "=%g is outside [%g, %g]", p->field, \
                         (double)(lo), (double)(hi));

int eahas_search_params_check(const eahas_search_params *p, eahas_err *err) {
  CHECK_INT(re_population, 1, 100000);
  CHECK_INT(re_tournament, 1, 100000);
  /* pairs: the second names both, so that a user who set only one learns which other bounds it */
  if (p->re_tournament > p->re_population)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "search parameter re_tournament=%d is above re_population=%d (a tournament samples the population)",
                         p->re_tournament, p->re_population);
  CHECK_INT(ls_arch, 0, 10000);
  CHECK_INT(ls_hp, 0, 10000);
  if (p->ls_arch + p->ls_hp < 1)
    return eahas_err_set(err, EAHAS_EINVAL, "search parameters ls_arch + ls_hp = 0: LS needs at least one neighbour");
  CHECK_INT(bananas_init, 1, 100000);
  CHECK_INT(bananas_candidates, 1, 100000);
  CHECK_INT(bananas_parents, 1, 100000);
  CHECK_INT(bananas_select, 1, 100000);
  if (p->bananas_select > p->bananas_candidates)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "search parameter bananas_select=%d is above bananas_candidates=%d (it picks among them)",
                         p->bananas_select, p->bananas_candidates);
  CHECK_INT(bananas_ensemble, 1, 64);
  CHECK_INT(bananas_hidden, 1, 256);
  CHECK_INT(bananas_steps, 0, 1000000);
  CHECK_INT(hb_min, 1, 100000);
  CHECK_INT(hb_max, 1, 1000000);
  if (p->hb_min > p->hb_max)
    return eahas_err_set(err, EAHAS_EINVAL, "search parameter hb_min=%d is above hb_max=%d", p->hb_min, p->hb_max);
  CHECK_INT(hb_eta, 2, 100);
  CHECK_INT(bohb_samples, 1, 1000000);
  CHECK_DBL(bohb_random_fraction, 0, 1);
  CHECK_DBL(bohb_top_percent, 1, 99);
  CHECK_DBL(bohb_bw_factor, 1e-6, 1e6);
  CHECK_DBL(bohb_min_bw, 1e-12, 0.99);
  CHECK_INT(bohb_min_points, 1, 100000);
  CHECK_INT(ea_epochs, 3, EAHAS_MAX_EPOCHS);
  CHECK_INT(ea_target, 1, EAHAS_MAX_EPOCHS);
  return 0;
}

int eahas_search_run(const eahas_objective *obj, eahas_optim_kind k, const eahas_search_params *p,
                     const eahas_budget *b, uint64_t seed, eahas_trajectory *out, eahas_err *err) {
  memset(out, 0, sizeof *out);
  if ((unsigned)k >= EAHAS_OPTIM_COUNT)
    return eahas_err_set(err, EAHAS_EINVAL, "optimizer kind %d is outside [0, %d]", (int)k, EAHAS_OPTIM_COUNT - 1);
  int rc = eahas_search_params_check(p, err);
  if (rc) return rc;
  search_ctx S;
  memset(&S, 0, sizeof S);
  S.obj = obj;
  S.preset = obj->preset;
  S.prm = p;
  S.err = err;
  S.ea = eahas_optim_base(k) >= 0;
  /* The same stream for every optimizer: RS, RE and BANANAS start from the same random configs
   * for a given seed (common random numbers make comparisons less noisy). */
  eahas_rng_seed_key(&S.rng, seed, 0x5ea4c4ULL);
  if ((rc = eahas_ledger_new(obj, b, &S.L, err))) return rc;
  eahas_ledger_trajectory(S.L)->optim = k;
  eahas_ledger_trajectory(S.L)->seed = seed;
  switch (k) {
  case EAHAS_OPTIM_RS: rc = search_run_rs(&S); break;
  case EAHAS_OPTIM_RE:
  case EAHAS_OPTIM_EA_RE: rc = search_run_re(&S); break;
  case EAHAS_OPTIM_LS:
  case EAHAS_OPTIM_EA_LS: rc = search_run_ls(&S); break;
  case EAHAS_OPTIM_BANANAS:
  case EAHAS_OPTIM_EA_BANANAS: rc = search_run_bananas(&S); break;
  case EAHAS_OPTIM_HB: rc = search_run_hb(&S, 0); break;
  case EAHAS_OPTIM_BOHB: rc = search_run_hb(&S, 1); break;
  default: rc = EAHAS_EINTERNAL; break;
  }
  free(S.info);
  free(S.pc_key);
  free(S.pc_val);
  if (rc < 0) {
    eahas_ledger_free(S.L);
    return eahas_err_prefix(err, rc, "%s seed %llu", eahas_optim_name(k), (unsigned long long)seed);
  }
  eahas_ledger_take(S.L, out);
  eahas_ledger_free(S.L);
  return 0;
}

/* ---- many runs on a thread pool -------------------------------------------------------- */

typedef struct pool {
  const eahas_objective *obj;
  const eahas_optim_kind *kinds;
  const uint64_t *seeds;
  int n_seeds, total;
  const eahas_search_params *p;
  const eahas_budget *b;
  eahas_trajectory *trajs;
  eahas_search_progress_fn progress;
  void *ud;
  pthread_mutex_t mu;
  int next, done, rc;
  eahas_err err;
} pool;

static void *worker(void *arg) {
  pool *P = arg;
  for (;;) {
    pthread_mutex_lock(&P->mu);
    int j = P->rc ? P->total : P->next++;
    pthread_mutex_unlock(&P->mu);
    if (j >= P->total) return NULL;
    eahas_err e = {0};
    int rc = eahas_search_run(P->obj, P->kinds[j / P->n_seeds], P->p, P->b, P->seeds[j % P->n_seeds], &P->trajs[j], &e);
    pthread_mutex_lock(&P->mu);
    if (rc && !P->rc) {
      P->rc = rc;
      P->err = e;
    }
    P->done++;
    if (P->progress && !P->rc) P->progress(P->ud, P->done, P->total);
    pthread_mutex_unlock(&P->mu);
  }
}

int eahas_search_many(const eahas_objective *obj, const eahas_optim_kind *kinds, int n_kinds,
                      const uint64_t *seeds, int n_seeds, const eahas_search_params *p,
                      const eahas_budget *b, int jobs, eahas_search_progress_fn progress, void *ud,
                      eahas_trajectory *trajs, eahas_err *err) {
  if (n_kinds < 1 || n_seeds < 1)
    return eahas_err_set(err, EAHAS_EINVAL, "search: need at least one optimizer (%d) and one seed (%d)", n_kinds,
                         n_seeds);
  if (jobs < 1) return eahas_err_set(err, EAHAS_EINVAL, "search: jobs=%d is below 1", jobs);
  int rc = eahas_search_params_check(p, err);
  if (rc) return rc;
  pool P;
  memset(&P, 0, sizeof P);
  P.obj = obj;
  P.kinds = kinds;
  P.seeds = seeds;
  P.n_seeds = n_seeds;
  P.total = n_kinds * n_seeds;
  P.p = p;
  P.b = b;
  P.trajs = trajs;
  P.progress = progress;
  P.ud = ud;
  memset(trajs, 0, (size_t)P.total * sizeof *trajs);
  pthread_mutex_init(&P.mu, NULL);
  if (jobs > P.total) jobs = P.total;
  pthread_t *th = calloc((size_t)jobs, sizeof *th);
  if (!th) {
    pthread_mutex_destroy(&P.mu);
    return eahas_err_set(err, EAHAS_ENOMEM, "search: out of memory for %d threads", jobs);
  }
  int started = 0;
  for (int i = 1; i < jobs; i++) {
    if (pthread_create(&th[i], NULL, worker, &P)) break;
    started = i;
  }
  worker(&P); /* the calling thread works too */
  for (int i = 1; i <= started; i++) pthread_join(th[i], NULL);
  free(th);
  pthread_mutex_destroy(&P.mu);
  if (P.rc) {
    for (int i = 0; i < P.total; i++) eahas_trajectory_free(&trajs[i]);
    if (err) *err = P.err;
    return P.rc;
  }
  return 0;
}
