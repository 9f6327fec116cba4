/* arange: out[i] = start + i * step, computed in double as torch's CPU kernel does and converted to the output's
 * dtype (float32, int64, int32, uint8, int8) as the cast kernel converts; the length is the output's only dim,
 * so a dynamic one (a sequence's positions) follows the call's shape. */
#include <math.h>

#include "kernels/elementwise_util.h"

pkt_status pkt_kernel_arange_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_ARANGE_MIN_INPUTS, PKT_ARANGE_MAX_INPUTS, 1, PKT_ARANGE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor* y = n->outputs[0];
  if (!pkt_ew_plain_dtype(y->dtype) || y->dtype == PKT_BOOL)
    return pkt_fail(err, PKT_BAD_OPERANDS, "does not support dtype %s", pkt_dtype_name(y->dtype));
  if (y->rank != 1) return pkt_fail(err, PKT_BAD_OPERANDS, "output has rank %d, expected 1", y->rank);
  const double start = pkt_param_f(n, PKT_ARANGE_START), step = pkt_param_f(n, PKT_ARANGE_STEP);
  if (!isfinite(start) || !isfinite(step) || step == 0.0)
    return pkt_fail(err, PKT_BAD_PARAMS, "start %g and step %g must be finite and the step non-zero", start, step);
  *scratch = 0;
  return PKT_OK;
}

#define PKT_ARANGE(T, CONVERT)                                            \
  do {                                                                    \
    T* o_ = y->data;                                                      \
    for (int64_t i = 0; i < y->numel; i++) o_[i] = CONVERT(start + step * (double)i); \
  } while (0)

#define PKT_AS_F32(v) ((float)(v))
#define PKT_AS_U8(v) ((uint8_t)(uint32_t)pkt_ew_to_i32(v))
#define PKT_AS_I8(v) ((int8_t)pkt_ew_to_i32(v))

pkt_status pkt_kernel_arange_run(const pkt_node* n) {
  const pkt_tensor* y = n->outputs[0];
  const double start = pkt_param_f(n, PKT_ARANGE_START), step = pkt_param_f(n, PKT_ARANGE_STEP);
  switch (y->dtype) {
    case PKT_F32: PKT_ARANGE(float, PKT_AS_F32); break;
    case PKT_I64: PKT_ARANGE(int64_t, pkt_ew_to_i64); break;
    case PKT_I32: PKT_ARANGE(int32_t, pkt_ew_to_i32); break;
    case PKT_U8: PKT_ARANGE(uint8_t, PKT_AS_U8); break;
    default: PKT_ARANGE(int8_t, PKT_AS_I8); break; /* prepare() admits no other dtype */
  }
  return PKT_OK;
}
