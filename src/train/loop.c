/* The epoch loop: trains one config under a preset's protocol and fills its run record
 * (EA-HAS-Bench / pycls training protocol, REFERENCE.md §4; energy per issue 4 item 4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eahas/train.h"

/* Keys of the random streams derived from the run seed. */
#define KEY_INIT 0x696e6974ULL        /* "init": network weights */
#define KEY_EPOCH 0x65706f6368000000ULL /* "epoch" + e: shuffling and augmentation of epoch e */

static void read_cpu_model(char *buf, size_t n) {
  snprintf(buf, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) != 0) continue;
    char *v = strchr(line, ':');
    if (!v) continue;
    v++;
    while (*v == ' ' || *v == '\t') v++;
    v[strcspn(v, "\n")] = '\0';
    snprintf(buf, n, "%s", v);
    break;
  }
  fclose(f);
}

static void fill_provenance(eahas_run_record *r, int threads) {
  if (gethostname(r->machine, sizeof r->machine - 1) != 0) snprintf(r->machine, sizeof r->machine, "unknown");
  r->machine[sizeof r->machine - 1] = '\0';
  read_cpu_model(r->cpu, sizeof r->cpu);
  r->threads = threads;
  snprintf(r->versions, sizeof r->versions, "eahas %s; oneDNN %s", eahas_version(), eahas_net_backend_version());
  snprintf(r->trainer, sizeof r->trainer, "eahas");
}

static void fill_domains(eahas_run_record *r, const eahas_energy_reading *rd) {
  r->energy_domains[0] = '\0';
  size_t used = 0;
  for (int i = 0; i < rd->n_domains; i++) {
    int k = snprintf(r->energy_domains + used, sizeof r->energy_domains - used, "%s%s", i ? "," : "",
                     rd->domains[i].name);
    if (k < 0 || (size_t)k >= sizeof r->energy_domains - used) break;
    used += (size_t)k;
  }
}

/* Top-1 accuracy (%) of net in evaluation mode over n images, in batches of bs. */
static int evaluate(eahas_net *net, const float *x, const int *y, int n, size_t img, int classes, int bs,
                    float *logits, double *acc, eahas_err *err) {
  long correct = 0;
  for (int i = 0; i < n; i += bs) {
    int m = n - i < bs ? n - i : bs, hit = 0;
    int rc = eahas_net_forward(net, x + (size_t)i * img, m, 0, logits, err);
    if (rc) return rc;
    eahas_softmax_xent(logits, y + i, m, classes, 0.0, NULL, &hit);
    correct += hit;
  }
  *acc = n > 0 ? 100.0 * (double)correct / n : 0.0;
  return 0;
}

static int energy_between(eahas_meter *m, double *last, double *out, eahas_energy_reading *rd, eahas_err *err) {
  int rc = eahas_meter_read(m, rd, err);
  if (rc) return rc;
  double d = rd->energy_j - *last;
  *out = d > 0 ? d : 0.0;
  *last = rd->energy_j;
  return 0;
}

/* Everything a run holds; freed in one place. */
typedef struct run_ctx {
  eahas_data own_data;
  const eahas_data *data;
  eahas_net *net, *ema;
  eahas_optim *opt;
  eahas_meter *meter;
  eahas_domain_share *share;
  float *bx, *tmp, *logits, *dlogits;
  int *by, *perm;
  eahas_tensor_info *p_net, *p_ema; /* parameters then buffers, for the EMA */
  int n_state;
} run_ctx;

static void ctx_free(run_ctx *x) {
  eahas_optim_free(x->opt);
  eahas_net_free(x->net);
  eahas_net_free(x->ema);
  if (x->share) eahas_domain_share_end(x->share, NULL, NULL, NULL);
  if (x->meter) eahas_meter_close(x->meter);
  eahas_data_free(&x->own_data);
  free(x->bx);
  free(x->tmp);
  free(x->logits);
  free(x->dlogits);
  free(x->by);
  free(x->perm);
  free(x->p_net);
  free(x->p_ema);
}

