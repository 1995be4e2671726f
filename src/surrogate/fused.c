/* Every tree ensemble of a bench walked in one pass (queries only).
 *
 * A query evaluates K members x 5 quantities = 25 forests of the same shape (60 trees of depth
 * <= 4 by default) on the same 26 features. eahas_forest_predict walks them one at a time, a
 * dependent chain of node loads per tree. Here the forests are lanes of one vector: step t walks
 * tree t of every forest at once, and each lane sums its own leaves in tree order in float, so
 * every forest's sum is bit for bit what eahas_forest_predict (and XGBoost) computes.
 *
 * Layout, built once at open:
 * - Thresholds become ranks. Per feature f, the sorted distinct split thresholds T_f of all the
 *   forests; a query computes bin_f = #{T_f <= x_f} once per feature, and a node "go right when
 *   x_f >= T_f[r]" becomes "bin_f > r": exact, since x_f >= T_f[r] <=> bin_f >= r + 1.
 * - A node is 16 bits: feature (bits 0..4) | rank << 5 (rank 2047 = never right). 32 lanes of
 *   16 bits fill one 512-bit register, and looking up bin_f for 32 lanes is one vpermw.
 * - Trees are padded to perfect trees of the common depth D (a leaf above depth D becomes
 *   never-right nodes over its leftmost leaf slot), nodes breadth first, so that every node of
 *   step t can be compared at once (2^D - 1 compares, no dependent loads); the path of each lane
 *   is then selected with bit operations on the 32-bit compare masks, and the leaf by blends
 *   (gathers, and a level-by-level walk with blends, measured slower). Unused lanes and steps
 *   beyond a forest's trees hold zero leaves.
 * With AVX2 the lanes are bytes (AVX2 has no vpermw; see predict_lanes_avx2). Otherwise the
 * same layout is walked lane by lane (same sums, same results).
 *
 * Blocks of queries walk a second, query-major layout (build_query_major) with 32 queries in
 * the lanes of a vector (predict_queries, predict_queries_avx2); one query without vector lane
 * walk walks it tree by tree in scalar code (predict_one). The path taken is the CPU's best,
 * or the one a test forces (eahas__fused_trees_path). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate/internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FUSED_X86 1
#endif

#define LANES 32
#define MAX_DEPTH 6
#define NEVER ((uint16_t)(2047u << 5))
#define MAX_RANK 2046
#define QDEPTH 4 /* the query-vectorized walk: trees of depth <= 4 (16 leaves, one vector; written out for 4) */
#define QB EAHAS__TREE_BLOCK /* queries per query-vectorized walk: 32 bins of 16 bits fill one vector */
_Static_assert(QB == 32, "predict_queries is written for 32 queries");

