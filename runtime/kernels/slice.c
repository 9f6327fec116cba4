/* slice: out = x[..., start : start + len*step : step, ...] along `axis`; len is the output's dim.
 * Any dtype. prepare() proves the last element taken lies inside x. */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_slice_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_SLICE_MIN_INPUTS, PKT_SLICE_MAX_INPUTS, 1, PKT_SLICE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  int64_t axis = pkt_param_i(n, PKT_SLICE_AXIS), start = pkt_param_i(n, PKT_SLICE_START),
          step = pkt_param_i(n, PKT_SLICE_STEP);
  if (y->rank != x->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "output rank %d differs from input rank %d", y->rank, x->rank);
  if (axis < 0 || axis >= x->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  if (step < 1) return pkt_fail(err, PKT_BAD_PARAMS, "step %lld must be >= 1", (long long)step);
  for (int d = 0; d < x->rank; d++)
    if (d != axis && x->dims[d] != y->dims[d])
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, input has %lld", d, (long long)y->dims[d], (long long)x->dims[d]);
  int64_t in_len = x->dims[axis], len = y->dims[axis];
  if (start < 0 || start > in_len)
    return pkt_fail(err, PKT_BAD_PARAMS, "start %lld is outside [0, %lld]", (long long)start, (long long)in_len);
  /* the last index taken, start + (len - 1) * step, must be < in_len; written so nothing overflows */
  if (len > 0 && (start >= in_len || (len - 1) > (in_len - 1 - start) / step))
    return pkt_fail(err, PKT_BAD_PARAMS, "%lld elements from %lld with step %lld overrun dim %lld of size %lld",
                    (long long)len, (long long)start, (long long)step, (long long)axis, (long long)in_len);
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_slice_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_SLICE_AXIS);
  int64_t start = pkt_param_i(n, PKT_SLICE_START), step = y->dims[axis] > 1 ? pkt_param_i(n, PKT_SLICE_STEP) : 1;
  size_t es = pkt_dtype_size(x->dtype);
  int64_t strides[PKT_MAX_RANK];
  pkt_contiguous_strides(x, strides);
  const unsigned char* src = (const unsigned char*)x->data + (size_t)(start * strides[axis]) * es;
  strides[axis] *= step;
  pkt_strided s;
  pkt_strided_init(&s, y->rank, y->dims, strides, es, src, y->data);
  pkt_strided_copy(n, &s);
  return PKT_OK;
}
