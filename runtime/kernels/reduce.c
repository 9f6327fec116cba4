/* reduce: fold x over the dims listed in `axes` (keepdim is implied by the output shape: either x's
 * rank with 1 on the reduced dims, or x's rank minus the reduced dims).
 *
 *   kind          input                      output
 *   SUM, PROD     f32 / integer or bool      f32 / any integer (accumulated in int64, wrapping)
 *   MEAN, NORM2   f32                        f32
 *   VAR           f32                        f32, divided by max(0, N - correction)
 *   MAX, MIN      f32 or integer or bool     same dtype; NaN propagates
 *   ANY, ALL      any                        bool (or uint8)
 * Float kinds accumulate in double. An empty reduction gives 0 (SUM, NORM2), 1 (PROD), false (ANY),
 * true (ALL), NaN (MEAN, VAR); MAX/MIN of nothing is rejected in prepare().
 *
 * Layout: dims of size 1 are dropped and neighbouring dims of the same kind (kept/reduced) merged.
 * When the innermost dim is reduced, each output folds contiguous runs; when it is kept, a block of
 * outputs is folded lane-wise over the reduced positions, so memory is read in order either way. */
#include <float.h>
#include <math.h>

#include "kernels/pkt_strided.h"

#define RED_BLOCK 64
#define RED_MAX_GROUPS PKT_MAX_RANK

static int is_int_dtype(int dt) { return dt == PKT_I64 || dt == PKT_I32 || dt == PKT_U8 || dt == PKT_I8 || dt == PKT_BOOL; }

