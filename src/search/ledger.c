/* The budget ledger: every training an optimizer asks for goes through here, is charged its
 * exact cumulative cost and recorded in the trajectory (docs/search.md "Budget ledger"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eahas/search.h"

/* Per config: how far it has been trained and what that cost in total (checkpoint reuse). */
typedef struct slot {
  uint64_t key;  /* 0 = empty */
  eahas_config c;
  int epochs;
  double cum_kwh, cum_s;
} slot;

struct eahas_ledger {
  eahas_objective obj;
  eahas_budget b;
  double used_kwh, used_s;
  int over; /* 1 once the budget (or a cap) has stopped the run */
  int consecutive_free;
  eahas_trajectory traj;
  slot *slots;
  size_t n_slots, cap_slots;
  eahas_query_result q;
};

static uint64_t key_of(const eahas_config *c) {
  uint64_t h = eahas_config_hash(c);
  return h ? h : 1;
}

static slot *find_slot(slot *s, size_t cap, const eahas_config *c, uint64_t key) {
  size_t i = (size_t)(key & (cap - 1));
  while (s[i].key && !(s[i].key == key && eahas_config_equal(&s[i].c, c))) i = (i + 1) & (cap - 1);
  return &s[i];
}

static int grow(eahas_ledger *l, eahas_err *err) {
  size_t nc = l->cap_slots ? l->cap_slots * 2 : 256;
  slot *ns = calloc(nc, sizeof *ns);
  if (!ns) return eahas_err_set(err, EAHAS_ENOMEM, "ledger: out of memory for %zu configs", nc);
  for (size_t i = 0; i < l->cap_slots; i++)
    if (l->slots[i].key) *find_slot(ns, nc, &l->slots[i].c, l->slots[i].key) = l->slots[i];
  free(l->slots);
  l->slots = ns;
  l->cap_slots = nc;
  return 0;
}

/* The slot of c, created empty if absent (NULL on ENOMEM). */
static slot *lookup(eahas_ledger *l, const eahas_config *c, int create, eahas_err *err) {
  if (!l->cap_slots) {
    if (!create) return NULL;
    if (grow(l, err)) return NULL;
  }
  uint64_t key = key_of(c);
  slot *s = find_slot(l->slots, l->cap_slots, c, key);
  if (s->key || !create) return s->key ? s : NULL;
  if (2 * (l->n_slots + 1) > l->cap_slots) {
    if (grow(l, err)) return NULL;
    s = find_slot(l->slots, l->cap_slots, c, key);
  }
  s->key = key;
  s->c = *c;
  s->epochs = 0;
  s->cum_kwh = s->cum_s = 0;
  l->n_slots++;
  return s;
}

int eahas_ledger_new(const eahas_objective *obj, const eahas_budget *b, eahas_ledger **out, eahas_err *err) {
  *out = NULL;
  if (!obj || !obj->evaluate || !obj->preset)
    return eahas_err_set(err, EAHAS_EINVAL, "ledger: objective without evaluate function or preset");
  if (!(b->amount > 0) || !isfinite(b->amount))
    return eahas_err_set(err, EAHAS_EINVAL, "budget %g %s is not a positive finite number", b->amount,
                         b->unit == EAHAS_BUDGET_SECONDS ? "s" : "kWh");
  if (b->unit != EAHAS_BUDGET_KWH && b->unit != EAHAS_BUDGET_SECONDS)
    return eahas_err_set(err, EAHAS_EINVAL, "budget unit %d is neither kWh (0) nor seconds (1)", (int)b->unit);
  if (b->max_evals < 0 || b->max_free < 0)
    return eahas_err_set(err, EAHAS_EINVAL, "budget caps max_evals=%ld max_free=%d must be >= 0", b->max_evals,
                         b->max_free);
  eahas_ledger *l = calloc(1, sizeof *l);
  if (!l) return eahas_err_set(err, EAHAS_ENOMEM, "ledger: out of memory");
  l->obj = *obj;
  l->b = *b;
  if (!l->b.max_free) l->b.max_free = 10000;
  l->traj.budget = l->b;
  *out = l;
  return 0;
}

void eahas_ledger_free(eahas_ledger *l) {
  if (!l) return;
  free(l->slots);
  eahas_trajectory_free(&l->traj);
  free(l);
}

void eahas_trajectory_free(eahas_trajectory *t) {
  if (!t) return;
  free(t->evals);
  t->evals = NULL;
  t->n = t->cap = 0;
}

double eahas_ledger_used(const eahas_ledger *l) {
  return l->b.unit == EAHAS_BUDGET_SECONDS ? l->used_s : l->used_kwh;
}

double eahas_ledger_remaining(const eahas_ledger *l) {
  double r = l->b.amount - eahas_ledger_used(l);
  return r > 0 ? r : 0;
}

int eahas_ledger_epochs_done(const eahas_ledger *l, const eahas_config *c) {
  if (!l->b.reuse || !l->cap_slots) return 0;
  slot *s = find_slot(l->slots, l->cap_slots, c, key_of(c));
  return s->key ? s->epochs : 0;
}

eahas_trajectory *eahas_ledger_trajectory(eahas_ledger *l) { return &l->traj; }

void eahas_ledger_take(eahas_ledger *l, eahas_trajectory *out) {
  *out = l->traj;
  memset(&l->traj, 0, sizeof l->traj);
  l->traj.budget = l->b;
  l->traj.optim = out->optim;
  l->traj.seed = out->seed;
}

