/* oneDNN primitives of one batch size ("plan"), and the helper that runs a primitive on raw
 * pointers. Activations at layer boundaries are NHWC; convolution weights use whatever format
 * oneDNN picks (format_tag_any) and are reordered from / to PyTorch's layout. */
#include <stdlib.h>
#include <string.h>

#include "net/net_internal.h"

int eahas__net_plan_make(eahas_net *net, int n, plan **out, eahas_err *err);
void eahas__net_plan_free(plan *pl);
int eahas__net_bn_plain(eahas_net *net, const bn_spec *b, int n, prim *p, eahas_err *err);
int eahas__net_run(eahas_net *net, const prim *p, int nargs, const int *args, void *const *ptrs, eahas_err *err);

#define CK(call, what)                                                                             \
  do {                                                                                             \
    dnnl_status_t st_ = (call);                                                                    \
    if (st_ != dnnl_success)                                                                       \
      return eahas_err_set(err, EAHAS_EINTERNAL, "net: oneDNN %s failed with status %d (%s)", what, \
                           (int)st_, status_name(st_));                                            \
  } while (0)

static const char *status_name(dnnl_status_t s) {
  switch (s) {
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "other";
  }
}

/* Runs p with the given (argument, pointer) pairs. Arguments the primitive does not use (an
 * empty memory desc, e.g. no workspace without fused ReLU) are skipped. The shared user
 * scratchpad is passed when the primitive asks for one. */
int eahas__net_run(eahas_net *net, const prim *p, int nargs, const int *args, void *const *ptrs, eahas_err *err) {
  dnnl_exec_arg_t ea[16] = {{0, NULL}};
  dnnl_memory_t mem[16];
  int k = 0, r = 0;
  for (int i = 0; i <= nargs && k < 16; i++) {
    int arg = i < nargs ? args[i] : DNNL_ARG_SCRATCHPAD;
    void *ptr = i < nargs ? ptrs[i] : net->scratch;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(p->pd, dnnl_query_exec_arg_md, arg);
    if (!md || md->ndims == 0 || dnnl_memory_desc_get_size(md) == 0) continue;
    if (dnnl_memory_create(&mem[k], md, net->eng, ptr) != dnnl_success) {
      r = eahas_err_set(err, EAHAS_EINTERNAL, "net: oneDNN memory for argument %d could not be created", arg);
      goto done;
    }
    ea[k].arg = arg;
    ea[k].memory = mem[k];
    k++;
  }
  dnnl_status_t st = dnnl_primitive_execute(p->p, net->stream, k, ea);
  if (st != dnnl_success)
    r = eahas_err_set(err, EAHAS_EINTERNAL, "net: oneDNN primitive execution failed with status %d (%s)", (int)st,
                      status_name(st));
done:
  for (int i = 0; i < k; i++) dnnl_memory_destroy(mem[i]);
  return r;
}

static void prim_free(prim *p) {
  if (p->p) dnnl_primitive_destroy(p->p);
  if (p->pd) dnnl_primitive_desc_destroy(p->pd);
  p->p = NULL;
  p->pd = NULL;
}

/* Creates the primitive of pd (taking ownership of pd) and grows the shared scratchpad. */
static int prim_init(eahas_net *net, prim *p, dnnl_primitive_desc_t pd, eahas_err *err) {
  p->pd = pd;
  CK(dnnl_primitive_create(&p->p, pd), "primitive creation");
  const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  size_t need = sp ? dnnl_memory_desc_get_size(sp) : 0;
  if (need > net->scratch_size) {
    void *q = NULL;
    if (posix_memalign(&q, 64, need)) return eahas_err_set(err, EAHAS_ENOMEM, "net: scratchpad of %zu bytes", need);
    free(net->scratch);
    net->scratch = q;
    net->scratch_size = need;
  }
  return 0;
}

static int reorder_init(eahas_net *net, prim *p, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                        eahas_err *err) {
  dnnl_primitive_desc_t pd;
  CK(dnnl_reorder_primitive_desc_create(&pd, from, net->eng, to, net->eng, net->attr), "reorder descriptor");
  return prim_init(net, p, pd, err);
}

static void md_nhwc(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
  dnnl_dims_t d = {n, c, h, w};
  dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, dnnl_nhwc);
}

static void md_weights(dnnl_memory_desc_t *md, const conv_spec *c, dnnl_format_tag_t tag) {
  if (c->groups > 1) {
    dnnl_dims_t d = {c->groups, c->oc / c->groups, c->ic / c->groups, c->k, c->k};
    dnnl_memory_desc_init_by_tag(md, 5, d, dnnl_f32, tag == dnnl_format_tag_any ? tag : dnnl_goihw);
  } else {
    dnnl_dims_t d = {c->oc, c->ic, c->k, c->k};
    dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, tag == dnnl_format_tag_any ? tag : dnnl_oihw);
  }
}

static float *alloc_md(const dnnl_memory_desc_t *md) {
  void *q = NULL;
  size_t sz = dnnl_memory_desc_get_size(md);
  if (posix_memalign(&q, 64, sz ? sz : 64)) return NULL;
  memset(q, 0, sz);
  return q;
}

