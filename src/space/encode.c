/* The 26-value feature encoding of the BSC surrogate (EA-HAS-Bench (ICLR 2023), REFERENCE.md §6):
 * 5 scaled architecture values, then one-hots of lr (10), optimizer (3), lr policy (3),
 * cutout (2) and max epochs (3). */
#include "eahas/space.h"

/* Offsets of the one-hot groups in the encoding. */
enum { OFF_LR = 5, OFF_OPT = 15, OFF_SCHED = 18, OFF_CUTOUT = 21, OFF_EPOCHS = 23 };

void eahas_config_encode(const eahas_config *c, const eahas_preset *p, float out[EAHAS_ENCODING_LEN]) {
  /* wm is scaled to the preset's range: 2.5..3.0, or 1.5..3.0 for tinyimagenet. */
  double wm_lo = p->wm1000_min / 1000.0, wm_hi = p->wm1000_max / 1000.0;
  out[0] = (float)((c->d - 6) / 9.0);
  out[1] = (float)((c->w0 - 48) / 80.0);
  out[2] = (float)((c->wa10 / 10.0 - 8.0) / 24.0);
  out[3] = (float)((c->wm1000 / 1000.0 - wm_lo) / (wm_hi - wm_lo));
  out[4] = (float)((c->gw - 1) / 31.0);
  for (int i = 5; i < EAHAS_ENCODING_LEN; i++) out[i] = 0.0f;
  if (c->lr_idx >= 0 && c->lr_idx < EAHAS_NUM_LR) out[OFF_LR + c->lr_idx] = 1.0f;
  if ((int)c->opt >= 0 && (int)c->opt < 3) out[OFF_OPT + (int)c->opt] = 1.0f;
  if ((int)c->sched >= 0 && (int)c->sched < 3) out[OFF_SCHED + (int)c->sched] = 1.0f;
  out[OFF_CUTOUT + (c->cutout == 16 ? 1 : 0)] = 1.0f;
  for (int i = 0; i < EAHAS_NUM_EPOCHS; i++)
    if (c->epochs == EAHAS_EPOCH_VALUES[i]) out[OFF_EPOCHS + i] = 1.0f;
}

/* Arg-max of enc[off..off+n); -1 if the group is all zero (or not positive anywhere). */
static int argmax(const float *enc, int off, int n) {
  int best = -1;
  float bv = 0.0f;
  for (int i = 0; i < n; i++)
    if (enc[off + i] > bv) {
      bv = enc[off + i];
      best = i;
    }
  return best;
}

int eahas_config_decode_categorical(const float enc[EAHAS_ENCODING_LEN], eahas_config *c, eahas_err *err) {
  static const struct {
    const char *name;
    int off, n;
  } groups[5] = {{"lr", OFF_LR, EAHAS_NUM_LR},
                 {"opt", OFF_OPT, 3},
                 {"sched", OFF_SCHED, 3},
                 {"cutout", OFF_CUTOUT, 2},
                 {"epochs", OFF_EPOCHS, EAHAS_NUM_EPOCHS}};
  int idx[5];
  for (int g = 0; g < 5; g++) {
    idx[g] = argmax(enc, groups[g].off, groups[g].n);
    if (idx[g] < 0)
      return eahas_err_set(err, EAHAS_EINVAL, "encoding: the %s one-hot (values %d..%d) has no positive entry",
                           groups[g].name, groups[g].off, groups[g].off + groups[g].n - 1);
  }
  c->lr_idx = idx[0];
  c->opt = (eahas_opt_kind)idx[1];
  c->sched = (eahas_sched_kind)idx[2];
  c->cutout = idx[3] ? 16 : 0;
  c->epochs = EAHAS_EPOCH_VALUES[idx[4]];
  return 0;
}
