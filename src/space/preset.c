/* Dataset presets: input, stem, constraints on sampled configs and training protocol.
 * cifar10 and tinyimagenet follow the original EA-HAS-Bench sweeps (REFERENCE.md §2, §4);
 * fashion-mnist is this project's bundled benchmark (issue 2), sized for a CPU budget. */
#include <string.h>

#include "eahas/space.h"

static const eahas_preset PRESET_CIFAR10 = {
    .name = "cifar10",
    .num_classes = 10,
    .im_size = 32,
    .in_channels = 3,
    .stem = EAHAS_STEM_RES_CIFAR,
    .stem_w = 16,
    .se = 1,
    .wm1000_min = 2500,
    .wm1000_max = 3000,
    .required_stages = 2,
    .flops_min = 0.12e9,
    .flops_max = 0.13e9,
    .params_max = 2.0e6,
    .acts_max = 1.0e6,
    .dataset = "cifar10",
    .data_im_size = 32,
    .batch_size = 1024,
    .test_batch_size = 1000,
    .train_size = 0,
    .val_size = 0,
    .test_size = 0,
    .hflip = 1,
    .crop_pad = 4,
    .threads = 0,
    .ema_alpha = 0.00025,
    .ema_period = 32,
};

static const eahas_preset PRESET_TINYIMAGENET = {
    .name = "tinyimagenet",
    .num_classes = 200,
    .im_size = 32,
    .in_channels = 3,
    .stem = EAHAS_STEM_RES_CIFAR,
    .stem_w = 32,
    .se = 1,
    .wm1000_min = 1500,
    .wm1000_max = 3000,
    .required_stages = 2,
    .dataset = "tinyimagenet",
    .data_im_size = 64, /* 64x64 on disk, downscaled to 32x32 */
    .batch_size = 1024,
    .test_batch_size = 1000,
    .hflip = 1,
    .crop_pad = 4,
    .threads = 0,
    .ema_alpha = 0.00025,
    .ema_period = 32,
};

static const eahas_preset PRESET_FASHION_MNIST = {
    .name = "fashion-mnist",
    .num_classes = 10,
    .im_size = 14, /* 28x28 on disk, 2x2 area-averaged to 14x14 (docs/fashion-mnist-protocol.md) */
    .in_channels = 1,
    .stem = EAHAS_STEM_RES_CIFAR,
    .stem_w = 16,
    .se = 1,
    .wm1000_min = 2500,
    .wm1000_max = 3000,
    .required_stages = 2,
    .dataset = "fashion-mnist",
    .data_im_size = 28,
    .batch_size = 32,
    .test_batch_size = 256,
    .train_size = 512,
    .val_size = 256,
    .test_size = 512,
    .hflip = 0,
    .crop_pad = 2,
    .threads = 2,
    /* 16 iterations per epoch: update the EMA every iteration with a rate whose horizon is the
     * same ~6 % of training as pycls's on CIFAR-10 (docs/fashion-mnist-protocol.md). */
    .ema_alpha = 0.0325,
    .ema_period = 1,
};

static const eahas_preset *const PRESETS[] = {&PRESET_CIFAR10, &PRESET_TINYIMAGENET, &PRESET_FASHION_MNIST,
                                              NULL};

const eahas_preset *eahas_preset_get(const char *name) {
  if (!name) return NULL;
  for (int i = 0; PRESETS[i]; i++)
    if (strcmp(PRESETS[i]->name, name) == 0) return PRESETS[i];
  return NULL;
}

const eahas_preset *const *eahas_preset_all(void) { return PRESETS; }

int eahas_preset_lookup(const char *name, const eahas_preset **out, eahas_err *err) {
  const eahas_preset *p = eahas_preset_get(name);
  if (!p)
    return eahas_err_set(err, EAHAS_EINVAL, "preset '%.64s' is unknown; allowed: cifar10, tinyimagenet, fashion-mnist",
                         name ? name : "(null)");
  *out = p;
  return 0;
}
