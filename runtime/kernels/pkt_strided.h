/* Strided copy shared by the data-movement kernels (permute, slice, expand): copy a source view
 * described by dims and per-dim element strides into a contiguous destination, dtype-agnostic
 * (elements are moved by size: 1, 2, 4 or 8 bytes).
 *
 * The caller's prepare() must have proven that every source offset the view reaches lies inside
 * the source tensor; this helper only walks it. Dims of size 1 are dropped and adjacent dims that
 * are contiguous in the source are merged, so most views reduce to a few long runs. A batch of 2-D
 * transposes (source stride 1 on the second-last dim) is copied in cache-sized tiles. */
#ifndef PKT_STRIDED_H
#define PKT_STRIDED_H

#include "core/kernel.h"

#define PKT_STRIDED_MAX_RANK (2 * PKT_MAX_RANK)
#define PKT_STRIDED_TILE 32
/* Below this many bytes a copy runs on the calling thread (waking workers costs more). */
#define PKT_STRIDED_PARALLEL_BYTES ((int64_t)1 << 16)

typedef struct pkt_strided {
  int rank;
  int64_t dims[PKT_STRIDED_MAX_RANK];
  int64_t strides[PKT_STRIDED_MAX_RANK]; /* source strides, in elements */
  int64_t numel;
  size_t esize;
  const unsigned char* src; /* first source element */
  unsigned char* dst;       /* contiguous destination */
} pkt_strided;

/* Fill s from a view of `rank` dims; returns numel (0: nothing to copy). */
static inline int64_t pkt_strided_init(pkt_strided* s, int rank, const int64_t* dims, const int64_t* strides,
                                       size_t esize, const void* src, void* dst) {
  s->esize = esize;
  s->src = (const unsigned char*)src;
  s->dst = (unsigned char*)dst;
  s->rank = 0;
  s->numel = 0;
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0) return 0; /* checked first: products below cannot overflow for a non-empty view */
  s->numel = 1;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    s->numel *= dims[d];
    int r = s->rank;
    if (r > 0 && s->strides[r - 1] == strides[d] * dims[d]) {
      s->dims[r - 1] *= dims[d]; /* previous dim steps over exactly this one: merge */
      s->strides[r - 1] = strides[d];
    } else {
      s->dims[r] = dims[d];
      s->strides[r] = strides[d];
      s->rank = r + 1;
    }
  }
  if (s->rank == 0) {
    s->rank = 1;
    s->dims[0] = 1;
    s->strides[0] = 1;
  }
  return s->numel;
}

/* Copy n elements from s (stride st elements) to contiguous d. */
static inline void pkt_strided_run_copy(unsigned char* d, const unsigned char* s, int64_t n, int64_t st,
                                        size_t es) {
  if (st == 1) {
    memcpy(d, s, (size_t)n * es);
    return;
  }
  switch (es) {
    case 1:
      for (int64_t i = 0; i < n; i++) d[i] = s[i * st];
      break;
    case 2:
      for (int64_t i = 0; i < n; i++) memcpy(d + i * 2, s + i * st * 2, 2);
      break;
    case 4:
      for (int64_t i = 0; i < n; i++) memcpy(d + i * 4, s + i * st * 4, 4);
      break;
    case 8:
      for (int64_t i = 0; i < n; i++) memcpy(d + i * 8, s + i * st * 8, 8);
      break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(d + (size_t)i * es, s + (size_t)(i * st) * es, es);
      break;
  }
}

