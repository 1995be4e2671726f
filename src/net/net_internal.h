/* Internal structures of the net module. Every oneDNN type stays inside src/net/. */
#ifndef EAHAS_NET_INTERNAL_H
#define EAHAS_NET_INTERNAL_H

#include <oneapi/dnnl/dnnl.h>

#include "eahas/net.h"

/* A primitive with its descriptor (kept alive to query argument memory descs at run time). */
typedef struct prim {
  dnnl_primitive_t p;
  dnnl_primitive_desc_t pd;
} prim;

/* Layer specs: shapes and the indices of their parameters in the net's tensor list. */
typedef struct conv_spec {
  int ic, oc, k, stride, pad, groups, ih, iw, oh, ow;
  int wp; /* parameter index of the weight */
} conv_spec;

typedef struct bn_spec {
  int c, h, w, relu; /* relu: ReLU fused after the normalization */
  int gp, bp;       /* parameter indices of gamma, beta */
  int mb, vb;       /* buffer indices of running mean, running var */
  float *mean, *var;/* batch statistics of the last training forward (c each) */
  void *ws;         /* fused-ReLU workspace of the last training forward */
  size_t ws_size;
} bn_spec;

typedef struct fc_spec {
  int in, out;
  int wp, bp;       /* parameter indices of weight [out][in], bias [out] */
} fc_spec;

/* A residual bottleneck block (pycls ResBottleneckBlock with BottleneckTransform and SE).
 * Activations are NHWC float arrays sized for max_batch. */
typedef struct block {
  int w_in, w_out, stride, groups, w_se, ih, iw, oh, ow;
  int has_proj;
  int conv_a, conv_b, conv_c, conv_p, bn_a, bn_b, bn_c, bn_p, fc1, fc2;
  float *x;                      /* block input (the previous block's out; not owned) */
  float *a_raw, *a_out, *b_raw, *u, *y, *c_raw, *out, *p_raw, *sc;
  float *se_p, *se_h, *se_z, *se_s; /* n x w_b pooled, n x w_se hidden, n x w_b logits, gates */
} block;

/* Primitives of one layer for one batch size. */
typedef struct conv_plan {
  prim fwd, bwd_d, bwd_w;
  prim r_w, r_wbd, r_dw;         /* weight reorders; p == NULL when not needed */
  int wbd_same;                  /* 1: backward-data uses the forward's reordered weights */
  float *wbuf, *wbdbuf, *dwbuf;  /* reordered weights / weight gradient (when reorders exist) */
} conv_plan;

typedef struct bn_plan {
  prim fwd_t, fwd_i, bwd;
  prim fwd_nr;                   /* training forward without the fused ReLU (frozen masks; lazy) */
} bn_plan;

typedef struct fc_plan {
  prim fwd, bwd_d, bwd_w;
} fc_plan;

typedef struct plan {
  int n;
  conv_plan *convs;
  bn_plan *bns;
  fc_plan *fcs;
  int n_convs_made, n_bns_made, n_fcs_made;
  unsigned long last_used;
} plan;

#define NET_MAX_PLANS 4

struct eahas_net {
  eahas_regnet rn;
  eahas_net_opts opts;
  int max_batch;

  /* parameters and buffers, PyTorch state_dict order */
  int n_params, n_buffers, cap_params, cap_buffers;
  eahas_tensor_info *params, *buffers;
  float *pdata, *pgrad, *bdata;

  int n_convs, n_bns, n_fcs, n_blocks;
  conv_spec *convs;
  bn_spec *bns;
  fc_spec *fcs;
  block *blocks;
  int stem_conv, stem_bn, head_fc;
  int feat_c, feat_h, feat_w;    /* last feature map */

  /* activations outside blocks (NHWC, max_batch) */
  float *x_in, *s_raw, *s_out, *feat, *logits;
  float *g[4];                   /* backward scratch, each max_act floats */
  float *tmp_nc;                 /* n x max channels scratch for SE / head backward */
  float *tmp_nc2, *tmp_nc3;
  size_t max_act, max_c;

  dnnl_engine_t eng;
  dnnl_stream_t stream;
  dnnl_primitive_attr_t attr;    /* user scratchpad */
  void *scratch;
  size_t scratch_size;

  plan *plans[NET_MAX_PLANS];
  int n_plans;
  unsigned long clock;
  plan *fwd_plan;                /* plan of the last training forward, NULL if none valid */
  int last_n;                    /* batch of the last forward (any mode), 0 before the first */
  unsigned char *freeze;         /* frozen ReLU states (eahas_net_freeze_relu), NULL: real ReLUs */
  size_t freeze_n, freeze_pos;   /* their count; the next unit's index during a forward */
};

#endif
