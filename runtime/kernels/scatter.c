/* scatter (torch.scatter, scatter_add, scatter_reduce): out = x, then for every position i of idx,
 * out[i with i[axis] = idx[i]] = src[i], or reduced into it (sum, prod, mean, amax, amin) in idx's order.
 * x, idx, src and out share a rank; idx.dims[d] <= src.dims[d], and <= x.dims[d] off axis. Indices are
 * int64/int32 in [0, x.dims[axis]); any other makes run() return PKT_INDEX_OUT_OF_RANGE before anything
 * is written. include_self = 0 leaves x's value out of the reduction wherever an index lands; mean divides
 * by the number of values reduced (float32 only); amax/amin propagate NaN as torch does. Replacing works
 * on any dtype, reductions on float32, int64 and int32. Scratch: an int32 count per output element. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_scatter_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_SCATTER_MIN_INPUTS, PKT_SCATTER_MAX_INPUTS, 1, PKT_SCATTER_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *src = n->inputs[2], *y = n->outputs[0];
  if ((st = pkt_check_dtype(y, x->dtype, "output", err)) || (st = pkt_check_dtype(src, x->dtype, "src", err))) return st;
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  if (idx->dtype != PKT_I64 && idx->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "indices are %s, expected int64 or int32", pkt_dtype_name(idx->dtype));
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  int64_t axis = pkt_param_i(n, PKT_SCATTER_AXIS), reduce = pkt_param_i(n, PKT_SCATTER_REDUCE);
  int64_t self = pkt_param_i(n, PKT_SCATTER_INCLUDE_SELF);
  int rank = x->rank ? x->rank : 1;
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (reduce < 0 || reduce >= PKT_SCATTER_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown reduction %lld", (long long)reduce);
  if (self != 0 && self != 1) return pkt_fail(err, PKT_BAD_PARAMS, "include_self must be 0 or 1, got %lld", (long long)self);
  if (reduce != PKT_SCATTER_NONE && x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot reduce %s", pkt_dtype_name(x->dtype));
  if (reduce == PKT_SCATTER_MEAN && x->dtype != PKT_F32) return pkt_fail(err, PKT_BAD_OPERANDS, "mean needs float32");
  if (idx->rank != x->rank || src->rank != x->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "x, indices and src ranks differ");
  for (int d = 0; d < x->rank; d++)
    if (idx->dims[d] > src->dims[d] || (d != axis && idx->dims[d] > x->dims[d]))
      return pkt_fail(err, PKT_BAD_OPERANDS, "indices dim %d (%lld) exceeds src's or x's", d, (long long)idx->dims[d]);
  *scratch = reduce == PKT_SCATTER_NONE ? 0 : (size_t)y->numel * sizeof(int32_t);
  return PKT_OK;
}

/* Reduce the value at val into dst (count = values already reduced into it; 0: dst is replaced).
 * ADD/MUL are the dtype's arithmetic: integers wrap as torch's do instead of overflowing (UB). */
#define SCATTER_REDUCE(T, ADD, MUL, IS_NAN)                                                   \
  do {                                                                                        \
    T* d_ = (T*)dst;                                                                          \
    T v_ = *(const T*)val;                                                                    \
    if (!count) { *d_ = v_; break; }                                                          \
    switch (reduce) {                                                                         \
      case PKT_SCATTER_SUM: case PKT_SCATTER_MEAN: *d_ = ADD(T, *d_, v_); break;              \
      case PKT_SCATTER_PROD: *d_ = MUL(T, *d_, v_); break;                                    \
      case PKT_SCATTER_AMAX: if (IS_NAN(v_) || v_ > *d_) *d_ = v_; break;                     \
      default: if (IS_NAN(v_) || v_ < *d_) *d_ = v_; break;                                   \
    }                                                                                         \
  } while (0)
#define SCATTER_FADD(T, a, b) ((a) + (b))
#define SCATTER_FMUL(T, a, b) ((a) * (b))
#define SCATTER_IADD(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
#define SCATTER_IMUL(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
#define SCATTER_ISNAN(v) isnan(v)
#define SCATTER_NEVER_NAN(v) 0

pkt_status pkt_kernel_scatter_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *src = n->inputs[2], *y = n->outputs[0];
  int axis = (int)pkt_param_i(n, PKT_SCATTER_AXIS), reduce = (int)pkt_param_i(n, PKT_SCATTER_REDUCE);
  int self = (int)pkt_param_i(n, PKT_SCATTER_INCLUDE_SELF);
  int64_t dim = x->rank ? x->dims[axis] : 1;
  for (int64_t k = 0; k < idx->numel; k++) {
    int64_t v = pkt_index_at(idx, k);
    if (v < 0 || v >= dim) return PKT_INDEX_OUT_OF_RANGE;
  }
  if (y->data != x->data) memmove(y->data, x->data, x->nbytes);
  if (idx->numel == 0) return PKT_OK;
  int32_t* counts = reduce == PKT_SCATTER_NONE ? NULL : n->scratch;
  if (counts)
    for (int64_t e = 0; e < y->numel; e++) counts[e] = self;
  int r = x->rank ? x->rank : 1;
  int64_t one = 1;
  const int64_t* idims = x->rank ? idx->dims : &one;
  int64_t ystr[PKT_MAX_RANK], sstr[PKT_MAX_RANK], pos[PKT_MAX_RANK] = {0};
  ystr[r - 1] = sstr[r - 1] = 1;
  for (int d = r - 2; d >= 0; d--) {
    ystr[d] = ystr[d + 1] * x->dims[d + 1];
    sstr[d] = sstr[d + 1] * src->dims[d + 1];
  }
  size_t es = pkt_dtype_size(x->dtype);
  int64_t ybase = 0, sbase = 0; /* offsets of pos with pos[axis] left out of ybase */
  for (int64_t e = 0; e < idx->numel; e++) {
    int64_t at = ybase + pkt_index_at(idx, e) * ystr[axis];
    unsigned char* dst = (unsigned char*)y->data + (size_t)at * es;
    const unsigned char* val = (const unsigned char*)src->data + (size_t)sbase * es;
    if (!counts) {
      memcpy(dst, val, es);
    } else {
      int32_t count = counts[at];
      switch (x->dtype) {
        case PKT_F32: SCATTER_REDUCE(float, SCATTER_FADD, SCATTER_FMUL, SCATTER_ISNAN); break;
        case PKT_I64: SCATTER_REDUCE(int64_t, SCATTER_IADD, SCATTER_IMUL, SCATTER_NEVER_NAN); break;
        default: SCATTER_REDUCE(int32_t, SCATTER_IADD, SCATTER_IMUL, SCATTER_NEVER_NAN); break;
      }
      counts[at] = count + 1;
    }
    for (int d = r - 1; d >= 0; d--) {
      if (d != axis) ybase += ystr[d];
      sbase += sstr[d];
      if (++pos[d] < idims[d]) break;
      if (d != axis) ybase -= idims[d] * ystr[d];
      sbase -= idims[d] * sstr[d];
      pos[d] = 0;
    }
  }
  if (reduce == PKT_SCATTER_MEAN) {
    float* out = y->data;
    for (int64_t e = 0; e < y->numel; e++)
      if (counts[e] > 1) out[e] /= (float)counts[e];
  }
  return PKT_OK;
}