struct eahas__fused_trees {
  int n_forests, n_groups, steps, depth, ni, nl; /* ni = 2^D - 1 nodes, nl = 2^D leaves */
  float *thr;                    /* distinct thresholds, feature by feature, ascending */
  int thr_off[EAHAS_ENCODING_LEN + 1];
  uint16_t *node;                /* [group][step][node][lane] */
  float *leaf;                   /* [group][step][leaf][lane] */
  /* The same trees forest-major for walking 32 queries at once (depth <= 4; NULL otherwise):
   * per forest and step, 15 nodes as (rank, byte offset of the feature's row of query bins) and
   * 16 leaves. */
  uint32_t *qnode;               /* [forest][step][15]: rank << 16 | byte offset of the feature's row */
  float *qleaf;                  /* [forest][step][16], 64-byte aligned */
  /* The lane layout's nodes as bytes for the AVX2 lane walk (NULL without AVX2): per group,
   * step and node, 4 rows of 32 lanes: the feature as an index into the table of features 0..15
   * (0x80 for the others: pshufb then gives 0), the same for features 16..31, the rank's high
   * byte (0..7), and its low byte ^ 0x80 (so that a signed byte compare is an unsigned one). */
  uint8_t *bnode;                /* [group][step][node][4][lane], 32-byte aligned */
  float base[];                  /* [group * LANES + lane] */
};

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Rank of v in the sorted distinct thresholds t[0..n): it is there by construction. */
static int rank_of(const float *t, int n, float v) {
  int lo = 0, hi = n - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (t[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int is_leaf(const eahas_forest *f, int id) {
  return f->nodes[id].value == INFINITY && (int)(f->nodes[id].bits & 0x7fffffu) == id;
}

/* Copies the subtree of forest node id into perfect-tree position p (breadth first) at level l. */
static void place(const eahas__fused_trees *ft, const eahas_forest *f, int id, int p, int l, uint16_t *nodes,
                  float *leaves, int lane) {
  if (l == ft->depth) {
    leaves[(size_t)(p - ft->ni) * LANES + lane] = f->leaf[id];
    return;
  }
  if (is_leaf(f, id)) { /* never right: the walk ends in the leftmost leaf of this subtree */
    nodes[(size_t)p * LANES + lane] = NEVER;
    place(ft, f, id, 2 * p + 1, l + 1, nodes, leaves, lane);
    return;
  }
  const eahas_forest_node *nd = &f->nodes[id];
  int feat = (int)((nd->bits >> 23) & 255u);
  int r = rank_of(ft->thr + ft->thr_off[feat], ft->thr_off[feat + 1] - ft->thr_off[feat], nd->value);
  nodes[(size_t)p * LANES + lane] = (uint16_t)(feat | r << 5);
  int left = (int)(nd->bits & 0x7fffffu);
  place(ft, f, left, 2 * p + 1, l + 1, nodes, leaves, lane);
  place(ft, f, left + 1, 2 * p + 2, l + 1, nodes, leaves, lane);
}

/* Distinct thresholds per feature of every inner node of every forest; 0, or 1 when some
 * feature has more than MAX_RANK + 1 of them, a threshold is NaN, or memory ran out: then no
 * fused walk. */
static int collect_thresholds(eahas__fused_trees *ft, const eahas_forest *const *fs, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (size_t)fs[i]->n_nodes;
  float *all = malloc(sizeof(float) * (total ? total : 1));
  int *feat_of = malloc(sizeof(int) * (total ? total : 1));
  ft->thr = malloc(sizeof(float) * (total ? total : 1));
  if (!all || !feat_of || !ft->thr) {
    free(all);
    free(feat_of);
    return 1;
  }
  size_t k = 0;
  for (int i = 0; i < n; i++)
    for (int id = 0; id < fs[i]->n_nodes; id++)
      if (!is_leaf(fs[i], id)) {
        if (isnan(fs[i]->nodes[id].value)) { /* cannot be ranked (XGBoost never writes one) */
          free(all);
          free(feat_of);
          return 1;
        }
        all[k] = fs[i]->nodes[id].value;
        feat_of[k++] = (int)((fs[i]->nodes[id].bits >> 23) & 255u);
      }
  int off = 0, rc = 0;
  float *tmp = malloc(sizeof(float) * (k ? k : 1));
  if (!tmp) rc = 1;
  for (int f = 0; f < EAHAS_ENCODING_LEN && !rc; f++) {
    size_t m = 0;
    for (size_t j = 0; j < k; j++)
      if (feat_of[j] == f) tmp[m++] = all[j];
    qsort(tmp, m, sizeof(float), cmp_float);
    ft->thr_off[f] = off;
    for (size_t j = 0; j < m; j++)
      if (j == 0 || tmp[j] != tmp[j - 1]) ft->thr[off++] = tmp[j];
    if (off - ft->thr_off[f] > MAX_RANK + 1) rc = 1;
  }
  ft->thr_off[EAHAS_ENCODING_LEN] = off;
  free(tmp);
  free(all);
  free(feat_of);
  return rc;
}

/* The forest-major copy of the padded trees (depth <= QDEPTH), for the query-vectorized walk.
 * Nodes of a shallower tree are padded to QDEPTH levels with never-right nodes, its leaves
 * spread so that the walk's leaf index finds them. Left NULL when memory runs out. */
static void build_query_major(eahas__fused_trees *ft) {
  const int QN = (1 << QDEPTH) - 1, QL = 1 << QDEPTH, D = ft->depth;
  size_t trees = (size_t)ft->n_forests * (size_t)ft->steps;
  ft->qnode = malloc(sizeof(uint32_t) * QN * trees);
  ft->qleaf = aligned_alloc(64, sizeof(float) * QL * trees);
  if (!ft->qnode || !ft->qleaf) {
    free(ft->qnode);
    free(ft->qleaf);
    ft->qnode = NULL;
    ft->qleaf = NULL;
    return;
  }
  for (int i = 0; i < ft->n_forests; i++) {
    int g = i / LANES, lane = i % LANES;
    for (int t = 0; t < ft->steps; t++) {
      size_t gs = (size_t)g * ft->steps + (size_t)t, ts = (size_t)i * ft->steps + (size_t)t;
      const uint16_t *nd = ft->node + gs * (size_t)ft->ni * LANES;
      const float *lf = ft->leaf + gs * (size_t)ft->nl * LANES;
      uint32_t *qn = ft->qnode + ts * QN;
      float *ql = ft->qleaf + ts * QL;
      for (int k = 0; k < QN; k++) {
        int level = 31 - __builtin_clz((unsigned)k + 1u); /* node k sits at level floor(log2(k + 1)) */
        uint16_t w = NEVER;
        if (level < D) { /* node k of the QDEPTH tree is node k of the depth-D tree */
          w = nd[(size_t)k * LANES + lane];
        }
        /* rank (NEVER: 2047, above every bin) and the byte offset (below 26 * 64) */
        qn[k] = (uint32_t)(w >> 5) << 16 | (uint32_t)((w & 31u) * sizeof(uint16_t) * QB);
      }
      /* leaf index of the QDEPTH walk = depth-D leaf index << (QDEPTH - D) + decisions below D,
       * which are all "left" (never-right padding): leaf j of depth D sits at j << (QDEPTH - D) */
      for (int j = 0; j < QL; j++) ql[j] = 0.0f;
      for (int j = 0; j < ft->nl; j++) ql[j << (QDEPTH - D)] = lf[(size_t)j * LANES + lane];
    }
  }
}

/* The byte rows of every node of the lane layout (see bnode); left NULL when memory runs out. */
static void build_byte_nodes(eahas__fused_trees *ft) {
  size_t nodes = (size_t)ft->n_groups * (size_t)ft->steps * (size_t)ft->ni;
  ft->bnode = aligned_alloc(32, 4 * LANES * nodes);
  if (!ft->bnode) return;
  for (size_t k = 0; k < nodes; k++)
    for (int lane = 0; lane < LANES; lane++) {
      uint16_t w = ft->node[k * LANES + lane];
      unsigned f = w & 31u, r = (unsigned)w >> 5;
      uint8_t *b = ft->bnode + k * 4 * LANES + lane;
      b[0] = (uint8_t)(f < 16 ? f : 0x80);
      b[LANES] = (uint8_t)(f >= 16 ? f - 16 : 0x80);
      b[2 * LANES] = (uint8_t)(r >> 8);
      b[3 * LANES] = (uint8_t)((r & 255u) ^ 0x80u);
    }
}

eahas__fused_trees *eahas__fused_trees_build(const eahas_forest *const *fs, int n) {
  if (n < 1) return NULL;
  int depth = 0, steps = 0;
  for (int i = 0; i < n; i++) {
    if (fs[i]->n_features != EAHAS_ENCODING_LEN) return NULL;
    if (fs[i]->depth > depth) depth = fs[i]->depth;
    if (fs[i]->n_trees > steps) steps = fs[i]->n_trees;
  }
  if (depth > MAX_DEPTH || steps < 1) return NULL;
  if (depth == 0) depth = 1; /* stumps of one leaf: one never-right node over them */
  int groups = (n + LANES - 1) / LANES;
  eahas__fused_trees *ft = calloc(1, sizeof *ft + sizeof(float) * (size_t)groups * LANES);
  if (!ft) return NULL;
  ft->n_forests = n;
  ft->n_groups = groups;
  ft->steps = steps;
  ft->depth = depth;
  ft->ni = (1 << depth) - 1;
  ft->nl = 1 << depth;
  size_t per_step_nodes = (size_t)ft->ni * LANES, per_step_leaves = (size_t)ft->nl * LANES;
  ft->node = malloc(sizeof(uint16_t) * per_step_nodes * (size_t)steps * (size_t)groups);
  ft->leaf = calloc(per_step_leaves * (size_t)steps * (size_t)groups, sizeof(float));
  if (!ft->node || !ft->leaf || collect_thresholds(ft, fs, n)) {
    eahas__fused_trees_free(ft);
    return NULL;
  }
  for (size_t i = 0; i < per_step_nodes * (size_t)steps * (size_t)groups; i++) ft->node[i] = NEVER;
  for (int i = 0; i < n; i++) {
    int g = i / LANES, lane = i % LANES;
    ft->base[i] = fs[i]->base_score;
    for (int t = 0; t < fs[i]->n_trees; t++) {
      size_t gs = (size_t)g * steps + (size_t)t;
      place(ft, fs[i], fs[i]->roots[t], 0, 0, ft->node + gs * per_step_nodes, ft->leaf + gs * per_step_leaves, lane);
    }
  }
  if (depth <= QDEPTH) build_query_major(ft);
  /* also where AVX-512BW makes it unused (about 115 KB at 25 forests of 60 trees), so that tests
   * can run the AVX2 walk on such a CPU */
  if (eahas__fused_trees_path_supported(EAHAS__TREES_AVX2)) build_byte_nodes(ft);
  return ft;
}

void eahas__fused_trees_free(eahas__fused_trees *ft) {
  if (!ft) return;
  free(ft->qnode);
  free(ft->qleaf);
  free(ft->bnode);
  free(ft->thr);
  free(ft->node);
  free(ft->leaf);
  free(ft);
}

size_t eahas__fused_trees_bytes(const eahas__fused_trees *ft) {
  if (!ft) return 0;
  size_t gs = (size_t)ft->n_groups * (size_t)ft->steps * LANES;
  size_t q = ft->qnode ? (size_t)ft->n_forests * (size_t)ft->steps *
                             (sizeof(uint32_t) * ((1 << QDEPTH) - 1) + sizeof(float) * (1 << QDEPTH))
                       : 0;
  return sizeof *ft + sizeof(float) * (size_t)ft->n_groups * LANES + sizeof(float) * (size_t)ft->thr_off[EAHAS_ENCODING_LEN] +
         gs * (sizeof(uint16_t) * (size_t)ft->ni + sizeof(float) * (size_t)ft->nl) + q +
         (ft->bnode ? gs * 4 * (size_t)ft->ni : 0);
}

int eahas__fused_trees_query_major(const eahas__fused_trees *ft) { return ft && ft->qnode; }

int eahas__fused_trees_path = EAHAS__TREES_AUTO;
_Thread_local unsigned eahas__fused_trees_walks;

/* One query walks the forests one tree at a time (predict_one, about 0.3 us per forest of 60
 * trees on a Zen 3) or all 32 lanes at once (a cost independent of the forest count: 3.3-5 us
 * with AVX2 on the Zen 3, about 5 us with AVX-512 on a Zen 4): the lanes from this many forests
 * on. Measured with AVX2 only; for AVX-512 the break-even estimated from those figures is about
 * 16 forests. */
#define LANE_WALK_MIN_FORESTS 12

int eahas__fused_trees_path_supported(int path) {
  if (path == EAHAS__TREES_GENERIC || path == EAHAS__TREES_SCALAR) return 1;
#ifdef FUSED_X86
  if (path == EAHAS__TREES_AVX2) return !!__builtin_cpu_supports("avx2");
  if (path == EAHAS__TREES_AVX512) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#endif
  return 0;
}

/* The path walks take: the one a test forced where the CPU has it, else the best it has. */
static int trees_path(void) {
  int p = eahas__fused_trees_path;
  if (p >= EAHAS__TREES_GENERIC && eahas__fused_trees_path_supported(p)) return p;
  p = EAHAS__TREES_AVX512;
  while (p > EAHAS__TREES_SCALAR && !eahas__fused_trees_path_supported(p)) p--;
  return p;
}

/* bin_f = number of thresholds of feature f that are <= x_f (upper bound). The search halves a
 * window [lo, lo + len) that holds the boundary, its steps set by the count alone, so the
 * compiler makes the choice a conditional move: a data-dependent branch here mispredicted about
 * once per feature. */
static int bins_of(const eahas__fused_trees *ft, const float *x, uint16_t bins[LANES]) {
  memset(bins, 0, sizeof(uint16_t) * LANES);
  for (int f = 0; f < EAHAS_ENCODING_LEN; f++) {
    if (isnan(x[f])) return -1;
    const float *t = ft->thr + ft->thr_off[f];
    int n = ft->thr_off[f + 1] - ft->thr_off[f], lo = 0, len = n;
    while (len > 1) { /* t[0..lo) <= x_f < t[lo + len..n) */
      int half = len / 2;
      lo = t[lo + half] <= x[f] ? lo + half : lo;
      len -= half;
    }
    bins[f] = (uint16_t)(lo + (n > 0 && t[lo] <= x[f]));
  }
  return 0;
}

static void predict_generic(const eahas__fused_trees *ft, const uint16_t *bins, int g, float *acc) {
  size_t per_n = (size_t)ft->ni * LANES, per_l = (size_t)ft->nl * LANES;
  for (int lane = 0; lane < LANES; lane++) acc[lane] = 0.0f;
  for (int t = 0; t < ft->steps; t++) {
    size_t gs = (size_t)g * ft->steps + (size_t)t;
    const uint16_t *nd = ft->node + gs * per_n;
    const float *lf = ft->leaf + gs * per_l;
    for (int lane = 0; lane < LANES; lane++) {
      int p = 0;
      for (int l = 0; l < ft->depth; l++) {
        uint16_t w = nd[(size_t)p * LANES + lane];
        p = 2 * p + 1 + (bins[w & 31u] > (w >> 5));
      }
      acc[lane] += lf[(size_t)(p - ft->ni) * LANES + lane];
    }
  }
}

#ifdef FUSED_X86
/* nq queries (bins[q * LANES ..]) walked together, step by step: a step's nodes and leaves
 * (3 KB at depth 4) are read from memory once and stay in L1 for the other queries. The depth is
 * a compile-time constant (see the switch below): the path selection unrolls into straight bit
 * operations. */
__attribute__((target("avx512f,avx512bw"), always_inline)) static inline void
predict_avx512_d(const eahas__fused_trees *ft, const uint16_t *bins, int nq, int g, float *acc, const int D) {
  const int ni = (1 << D) - 1, nl = 1 << D;
  const size_t per_n = (size_t)ni * LANES, per_l = (size_t)nl * LANES;
  for (int q = 0; q < nq; q++) {
    _mm512_storeu_ps(acc + (size_t)q * LANES, _mm512_setzero_ps());
    _mm512_storeu_ps(acc + (size_t)q * LANES + 16, _mm512_setzero_ps());
  }
  for (int t = 0; t < ft->steps; t++) {
    size_t gs = (size_t)g * ft->steps + (size_t)t;
    const uint16_t *nd = ft->node + gs * per_n;
    const float *lf = ft->leaf + gs * per_l;
    for (int q = 0; q < nq; q++) {
      const __m512i vb = _mm512_loadu_si512((const void *)(bins + (size_t)q * LANES));
      uint32_t m[(1 << MAX_DEPTH) - 1];
      for (int k = 0; k < ni; k++) {
        __m512i w = _mm512_loadu_si512((const void *)(nd + (size_t)k * LANES));
        m[k] = (uint32_t)_mm512_cmpgt_epu16_mask(_mm512_permutexvar_epi16(w, vb), _mm512_srli_epi16(w, 5));
      }
      /* c[l]: per lane, 1 if the walk goes right at level l; the node at level l is selected by
       * c[0..l) (c[0] the high bit) from the masks of that level, lowest bit first. */
      uint32_t c[MAX_DEPTH], cand[1 << (MAX_DEPTH - 1)];
      for (int l = 0; l < D; l++) {
        int n = 1 << l;
        for (int i = 0; i < n; i++) cand[i] = m[n - 1 + i];
        for (int j = l - 1; j >= 0; j--) {
          n >>= 1;
          for (int i = 0; i < n; i++) cand[i] = cand[2 * i] ^ ((cand[2 * i] ^ cand[2 * i + 1]) & c[j]);
        }
        c[l] = cand[0];
      }
      /* The leaf: the same selection over the leaf vectors with blends (a gather is slower). */
      __m512 v0[1 << MAX_DEPTH], v1[1 << MAX_DEPTH];
      for (int i = 0; i < nl; i++) {
        v0[i] = _mm512_loadu_ps(lf + (size_t)i * LANES);
        v1[i] = _mm512_loadu_ps(lf + (size_t)i * LANES + 16);
      }
      for (int j = D - 1, n = nl; j >= 0; j--) {
        n >>= 1;
        __mmask16 k0 = (__mmask16)(c[j] & 0xffffu), k1 = (__mmask16)(c[j] >> 16);
        for (int i = 0; i < n; i++) {
          v0[i] = _mm512_mask_blend_ps(k0, v0[2 * i], v0[2 * i + 1]);
          v1[i] = _mm512_mask_blend_ps(k1, v1[2 * i], v1[2 * i + 1]);
        }
      }
      float *a = acc + (size_t)q * LANES;
      _mm512_storeu_ps(a, _mm512_add_ps(_mm512_loadu_ps(a), v0[0]));
      _mm512_storeu_ps(a + 16, _mm512_add_ps(_mm512_loadu_ps(a + 16), v1[0]));
    }
  }
}

__attribute__((target("avx512f,avx512bw"))) static void predict_avx512(const eahas__fused_trees *ft,
                                                                       const uint16_t *bins, int nq, int g,
                                                                       float *acc) {
  switch (ft->depth) {
  case 1: predict_avx512_d(ft, bins, nq, g, acc, 1); break;
  case 2: predict_avx512_d(ft, bins, nq, g, acc, 2); break;
  case 3: predict_avx512_d(ft, bins, nq, g, acc, 3); break;
  case 4: predict_avx512_d(ft, bins, nq, g, acc, 4); break;
  case 5: predict_avx512_d(ft, bins, nq, g, acc, 5); break;
  default: predict_avx512_d(ft, bins, nq, g, acc, 6); break;
  }
}
#endif

#ifdef FUSED_X86
/* The lane walk with AVX2 (32 forests in the byte lanes of one register): AVX2 has no 16-bit
 * permute to look up each lane's bin (vpermw), so bins are split in bytes and looked up with
 * pshufb in two 16-entry tables per byte; "bin > rank" is then "high bytes greater, or equal and
 * low bytes greater". The node at each level is selected with byte blends, the leaf index built
 * in bytes and the leaves gathered, 8 lanes at a time. The same float sums as every path. */
__attribute__((target("avx2"), always_inline)) static inline void
predict_lanes_avx2_d(const eahas__fused_trees *ft, const uint16_t *bins, int nq, int g, float *acc, const int D) {
  const int ni = (1 << D) - 1, nl = 1 << D;
  const __m256i lane8 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int q = 0; q < nq; q++) {
    const uint16_t *bq = bins + (size_t)q * LANES;
    uint8_t lo[32] = {0}, hi[32] = {0};
    for (int f = 0; f < EAHAS_ENCODING_LEN; f++) {
      lo[f] = (uint8_t)((bq[f] & 255u) ^ 0x80u);
      hi[f] = (uint8_t)(bq[f] >> 8);
    }
    const __m256i ta_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)lo));
    const __m256i tb_lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(lo + 16)));
    const __m256i ta_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)hi));
    const __m256i tb_hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(hi + 16)));
    __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int t = 0; t < ft->steps; t++) {
      size_t gs = (size_t)g * ft->steps + (size_t)t;
      const uint8_t *nb = ft->bnode + gs * (size_t)ni * 4 * LANES;
      const float *lf = ft->leaf + gs * (size_t)nl * LANES;
      __m256i m[(1 << MAX_DEPTH) - 1];
      for (int k = 0; k < ni; k++) {
        const __m256i *r = (const __m256i *)(nb + (size_t)k * 4 * LANES);
        __m256i ia = _mm256_load_si256(r), ib = _mm256_load_si256(r + 1);
        __m256i bl = _mm256_or_si256(_mm256_shuffle_epi8(ta_lo, ia), _mm256_shuffle_epi8(tb_lo, ib));
        __m256i bh = _mm256_or_si256(_mm256_shuffle_epi8(ta_hi, ia), _mm256_shuffle_epi8(tb_hi, ib));
        __m256i rh = _mm256_load_si256(r + 2), rl = _mm256_load_si256(r + 3);
        m[k] = _mm256_or_si256(_mm256_cmpgt_epi8(bh, rh),
                               _mm256_and_si256(_mm256_cmpeq_epi8(bh, rh), _mm256_cmpgt_epi8(bl, rl)));
      }
      /* c[l]: per lane, all ones if the walk goes right at level l (as predict_avx512_d) */
      __m256i c[MAX_DEPTH], cand[1 << (MAX_DEPTH - 1)];
      if (D == 4) { /* written out: the loops below are not unrolled, and copy cand in memory */
#define SEL(k, a, b) _mm256_blendv_epi8((a), (b), (k))
        c[0] = m[0];
        c[1] = SEL(c[0], m[1], m[2]);
        c[2] = SEL(c[0], SEL(c[1], m[3], m[4]), SEL(c[1], m[5], m[6]));
        c[3] = SEL(c[0], SEL(c[1], SEL(c[2], m[7], m[8]), SEL(c[2], m[9], m[10])),
                   SEL(c[1], SEL(c[2], m[11], m[12]), SEL(c[2], m[13], m[14])));
#undef SEL
      } else
        for (int l = 0; l < D; l++) {
          int n = 1 << l;
          for (int i = 0; i < n; i++) cand[i] = m[n - 1 + i];
          for (int j = l - 1; j >= 0; j--) {
            n >>= 1;
            for (int i = 0; i < n; i++) cand[i] = _mm256_blendv_epi8(cand[2 * i], cand[2 * i + 1], c[j]);
          }
          c[l] = cand[0];
        }
      __m256i li = _mm256_setzero_si256(); /* leaf index: c[0] is its high bit */
      for (int l = 0; l < D; l++) li = _mm256_or_si256(li, _mm256_and_si256(c[l], _mm256_set1_epi8((char)(1 << (D - 1 - l)))));
      __m128i l0 = _mm256_castsi256_si128(li), l1 = _mm256_extracti128_si256(li, 1);
      __m128i part[4] = {l0, _mm_srli_si128(l0, 8), l1, _mm_srli_si128(l1, 8)};
      for (int e = 0; e < 4; e++) { /* lanes 8 e .. 8 e + 7: leaf li * 32 + lane */
        __m256i at = _mm256_add_epi32(_mm256_slli_epi32(_mm256_cvtepu8_epi32(part[e]), 5),
                                      _mm256_add_epi32(lane8, _mm256_set1_epi32(8 * e)));
        a[e] = _mm256_add_ps(a[e], _mm256_i32gather_ps(lf, at, 4));
      }
    }
    for (int e = 0; e < 4; e++) _mm256_storeu_ps(acc + (size_t)q * LANES + 8 * e, a[e]);
  }
}

