/* Helpers shared by the surrogate sources (not public). */
#ifndef EAHAS_SURROGATE_INTERNAL_H
#define EAHAS_SURROGATE_INTERNAL_H
#include "eahas/surrogate.h"

const double *eahas__curve_of(const eahas_run_record *r, int kind);
/* The runs hash of format 1 blobs: sorted run ids with their epochs only (eahas_runs_hash, the
 * hash of format 2, also covers every value a fit reads). */
uint64_t eahas__runs_hash_format1(const eahas_run_record *runs, int n);
int eahas__curve_usable(const eahas_run_record *r);
int eahas__tree_usable(const eahas_run_record *r);
void eahas__tree_targets(const eahas_run_record *r, double t[EAHAS_NUM_TQ]);
void eahas__bezier_to_target(const eahas_bezier *b, float *t);
void eahas__target_to_bezier(const float *t, int n, eahas_bezier *b);

/* Every forest of a bench walked together (fused.c): fs[0..n) must share the 26 features.
 * NULL when the forests do not fit the fused layout (depth > 6, more than 2047 distinct
 * thresholds on one feature) or memory ran out: callers then use eahas_forest_predict. */
typedef struct eahas__fused_trees eahas__fused_trees;
eahas__fused_trees *eahas__fused_trees_build(const eahas_forest *const *fs, int n);
void eahas__fused_trees_free(eahas__fused_trees *ft);
size_t eahas__fused_trees_bytes(const eahas__fused_trees *ft);
/* out[i] = eahas_forest_predict(fs[i], x) bit for bit; -1 (nothing written) if x has a NaN. */
int eahas__fused_trees_predict(const eahas__fused_trees *ft, const float *x, float *out);
/* nq inputs at once (x[q * ldx + f]): out[q * ldo + i] as eahas__fused_trees_predict gives it;
 * ok[q] = 0 (nothing written for q) where input q has a NaN. Each step's nodes are read once per
 * 32 inputs (EAHAS__TREE_BLOCK). */
#define EAHAS__TREE_BLOCK 32
void eahas__fused_trees_predict_block(const eahas__fused_trees *ft, const float *x, int ldx, int nq, float *out,
                                      int ldo, int *ok);
/* 1 when the query-major layout exists (depth <= 4): blocks of queries get the
 * query-vectorized walk (AVX2 or AVX-512BW) and single queries the scalar walk below 12
 * forests or without AVX2; without that layout both take a lane walk, whose cost is the same
 * for 1 to 32 forests. */
int eahas__fused_trees_query_major(const eahas__fused_trees *ft);
/* Tree walk paths (fused.c), all giving the same sums bit for bit:
 * - GENERIC: the portable lane walk (32 forests side by side) for everything; tests only;
 * - SCALAR: portable; one query at a time walks each tree without branches where the layout
 *   for it exists (depth <= 4), else the portable lane walk. The default without AVX2;
 * - AVX2: blocks of queries take the query-vectorized walk (32 queries at once, depth <= 4);
 *   one query the AVX2 lane walk (12 or more forests) or the scalar walk; blocks of deeper
 *   trees the AVX2 lane walk;
 * - AVX-512BW: the same with vector code for AVX-512BW. */
enum { EAHAS__TREES_AUTO = -1, EAHAS__TREES_GENERIC, EAHAS__TREES_SCALAR, EAHAS__TREES_AVX2, EAHAS__TREES_AVX512 };
/* Tests: the path walks take; AUTO (the default), or a path this CPU lacks, gives the best the
 * CPU has. Not for use while other threads query. */
extern int eahas__fused_trees_path;
/* 1 where this CPU (and this build) can run the path. */
int eahas__fused_trees_path_supported(int path);
/* Tests: the walks that eahas__fused_trees_predict_block has taken in this thread, OR-ed
 * (reset it to 0 before the calls to check). */