static int collect_state(run_ctx *x, eahas_err *err) {
  int np = eahas_net_num_params(x->net), nb = eahas_net_num_buffers(x->net);
  x->n_state = np + nb;
  x->p_net = calloc((size_t)x->n_state + 1, sizeof *x->p_net);
  x->p_ema = calloc((size_t)x->n_state + 1, sizeof *x->p_ema);
  if (!x->p_net || !x->p_ema) return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate %d tensor infos", x->n_state);
  for (int i = 0; i < np; i++) {
    x->p_net[i] = eahas_net_param(x->net, i);
    x->p_ema[i] = eahas_net_param(x->ema, i);
  }
  for (int i = 0; i < nb; i++) {
    x->p_net[np + i] = eahas_net_buffer(x->net, i);
    x->p_ema[np + i] = eahas_net_buffer(x->ema, i);
  }
  return 0;
}

/* Copies a message into a fixed field, truncating (messages are longer than the field). */
static void set_reason(eahas_run_record *r, const char *msg) {
  size_t n = strlen(msg);
  if (n >= sizeof r->reason) n = sizeof r->reason - 1;
  memcpy(r->reason, msg, n);
  r->reason[n] = '\0';
}

static void report(const eahas_train_opts *o, const eahas_train_progress *pr) {
  if (o->progress) o->progress(o->progress_ctx, pr);
}

/* One training epoch. Returns 0, EAHAS_EDIVERGED (with *bad_iter set) or an error. */
static int train_epoch(run_ctx *x, const eahas_config *c, const eahas_preset *p, const eahas_train_opts *o, int e,
                       int epochs, uint64_t seed, double lr, double *loss_out, double *acc_out, int *bad_iter,
                       eahas_err *err) {
  const eahas_data *d = x->data;
  size_t img = (size_t)d->c * d->h * d->w;
  int bs = p->batch_size < d->n_train ? p->batch_size : d->n_train;
  /* pycls drops the last incomplete training batch (a batch of 1 would break BN). */
  int iters = d->n_train / bs;
  eahas_rng rng;
  eahas_rng_seed_key(&rng, seed, KEY_EPOCH + (uint64_t)e);
  eahas_shuffle(x->perm, d->n_train, &rng);
  /* The preset's EMA rate and period (pycls's 0.00025 and 32 for cifar10; rescaled for the
   * small fashion-mnist protocol so that the EMA horizon is the same share of training). */
  int ema_period = p->ema_period > 0 ? p->ema_period : EAHAS_EMA_PERIOD;
  double ema_rate = p->ema_alpha > 0 ? p->ema_alpha : EAHAS_EMA_ALPHA;
  /* Cutout's side is defined for 32x32 inputs (DeVries & Taylor; EA-HAS-Bench's CIFAR-10): at a
   * smaller resolution it covers the same share of the image (16 at 32x32 -> 7 at 14x14). */
  int cutout = eahas_cutout_side(c->cutout, p->im_size);
  double alpha = eahas_ema_alpha_rate(ema_rate, ema_period, p->batch_size, c->epochs, e), loss_sum = 0;
  long hits = 0, seen = 0;
  for (int it = 0; it < iters; it++) {
    for (int k = 0; k < bs; k++) {
      int j = x->perm[it * bs + k];
      float *dst = x->bx + (size_t)k * img;
      memcpy(dst, d->train_x + (size_t)j * img, sizeof(float) * img);
      eahas_augment(dst, d->c, d->h, d->w, p->hflip, p->crop_pad, cutout, &rng, x->tmp);
      x->by[k] = d->train_y[j];
    }
    int rc = eahas_net_forward(x->net, x->bx, bs, 1, x->logits, err);
    if (rc) return rc;
    int hit = 0;
    double loss = eahas_softmax_xent(x->logits, x->by, bs, d->num_classes, EAHAS_LABEL_SMOOTHING, x->dlogits, &hit);
    if (!isfinite(loss)) {
      *bad_iter = it;
      return EAHAS_EDIVERGED;
    }
    rc = eahas_net_backward(x->net, x->dlogits, err);
    if (rc) return rc;
    eahas_optim_step(x->opt, lr);
    /* pycls update_model_ema: after the step, at iterations 0, P, 2P, ... of each epoch. */
    if (it % ema_period == 0) {
      rc = eahas_ema_update(x->p_ema, x->p_net, x->n_state, alpha, err);
      if (rc) return rc;
    }
    loss_sum += loss;
    hits += hit;
    seen += bs;
    eahas_train_progress pr = {.phase = "train", .epoch = e, .epochs = epochs, .iter = it + 1, .iters = iters,
                               .loss = loss_sum / (it + 1), .acc = 100.0 * (double)hits / (double)seen, .lr = lr,
                               .net = x->net};
    report(o, &pr);
  }
  *loss_out = iters > 0 ? loss_sum / iters : 0.0;
  *acc_out = seen > 0 ? 100.0 * (double)hits / (double)seen : 0.0;
  return 0;
}