__attribute__((target("avx2"))) static void predict_lanes_avx2(const eahas__fused_trees *ft, const uint16_t *bins,
                                                               int nq, int g, float *acc) {
  switch (ft->depth) {
  case 1: predict_lanes_avx2_d(ft, bins, nq, g, acc, 1); break;
  case 2: predict_lanes_avx2_d(ft, bins, nq, g, acc, 2); break;
  case 3: predict_lanes_avx2_d(ft, bins, nq, g, acc, 3); break;
  case 4: predict_lanes_avx2_d(ft, bins, nq, g, acc, 4); break;
  case 5: predict_lanes_avx2_d(ft, bins, nq, g, acc, 5); break;
  default: predict_lanes_avx2_d(ft, bins, nq, g, acc, 6); break;
  }
}

/* nq <= 32 queries in the 16-bit lanes of one vector, one forest and tree at a time: the 15 node
 * tests are 15 unsigned compares of a feature's row of 32 query bins with the node's rank
 * broadcast ("bin > rank"); each query's path is picked from the 32-bit compare masks with bit
 * operations as in predict_avx512_d, its leaf index (0..15) built in 16-bit lanes and widened,
 * and its leaf taken with one permute of the tree's 16 leaves per 16 queries. (16 queries in
 * 32-bit lanes did the same bit operations for half as many queries.) Each forest's lanes add
 * their leaves in tree order: the same float sums as every other path. out[q * ldo + i] for
 * forest i. */
