/* fill: write `value` into every element of the output (float32, int64, int32, bool, uint8 or int8),
 * converted as the cast kernel converts a float (a double here, so integers up to 2^53 are exact). */
#include "kernels/elementwise_util.h"

pkt_status pkt_kernel_fill_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_FILL_MIN_INPUTS, PKT_FILL_MAX_INPUTS, 1, PKT_FILL_NUM_PARAMS, err);
  if (st) return st;
  if (!pkt_ew_plain_dtype(n->outputs[0]->dtype))
    return pkt_fail(err, PKT_BAD_OPERANDS, "does not support dtype %s", pkt_dtype_name(n->outputs[0]->dtype));
  *scratch = 0;
  return PKT_OK;
}

#define PKT_FILL(T, V)                                          \
  do {                                                          \
    T* o_ = y->data;                                            \
    const T v_ = (V);                                           \
    for (int64_t i = 0; i < y->numel; i++) o_[i] = v_;          \
  } while (0)

pkt_status pkt_kernel_fill_run(const pkt_node* n) {
  const pkt_tensor* y = n->outputs[0];
  double v = pkt_param_f(n, PKT_FILL_VALUE);
  int32_t i32 = pkt_ew_to_i32(v);
  switch (y->dtype) {
    case PKT_F32: PKT_FILL(float, (float)v); break;
    case PKT_I64: PKT_FILL(int64_t, pkt_ew_to_i64(v)); break;
    case PKT_I32: PKT_FILL(int32_t, i32); break;
    case PKT_BOOL: memset(y->data, v != 0.0, y->nbytes); break;
    default: memset(y->data, (uint8_t)(uint32_t)i32, y->nbytes); break; /* uint8, int8 */
  }
  return PKT_OK;
}
