/* cast: copy x into out (same shape) converting between float32, int64, int32, bool, uint8 and int8, and
 * between float32 and float16 (the exporter goes through float32 for float16 to and from anything else).
 *
 * Conversions follow torch on x86: float to integer truncates toward zero, and a NaN or out-of-range
 * float gives the type's minimum (float to uint8/int8 goes through int32 and keeps the low byte);
 * integer to narrower integer wraps; anything to bool is `!= 0` (NaN is true); bool is 0 or 1.
 * A cast to the same dtype is a copy (aten.clone, alias and friends lower to it). */
#include "kernels/elementwise_util.h"
#include "kernels/pkt_half.h"

/* float16 <-> float32, or a float16 copy. */
static int cast_half_pair(int from, int to) {
  return (from == PKT_F16 && (to == PKT_F32 || to == PKT_F16)) || (from == PKT_F32 && to == PKT_F16);
}

pkt_status pkt_kernel_cast_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CAST_MIN_INPUTS, PKT_CAST_MAX_INPUTS, 1, PKT_CAST_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!cast_half_pair(x->dtype, y->dtype) && (!pkt_ew_plain_dtype(x->dtype) || !pkt_ew_plain_dtype(y->dtype)))
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot cast %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  *scratch = 0;
  return PKT_OK;
}

#define PKT_CAST_FROM_INT(TS)                                                                      \
  switch (ew->dtype) {                                                                             \
    case PKT_F32: PKT_EW_LOOP1(TS, float, out, in[0], s[0], n, (float)x); break;                   \
    case PKT_I64: PKT_EW_LOOP1(TS, int64_t, out, in[0], s[0], n, (int64_t)x); break;               \
    case PKT_I32: PKT_EW_LOOP1(TS, int32_t, out, in[0], s[0], n, (int32_t)(uint32_t)x); break;     \
    case PKT_BOOL: PKT_EW_LOOP1(TS, uint8_t, out, in[0], s[0], n, x != 0); break;                  \
    case PKT_U8: PKT_EW_LOOP1(TS, uint8_t, out, in[0], s[0], n, (uint8_t)x); break;                \
    case PKT_I8: PKT_EW_LOOP1(TS, int8_t, out, in[0], s[0], n, (int8_t)(uint8_t)x); break;         \
    default: break;                                                                                \
  }

static void cast_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->kind) { /* the source dtype; ew->dtype is the destination's */
    case PKT_F32:
      switch (ew->dtype) {
        case PKT_I64: PKT_EW_LOOP1(float, int64_t, out, in[0], s[0], n, pkt_ew_to_i64(x)); break;
        case PKT_I32: PKT_EW_LOOP1(float, int32_t, out, in[0], s[0], n, pkt_ew_to_i32(x)); break;
        case PKT_BOOL: PKT_EW_LOOP1(float, uint8_t, out, in[0], s[0], n, x != 0.f); break;
        case PKT_U8: PKT_EW_LOOP1(float, uint8_t, out, in[0], s[0], n, (uint8_t)(uint32_t)pkt_ew_to_i32(x)); break;
        case PKT_I8: PKT_EW_LOOP1(float, int8_t, out, in[0], s[0], n, (int8_t)(uint8_t)(uint32_t)pkt_ew_to_i32(x)); break;
        default: break;
      }
      break;
    case PKT_I64: PKT_CAST_FROM_INT(int64_t) break;
    case PKT_I32: PKT_CAST_FROM_INT(int32_t) break;
    case PKT_I8: PKT_CAST_FROM_INT(int8_t) break;
    default: PKT_CAST_FROM_INT(uint8_t) break; /* bool, uint8 */
  }
}

pkt_status pkt_kernel_cast_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype == y->dtype) {
    if (x->data != y->data) memmove(y->data, x->data, x->nbytes);
    return PKT_OK;
  }
  if (x->dtype == PKT_F16) {
    const uint16_t* in = x->data;
    float* out = y->data;
    for (int64_t i = 0; i < x->numel; i++) out[i] = pkt_f16_to_f32(in[i]);
    return PKT_OK;
  }
  if (y->dtype == PKT_F16) {
    const float* in = x->data;
    uint16_t* out = y->data;
    for (int64_t i = 0; i < x->numel; i++) out[i] = pkt_f32_to_f16(in[i]);
    return PKT_OK;
  }
  pkt_ew ew;
  pkt_ew_init(&ew, n, cast_row);
  ew.kind = x->dtype;
  ew.dtype = y->dtype;
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
