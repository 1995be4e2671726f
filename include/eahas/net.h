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
 * pycls does (REFERENCE.md §3) from the given seed. threads = 0 uses oneDNN's default.
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
 * (momentum 0.1); training = 0: running statistics. */
int eahas_net_forward(eahas_net *net, const float *x, int n, int training, float *logits, eahas_err *err);

/* Backward pass of the last training-mode forward, given dL/dlogits (n x classes); overwrites
 * every parameter's grad. */
int eahas_net_backward(eahas_net *net, const float *dlogits, eahas_err *err);

/* Softmax cross-entropy with label smoothing eps (0.1 in pycls training): mean loss over n,
 * dlogits (may be NULL) = d mean loss / d logits, *correct (may be NULL) = top-1 hits. */
double eahas_softmax_xent(const float *logits, const int *labels, int n, int classes, double eps, float *dlogits,
                          int *correct);

/* Copies all parameters and buffers from src to dst (same architecture). */
int eahas_net_copy_state(eahas_net *dst, eahas_net *src, eahas_err *err);

/* Version of the oneDNN library in use, e.g. "2.6.3". */
const char *eahas_net_backend_version(void);

#ifdef __cplusplus
}
#endif
#endif
