/* gather (torch.gather): out has idx's shape, out[i] = x[i with i[axis] replaced by idx[i]].
 * x, idx and out have the same rank; idx.dims[d] <= x.dims[d] for d != axis. Indices are int64 or
 * int32 in [0, x.dims[axis]); any other makes run() return PKT_INDEX_OUT_OF_RANGE before writing.
 * Rank 0 is treated as rank 1 of size 1. x may be any dtype. */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_gather_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_GATHER_MIN_INPUTS, PKT_GATHER_MAX_INPUTS, 1, PKT_GATHER_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  if (idx->dtype != PKT_I64 && idx->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "indices are %s, expected int64 or int32", pkt_dtype_name(idx->dtype));
  if (idx->rank != x->rank || !pkt_same_shape(idx, y))
    return pkt_fail(err, PKT_BAD_OPERANDS, "input rank %d, indices rank %d and output must agree, output shaped like indices",
                    x->rank, idx->rank);
  int64_t axis = pkt_param_i(n, PKT_GATHER_AXIS);
  int r = x->rank ? x->rank : 1;
  if (axis < 0 || axis >= r) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  for (int d = 0; d < x->rank; d++)
    if (d != axis && idx->dims[d] > x->dims[d])
      return pkt_fail(err, PKT_BAD_OPERANDS, "indices dim %d (%lld) exceeds input dim %lld", d, (long long)idx->dims[d],
                      (long long)x->dims[d]);
  *scratch = 0;
  return PKT_OK;
}

typedef struct gather_job {
  const pkt_tensor *x, *idx;
  unsigned char* y;
  int rank, axis;
  int64_t dims[PKT_MAX_RANK];    /* output (= indices) dims */
  int64_t xstride[PKT_MAX_RANK]; /* x strides, 0 on axis */
  int64_t axis_stride;
  size_t es;
} gather_job;

static void gather_range(void* ctx, int64_t begin, int64_t end) {
  const gather_job* j = ctx;
  const int r = j->rank;
  const unsigned char* x = j->x->data;
  int64_t pos[PKT_MAX_RANK], rem = begin, base = 0;
  for (int d = r - 1; d >= 0; d--) {
    pos[d] = rem % j->dims[d];
    rem /= j->dims[d];
    base += pos[d] * j->xstride[d];
  }
  for (int64_t i = begin; i < end; i++) {
    int64_t off = base + pkt_index_at(j->idx, i) * j->axis_stride;
    memcpy(j->y + (size_t)i * j->es, x + (size_t)off * j->es, j->es);
    for (int d = r - 1; d >= 0; d--) {
      base += j->xstride[d];
      if (++pos[d] < j->dims[d]) break;
      base -= j->dims[d] * j->xstride[d];
      pos[d] = 0;
    }
  }
}

pkt_status pkt_kernel_gather_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  gather_job j;
  j.x = x;
  j.idx = idx;
  j.y = y->data;
  j.axis = (int)pkt_param_i(n, PKT_GATHER_AXIS);
  j.es = pkt_dtype_size(x->dtype);
  int64_t dim = x->rank ? x->dims[j.axis] : 1;
  for (int64_t k = 0; k < idx->numel; k++) {
    int64_t v = pkt_index_at(idx, k);
    if (v < 0 || v >= dim) return PKT_INDEX_OUT_OF_RANGE;
  }
  /* every index is valid, so x is non-empty and its strides do not overflow */
  if (x->rank == 0) {
    memcpy(j.y, x->data, j.es);
    return PKT_OK;
  }
  j.rank = x->rank;
  pkt_contiguous_strides(x, j.xstride);
  j.axis_stride = j.xstride[j.axis];
  j.xstride[j.axis] = 0;
  memcpy(j.dims, y->dims, sizeof j.dims);
  if ((int64_t)y->nbytes >= PKT_STRIDED_PARALLEL_BYTES)
    pkt_parallel_for(n, y->numel, gather_range, &j);
  else
    gather_range(&j, 0, y->numel);
  return PKT_OK;
}
