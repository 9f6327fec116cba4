/* take (numpy.take): out = x.shape[:axis] + idx.shape + x.shape[axis+1:],
 *   out[o, j, i] = x[o, idx[j], i]  (o over the dims before axis, i over the dims after it).
 * Indices are int64 or int32; with wrap = 1 a negative index counts from the end (aten.index), with
 * wrap = 0 it is out of range (embedding, index_select). Any index outside the dim makes run() return
 * PKT_INDEX_OUT_OF_RANGE before anything is written. x may be any dtype. */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_take_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_TAKE_MIN_INPUTS, PKT_TAKE_MAX_INPUTS, 1, PKT_TAKE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  if (idx->dtype != PKT_I64 && idx->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "indices are %s, expected int64 or int32", pkt_dtype_name(idx->dtype));
  int64_t axis = pkt_param_i(n, PKT_TAKE_AXIS), wrap = pkt_param_i(n, PKT_TAKE_WRAP);
  if (axis < 0 || axis >= x->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  if (wrap != 0 && wrap != 1) return pkt_fail(err, PKT_BAD_PARAMS, "wrap must be 0 or 1, got %lld", (long long)wrap);
  if (y->rank != x->rank - 1 + idx->rank)
    return pkt_fail(err, PKT_BAD_OPERANDS, "output rank %d, expected %d (input %d - 1 + indices %d)", y->rank,
                    x->rank - 1 + idx->rank, x->rank, idx->rank);
  int a = (int)axis;
  for (int d = 0; d < y->rank; d++) {
    int64_t want = d < a ? x->dims[d] : d < a + idx->rank ? idx->dims[d - a] : x->dims[d - idx->rank + 1];
    if (y->dims[d] != want)
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, expected %lld", d, (long long)y->dims[d], (long long)want);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct take_job {
  const pkt_tensor *x, *idx;
  unsigned char* y;
  int64_t n_idx, dim, row_bytes;
} take_job;

/* Work item i = (outer index, index position) = (i / n_idx, i % n_idx); indices already checked. */
static void take_rows(void* ctx, int64_t begin, int64_t end) {
  const take_job* j = ctx;
  const unsigned char* x = j->x->data;
  for (int64_t it = begin; it < end; it++) {
    int64_t o = it / j->n_idx, v = pkt_index_at(j->idx, it % j->n_idx);
    if (v < 0) v += j->dim;
    memcpy(j->y + it * j->row_bytes, x + (o * j->dim + v) * j->row_bytes, (size_t)j->row_bytes);
  }
}

pkt_status pkt_kernel_take_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_TAKE_AXIS);
  int wrap = (int)pkt_param_i(n, PKT_TAKE_WRAP);
  int64_t dim = x->dims[axis];
  for (int64_t k = 0; k < idx->numel; k++) {
    int64_t v = pkt_index_at(idx, k);
    if (wrap && v < 0) v += dim;
    if (v < 0 || v >= dim) return PKT_INDEX_OUT_OF_RANGE;
  }
  /* y is non-empty and every index is inside a non-empty dim, so x is non-empty: no product overflows */
  int64_t outer = 1, row = (int64_t)pkt_dtype_size(x->dtype);
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) row *= x->dims[d];
  take_job j = {x, idx, y->data, idx->numel, dim, row};
  int64_t items = outer * idx->numel;
  if ((int64_t)y->nbytes >= PKT_STRIDED_PARALLEL_BYTES && items > 1)
    pkt_parallel_for(n, items, take_rows, &j);
  else
    take_rows(&j, 0, items);
  return PKT_OK;
}
