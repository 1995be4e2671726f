/* eahas net: the RegNet of a config on the oneDNN 2.x C API, fp32, forward and backward
 * (pycls RegNet/AnyNet, REFERENCE.md §3). Every oneDNN call lives in src/net/.
 *
 * Layout conventions at this interface: inputs are NCHW float arrays, logits are N x classes.
 * Parameters are exposed as a list of flat float tensors in PyTorch's layout and order
 * (conv weight [out][in/groups][kh][kw], BN weight, BN bias, linear weight [out][in], bias), so
 * that optimizers, EMA and fixtures work on plain arrays.
 */
#ifndef EAHAS_NET_H
#define EAHAS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "eahas/space.h"
#include "eahas/util.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eahas_net eahas_net;

/* One parameter or buffer tensor. data/grad point into memory owned by the net. */
typedef struct eahas_tensor_info {
  const char *name;   /* PyTorch-style name, e.g. "s1.b1.f.a.weight", "head.fc.bias" */
  float *data;        /* n values */
  float *grad;        /* n values (NULL for buffers) */
  size_t n;
  int is_bn;          /* 1 for BN gamma/beta: no weight decay (pycls) */
  int is_buffer;      /* 1 for BN running mean/var (not trained, but copied by EMA) */
} eahas_tensor_info;

/* Builds the network of arch + opts for a maximum batch of max_batch images, initialized as
 * pycls does (REFERENCE.md §3) from the given seed: weights drawn in parameter order from one
 * eahas_rng stream. Threads: oneDNN's OpenMP runtime (OMP_NUM_THREADS, or
 * eahas_net_set_threads below); see docs/PERFORMANCE-net.md.
 * Errors: EAHAS_EINVAL (bad sizes), EAHAS_ENOMEM, EAHAS_EINTERNAL (oneDNN failure, with its
 * status). */
int eahas_net_new(const eahas_regnet_arch *arch, const eahas_net_opts *opts, int max_batch, uint64_t seed,
                  eahas_net **out, eahas_err *err);
void eahas_net_free(eahas_net *net);

/* Number of parameter tensors (trainable) and buffer tensors (BN running stats). */
int eahas_net_num_params(const eahas_net *net);
int eahas_net_num_buffers(const eahas_net *net);
eahas_tensor_info eahas_net_param(eahas_net *net, int i);
eahas_tensor_info eahas_net_buffer(eahas_net *net, int i);

/* Forward pass on n <= max_batch images x (n x C x H x W, normalized), writing logits
 * (n x classes). training = 1: BN uses batch statistics and updates running stats
 * (momentum 0.1); training = 0: running statistics. Primitives are built per distinct n and
 * cached (4 batch sizes; a new one costs a few ms). An evaluation-mode forward overwrites the
 * activations kept for backward, so backward must follow its training-mode forward.
 * Errors: EAHAS_EINVAL (n outside [1, max_batch], NULL), EAHAS_ENOMEM, EAHAS_EINTERNAL. */
int eahas_net_forward(eahas_net *net, const float *x, int n, int training, float *logits, eahas_err *err);

/* Backward pass of the last training-mode forward, given dL/dlogits (n x classes); overwrites
 * every parameter's grad. Errors: EAHAS_EINVAL (no training-mode forward since the net was built
 * or since the last evaluation-mode forward), EAHAS_EINTERNAL. */
int eahas_net_backward(eahas_net *net, const float *dlogits, eahas_err *err);

/* Softmax cross-entropy with label smoothing eps (0.1 in pycls training): mean loss over n,
 * dlogits (may be NULL) = d mean loss / d logits, *correct (may be NULL) = top-1 hits. */
double eahas_softmax_xent(const float *logits, const int *labels, int n, int classes, double eps, float *dlogits,
                          int *correct);

/* Copies all parameters and buffers from src to dst (same architecture). */
int eahas_net_copy_state(eahas_net *dst, eahas_net *src, eahas_err *err);

/* Version of the oneDNN library in use, e.g. "2.6.3". */
const char *eahas_net_backend_version(void);

/* ---- additions by the net module ------------------------------------------------------- */

/* Like eahas_net_new, from an already expanded RegNet (stage widths, depths, group widths,
 * strides; eahas_regnet_expand). Layer names and parameter order follow the state_dict of pycls
 * AnyNet (stem.conv, stem.bn, s1.b1.proj, s1.b1.bn, s1.b1.f.a, s1.b1.f.a_bn, s1.b1.f.b,
 * s1.b1.f.b_bn, s1.b1.f.se.f_ex.0, s1.b1.f.se.f_ex.2, s1.b1.f.c, s1.b1.f.c_bn, ..., head.fc),
 * without the num_batches_tracked buffers. Errors: EAHAS_EINVAL (a stage width not a multiple of
 * its group width, sizes out of range, naming the value), EAHAS_ENOMEM, EAHAS_EINTERNAL. */
int eahas_net_new_regnet(const eahas_regnet *rn, const eahas_net_opts *opts, int max_batch, uint64_t seed,
                         eahas_net **out, eahas_err *err);

/* eahas_net_backward that also writes dL/dx (n x C x H x W, NCHW) into dx (may be NULL). */
int eahas_net_backward_input(eahas_net *net, const float *dlogits, float *dx, eahas_err *err);

/* Sets the number of threads oneDNN uses, process-wide (its OpenMP runtime, as
 * omp_set_num_threads; OMP_NUM_THREADS gives the default). threads = 0 leaves it unchanged.
 * Errors: EAHAS_EINVAL (threads < 0), EAHAS_EUNAVAIL (no OpenMP runtime in the process). */
int eahas_net_set_threads(int threads, eahas_err *err);

/* The on/off state of every ReLU in the last forward pass (for gradient checks: between two
 * parameter points with the same states the network is a smooth function, so a central
 * difference over that segment crosses no kink). Writes min(cap, count) bytes, 1 where the
 * ReLU's output is > 0, into mask (may be NULL), in a fixed order (stem, then per block: f.a,
 * f.b, SE hidden, block output; images of the batch in order), and returns count, the number
 * of ReLU units of that forward (0 before any forward or for a NULL net). */
size_t eahas_net_relu_mask(const eahas_net *net, unsigned char *mask, size_t cap);

/* Number of ReLU units of a forward on n images (0 for a NULL net or n < 1). */
size_t eahas_net_relu_count(const eahas_net *net, int n);

/* Freezes the ReLU states for gradient checks: from now on every training-mode forward
 * replaces each ReLU by a fixed gate from mask (count bytes, the order and batch size of
 * eahas_net_relu_mask): a unit whose state is 1 passes its input, one whose state is 0 gives 0,
 * whatever the input's sign. That function is smooth in the parameters and equals the net where
 * the states match, so its finite differences may use steps that would cross ReLU kinks.
 * mask = NULL restores real ReLUs. Evaluation-mode forwards are not affected. A backward needs
 * a training-mode forward made without frozen states (EAHAS_EINVAL otherwise). The mask is
 * copied. Errors: EAHAS_EINVAL (NULL net; count 0 with a mask; at the forward: count not the
 * ReLU count of its batch), EAHAS_ENOMEM. */
int eahas_net_freeze_relu(eahas_net *net, const unsigned char *mask, size_t count, eahas_err *err);

#ifdef __cplusplus
}
#endif
#endif