__attribute__((target("avx512f,avx512bw"))) static void predict_queries(const eahas__fused_trees *ft,
                                                                        const uint16_t *bins, int nq, float *out,
                                                                        int ldo, const int *idx) {
  enum { QN = (1 << QDEPTH) - 1, QL = 1 << QDEPTH };
  uint16_t rows[EAHAS_ENCODING_LEN * QB] __attribute__((aligned(64)));
  for (int f = 0; f < EAHAS_ENCODING_LEN; f++)
    for (int q = 0; q < QB; q++) rows[f * QB + q] = q < nq ? bins[(size_t)q * LANES + f] : 0;
  const char *rb = (const char *)rows;
  const __m512i v8 = _mm512_set1_epi16(8), v4 = _mm512_set1_epi16(4), v2 = _mm512_set1_epi16(2), v1 = _mm512_set1_epi16(1);
  for (int i = 0; i < ft->n_forests; i++) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    const uint32_t *qn = ft->qnode + (size_t)i * ft->steps * QN;
    const float *ql = ft->qleaf + (size_t)i * ft->steps * QL;
    for (int t = 0; t < ft->steps; t++, qn += QN, ql += QL) {
      uint32_t m[QN];
      for (int k = 0; k < QN; k++)
        m[k] = _mm512_cmpgt_epu16_mask(_mm512_load_si512((const void *)(rb + (qn[k] & 0xffffu))),
                                       _mm512_set1_epi16((short)(qn[k] >> 16)));
      /* sel(c, a, b): per lane, b where c is set, else a. The node at level l is the one the
       * decisions c0..c(l-1) lead to (c0 picks the half, c1 the quarter, ...). */
#define SEL(c, a, b) ((a) ^ (((a) ^ (b)) & (c)))
      uint32_t c0 = m[0], c1 = SEL(c0, m[1], m[2]);
      uint32_t c2 = SEL(c0, SEL(c1, m[3], m[4]), SEL(c1, m[5], m[6]));
      uint32_t c3 = SEL(c0, SEL(c1, SEL(c2, m[7], m[8]), SEL(c2, m[9], m[10])),
                        SEL(c1, SEL(c2, m[11], m[12]), SEL(c2, m[13], m[14])));
#undef SEL
      __m512i li = _mm512_maskz_mov_epi16(c0, v8);
      li = _mm512_mask_add_epi16(li, c1, li, v4);
      li = _mm512_mask_add_epi16(li, c2, li, v2);
      li = _mm512_mask_add_epi16(li, c3, li, v1);
      const __m512 leaves = _mm512_load_ps(ql);
      acc0 = _mm512_add_ps(acc0, _mm512_permutexvar_ps(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(li)), leaves));
      acc1 = _mm512_add_ps(acc1, _mm512_permutexvar_ps(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(li, 1)), leaves));
    }
    float a[QB];
    _mm512_storeu_ps(a, acc0);
    _mm512_storeu_ps(a + 16, acc1);
    for (int q = 0; q < nq; q++) out[(size_t)idx[q] * ldo + i] = a[q] + ft->base[i];
  }
}
#endif