/* Copy destination elements [begin, end). */
static inline void pkt_strided_range(void* ctx, int64_t begin, int64_t end) {
  const pkt_strided* s = (const pkt_strided*)ctx;
  const int r = s->rank;
  const size_t es = s->esize;
  int64_t idx[PKT_STRIDED_MAX_RANK];
  int64_t rem = begin, off = 0;
  for (int d = r - 1; d >= 0; d--) {
    idx[d] = rem % s->dims[d];
    rem /= s->dims[d];
    off += idx[d] * s->strides[d];
  }
  const int64_t inner = s->dims[r - 1], st = s->strides[r - 1];
  int64_t pos = begin;
  while (pos < end) {
    int64_t cnt = inner - idx[r - 1];
    if (cnt > end - pos) cnt = end - pos;
    pkt_strided_run_copy(s->dst + (size_t)pos * es, s->src + off * (int64_t)es, cnt, st, es);
    pos += cnt;
    if (pos >= end) break;
    /* the row is finished: step to the next one */
    off -= idx[r - 1] * st;
    idx[r - 1] = 0;
    for (int d = r - 2; d >= 0; d--) {
      off += s->strides[d];
      if (++idx[d] < s->dims[d]) break;
      off -= s->dims[d] * s->strides[d];
      idx[d] = 0;
    }
  }
}

/* Tiled batch of transposes: the last two dims are [A, B] with source strides [1, sb]. Work item i
 * is (batch, tile row) = (i / tiles_a, i % tiles_a). */
static inline void pkt_strided_tiles(void* ctx, int64_t begin, int64_t end) {
  const pkt_strided* s = (const pkt_strided*)ctx;
  const int r = s->rank;
  const size_t es = s->esize;
  const int64_t A = s->dims[r - 2], B = s->dims[r - 1], sb = s->strides[r - 1];
  const int64_t tiles_a = (A + PKT_STRIDED_TILE - 1) / PKT_STRIDED_TILE;
  for (int64_t it = begin; it < end; it++) {
    int64_t batch = it / tiles_a, a0 = (it % tiles_a) * PKT_STRIDED_TILE;
    int64_t a1 = a0 + PKT_STRIDED_TILE < A ? a0 + PKT_STRIDED_TILE : A;
    int64_t off = 0, rem = batch;
    for (int d = r - 3; d >= 0; d--) {
      off += (rem % s->dims[d]) * s->strides[d];
      rem /= s->dims[d];
    }
    const unsigned char* src = s->src + off * (int64_t)es;
    unsigned char* dst = s->dst + (size_t)(batch * A * B) * es;
    for (int64_t b0 = 0; b0 < B; b0 += PKT_STRIDED_TILE) {
      int64_t b1 = b0 + PKT_STRIDED_TILE < B ? b0 + PKT_STRIDED_TILE : B;
      for (int64_t a = a0; a < a1; a++)
        pkt_strided_run_copy(dst + (size_t)(a * B + b0) * es, src + (a + b0 * sb) * (int64_t)es, b1 - b0, sb, es);
    }
  }
}

/* Run the copy described by s, in parallel when it is large enough. */
static inline void pkt_strided_copy(const pkt_node* node, pkt_strided* s) {
  if (s->numel == 0) return;
  const int r = s->rank;
  const int parallel = s->numel * (int64_t)s->esize >= PKT_STRIDED_PARALLEL_BYTES;
  if (r >= 2 && s->strides[r - 2] == 1 && s->strides[r - 1] != 1 && s->dims[r - 2] >= 8 && s->dims[r - 1] >= 8) {
    int64_t A = s->dims[r - 2], B = s->dims[r - 1];
    int64_t items = s->numel / (A * B) * ((A + PKT_STRIDED_TILE - 1) / PKT_STRIDED_TILE);
    if (parallel)
      pkt_parallel_for(node, items, pkt_strided_tiles, s);
    else
      pkt_strided_tiles(s, 0, items);
    return;
  }
  if (parallel)
    pkt_parallel_for(node, s->numel, pkt_strided_range, s);
  else
    pkt_strided_range(s, 0, s->numel);
}

/* Contiguous element strides of t. Only meaningful when t->numel > 0 (then no product overflows). */
static inline void pkt_contiguous_strides(const pkt_tensor* t, int64_t strides[PKT_MAX_RANK]) {
  int64_t st = 1;
  for (int d = t->rank - 1; d >= 0; d--) {
    strides[d] = st;
    st *= t->dims[d];
  }
}

#endif
