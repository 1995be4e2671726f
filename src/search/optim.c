/* Shared helpers and the single-fidelity optimizers: random search, regularized evolution
 * (Real et al. 2019), local search (White et al. 2021) and BANANAS (White et al. 2021), each with
 * its energy-aware EA- form where EA-HAS-Bench defines one (REFERENCE.md §7). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/internal.h"

int search_sample(search_ctx *S, eahas_config *c) {
  int rc = eahas_config_sample(&S->rng, S->preset, 0, c, S->err);
  return rc < 0 ? rc : 0;
}

int search_mutate(search_ctx *S, const eahas_config *in, eahas_config *out) {
  int rc = eahas_config_mutate(&S->rng, S->preset, in, 0, out, S->err);
  return rc < 0 ? rc : 0;
}

static int push_info(search_ctx *S, float v) {
  if (S->n_info == S->cap_info) {
    int nc = S->cap_info ? 2 * S->cap_info : 64;
    float *ni = realloc(S->info, (size_t)nc * sizeof *ni);
    if (!ni) return eahas_err_set(S->err, EAHAS_ENOMEM, "EA-: out of memory");
    S->info = ni;
    S->cap_info = nc;
  }
  S->info[S->n_info++] = v;
  return 0;
}

static int target_epoch(const search_ctx *S, const eahas_config *c) {
  return S->prm->ea_target < c->epochs ? S->prm->ea_target : c->epochs;
}

/* Maps a ledger status to the helpers' 0 / 1 / negative convention. */
static int status(int rc) { return rc < 0 ? rc : rc == EAHAS_LEDGER_OK ? 0 : 1; }

static int epoch_group(const eahas_config *c) {
  for (int i = 0; i < EAHAS_NUM_EPOCHS; i++)
    if (EAHAS_EPOCH_VALUES[i] == c->epochs) return i;
  return EAHAS_NUM_EPOCHS - 1;
}

static int probe_epochs(const search_ctx *S, const eahas_config *c) {
  return S->prm->ea_epochs < c->epochs ? S->prm->ea_epochs : c->epochs;
}

/* The mean residual (actual - extrapolated) of fully trained configs with the same max epoch,
 * else of all of them, else 0: learning curves of one schedule length share their bias. */
static double bias(const search_ctx *S, const eahas_config *c) {
  int g = epoch_group(c);
  if (S->res_n[g]) return S->res_sum[g] / S->res_n[g];
  double s = 0;
  int n = 0;
  for (int i = 0; i < EAHAS_NUM_EPOCHS; i++) s += S->res_sum[i], n += S->res_n[i];
  return n ? s / n : 0;
}

int search_eval_full(search_ctx *S, const eahas_config *c, search_outcome *o) {
  eahas_ledger_result r;
  int rc = eahas_ledger_train(S->L, c, c->epochs, &r, S->err);
  o->score = r.val_acc;
  o->full = rc == EAHAS_LEDGER_OK;
  if (rc == EAHAS_LEDGER_OK && S->ea && r.charged) { /* a re-proposed config counts once */
    int T = target_epoch(S, c), e0 = probe_epochs(S, c);
    float actual = r.curve->val_acc[T - 1];
    int rc2 = push_info(S, actual);
    if (rc2) return rc2;
    if (e0 < T) { /* what the probe would have predicted: the residual calibrates later probes */
      double pred = eahas_extrapolate(r.curve->val_acc, e0, T);
      S->res_sum[epoch_group(c)] += actual - pred;
      S->res_n[epoch_group(c)]++;
    }
  }
  return status(rc);
}

/* The median rule of EA-HAS-Bench's EA- optimizers (its NASLib REA_LCE): continue when the
 * prediction is above the smallest of the top half (floor(n/2) largest) of the target-epoch
 * accuracies of fully trained configs, i.e. above their median; the whole list when n < 2. */
static float threshold(const search_ctx *S) {
  int n = S->n_info, k = n / 2;
  float *tmp = malloc((size_t)n * sizeof *tmp);
  if (!tmp) return -INFINITY;
  memcpy(tmp, S->info, (size_t)n * sizeof *tmp);
  /* partial selection sort descending is fine: n is at most a few thousand, once per candidate */
  int want = k > 0 ? k : n;
  for (int i = 0; i < want; i++) {
    int b = i;
    for (int j = i + 1; j < n; j++)
      if (tmp[j] > tmp[b]) b = j;
    float t = tmp[i];
    tmp[i] = tmp[b];
    tmp[b] = t;
  }
  float thr = tmp[want - 1];
  free(tmp);
  return thr;
}