static int conv_make(eahas_net *net, const conv_spec *c, int n, conv_plan *cp, eahas_err *err) {
  dnnl_memory_desc_t src, dst, wany, wuser;
  md_nhwc(&src, n, c->ic, c->ih, c->iw);
  md_nhwc(&dst, n, c->oc, c->oh, c->ow);
  md_weights(&wany, c, dnnl_format_tag_any);
  md_weights(&wuser, c, dnnl_oihw);
  dnnl_dims_t st = {c->stride, c->stride}, pl = {c->pad, c->pad};
  /* right padding so that (ih + pl + pr - k) / s + 1 == oh exactly */
  dnnl_dims_t pr = {(c->oh - 1) * c->stride + c->k - c->ih - c->pad, (c->ow - 1) * c->stride + c->k - c->iw - c->pad};
  dnnl_convolution_desc_t d;
  dnnl_primitive_desc_t pd;
  CK(dnnl_convolution_forward_desc_init(&d, dnnl_forward_training, dnnl_convolution_direct, &src, &wany, NULL, &dst,
                                        st, pl, pr),
     "convolution forward descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, NULL), "convolution forward");
  int r = prim_init(net, &cp->fwd, pd, err);
  if (r) return r;
  CK(dnnl_convolution_backward_data_desc_init(&d, dnnl_convolution_direct, &src, &wany, &dst, st, pl, pr),
     "convolution backward-data descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, cp->fwd.pd), "convolution backward data");
  if ((r = prim_init(net, &cp->bwd_d, pd, err))) return r;
  CK(dnnl_convolution_backward_weights_desc_init(&d, dnnl_convolution_direct, &src, &wany, NULL, &dst, st, pl, pr),
     "convolution backward-weights descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, cp->fwd.pd), "convolution backward weights");
  if ((r = prim_init(net, &cp->bwd_w, pd, err))) return r;

  const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(cp->fwd.pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(cp->bwd_d.pd, dnnl_query_weights_md, 0);
  const dnnl_memory_desc_t *dw = dnnl_primitive_desc_query_md(cp->bwd_w.pd, dnnl_query_diff_weights_md, 0);
  if (!dnnl_memory_desc_equal(wf, &wuser)) {
    if ((r = reorder_init(net, &cp->r_w, &wuser, wf, err))) return r;
    if (!(cp->wbuf = alloc_md(wf))) return eahas_err_set(err, EAHAS_ENOMEM, "net: conv weights");
  }
  cp->wbd_same = dnnl_memory_desc_equal(wb, wf);
  if (!cp->wbd_same && !dnnl_memory_desc_equal(wb, &wuser)) {
    if ((r = reorder_init(net, &cp->r_wbd, &wuser, wb, err))) return r;
    if (!(cp->wbdbuf = alloc_md(wb))) return eahas_err_set(err, EAHAS_ENOMEM, "net: conv weights");
  }
  if (!dnnl_memory_desc_equal(dw, &wuser)) {
    if ((r = reorder_init(net, &cp->r_dw, dw, &wuser, err))) return r;
    if (!(cp->dwbuf = alloc_md(dw))) return eahas_err_set(err, EAHAS_ENOMEM, "net: conv weight gradient");
  }
  return 0;
}

static int bn_make(eahas_net *net, bn_spec *b, int n, int h, int w, bn_plan *bp, eahas_err *err) {
  dnnl_memory_desc_t md;
  md_nhwc(&md, n, b->c, h, w);
  unsigned flags = dnnl_use_scale | dnnl_use_shift | (b->relu ? dnnl_fuse_norm_relu : 0);
  dnnl_batch_normalization_desc_t d;
  dnnl_primitive_desc_t pd;
  int r;
  CK(dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_training, &md, 1e-5f, flags),
     "batch norm forward descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, NULL), "batch norm forward");
  if ((r = prim_init(net, &bp->fwd_t, pd, err))) return r;
  CK(dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_inference, &md, 1e-5f, flags | dnnl_use_global_stats),
     "batch norm inference descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, NULL), "batch norm inference");
  if ((r = prim_init(net, &bp->fwd_i, pd, err))) return r;
  CK(dnnl_batch_normalization_backward_desc_init(&d, dnnl_backward, &md, &md, 1e-5f, flags),
     "batch norm backward descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, bp->fwd_t.pd), "batch norm backward");
  if ((r = prim_init(net, &bp->bwd, pd, err))) return r;
  const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(bp->fwd_t.pd, dnnl_query_workspace_md, 0);
  size_t need = ws ? dnnl_memory_desc_get_size(ws) : 0;
  if (need > b->ws_size) {
    void *q = NULL;
    if (posix_memalign(&q, 64, need)) return eahas_err_set(err, EAHAS_ENOMEM, "net: BN workspace");
    free(b->ws);
    b->ws = q;
    b->ws_size = need;
  }
  return 0;
}

/* Training-mode BN forward without the fused ReLU (used only with frozen ReLU states). */
int eahas__net_bn_plain(eahas_net *net, const bn_spec *b, int n, prim *p, eahas_err *err) {
  dnnl_memory_desc_t md;
  md_nhwc(&md, n, b->c, b->h, b->w);
  dnnl_batch_normalization_desc_t d;
  dnnl_primitive_desc_t pd;
  CK(dnnl_batch_normalization_forward_desc_init(&d, dnnl_forward_training, &md, 1e-5f,
                                                dnnl_use_scale | dnnl_use_shift),
     "batch norm forward descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, NULL), "batch norm forward");
  return prim_init(net, p, pd, err);
}

static int fc_make(eahas_net *net, const fc_spec *f, int n, fc_plan *fp, eahas_err *err) {
  dnnl_memory_desc_t src, wt, bias, dst;
  dnnl_dims_t ds = {n, f->in}, dw = {f->out, f->in}, db = {f->out}, dd = {n, f->out};
  dnnl_memory_desc_init_by_tag(&src, 2, ds, dnnl_f32, dnnl_nc);
  dnnl_memory_desc_init_by_tag(&wt, 2, dw, dnnl_f32, dnnl_oi);
  dnnl_memory_desc_init_by_tag(&bias, 1, db, dnnl_f32, dnnl_x);
  dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_nc);
  dnnl_inner_product_desc_t d;
  dnnl_primitive_desc_t pd;
  int r;
  CK(dnnl_inner_product_forward_desc_init(&d, dnnl_forward_training, &src, &wt, &bias, &dst),
     "inner product forward descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, NULL), "inner product forward");
  if ((r = prim_init(net, &fp->fwd, pd, err))) return r;
  CK(dnnl_inner_product_backward_data_desc_init(&d, &src, &wt, &dst), "inner product backward-data descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, fp->fwd.pd), "inner product backward data");
  if ((r = prim_init(net, &fp->bwd_d, pd, err))) return r;
  CK(dnnl_inner_product_backward_weights_desc_init(&d, &src, &wt, &bias, &dst),
     "inner product backward-weights descriptor");
  CK(dnnl_primitive_desc_create(&pd, &d, net->attr, net->eng, fp->fwd.pd), "inner product backward weights");
  return prim_init(net, &fp->bwd_w, pd, err);
}

void eahas__net_plan_free(plan *pl) {
  if (!pl) return;
  if (pl->convs) {
    for (int i = 0; pl->convs && i < pl->n_convs_made; i++) {
      conv_plan *c = &pl->convs[i];
      prim_free(&c->fwd);
      prim_free(&c->bwd_d);
      prim_free(&c->bwd_w);
      prim_free(&c->r_w);
      prim_free(&c->r_wbd);
      prim_free(&c->r_dw);
      free(c->wbuf);
      free(c->wbdbuf);
      free(c->dwbuf);
    }
  }
  for (int i = 0; pl->bns && i < pl->n_bns_made; i++) {
    prim_free(&pl->bns[i].fwd_t);
    prim_free(&pl->bns[i].fwd_i);
    prim_free(&pl->bns[i].bwd);
    prim_free(&pl->bns[i].fwd_nr);
  }
  for (int i = 0; pl->fcs && i < pl->n_fcs_made; i++) {
    prim_free(&pl->fcs[i].fwd);
    prim_free(&pl->fcs[i].bwd_d);
    prim_free(&pl->fcs[i].bwd_w);
  }
  free(pl->convs);
  free(pl->bns);
  free(pl->fcs);
  free(pl);
}

int eahas__net_plan_make(eahas_net *net, int n, plan **out, eahas_err *err) {
  plan *pl = calloc(1, sizeof *pl);
  if (!pl) return eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for a plan");
  pl->n = n;
  pl->convs = calloc((size_t)net->n_convs, sizeof(conv_plan));
  pl->bns = calloc((size_t)net->n_bns, sizeof(bn_plan));
  pl->fcs = calloc((size_t)net->n_fcs, sizeof(fc_plan));
  int r = 0;
  if (!pl->convs || !pl->bns || !pl->fcs) {
    r = eahas_err_set(err, EAHAS_ENOMEM, "net: out of memory for a plan");
    goto fail;
  }
  for (int i = 0; i < net->n_convs; i++, pl->n_convs_made++)
    if ((r = conv_make(net, &net->convs[i], n, &pl->convs[i], err))) {
      pl->n_convs_made++;
      goto fail;
    }
  for (int i = 0; i < net->n_bns; i++, pl->n_bns_made++) {
    bn_spec *b = &net->bns[i];
    if ((r = bn_make(net, b, n, b->h, b->w, &pl->bns[i], err))) {
      pl->n_bns_made++;
      goto fail;
    }
  }
  for (int i = 0; i < net->n_fcs; i++, pl->n_fcs_made++)
    if ((r = fc_make(net, &net->fcs[i], n, &pl->fcs[i], err))) {
      pl->n_fcs_made++;
      goto fail;
    }
  *out = pl;
  return 0;
fail:
  eahas_err_prefix(err, r, "building the network for batch %d", n);
  eahas__net_plan_free(pl);
  return r;
}