/* IEC: joules per image of inference with the final model, over whole test batches repeated
 * until at least min_s seconds have passed (>= 10 update periods of any counter we read). */
static int measure_iec(run_ctx *x, const eahas_preset *p, double min_s, double *iec, eahas_err *err) {
  const eahas_data *d = x->data;
  size_t img = (size_t)d->c * d->h * d->w;
  int bs = p->test_batch_size < d->n_test ? p->test_batch_size : d->n_test;
  eahas_energy_reading r0, r1;
  int rc = eahas_meter_read(x->meter, &r0, err);
  if (rc) return rc;
  double t0 = eahas_now_s();
  long images = 0;
  int off = 0;
  do {
    if (off + bs > d->n_test) off = 0;
    rc = eahas_net_forward(x->net, d->test_x + (size_t)off * img, bs, 0, x->logits, err);
    if (rc) return rc;
    off += bs;
    images += bs;
  } while (eahas_now_s() - t0 < min_s);
  rc = eahas_meter_read(x->meter, &r1, err);
  if (rc) return rc;
  double e = r1.energy_j - r0.energy_j;
  *iec = images > 0 && e > 0 ? e / (double)images : 0.0;
  return 0;
}

static int setup(run_ctx *x, const eahas_config *c, const eahas_preset *p, const char *data_dir,
                 const eahas_train_opts *o, eahas_err *err) {
  /* The meter first: an unavailable one fails before minutes of data loading. */
  eahas_meter_opts mo = {0};
  if (o->meter) mo = *o->meter;
  int rc = eahas_meter_open(&mo, &x->meter, err);
  if (rc) return rc;
  /* Announce the run on every measured domain, so that a shared counter is recorded as such. */
  const char *names[EAHAS_MAX_DOMAINS];
  int nd = eahas_meter_domain_names(x->meter, names, EAHAS_MAX_DOMAINS);
  if (nd > 0) rc = eahas_domain_share_begin(names, nd, o->lock_dir, &x->share, err);
  if (rc) return rc;
  if (o->data) {
    x->data = o->data;
  } else {
    eahas_train_progress pr = {.phase = "data"};
    report(o, &pr);
    if (!data_dir) return eahas_err_set(err, EAHAS_EINVAL, "no data directory given");
    rc = eahas_data_load(p, data_dir, o->seed, &x->own_data, err);
    if (rc) return rc;
    x->data = &x->own_data;
  }
  const eahas_data *d = x->data;
  if (d->num_classes != p->num_classes || d->c != p->in_channels || d->h != p->im_size || d->w != p->im_size)
    return eahas_err_set(err, EAHAS_EINVAL,
                         "data of %d classes, %dx%dx%d, does not fit preset %s (%d classes, %dx%dx%d)",
                         d->num_classes, d->c, d->h, d->w, p->name, p->num_classes, p->in_channels, p->im_size,
                         p->im_size);
  if (d->n_train < 2 || d->n_test < 1)
    return eahas_err_set(err, EAHAS_EINVAL, "%d training and %d test images: need at least 2 and 1", d->n_train,
                         d->n_test);
  if (p->batch_size < 2 || p->test_batch_size < 1)
    return eahas_err_set(err, EAHAS_EINVAL, "preset %s: batch %d / test batch %d (need >= 2 / >= 1)", p->name,
                         p->batch_size, p->test_batch_size);
  eahas_regnet_arch arch = eahas_config_arch(c);
  eahas_net_opts no = eahas_preset_net_opts(p);
  int max_batch = p->batch_size > p->test_batch_size ? p->batch_size : p->test_batch_size;
  uint64_t init_seed = eahas_mix64(o->seed ^ KEY_INIT);
  rc = eahas_net_new(&arch, &no, max_batch, init_seed, &x->net, err);
  if (!rc) rc = eahas_net_new(&arch, &no, max_batch, init_seed, &x->ema, err);
  if (!rc) rc = eahas_net_copy_state(x->ema, x->net, err); /* pycls: ema = deepcopy(model) */
  if (!rc) rc = collect_state(x, err);
  if (rc) return rc;
  rc = eahas_optim_new(c->opt, x->p_net, eahas_net_num_params(x->net), &x->opt, err);
  if (rc) return rc;
  size_t img = (size_t)d->c * d->h * d->w;
  x->bx = malloc(sizeof(float) * img * (size_t)max_batch);
  x->tmp = malloc(sizeof(float) * img);
  x->logits = malloc(sizeof(float) * (size_t)max_batch * d->num_classes);
  x->dlogits = malloc(sizeof(float) * (size_t)max_batch * d->num_classes);
  x->by = malloc(sizeof(int) * (size_t)max_batch);
  x->perm = malloc(sizeof(int) * (size_t)d->n_train);
  if (!x->bx || !x->tmp || !x->logits || !x->dlogits || !x->by || !x->perm)
    return eahas_err_set(err, EAHAS_ENOMEM, "cannot allocate training buffers for batch %d", max_batch);
  return 0;
}