/* The cached extrapolations of c, or NULL; with insert, a slot for them (NULL on ENOMEM). */
static double *pred_cache(search_ctx *S, const eahas_config *c, int insert) {
  uint64_t key = eahas_config_hash(c) | 1;
  if (insert && 2 * (S->pc_n + 1) > S->pc_cap) {
    size_t nc = S->pc_cap ? 2 * S->pc_cap : 1024;
    uint64_t *nk = calloc(nc, sizeof *nk);
    double *nv = malloc(nc * 2 * sizeof *nv);
    if (!nk || !nv) {
      free(nk);
      free(nv);
      return NULL;
    }
    for (size_t i = 0; i < S->pc_cap; i++) {
      if (!S->pc_key[i]) continue;
      size_t j = S->pc_key[i] & (nc - 1);
      while (nk[j]) j = (j + 1) & (nc - 1);
      nk[j] = S->pc_key[i];
      nv[2 * j] = S->pc_val[2 * i];
      nv[2 * j + 1] = S->pc_val[2 * i + 1];
    }
    free(S->pc_key);
    free(S->pc_val);
    S->pc_key = nk;
    S->pc_val = nv;
    S->pc_cap = nc;
  }
  if (!S->pc_cap) return NULL;
  size_t j = key & (S->pc_cap - 1);
  while (S->pc_key[j] && S->pc_key[j] != key) j = (j + 1) & (S->pc_cap - 1);
  if (S->pc_key[j]) return &S->pc_val[2 * j];
  if (!insert) return NULL;
  S->pc_key[j] = key;
  S->pc_n++;
  return &S->pc_val[2 * j];
}

int search_eval_candidate(search_ctx *S, const eahas_config *c, search_outcome *o) {
  if (!S->ea) return search_eval_full(S, c, o);
  int e0 = probe_epochs(S, c);
  eahas_ledger_result r;
  int rc = eahas_ledger_train(S->L, c, e0, &r, S->err);
  o->score = r.val_acc;
  o->full = 0;
  if (rc != EAHAS_LEDGER_OK) return status(rc);
  if (e0 >= c->epochs) {
    o->full = 1;
    return 0;
  }
  float curve[EAHAS_MAX_EPOCHS];
  memcpy(curve, r.curve->val_acc, (size_t)e0 * sizeof(float));
  int at[2] = {target_epoch(S, c), c->epochs};
  double pred[2], *cached = r.charged ? NULL : pred_cache(S, c, 0);
  if (cached) {
    pred[0] = cached[0];
    pred[1] = cached[1];
  } else {
    search_extrapolate2(curve, e0, at, 2, pred);
    double *slot = pred_cache(S, c, 1);
    if (!slot) return eahas_err_set(S->err, EAHAS_ENOMEM, "EA-: out of memory for the prediction cache");
    slot[0] = pred[0];
    slot[1] = pred[1];
  }
  if (S->n_info == 0 || pred[0] + bias(S, c) > threshold(S)) return search_eval_full(S, c, o);
  /* Stopped: charged e0 epochs only. Its score is the extrapolated final accuracy. */
  eahas_trajectory *t = eahas_ledger_trajectory(S->L);
  if (r.charged && t->n > 0) t->evals[t->n - 1].early_stopped = 1;
  o->score = (float)(pred[1] + bias(S, c));
  return 0;
}

/* ---- random search --------------------------------------------------------------------- */

int search_run_rs(search_ctx *S) {
  for (;;) {
    eahas_config c;
    search_outcome o;
    int rc = search_sample(S, &c);
    if (rc) return rc;
    if ((rc = search_eval_candidate(S, &c, &o))) return rc;
  }
}

/* ---- regularized evolution ------------------------------------------------------------- */

int search_run_re(search_ctx *S) {
  int P = S->prm->re_population, T = S->prm->re_tournament;
  eahas_config *pop = malloc((size_t)P * sizeof *pop);
  float *fit = malloc((size_t)P * sizeof *fit);
  int rc = 0, n = 0, head = 0; /* ring buffer: head is the oldest once full */
  if (!pop || !fit) {
    rc = eahas_err_set(S->err, EAHAS_ENOMEM, "RE: out of memory for a population of %d", P);
    goto out;
  }
  while (n < P) {
    search_outcome o;
    if ((rc = search_sample(S, &pop[n]))) goto out;
    if ((rc = search_eval_full(S, &pop[n], &o))) goto out;
    fit[n++] = o.score;
  }
  for (;;) {
    int best = -1;
    for (int k = 0; k < T; k++) {
      int i = (int)eahas_rng_below(&S->rng, (uint64_t)P);
      if (best < 0 || fit[i] > fit[best]) best = i;
    }
    eahas_config child;
    search_outcome o;
    if ((rc = search_mutate(S, &pop[best], &child))) goto out;
    if ((rc = search_eval_candidate(S, &child, &o))) goto out;
    if (o.full) { /* EA-RE: a stopped child does not join the population (as in EA-HAS-Bench) */
      pop[head] = child;
      fit[head] = o.score;
      head = (head + 1) % P;
    }
  }
out:
  free(pop);
  free(fit);
  return rc;
}

