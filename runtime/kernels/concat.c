/* concat: out = cat(inputs, axis). Every input has the output's rank and dtype, and its dims equal
 * the output's except along axis, where they add up to the output's. Any dtype. */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_concat_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CONCAT_MIN_INPUTS, PKT_CONCAT_MAX_INPUTS, 1, PKT_CONCAT_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor* y = n->outputs[0];
  if (!pkt_dtype_size(y->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", y->dtype);
  int64_t axis = pkt_param_i(n, PKT_CONCAT_AXIS);
  if (axis < 0 || axis >= y->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, y->rank);
  int64_t total = 0;
  for (int i = 0; i < n->n_inputs; i++) {
    const pkt_tensor* x = n->inputs[i];
    if (x->dtype != y->dtype)
      return pkt_fail(err, PKT_BAD_OPERANDS, "input %d is %s, output %s", i, pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
    if (x->rank != y->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "input %d has rank %d, output %d", i, x->rank, y->rank);
    for (int d = 0; d < y->rank; d++)
      if (d != axis && x->dims[d] != y->dims[d])
        return pkt_fail(err, PKT_BAD_OPERANDS, "input %d dim %d is %lld, output has %lld", i, d, (long long)x->dims[d], (long long)y->dims[d]);
    total += x->dims[axis]; /* <= 64 dims of at most 2^31 each: no overflow */
  }
  if (total != y->dims[axis])
    return pkt_fail(err, PKT_BAD_OPERANDS, "inputs add up to %lld along axis %lld, output has %lld", (long long)total,
                    (long long)axis, (long long)y->dims[axis]);
  *scratch = 0;
  return PKT_OK;
}

typedef struct concat_job {
  const pkt_node* n;
  int64_t inner_bytes; /* bytes of one step along axis, times the dims after it */
  int64_t out_row;     /* bytes of one outer index in the output */
  unsigned char* y;
} concat_job;

/* Work item i = (outer index, input) = (i / n_inputs, i % n_inputs). */
static void concat_items(void* ctx, int64_t begin, int64_t end) {
  const concat_job* j = ctx;
  const pkt_node* n = j->n;
  int axis = (int)pkt_param_i(n, PKT_CONCAT_AXIS);
  int64_t o = begin / n->n_inputs;
  int k = (int)(begin % n->n_inputs);
  int64_t off = o * j->out_row;
  for (int kk = 0; kk < k; kk++) off += n->inputs[kk]->dims[axis] * j->inner_bytes;
  for (int64_t it = begin; it < end; it++) {
    const pkt_tensor* x = n->inputs[k];
    int64_t bytes = x->dims[axis] * j->inner_bytes;
    if (bytes) memcpy(j->y + off, (const unsigned char*)x->data + o * bytes, (size_t)bytes);
    off += bytes;
    if (++k == n->n_inputs) {
      k = 0;
      o++;
    }
  }
}

pkt_status pkt_kernel_concat_run(const pkt_node* n) {
  const pkt_tensor* y = n->outputs[0];
  if (y->numel == 0) return PKT_OK; /* otherwise every product below is <= numel */
  int axis = (int)pkt_param_i(n, PKT_CONCAT_AXIS);
  int64_t outer = 1, inner = (int64_t)pkt_dtype_size(y->dtype);
  for (int d = 0; d < axis; d++) outer *= y->dims[d];
  for (int d = axis + 1; d < y->rank; d++) inner *= y->dims[d];
  concat_job j = {n, inner, y->dims[axis] * inner, y->data};
  int64_t items = outer * n->n_inputs;
  if ((int64_t)y->nbytes >= PKT_STRIDED_PARALLEL_BYTES && items > 1)
    pkt_parallel_for(n, items, concat_items, &j);
  else
    concat_items(&j, 0, items);
  return PKT_OK;
}