pkt_status pkt_kernel_reduce_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_REDUCE_MIN_INPUTS, PKT_REDUCE_MAX_INPUTS, 1, PKT_REDUCE_AXES, err);
  if (st) return st; /* axes may be empty: a rank-0 input reduces over nothing */
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t kind = pkt_param_i(n, PKT_REDUCE_KIND);
  if (kind < 0 || kind >= PKT_REDUCE_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown reduction kind %lld", (long long)kind);
  int n_axes = n->n_params - PKT_REDUCE_AXES;
  if (n_axes > x->rank) return pkt_fail(err, PKT_BAD_PARAMS, "%d axes for input rank %d", n_axes, x->rank);
  int reduced[PKT_MAX_RANK] = {0};
  for (int i = 0; i < n_axes; i++) {
    int64_t a = pkt_param_i(n, PKT_REDUCE_AXES + i);
    if (a < 0 || a >= x->rank || reduced[a])
      return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d or repeated", (long long)a, x->rank);
    reduced[a] = 1;
  }
  /* output shape: keepdim form or squeezed form */
  int keep_ok = y->rank == x->rank, squeeze_ok = y->rank == x->rank - n_axes;
  for (int d = 0, k = 0; d < x->rank; d++) {
    if (keep_ok && y->dims[d] != (reduced[d] ? 1 : x->dims[d])) keep_ok = 0;
    if (!reduced[d]) {
      if (squeeze_ok && y->dims[k] != x->dims[d]) squeeze_ok = 0;
      k++;
    }
  }
  if (!keep_ok && !squeeze_ok) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape does not match the input reduced over the axes");
  int xi = is_int_dtype(x->dtype), yi = is_int_dtype(y->dtype) && y->dtype != PKT_BOOL;
  int ok;
  switch (kind) {
    case PKT_REDUCE_SUM:
    case PKT_REDUCE_PROD: ok = (x->dtype == PKT_F32 && y->dtype == PKT_F32) || (xi && yi); break;
    case PKT_REDUCE_MEAN:
    case PKT_REDUCE_VAR:
    case PKT_REDUCE_NORM2: ok = x->dtype == PKT_F32 && y->dtype == PKT_F32; break;
    case PKT_REDUCE_MAX:
    case PKT_REDUCE_MIN: ok = (x->dtype == PKT_F32 || xi) && y->dtype == x->dtype; break;
    default: ok = (x->dtype == PKT_F32 || xi) && (y->dtype == PKT_BOOL || y->dtype == PKT_U8); break;
  }
  if (!ok)
    return pkt_fail(err, PKT_BAD_OPERANDS, "reduction kind %lld does not take %s to %s", (long long)kind,
                    pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if ((kind == PKT_REDUCE_MAX || kind == PKT_REDUCE_MIN) && y->numel > 0)
    for (int d = 0; d < x->rank; d++)
      if (reduced[d] && x->dims[d] == 0) return pkt_fail(err, PKT_BAD_OPERANDS, "max/min over an empty dim %d", d);
  *scratch = 0;
  return PKT_OK;
}

typedef struct lane {
  double s, s2, shift; /* float kinds: sum (of x - shift for VAR), sum of squares */
  int64_t i;           /* integer SUM/PROD/MAX/MIN, ANY/ALL */
} lane;

static inline int64_t load_i(const void* p, int dt, int64_t k) {
  switch (dt) {
    case PKT_I64: return ((const int64_t*)p)[k];
    case PKT_I32: return ((const int32_t*)p)[k];
    case PKT_I8: return ((const int8_t*)p)[k];
    default: return ((const uint8_t*)p)[k]; /* U8, BOOL */
  }
}

static inline int truthy(const void* p, int dt, int64_t k) {
  return dt == PKT_F32 ? ((const float*)p)[k] != 0.f : load_i(p, dt, k) != 0;
}

typedef struct red_job {
  int kind, xdt, ydt, xint;
  const unsigned char* x;
  unsigned char* y;
  size_t xes;
  double n_red, correction;
  /* kept groups (outer to inner) and reduced groups, with element strides in x */
  int nk, nr;
  int64_t kd[RED_MAX_GROUPS], ks[RED_MAX_GROUPS], rd[RED_MAX_GROUPS], rs[RED_MAX_GROUPS];
  int64_t inner; /* case A: length of the innermost (reduced) run; case B: innermost kept size */
  int64_t blocks; /* case B: blocks of RED_BLOCK per row */
} red_job;

static void lane_init(const red_job* j, lane* l, const unsigned char* first) {
  l->s = l->s2 = l->shift = 0;
  l->i = 0;
  if (!first && j->kind != PKT_REDUCE_PROD && j->kind != PKT_REDUCE_ALL) return; /* empty reduction */
  switch (j->kind) {
    case PKT_REDUCE_PROD: l->s = 1; l->i = 1; break;
    case PKT_REDUCE_ALL: l->i = 1; break;
    case PKT_REDUCE_MAX:
    case PKT_REDUCE_MIN:
      if (j->xint) l->i = load_i(first, j->xdt, 0);
      else l->s = *(const float*)first;
      break;
    case PKT_REDUCE_VAR: l->shift = *(const float*)first; break;
    default: break;
  }
}

/* Fold m contiguous elements at p into one lane. */
static void fold_run(const red_job* j, lane* l, const unsigned char* p, int64_t m) {
  const float* f = (const float*)p;
  switch (j->kind) {
    case PKT_REDUCE_SUM:
    case PKT_REDUCE_MEAN:
      if (j->xint) {
        uint64_t acc = (uint64_t)l->i;
        for (int64_t k = 0; k < m; k++) acc += (uint64_t)load_i(p, j->xdt, k);
        l->i = (int64_t)acc;
      } else {
        /* eight running sums: one chain of dependent adds would bound the loop by the add latency */
        double acc[8] = {l->s, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= m; k += 8)
          for (int q = 0; q < 8; q++) acc[q] += f[k + q];
        for (; k < m; k++) acc[0] += f[k];
        l->s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      }
      break;
    case PKT_REDUCE_PROD:
      if (j->xint) {
        uint64_t acc = (uint64_t)l->i;
        for (int64_t k = 0; k < m; k++) acc *= (uint64_t)load_i(p, j->xdt, k);
        l->i = (int64_t)acc;
      } else {
        double acc = l->s;
        for (int64_t k = 0; k < m; k++) acc *= f[k];
        l->s = acc;
      }
      break;
    case PKT_REDUCE_MAX:
      if (j->xint) {
        for (int64_t k = 0; k < m; k++) { int64_t v = load_i(p, j->xdt, k); if (v > l->i) l->i = v; }
      } else {
        double acc = l->s;
        for (int64_t k = 0; k < m; k++) if (f[k] > acc || f[k] != f[k]) acc = f[k];
        l->s = acc;
      }
      break;
    case PKT_REDUCE_MIN:
      if (j->xint) {
        for (int64_t k = 0; k < m; k++) { int64_t v = load_i(p, j->xdt, k); if (v < l->i) l->i = v; }
      } else {
        double acc = l->s;
        for (int64_t k = 0; k < m; k++) if (f[k] < acc || f[k] != f[k]) acc = f[k];
        l->s = acc;
      }
      break;
    case PKT_REDUCE_ANY:
      for (int64_t k = 0; k < m && !l->i; k++) l->i = truthy(p, j->xdt, k);
      break;
    case PKT_REDUCE_ALL:
      for (int64_t k = 0; k < m && l->i; k++) l->i = truthy(p, j->xdt, k);
      break;
    case PKT_REDUCE_VAR: {
      double s = l->s, s2 = l->s2, c = l->shift;
      for (int64_t k = 0; k < m; k++) { double v = f[k] - c; s += v; s2 += v * v; }
      l->s = s;
      l->s2 = s2;
      break;
    }
    case PKT_REDUCE_NORM2: {
      double s2 = l->s2;
      for (int64_t k = 0; k < m; k++) s2 += (double)f[k] * f[k];
      l->s2 = s2;
      break;
    }
  }
}

/* Fold w contiguous elements at p lane-wise into lanes[0..w). */
static void fold_lanes(const red_job* j, lane* l, const unsigned char* p, int64_t w) {
  if (j->xint || j->kind == PKT_REDUCE_ANY || j->kind == PKT_REDUCE_ALL) {
    for (int64_t k = 0; k < w; k++) fold_run(j, l + k, p + (size_t)k * j->xes, 1);
    return;
  }
  const float* f = (const float*)p;
  switch (j->kind) {
    case PKT_REDUCE_SUM:
    case PKT_REDUCE_MEAN: for (int64_t k = 0; k < w; k++) l[k].s += f[k]; break;
    case PKT_REDUCE_PROD: for (int64_t k = 0; k < w; k++) l[k].s *= f[k]; break;
    case PKT_REDUCE_MAX:
      for (int64_t k = 0; k < w; k++) if (f[k] > l[k].s || f[k] != f[k]) l[k].s = f[k];
      break;
    case PKT_REDUCE_MIN:
      for (int64_t k = 0; k < w; k++) if (f[k] < l[k].s || f[k] != f[k]) l[k].s = f[k];
      break;
    case PKT_REDUCE_VAR:
      for (int64_t k = 0; k < w; k++) { double v = f[k] - l[k].shift; l[k].s += v; l[k].s2 += v * v; }
      break;
    case PKT_REDUCE_NORM2: for (int64_t k = 0; k < w; k++) l[k].s2 += (double)f[k] * f[k]; break;
  }
}

static inline float to_f32(double v) {
  if (v > FLT_MAX) return INFINITY;
  if (v < -FLT_MAX) return -INFINITY;
  return (float)v;
}

static void store(const red_job* j, int64_t o, const lane* l) {
  if (j->ydt == PKT_F32) {
    double v;
    switch (j->kind) {
      case PKT_REDUCE_MEAN: v = l->s / j->n_red; break;
      case PKT_REDUCE_NORM2: v = sqrt(l->s2); break;
      case PKT_REDUCE_VAR: {
        double m2 = l->s2 - (j->n_red > 0 ? l->s * l->s / j->n_red : 0.0);
        double div = j->n_red - j->correction;
        if (m2 < 0) m2 = 0;
        v = j->n_red > 0 ? m2 / (div > 0 ? div : 0.0) : NAN;
        break;
      }
      default: v = l->s; break;
    }
    ((float*)j->y)[o] = to_f32(v);
    return;
  }
  int64_t v = l->i;
  switch (j->ydt) {
    case PKT_I64: ((int64_t*)j->y)[o] = v; break;
    case PKT_I32: ((int32_t*)j->y)[o] = (int32_t)(uint32_t)(uint64_t)v; break;
    case PKT_I8: ((int8_t*)j->y)[o] = (int8_t)(uint8_t)(uint64_t)v; break;
    case PKT_BOOL: ((uint8_t*)j->y)[o] = v != 0; break;
    default: ((uint8_t*)j->y)[o] = (uint8_t)(uint64_t)v; break; /* U8 */
  }
}

/* Element offset in x of the kept-group position for flat index o over groups [0, nk). */
static inline int64_t kept_offset(const red_job* j, int nk, int64_t o) {
  int64_t off = 0;
  for (int g = nk - 1; g >= 0; g--) {
    off += (o % j->kd[g]) * j->ks[g];
    o /= j->kd[g];
  }
  return off;
}

/* Visit every reduced position of groups [0, nr): calls fold on x + base + offset. */
#define FOR_REDUCED(j, nr, off, BODY)                              \
  do {                                                             \
    int64_t pos_[RED_MAX_GROUPS] = {0}, off = 0;                   \
    for (;;) {                                                     \
      BODY;                                                        \
      int g_ = (nr) - 1;                                           \
      for (; g_ >= 0; g_--) {                                      \
        off += (j)->rs[g_];                                        \
        if (++pos_[g_] < (j)->rd[g_]) break;                       \
        off -= (j)->rd[g_] * (j)->rs[g_];                          \
        pos_[g_] = 0;                                              \
      }                                                            \
      if (g_ < 0) break;                                           \
    }                                                              \
  } while (0)

/* Case A: the innermost dim is reduced (run length j->inner); one output per item. */
static void reduce_outputs(void* ctx, int64_t begin, int64_t end) {
  const red_job* j = ctx;
  for (int64_t o = begin; o < end; o++) {
    const unsigned char* base = j->x + (size_t)kept_offset(j, j->nk, o) * j->xes;
    lane l;
    lane_init(j, &l, base);
    FOR_REDUCED(j, j->nr - 1, off, fold_run(j, &l, base + (size_t)off * j->xes, j->inner));
    store(j, o, &l);
  }
}

/* Case B: the innermost dim is kept (size j->inner); item = (row, block of RED_BLOCK outputs). */
static void reduce_blocks(void* ctx, int64_t begin, int64_t end) {
  const red_job* j = ctx;
  lane lanes[RED_BLOCK];
  for (int64_t it = begin; it < end; it++) {
    int64_t row = it / j->blocks, b0 = (it % j->blocks) * RED_BLOCK;
    int64_t w = j->inner - b0 < RED_BLOCK ? j->inner - b0 : RED_BLOCK;
    const unsigned char* base = j->x + (size_t)(kept_offset(j, j->nk - 1, row) + b0) * j->xes;
    for (int64_t k = 0; k < w; k++) lane_init(j, &lanes[k], base + (size_t)k * j->xes);
    FOR_REDUCED(j, j->nr, off, fold_lanes(j, lanes, base + (size_t)off * j->xes, w));
    for (int64_t k = 0; k < w; k++) store(j, row * j->inner + b0 + k, &lanes[k]);
  }
}

pkt_status pkt_kernel_reduce_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  red_job j;
  memset(&j, 0, sizeof j);
  j.kind = (int)pkt_param_i(n, PKT_REDUCE_KIND);
  j.xdt = x->dtype;
  j.ydt = y->dtype;
  j.xint = is_int_dtype(x->dtype);
  j.x = x->data;
  j.y = y->data;
  j.xes = pkt_dtype_size(x->dtype);
  j.correction = (double)pkt_param_i(n, PKT_REDUCE_CORRECTION);
  int reduced[PKT_MAX_RANK] = {0};
  for (int i = 0; i < n->n_params - PKT_REDUCE_AXES; i++) reduced[pkt_param_i(n, PKT_REDUCE_AXES + i)] = 1;
  if (x->numel == 0) { /* y is not empty, so a reduced dim is 0: the empty reduction */
    lane l;
    memset(&l, 0, sizeof l);
    lane_init(&j, &l, NULL);
    for (int64_t o = 0; o < y->numel; o++) store(&j, o, &l);
    return PKT_OK;
  }
  j.n_red = (double)(x->numel / y->numel);
  /* merged groups, outer to inner; strides follow from x being contiguous */
  int64_t gd[PKT_MAX_RANK];
  int gr[PKT_MAX_RANK], ng = 0;
  for (int d = 0; d < x->rank; d++) {
    if (x->dims[d] == 1) continue;
    if (ng > 0 && gr[ng - 1] == reduced[d]) {
      gd[ng - 1] *= x->dims[d];
    } else {
      gd[ng] = x->dims[d];
      gr[ng++] = reduced[d];
    }
  }
  if (ng == 0) {
    gd[0] = 1;
    gr[ng++] = 0;
  }
  int64_t stride = 1, gs[PKT_MAX_RANK];
  for (int g = ng - 1; g >= 0; g--) {
    gs[g] = stride;
    stride *= gd[g];
  }
  for (int g = 0; g < ng; g++) {
    if (gr[g]) {
      j.rd[j.nr] = gd[g];
      j.rs[j.nr++] = gs[g];
    } else {
      j.kd[j.nk] = gd[g];
      j.ks[j.nk++] = gs[g];
    }
  }
  const int parallel = (int64_t)x->nbytes >= PKT_STRIDED_PARALLEL_BYTES;
  if (gr[ng - 1]) {
    j.inner = gd[ng - 1];
    if (parallel) pkt_parallel_for(n, y->numel, reduce_outputs, &j);
    else reduce_outputs(&j, 0, y->numel);
  } else {
    j.inner = gd[ng - 1];
    j.blocks = (j.inner + RED_BLOCK - 1) / RED_BLOCK;
    int64_t items = y->numel / j.inner * j.blocks;
    if (parallel) pkt_parallel_for(n, items, reduce_blocks, &j);
    else reduce_blocks(&j, 0, items);
  }
  return PKT_OK;
}