/* ---- local search ---------------------------------------------------------------------- */

int search_run_ls(search_ctx *S) {
  int K = S->prm->ls_arch + S->prm->ls_hp;
  eahas_config *nb = malloc((size_t)K * sizeof *nb);
  if (!nb) return eahas_err_set(S->err, EAHAS_ENOMEM, "LS: out of memory");
  eahas_config cur;
  search_outcome o = {0, 0};
  int rc = search_sample(S, &cur);
  if (!rc) rc = search_eval_full(S, &cur, &o);
  float cur_score = o.score;
  while (!rc) {
    int m = eahas_config_neighbours(&S->rng, S->preset, &cur, S->prm->ls_arch, S->prm->ls_hp, nb, S->err);
    if (m < 0) {
      rc = m;
      break;
    }
    int best = -1;
    float best_score = -INFINITY;
    for (int i = 0; i < m && !rc; i++) {
      rc = search_eval_candidate(S, &nb[i], &o);
      if (!rc && o.full && o.score > best_score) best = i, best_score = o.score;
    }
    if (rc) break;
    if (best >= 0 && best_score > cur_score) {
      cur = nb[best];
      cur_score = best_score;
    } else { /* a local optimum: restart from a random config */
      if ((rc = search_sample(S, &cur))) break;
      rc = search_eval_full(S, &cur, &o);
      cur_score = o.score;
    }
  }
  free(nb);
  return rc;
}

/* ---- BANANAS --------------------------------------------------------------------------- */

typedef struct hist {
  eahas_config *c;
  float *x, *y; /* encodings (n x 26) and scores */
  int n, cap;
} hist;

static int hist_add(search_ctx *S, hist *h, const eahas_config *c, float score) {
  if (h->n == h->cap) {
    int nc = h->cap ? 2 * h->cap : 128;
    eahas_config *c2 = realloc(h->c, (size_t)nc * sizeof *c2);
    if (c2) h->c = c2;
    float *x2 = realloc(h->x, (size_t)nc * EAHAS_ENCODING_LEN * sizeof *x2);
    if (x2) h->x = x2;
    float *y2 = realloc(h->y, (size_t)nc * sizeof *y2);
    if (y2) h->y = y2;
    if (!c2 || !x2 || !y2) return eahas_err_set(S->err, EAHAS_ENOMEM, "BANANAS: out of memory");
    h->cap = nc;
  }
  h->c[h->n] = *c;
  eahas_config_encode(c, S->preset, h->x + (size_t)h->n * EAHAS_ENCODING_LEN);
  h->y[h->n++] = score;
  return 0;
}

static int hist_has(const hist *h, const eahas_config *c) {
  for (int i = 0; i < h->n; i++)
    if (eahas_config_equal(&h->c[i], c)) return 1;
  return 0;
}

typedef struct cand {
  eahas_config c;
  float acq;
  int idx;
} cand;

/* Descending acquisition, ties by generation order: the same order with any qsort. */
static int cmp_cand(const void *a, const void *b) {
  const cand *x = a, *y = b;
  return x->acq > y->acq ? -1 : x->acq < y->acq ? 1 : x->idx - y->idx;
}

static int cmp_idx_desc(const void *a, const void *b, void *y) {
  float x1 = ((float *)y)[*(const int *)a], x2 = ((float *)y)[*(const int *)b];
  return x1 > x2 ? -1 : x1 < x2 ? 1 : *(const int *)a - *(const int *)b;
}