#ifdef FUSED_X86
/* predict_queries for AVX2 (no 16-bit mask registers, no 16-entry permute): the 32 queries are
 * two vectors of 16 lanes of 16 bits; the node tests are signed compares (bins and ranks are
 * below 2048) giving all-ones lanes, the path is selected with byte blends, and the leaf of
 * 8 queries at a time is picked from the tree's 16 leaves by two 8-entry permutes and a blend on
 * the first decision. The same float sums in the same order as every other path. */
__attribute__((target("avx2"))) static void predict_queries_avx2(const eahas__fused_trees *ft, const uint16_t *bins,
                                                                 int nq, float *out, int ldo, const int *idx) {
  enum { QN = (1 << QDEPTH) - 1, QL = 1 << QDEPTH };
  uint16_t rows[EAHAS_ENCODING_LEN * QB] __attribute__((aligned(64)));
  for (int f = 0; f < EAHAS_ENCODING_LEN; f++)
    for (int q = 0; q < QB; q++) rows[f * QB + q] = q < nq ? bins[(size_t)q * LANES + f] : 0;
  const char *rb = (const char *)rows;
  const __m256i v4 = _mm256_set1_epi16(4), v2 = _mm256_set1_epi16(2), v1 = _mm256_set1_epi16(1);
  for (int i = 0; i < ft->n_forests; i++) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const uint32_t *qn = ft->qnode + (size_t)i * ft->steps * QN;
    const float *ql = ft->qleaf + (size_t)i * ft->steps * QL;
    for (int t = 0; t < ft->steps; t++, qn += QN, ql += QL) {
      const __m256 lo8 = _mm256_load_ps(ql), hi8 = _mm256_load_ps(ql + 8);
      for (int h = 0; h < 2; h++) { /* queries 16 h .. 16 h + 15 */
        __m256i m[QN];
        for (int k = 0; k < QN; k++)
          m[k] = _mm256_cmpgt_epi16(_mm256_load_si256((const __m256i *)(rb + (qn[k] & 0xffffu) + 32 * h)),
                                    _mm256_set1_epi16((short)(qn[k] >> 16)));
#define SEL(c, a, b) _mm256_blendv_epi8((a), (b), (c))
        __m256i c0 = m[0], c1 = SEL(c0, m[1], m[2]);
        __m256i c2 = SEL(c0, SEL(c1, m[3], m[4]), SEL(c1, m[5], m[6]));
        __m256i c3 = SEL(c0, SEL(c1, SEL(c2, m[7], m[8]), SEL(c2, m[9], m[10])),
                         SEL(c1, SEL(c2, m[11], m[12]), SEL(c2, m[13], m[14])));
#undef SEL
        /* leaf index within its half (0..7); c0 picks the half */
        __m256i li = _mm256_or_si256(_mm256_and_si256(c1, v4), _mm256_or_si256(_mm256_and_si256(c2, v2), _mm256_and_si256(c3, v1)));
        for (int e = 0; e < 2; e++) { /* queries 16 h + 8 e .. + 7, widened to 32 bits */
          __m128i l16 = e ? _mm256_extracti128_si256(li, 1) : _mm256_castsi256_si128(li);
          __m128i c16 = e ? _mm256_extracti128_si256(c0, 1) : _mm256_castsi256_si128(c0);
          __m256i l32 = _mm256_cvtepu16_epi32(l16);
          __m256 right = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(c16));
          __m256 leaf = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo8, l32), _mm256_permutevar8x32_ps(hi8, l32), right);
          acc[2 * h + e] = _mm256_add_ps(acc[2 * h + e], leaf);
        }
      }
    }
    float a[QB];
    for (int v = 0; v < 4; v++) _mm256_storeu_ps(a + 8 * v, acc[v]);
    for (int q = 0; q < nq; q++) out[(size_t)idx[q] * ldo + i] = a[q] + ft->base[i];
  }
}
#endif