int eahas_train_run(const eahas_config *c, const eahas_preset *p, const char *data_dir, eahas_train_opts *o,
                    eahas_run_record *rec, eahas_err *err) {
  memset(rec, 0, sizeof *rec);
  eahas_err local_err = {0};
  if (!err) err = &local_err;
  eahas_train_opts defaults = {0};
  if (!o) o = &defaults;
  o->out_loop_energy_j = 0;
  int rc = eahas_config_validate(c, p, 0, err);
  if (rc) return rc;
  if (o->epochs_limit < 0 || o->epochs_limit > c->epochs)
    return eahas_err_set(err, EAHAS_EINVAL, "epochs limit %d is outside [1, %d] (the config's max epochs)",
                         o->epochs_limit, c->epochs);
  int epochs = o->epochs_limit ? o->epochs_limit : c->epochs;
  int threads = o->threads > 0 ? o->threads : p->threads;
  if (threads <= 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    threads = cores > 0 ? (int)cores : 1;
  }
  if (threads > 1024) return eahas_err_set(err, EAHAS_EINVAL, "threads=%d is outside [1, 1024]", threads);
  /* A oneDNN without OpenMP (EAHAS_EUNAVAIL) runs sequentially: the run goes on. */
  rc = eahas_net_set_threads(threads, err);
  if (rc && rc != EAHAS_EUNAVAIL) return rc;
  rc = 0;
  /* IEC over at least ten update periods of the meter: 1 s covers RAPL (1 ms), NVML power
   * sampling (50-100 ms) and the estimate; a slower polling interval asks for more. */
  double iec_min = o->iec_min_s > 0 ? o->iec_min_s : 1.0;
  if (o->meter && o->meter->interval_s > 0 && iec_min < 10 * o->meter->interval_s) iec_min = 10 * o->meter->interval_s;

  rc = eahas_run_record_init(rec, epochs, err);
  if (rc) return rc;
  rec->config = *c;
  snprintf(rec->preset, sizeof rec->preset, "%s", p->name);
  eahas_run_id(p->name, c, rec->id);
  rec->seed = o->seed;
  rec->epochs_planned = c->epochs;
  rec->epochs_limit = epochs;
  rec->epochs_trained = 0;
  snprintf(rec->status, sizeof rec->status, "failed");
  fill_provenance(rec, threads);
  eahas_regnet rg;
  rc = eahas_config_complexity(c, p, &rg, &rec->cx, err);
  if (rc) return rc;

  run_ctx x = {0};
  rc = setup(&x, c, p, data_dir, o, err);
  if (rc) {
    set_reason(rec, err->msg);
    ctx_free(&x);
    return rc;
  }
  const eahas_data *d = x.data;
  snprintf(rec->dataset, sizeof rec->dataset, "%s", d->name[0] ? d->name : p->dataset);
  snprintf(rec->energy_method, sizeof rec->energy_method, "%s", eahas_meter_method(x.meter));
  size_t img = (size_t)d->c * d->h * d->w;
  eahas_energy_reading rd;
  double last_j = 0, start_j = 0;
  rc = eahas_meter_start(x.meter, err);
  if (!rc) rc = eahas_meter_read(x.meter, &rd, err);
  if (!rc) {
    last_j = start_j = rd.energy_j;
    fill_domains(rec, &rd);
  }
  snprintf(rec->status, sizeof rec->status, "ok");
  for (int e = 0; !rc && e < epochs; e++) {
    double t0 = eahas_now_s(), lr = eahas_lr_at(c->sched, eahas_config_lr(c), e, c->epochs);
    double loss = 0, acc = 0, va = 0, ta = 0, tae = 0, etr = 0, eev = 0;
    int bad_iter = -1;
    rc = train_epoch(&x, c, p, o, e, epochs, o->seed, lr, &loss, &acc, &bad_iter, err);
    if (rc == EAHAS_EDIVERGED) {
      /* Not an error of the run: a result. The curves keep the completed epochs only. */
      snprintf(rec->status, sizeof rec->status, "diverged");
      snprintf(rec->reason, sizeof rec->reason, "training loss became NaN or Inf at epoch %d, iteration %d (lr %g)",
               e + 1, bad_iter + 1, lr);
      rc = 0;
      break;
    }
    if (!rc) rc = energy_between(x.meter, &last_j, &etr, &rd, err);
    int tb = p->test_batch_size;
    if (!rc) rc = evaluate(x.net, d->val_x, d->val_y, d->n_val, img, d->num_classes, tb, x.logits, &va, err);
    if (!rc) rc = evaluate(x.net, d->test_x, d->test_y, d->n_test, img, d->num_classes, tb, x.logits, &ta, err);
    if (!rc) rc = evaluate(x.ema, d->test_x, d->test_y, d->n_test, img, d->num_classes, tb, x.logits, &tae, err);
    if (!rc) rc = energy_between(x.meter, &last_j, &eev, &rd, err);
    if (rc) break;
    rec->train_loss[e] = loss;
    rec->train_acc[e] = acc;
    rec->val_acc[e] = va;
    rec->test_acc[e] = ta;
    rec->test_acc_ema[e] = tae;
    rec->lr[e] = lr;
    rec->epoch_time_s[e] = eahas_now_s() - t0;
    rec->train_energy_j[e] = etr;
    rec->eval_energy_j[e] = eev;
    rec->epochs_trained = e + 1;
    rec->train_time_s += rec->epoch_time_s[e];
    rec->total_energy_j += etr + eev;
    rec->tec_kwh += etr / 3.6e6;
    eahas_train_progress pr = {.phase = "epoch", .epoch = e, .epochs = epochs, .loss = loss, .acc = acc,
                               .val_acc = va, .test_acc = ta, .test_acc_ema = tae, .lr = lr,
                               .epoch_time_s = rec->epoch_time_s[e], .net = x.net};
    report(o, &pr);
  }
  o->out_loop_energy_j = last_j - start_j;
  if (!rc) {
    eahas_train_progress pr = {.phase = "iec", .epoch = rec->epochs_trained, .epochs = epochs};
    report(o, &pr);
    rc = measure_iec(&x, p, iec_min, &rec->iec_j_per_image, err);
  }
  if (!rc) rc = eahas_meter_stop(x.meter, &rd, err);
  if (!rc && x.share) {
    int shared = 0;
    rc = eahas_domain_share_end(x.share, &shared, NULL, err);
    x.share = NULL;
    rec->energy_shared = shared;
  }
  if (rc) {
    snprintf(rec->status, sizeof rec->status, "failed");
    set_reason(rec, err->msg);
  }
  ctx_free(&x);
  return rc;
}