int search_run_bananas(search_ctx *S) {
  const eahas_search_params *p = S->prm;
  int E = p->bananas_ensemble, C = p->bananas_candidates;
  hist h = {0};
  eahas_mlp *mlp = calloc((size_t)E, sizeof *mlp);
  uint64_t *mseed = calloc((size_t)E, sizeof *mseed);
  cand *cs = malloc((size_t)C * sizeof *cs);
  float *yn = NULL;
  int *order = NULL;
  int rc = 0, inited = 0;
  if (!mlp || !mseed || !cs) {
    rc = eahas_err_set(S->err, EAHAS_ENOMEM, "BANANAS: out of memory");
    goto out;
  }
  for (int i = 0; i < p->bananas_init; i++) {
    eahas_config c;
    search_outcome o;
    if ((rc = search_sample(S, &c))) goto out;
    if ((rc = search_eval_full(S, &c, &o))) goto out;
    if ((rc = hist_add(S, &h, &c, o.score))) goto out;
  }
  /* The predictor is the surrogate module's MLP (arch branch on the 5 architecture features, hp
   * branch on the 21 one-hots), one output, no dropout; members differ by seed. */
  for (int k = 0; k < E; k++) {
    mseed[k] = eahas_rng_u64(&S->rng);
    if ((rc = eahas_mlp_init(&mlp[k], 5, EAHAS_ENCODING_LEN - 5, p->bananas_hidden, 1, 0, 0.0f, mseed[k], S->err)))
      goto out;
    inited = k + 1;
  }
  for (long iter = 0;; iter++) {
    /* Train the ensemble on standardized scores, warm-started from the previous iteration. */
    free(yn);
    free(order);
    yn = malloc((size_t)h.n * sizeof *yn);
    order = malloc((size_t)h.n * sizeof *order);
    if (!yn || !order) {
      rc = eahas_err_set(S->err, EAHAS_ENOMEM, "BANANAS: out of memory");
      goto out;
    }
    double mu = 0, sd = 0;
    for (int i = 0; i < h.n; i++) mu += h.y[i];
    mu /= h.n;
    for (int i = 0; i < h.n; i++) sd += (h.y[i] - mu) * (h.y[i] - mu);
    sd = sqrt(sd / h.n);
    if (sd < 1e-6) sd = 1;
    for (int i = 0; i < h.n; i++) yn[i] = (float)((h.y[i] - mu) / sd);
    /* About bananas_steps minibatches of 32 per member whatever the history's size, so that an
     * iteration costs the same late in the run as early. */
    eahas_mlp_train_opts to = {0};
    to.batch = 32;
    to.lr = 1e-2;
    to.epochs = (int)(((long)p->bananas_steps * 32 + h.n - 1) / h.n);
    if (p->bananas_steps > 0 && to.epochs < 1) to.epochs = 1;
    for (int k = 0; k < E; k++) {
      to.seed = mseed[k] + (uint64_t)iter;
      if ((rc = eahas_mlp_train(&mlp[k], h.x, yn, NULL, h.n, &to, S->err)) < 0) goto out;
    }
    /* Candidates: mutations of the best configs so far, new and distinct. */
    for (int i = 0; i < h.n; i++) order[i] = i;
    qsort_r(order, (size_t)h.n, sizeof *order, cmp_idx_desc, h.y);
    int parents = p->bananas_parents < h.n ? p->bananas_parents : h.n, nc = 0;
    for (int tries = 0; nc < C && tries < 20 * C; tries++) {
      eahas_config child;
      if ((rc = search_mutate(S, &h.c[order[tries % parents]], &child))) goto out;
      int dup = hist_has(&h, &child);
      for (int j = 0; j < nc && !dup; j++) dup = eahas_config_equal(&cs[j].c, &child);
      if (!dup) cs[nc++].c = child;
    }
    /* Independent Thompson sampling: one draw from N(mean, sd of the ensemble) per candidate. */
    for (int j = 0; j < nc; j++) {
      float x[EAHAS_ENCODING_LEN];
      eahas_config_encode(&cs[j].c, S->preset, x);
      double m = 0, v = 0, pr[64];
      for (int k = 0; k < E; k++) {
        float y1;
        eahas_mlp_forward(&mlp[k], x, &y1);
        m += pr[k] = y1;
      }
      m /= E;
      for (int k = 0; k < E; k++) v += (pr[k] - m) * (pr[k] - m);
      double s = E > 1 ? sqrt(v / (E - 1)) : 0;
      cs[j].acq = (float)(m + s * eahas_rng_normal(&S->rng));
      cs[j].idx = j;
    }
    qsort(cs, (size_t)nc, sizeof *cs, cmp_cand);
    if (nc == 0) { /* every mutation was seen: fall back to a random config */
      if ((rc = search_sample(S, &cs[0].c))) goto out;
      nc = 1;
    }
    int sel = p->bananas_select < nc ? p->bananas_select : nc;
    for (int j = 0; j < sel; j++) {
      search_outcome o;
      if ((rc = search_eval_candidate(S, &cs[j].c, &o))) goto out;
      if ((rc = hist_add(S, &h, &cs[j].c, o.score))) goto out;
    }
  }
out:
  for (int k = 0; k < inited; k++) eahas_mlp_free(&mlp[k]);
  free(mlp);
  free(mseed);
  free(cs);
  free(yn);
  free(order);
  free(h.c);
  free(h.x);
  free(h.y);
  return rc;
}