/* Charge in the budget's unit for reaching epoch e from the base cost. Written as one expression
 * so that the check and the update compute the same double. */
static double charge(const eahas_ledger *l, int e, double base_kwh, double base_s) {
  double d = l->b.unit == EAHAS_BUDGET_SECONDS ? l->q.time_s_cum[e - 1] - base_s : l->q.tec_kwh_cum[e - 1] - base_kwh;
  return d > 0 ? d : 0;
}

static int append(eahas_ledger *l, const eahas_eval *ev, eahas_err *err) {
  eahas_trajectory *t = &l->traj;
  if (t->n == t->cap) {
    int nc = t->cap ? t->cap * 2 : 64;
    eahas_eval *ne = realloc(t->evals, (size_t)nc * sizeof *ne);
    if (!ne) return eahas_err_set(err, EAHAS_ENOMEM, "trajectory: out of memory for %d evaluations", nc);
    t->evals = ne;
    t->cap = nc;
  }
  eahas_eval *e = &t->evals[t->n];
  *e = *ev;
  if (t->n == 0 || e->val_acc > t->evals[t->evals[t->n - 1].incumbent].val_acc) e->incumbent = t->n;
  else e->incumbent = t->evals[t->n - 1].incumbent;
  const eahas_eval *inc = e->incumbent == t->n ? e : &t->evals[e->incumbent];
  e->inc_val_acc = inc->val_acc;
  e->inc_test_acc = inc->test_acc;
  t->n++;
  return 0;
}

static int stop(eahas_ledger *l, eahas_stop_reason why) {
  l->over = 1;
  l->traj.stop = why;
  return EAHAS_LEDGER_STOP;
}

int eahas_ledger_train(eahas_ledger *l, const eahas_config *c, int epochs, eahas_ledger_result *out,
                       eahas_err *err) {
  memset(out, 0, sizeof *out);
  out->curve = &l->q;
  if (l->over) return EAHAS_LEDGER_STOP;
  if (epochs < 1) return eahas_err_set(err, EAHAS_EINVAL, "ledger: epochs=%d is below 1", epochs);
  if (epochs > c->epochs) epochs = c->epochs;
  slot *s = NULL;
  if (l->b.reuse) {
    s = lookup(l, c, 1, err);
    if (!s) return EAHAS_ENOMEM;
  }
  int done = s ? s->epochs : 0;
  int rc = l->obj.evaluate(l->obj.ctx, c, epochs, &l->q, err);
  if (rc) return rc;
  if (epochs <= done) { /* a checkpoint at this epoch exists: nothing to train or charge */
    l->traj.free_evals++;
    out->epochs = epochs;
    out->val_acc = l->q.val_acc[epochs - 1];
    out->test_acc = l->q.test_acc[epochs - 1];
    if (++l->consecutive_free >= l->b.max_free) return stop(l, EAHAS_STOP_STALLED);
    return EAHAS_LEDGER_OK;
  }
  double base_kwh = s ? s->cum_kwh : 0, base_s = s ? s->cum_s : 0;
  double used = eahas_ledger_used(l);
  int e = epochs, truncated = 0;
  if (!(used + charge(l, e, base_kwh, base_s) <= l->b.amount)) {
    if (!l->b.partial) return stop(l, EAHAS_STOP_SKIPPED);
    while (e > done && !(used + charge(l, e, base_kwh, base_s) <= l->b.amount)) e--;
    if (e <= done) return stop(l, EAHAS_STOP_BUDGET);
    truncated = 1;
  }
  eahas_eval ev;
  memset(&ev, 0, sizeof ev);
  ev.config = *c;
  ev.epochs = e;
  ev.epochs_requested = epochs;
  ev.epochs_charged = e - done;
  ev.truncated = truncated;
  ev.energy_kwh = l->q.tec_kwh_cum[e - 1] - base_kwh;
  ev.time_s = l->q.time_s_cum[e - 1] - base_s;
  if (l->b.unit == EAHAS_BUDGET_SECONDS) {
    l->used_s = used + charge(l, e, base_kwh, base_s);
    l->used_kwh += ev.energy_kwh;
  } else {
    l->used_kwh = used + charge(l, e, base_kwh, base_s);
    l->used_s += ev.time_s;
  }
  ev.cum_energy_kwh = l->used_kwh;
  ev.cum_time_s = l->used_s;
  ev.val_acc = l->q.val_acc[e - 1];
  ev.test_acc = l->q.test_acc[e - 1];
  if ((rc = append(l, &ev, err))) return rc;
  l->traj.energy_kwh = l->used_kwh;
  l->traj.time_s = l->used_s;
  l->consecutive_free = 0;
  if (s) {
    s->epochs = e;
    s->cum_kwh = l->q.tec_kwh_cum[e - 1];
    s->cum_s = l->q.time_s_cum[e - 1];
  }
  l->q.epochs = e;
  out->epochs = e;
  out->val_acc = ev.val_acc;
  out->test_acc = ev.test_acc;
  out->charged = 1;
  if (truncated) {
    l->over = 1;
    l->traj.stop = EAHAS_STOP_BUDGET;
    return EAHAS_LEDGER_TRUNCATED;
  }
  if (l->b.max_evals && l->traj.n >= l->b.max_evals) {
    l->over = 1;
    l->traj.stop = EAHAS_STOP_MAX_EVALS;
  }
  return EAHAS_LEDGER_OK;
}