enum {
  EAHAS__WALK_LANES = 1,          /* portable lane walk */
  EAHAS__WALK_SCALAR = 2,         /* one query, tree by tree */
  EAHAS__WALK_AVX2_LANES = 4,
  EAHAS__WALK_AVX2_QUERIES = 8,
  EAHAS__WALK_AVX512_LANES = 16,
  EAHAS__WALK_AVX512_QUERIES = 32
};
extern _Thread_local unsigned eahas__fused_trees_walks;

/* Decoding paths (bezier.c): the portable C compiled for baseline x86-64 (libm's fma), for
 * x86-64-v3 and for x86-64-v4, AVX2 intrinsics and AVX-512 intrinsics. All give the same values bit for bit,
 * except possibly the sign of a NaN (x86 keeps the first operand's NaN, and which one is first
 * is the compiler's choice). Off x86-64 only the portable C exists (EAHAS__DECODE_BASE). */
enum {
  EAHAS__DECODE_AUTO = -1,
  EAHAS__DECODE_BASE,
  EAHAS__DECODE_V3,
  EAHAS__DECODE_V4,
  EAHAS__DECODE_AVX2,
  EAHAS__DECODE_AVX512
};
/* Tests: the path eahas_bezier_decode_prefix takes; AUTO (the default), or a path this CPU
 * lacks, gives the best the CPU has. Not for use while other threads decode. */
extern int eahas__bezier_path;
/* 1 where this CPU (and this build) can run the path. */
int eahas__bezier_path_supported(int path);
/* 1 where decoding takes the AVX-512 path by default (AVX-512F and VL). */
int eahas__bezier_avx512(void);

/* out[i][0..n_out) = eahas_mlp_forward(m[i], x) bit for bit, for n networks on one input,
 * evaluated two at a time (mlp.c). */
void eahas__mlp_forward_many(const eahas_mlp *const *m, int n, const float *x, float *const *out);
/* One network on a block of EAHAS__MLP_BLOCK inputs, feature-major: xT[i * BLOCK + q] is input i
 * of query q (n_arch + n_hp rows), outT[o * BLOCK + q] gets output o (n_out rows), equal to
 * eahas_mlp_forward(m, x_q) bit for bit (mlp.c). Returns 0, or -1 (nothing written) where the
 * CPU has neither AVX-512F nor AVX2: then evaluate one input at a time. */
#define EAHAS__MLP_BLOCK 16
int eahas__mlp_forward_block(const eahas_mlp *m, const float *xT, float *outT);
/* Tests: the instructions eahas__mlp_forward_block uses; AUTO (the default) takes AVX-512F where
 * the CPU has it, else AVX2; AVX2 forces AVX2 code, AVX512 declines (-1) without AVX-512F. Not
 * for use while other threads query. */
enum { EAHAS__MLP_BLOCK_AUTO = -1, EAHAS__MLP_BLOCK_AVX2 = 1, EAHAS__MLP_BLOCK_AVX512 = 2 };
extern int eahas__mlp_block_path;
/* Every modelled curve kind at once: mean[k] as eahas_surrogate_predict_curve gives it (and sd[k]
 * when sd != NULL); kinds not in s->curves_mask are left untouched (fit.c). */
void eahas__surrogate_predict_all(const eahas_surrogate *s, const float *x26, eahas_bezier mean[EAHAS_NUM_CURVES],
                                  eahas_bezier *sd);
/* eahas__surrogate_predict_all for a block of EAHAS__MLP_BLOCK inputs given feature-major
 * (xT[f * BLOCK + q]): mean[q][k] (and sd[q][k] when sd != NULL) bit for bit as one at a time.
 * Returns 0, or -1 (nothing written) where eahas__mlp_forward_block declines (fit.c). */
int eahas__surrogate_predict_block(const eahas_surrogate *s, const float *xT,
                                   eahas_bezier mean[][EAHAS_NUM_CURVES], eahas_bezier (*sd)[EAHAS_NUM_CURVES]);
#endif
