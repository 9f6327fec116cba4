/* Shared by advanced_index and index_put: k index tensors (int64/int32) broadcast together to a shape B
 * and indexing dims axis..axis+k-1 of x. The indexed view is R = x.shape[:axis] + B + x.shape[axis+k:];
 * element (o, b, i) of R is x at flat offset (o * x_span + sum_j idx_j[b] * x_stride[axis + j]) * inner + i.
 * Index values are data: pkt_index_check() proves every one is inside its dim (negative ones wrap, as in
 * torch) before a kernel reads or writes anything. */
#ifndef PKT_INDEX_H
#define PKT_INDEX_H

#include "core/kernel.h"

typedef struct pkt_index_view {
  int k;                                  /* index tensors */
  int b_rank;                             /* rank of B */
  int64_t b_dims[PKT_MAX_RANK];
  int64_t b_numel;
  const pkt_tensor* idx[PKT_MAX_RANK];
  int64_t idx_strides[PKT_MAX_RANK][PKT_MAX_RANK]; /* idx_j's element strides against B (0 on broadcast dims) */
  int64_t dim[PKT_MAX_RANK];              /* x.dims[axis + j] */
  int64_t step[PKT_MAX_RANK];             /* elements of x between consecutive values of dim axis + j, in rows */
  int64_t outer, span, inner;             /* prod x[:axis], prod x[axis:axis+k], prod x[axis+k:] */
} pkt_index_view;

/* Lay out the view for x and the index tensors idx[0..k); fails when they do not fit. */
static inline pkt_status pkt_index_view_init(pkt_index_view* v, const pkt_tensor* x, pkt_tensor* const* idx,
                                             int k, int64_t axis, pkt_err* err) {
  if (k < 1 || k > PKT_MAX_RANK) return pkt_fail(err, PKT_BAD_OPERANDS, "%d index tensors", k);
  if (axis < 0 || axis > x->rank - k) /* not axis + k: a hostile axis would overflow */
    return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld with %d index tensors does not fit rank %d", (long long)axis, k, x->rank);
  v->k = k;
  v->b_rank = 0;
  for (int j = 0; j < k; j++) {
    if (idx[j]->dtype != PKT_I64 && idx[j]->dtype != PKT_I32)
      return pkt_fail(err, PKT_BAD_OPERANDS, "index %d is %s, expected int64 or int32", j, pkt_dtype_name(idx[j]->dtype));
    if (idx[j]->rank > v->b_rank) v->b_rank = idx[j]->rank;
    v->idx[j] = idx[j];
  }
  pkt_tensor b = {0};
  b.rank = v->b_rank;
  for (int d = 0; d < v->b_rank; d++) {
    int64_t dim = 1;
    for (int j = 0; j < k; j++) {
      int id = d - (v->b_rank - idx[j]->rank);
      if (id < 0 || idx[j]->dims[id] == 1) continue;
      if (dim != 1 && idx[j]->dims[id] != dim) return pkt_fail(err, PKT_BAD_OPERANDS, "index tensors do not broadcast");
      dim = idx[j]->dims[id];
    }
    b.dims[d] = dim;
  }
  v->b_numel = 1;
  for (int d = 0; d < v->b_rank; d++) v->b_numel *= b.dims[d]; /* each dim is some index tensor's: no overflow */
  memcpy(v->b_dims, b.dims, sizeof v->b_dims);
  for (int j = 0; j < k; j++)
    if (!pkt_broadcast_strides(idx[j], &b, v->idx_strides[j]))
      return pkt_fail(err, PKT_BAD_OPERANDS, "index %d does not broadcast", j);
  int a = (int)axis;
  v->outer = v->span = v->inner = 1;
  for (int d = 0; d < a; d++) v->outer *= x->dims[d];
  for (int d = a + k; d < x->rank; d++) v->inner *= x->dims[d];
  for (int j = k - 1; j >= 0; j--) {
    v->dim[j] = x->dims[a + j];
    v->step[j] = v->span;
    v->span *= x->dims[a + j];
  }
  return PKT_OK;
}

/* The rank and dims of the indexed view R; 0 when R has more than PKT_MAX_RANK dims. */
static inline int pkt_index_view_shape(const pkt_index_view* v, const pkt_tensor* x, int64_t axis, int64_t* dims) {
  int r = x->rank - v->k + v->b_rank;
  if (r > PKT_MAX_RANK) return 0;
  int n = 0;
  for (int d = 0; d < axis; d++) dims[n++] = x->dims[d];
  for (int d = 0; d < v->b_rank; d++) dims[n++] = v->b_dims[d];
  for (int d = (int)axis + v->k; d < x->rank; d++) dims[n++] = x->dims[d];
  return r;
}

/* Row offset (in units of `inner` elements, within one outer block) of B position b; indices checked. */
static inline int64_t pkt_index_row(const pkt_index_view* v, int64_t b) {
  int64_t coord[PKT_MAX_RANK], rem = b, row = 0;
  for (int d = v->b_rank - 1; d >= 0; d--) {
    coord[d] = rem % v->b_dims[d];
    rem /= v->b_dims[d];
  }
  for (int j = 0; j < v->k; j++) {
    int64_t off = 0;
    for (int d = 0; d < v->b_rank; d++) off += coord[d] * v->idx_strides[j][d];
    int64_t i = pkt_index_at(v->idx[j], off);
    if (i < 0) i += v->dim[j];
    row += i * v->step[j];
  }
  return row;
}

/* PKT_OK when every index is inside its dim (negative ones counting from the end). */
static inline pkt_status pkt_index_check(const pkt_index_view* v) {
  for (int j = 0; j < v->k; j++)
    for (int64_t e = 0; e < v->idx[j]->numel; e++) {
      int64_t i = pkt_index_at(v->idx[j], e);
      if (i < -v->dim[j] || i >= v->dim[j]) return PKT_INDEX_OUT_OF_RANGE;
    }
  return PKT_OK;
}

#endif