/* One query on the query-major layout (path SCALAR; the vector paths below
 * LANE_WALK_MIN_FORESTS forests): each tree is walked in scalar code without branches (the next
 * node is 2 p + 1 + (bin > rank)), the trees of a forest one after another, so that the
 * out-of-order core overlaps the walks, which share no data. Each forest sums its leaves in tree order: the sums of every other path. On a Zen 3,
 * 25 forests of 60 trees took 7.6 us against 21 us with the portable lane walk; 8 trees at a
 * time with AVX2 gathers took 15.8 us. */
static void predict_one(const eahas__fused_trees *ft, const uint16_t *bins, float *out) {
  enum { QN = (1 << QDEPTH) - 1, QL = 1 << QDEPTH };
  uint16_t rows[EAHAS_ENCODING_LEN * QB]; /* the block layout, query 0 only: byte offsets match */
  for (int f = 0; f < EAHAS_ENCODING_LEN; f++) rows[f * QB] = bins[f];
  const char *rb = (const char *)rows;
  for (int i = 0; i < ft->n_forests; i++) {
    float acc = 0.0f;
    const uint32_t *qn = ft->qnode + (size_t)i * ft->steps * QN;
    const float *ql = ft->qleaf + (size_t)i * ft->steps * QL;
    for (int t = 0; t < ft->steps; t++, qn += QN, ql += QL) {
      uint32_t p = 0;
      for (int l = 0; l < QDEPTH; l++) {
        uint16_t bin;
        memcpy(&bin, rb + (qn[p] & 0xffffu), sizeof bin);
        p = 2 * p + 1 + (bin > qn[p] >> 16);
      }
      acc += ql[p - QN];
    }
    out[i] = acc + ft->base[i];
  }
}

