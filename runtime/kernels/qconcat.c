/* qconcat: int8 concat along one axis. The qparams param holds per input (scale as the bits of a double, zero
 * point); an input quantized like the output is copied, any other is dequantized and quantized again, as the
 * reference does (compute/qelem's rows). */
#include "compute/qelem/qelem.h"
#include "core/kernel.h"
#include "kernels/quant_util.h"

static double qc_scale(const pkt_node* n, int i) { return pkt_param_f(n, PKT_QCONCAT_QPARAMS + 2 * i); }
static int32_t qc_zp(const pkt_node* n, int i) { return (int32_t)pkt_param_i(n, PKT_QCONCAT_QPARAMS + 2 * i + 1); }

pkt_status pkt_kernel_qconcat_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_QCONCAT_MIN_INPUTS, PKT_QCONCAT_MAX_INPUTS, 1, PKT_QCONCAT_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor* y = n->outputs[0];
  if ((st = pkt_check_dtype(y, PKT_I8, "output", err)) || (st = pkt_q_check_qparams(n, PKT_QCONCAT_OUT_SCALE, "output", err)))
    return st;
  if (n->n_params != PKT_QCONCAT_QPARAMS + 2 * n->n_inputs)
    return pkt_fail(err, PKT_BAD_PARAMS, "%d params for %d inputs; expected %d", n->n_params, n->n_inputs,
                    PKT_QCONCAT_QPARAMS + 2 * n->n_inputs);
  int64_t axis = pkt_param_i(n, PKT_QCONCAT_AXIS);
  if (axis < 0 || axis >= y->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, y->rank);
  int64_t total = 0;
  for (int i = 0; i < n->n_inputs; i++) {
    const pkt_tensor* x = n->inputs[i];
    if ((st = pkt_check_dtype(x, PKT_I8, "input", err)) || (st = pkt_q_check_scale(qc_scale(n, i), "input", err)) ||
        (st = pkt_q_check_zp(pkt_param_i(n, PKT_QCONCAT_QPARAMS + 2 * i + 1), "input", err)))
      return st;
    if (x->rank != y->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "input %d has rank %d, output %d", i, x->rank, y->rank);
    for (int d = 0; d < y->rank; d++)
      if (d != axis && x->dims[d] != y->dims[d])
        return pkt_fail(err, PKT_BAD_OPERANDS, "input %d dim %d is %lld, output has %lld", i, d, (long long)x->dims[d],
                        (long long)y->dims[d]);
    total += x->dims[axis];
  }
  if (total != y->dims[axis]) return pkt_fail(err, PKT_BAD_OPERANDS, "inputs do not add up to the output along the axis");
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_qconcat_run(const pkt_node* n) {
  const pkt_tensor* y = n->outputs[0];
  const int64_t axis = pkt_param_i(n, PKT_QCONCAT_AXIS);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= y->dims[d];
  for (int d = (int)axis + 1; d < y->rank; d++) inner *= y->dims[d];
  const double out_scale = pkt_param_f(n, PKT_QCONCAT_OUT_SCALE);
  const int32_t oz = (int32_t)pkt_param_i(n, PKT_QCONCAT_OUT_ZP);
  const pkt_qelem_out q = {pkt_q_inv(out_scale), oz, -128, 127};
  int8_t* out = y->data;
  for (int64_t o = 0; o < outer; o++)
    for (int i = 0; i < n->n_inputs; i++) {
      const pkt_tensor* x = n->inputs[i];
      const int64_t len = x->dims[axis] * inner;
      const int8_t* src = (const int8_t*)x->data + o * len;
      const int32_t iz = qc_zp(n, i);
      if (qc_scale(n, i) == out_scale && iz == oz) {
        if (len) memcpy(out, src, (size_t)len);
      } else {
        pkt_qelem_requantize(n->cfg, src, iz, (float)qc_scale(n, i), out, len, &q);
      }
      out += len;
    }
  return PKT_OK;
}