int eahas__fused_trees_predict(const eahas__fused_trees *ft, const float *x, float *out) {
  int ok;
  eahas__fused_trees_predict_block(ft, x, EAHAS_ENCODING_LEN, 1, out, ft->n_forests, &ok);
  return ok ? 0 : -1;
}

void eahas__fused_trees_predict_block(const eahas__fused_trees *ft, const float *x, int ldx, int nq, float *out,
                                      int ldo, int *ok) {
  enum { QMAX = QB };
  uint16_t bins[QMAX * LANES];
  float acc[QMAX * LANES];
  const int path = trees_path();
  for (int q0 = 0; q0 < nq; q0 += QMAX) {
    int n = nq - q0 < QMAX ? nq - q0 : QMAX, nv = 0, idx[QMAX];
    for (int q = 0; q < n; q++) { /* the queries without NaN, packed */
      ok[q0 + q] = bins_of(ft, x + (size_t)(q0 + q) * ldx, bins + (size_t)nv * LANES) == 0;
      idx[nv] = q0 + q;
      nv += ok[q0 + q];
    }
#ifdef FUSED_X86
    if (ft->qnode && nv > 1 && path >= EAHAS__TREES_AVX2) {
      if (path == EAHAS__TREES_AVX512) predict_queries(ft, bins, nv, out, ldo, idx);
      else predict_queries_avx2(ft, bins, nv, out, ldo, idx);
      eahas__fused_trees_walks |= path == EAHAS__TREES_AVX512 ? EAHAS__WALK_AVX512_QUERIES : EAHAS__WALK_AVX2_QUERIES;
      continue;
    }
#endif
    /* One query (or no vector walk): the scalar walk, unless a vector lane walk is faster. */
    const int lanes = path == EAHAS__TREES_AVX512 || (path == EAHAS__TREES_AVX2 && ft->bnode);
    if (ft->qnode && path != EAHAS__TREES_GENERIC && (!lanes || ft->n_forests < LANE_WALK_MIN_FORESTS)) {
      for (int q = 0; q < nv; q++) predict_one(ft, bins + (size_t)q * LANES, out + (size_t)idx[q] * ldo);
      eahas__fused_trees_walks |= EAHAS__WALK_SCALAR;
      continue;
    }
    for (int g = 0; g < ft->n_groups; g++) {
#ifdef FUSED_X86
      if (path == EAHAS__TREES_AVX512) {
        predict_avx512(ft, bins, nv, g, acc);
        eahas__fused_trees_walks |= EAHAS__WALK_AVX512_LANES;
      } else if (path == EAHAS__TREES_AVX2 && ft->bnode) {
        predict_lanes_avx2(ft, bins, nv, g, acc);
        eahas__fused_trees_walks |= EAHAS__WALK_AVX2_LANES;
      } else
#endif
      {
        for (int q = 0; q < nv; q++) predict_generic(ft, bins + (size_t)q * LANES, g, acc + (size_t)q * LANES);
        eahas__fused_trees_walks |= EAHAS__WALK_LANES;
      }
      int nf = ft->n_forests - g * LANES < LANES ? ft->n_forests - g * LANES : LANES;
      for (int q = 0; q < nv; q++)
        for (int i = 0; i < nf; i++)
          out[(size_t)idx[q] * ldo + g * LANES + i] = acc[(size_t)q * LANES + i] + ft->base[g * LANES + i];
    }
  }
}
