/* binary: out = a <kind> b with NumPy broadcasting, then the fused activation (float32 only).
 *
 * dtypes (a, b and out alike): float32 for every kind but the bitwise ones; int64 and int32 for every
 * kind but ATAN2; bool, uint8 and int8 for BITAND/BITOR/BITXOR.
 * Semantics follow torch: MAX/MIN propagate NaN; FLOORDIV rounds the quotient down and REMAINDER takes
 * the sign of the divisor (torch.div(rounding_mode='floor'), torch.remainder), for floats and ints.
 * Integer DIV truncates toward zero (torch.div(rounding_mode='trunc')). Integer arithmetic wraps, and
 * integer division or remainder by zero gives 0 instead of trapping. Integer POW with a negative
 * exponent gives 0 unless the base is 1 or -1, as torch does.
 */
#include <math.h>

#include "kernels/elementwise_util.h"

static pkt_status check_kind_dtype(int kind, int dtype, pkt_err* err) {
  int bitwise = kind == PKT_BINARY_BITAND || kind == PKT_BINARY_BITOR || kind == PKT_BINARY_BITXOR;
  int ok;
  switch (dtype) {
    case PKT_F32: ok = !bitwise; break;
    case PKT_I64:
    case PKT_I32: ok = kind != PKT_BINARY_ATAN2; break;
    case PKT_BOOL:
    case PKT_U8:
    case PKT_I8: ok = bitwise; break;
    default: ok = 0;
  }
  if (!ok) return pkt_fail(err, PKT_BAD_OPERANDS, "kind %d does not support dtype %s", kind, pkt_dtype_name(dtype));
  return PKT_OK;
}

pkt_status pkt_kernel_binary_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_BINARY_MIN_INPUTS, PKT_BINARY_MAX_INPUTS, 1, PKT_BINARY_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  int64_t kind = pkt_param_i(n, PKT_BINARY_KIND);
  if (kind < 0 || kind >= PKT_BINARY_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown kind %lld", (long long)kind);
  if ((st = pkt_check_dtype(b, a->dtype, "input 1", err)) || (st = pkt_check_dtype(y, a->dtype, "output", err)) ||
      (st = check_kind_dtype((int)kind, a->dtype, err)) || (st = pkt_check_act(n, PKT_BINARY_ACT, err)))
    return st;
  if (pkt_param_i(n, PKT_BINARY_ACT) != PKT_ACT_NONE && a->dtype != PKT_F32)
    return pkt_fail(err, PKT_BAD_PARAMS, "a fused activation needs float32, not %s", pkt_dtype_name(a->dtype));
  *scratch = 0;
  return pkt_ew_check_shapes(n, err);
}

/* Float helpers (torch's c10 formulas). */
static inline float max_f(float x, float y) { return (x > y || x != x) ? x : y; }
static inline float min_f(float x, float y) { return (x < y || x != x) ? x : y; }

static inline float floordiv_f(float a, float b) {
  if (b == 0.f) return a / b;
  float mod = fmodf(a, b);
  float div = (a - mod) / b;
  if (mod != 0.f && (b < 0.f) != (mod < 0.f)) div -= 1.f;
  if (div == 0.f) return copysignf(0.f, a / b);
  float fl = floorf(div);
  if (div - fl > 0.5f) fl += 1.f;
  return fl;
}

static inline float remainder_f(float a, float b) {
  float mod = fmodf(a, b);
  if (mod != 0.f && (b < 0.f) != (mod < 0.f)) mod += b;
  return mod;
}

/* Integer helpers for T in {int64_t, int32_t} with unsigned twin U: wrap instead of overflowing. */
#define PKT_INT_HELPERS(T, U, SUF)                                                      \
  static inline T div_##SUF(T a, T b) {                                                 \
    if (b == 0) return 0;                                                               \
    if (b == -1) return (T)(0 - (U)a);                                                  \
    return a / b;                                                                       \
  }                                                                                     \
  static inline T floordiv_##SUF(T a, T b) {                                            \
    if (b == 0) return 0;                                                               \
    if (b == -1) return (T)(0 - (U)a);                                                  \
    T q = a / b, r = a % b;                                                             \
    return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;                                \
  }                                                                                     \
  static inline T remainder_##SUF(T a, T b) {                                           \
    if (b == 0 || b == -1) return 0;                                                    \
    T r = a % b;                                                                        \
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;                                \
  }                                                                                     \
  static inline T pow_##SUF(T base, T e) {                                              \
    if (e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;             \
    U result = 1, x = (U)base;                                                          \
    while (e) {                                                                         \
      if (e & 1) result *= x;                                                           \
      e >>= 1;                                                                          \
      if (e) x *= x;                                                                    \
    }                                                                                   \
    return (T)result;                                                                   \
  }

PKT_INT_HELPERS(int64_t, uint64_t, i64)
PKT_INT_HELPERS(int32_t, uint32_t, i32)

#define PKT_BINARY_INT_ROW(T, U, SUF)                                                           \
  switch (ew->kind) {                                                                           \
    case PKT_BINARY_ADD: PKT_EW_LOOP2(T, T, out, in, s, n, (T)((U)x + (U)y)); break;            \
    case PKT_BINARY_SUB: PKT_EW_LOOP2(T, T, out, in, s, n, (T)((U)x - (U)y)); break;            \
    case PKT_BINARY_MUL: PKT_EW_LOOP2(T, T, out, in, s, n, (T)((U)x * (U)y)); break;            \
    case PKT_BINARY_DIV: PKT_EW_LOOP2(T, T, out, in, s, n, div_##SUF(x, y)); break;             \
    case PKT_BINARY_POW: PKT_EW_LOOP2(T, T, out, in, s, n, pow_##SUF(x, y)); break;             \
    case PKT_BINARY_MAX: PKT_EW_LOOP2(T, T, out, in, s, n, x > y ? x : y); break;               \
    case PKT_BINARY_MIN: PKT_EW_LOOP2(T, T, out, in, s, n, x < y ? x : y); break;               \
    case PKT_BINARY_FLOORDIV: PKT_EW_LOOP2(T, T, out, in, s, n, floordiv_##SUF(x, y)); break;   \
    case PKT_BINARY_REMAINDER: PKT_EW_LOOP2(T, T, out, in, s, n, remainder_##SUF(x, y)); break; \
    case PKT_BINARY_BITAND: PKT_EW_LOOP2(T, T, out, in, s, n, x & y); break;                    \
    case PKT_BINARY_BITOR: PKT_EW_LOOP2(T, T, out, in, s, n, x | y); break;                     \
    case PKT_BINARY_BITXOR: PKT_EW_LOOP2(T, T, out, in, s, n, x ^ y); break;                    \
    default: break;                                                                             \
  }

/* The float kinds with a SIMD path (the config's vbinary), as its op code; -1 for none. */
static int vbin_code(int kind) {
  switch (kind) {
    case PKT_BINARY_ADD: return PKT_VBIN_ADD;
    case PKT_BINARY_SUB: return PKT_VBIN_SUB;
    case PKT_BINARY_MUL: return PKT_VBIN_MUL;
    case PKT_BINARY_DIV: return PKT_VBIN_DIV;
    default: return -1;
  }
}

/* Rows are done in blocks this long, so the fused activation reads what the op just wrote from L1. */
#define BINARY_BLOCK 2048

/* The SIMD row, block by block; 0 (nothing written) when this ISA has no SIMD path for it. */
static int binary_row_simd(const pkt_ew* ew, float* o, const float* a, const float* b, const int64_t* s, int64_t n) {
  if (!ew->cfg->vbinary || !(s[0] || s[1]) || vbin_code(ew->kind) < 0) return 0;
  for (int64_t i = 0; i < n; i += BINARY_BLOCK) {
    int64_t len = n - i < BINARY_BLOCK ? n - i : BINARY_BLOCK;
    ew->cfg->vbinary(o + i, a + i * s[0], b + i * s[1], s[0], s[1], len, vbin_code(ew->kind));
    ew->cfg->act(o + i, len, ew->act, ew->act_lo, ew->act_hi);
  }
  return 1;
}

static void binary_row(const pkt_ew* ew, void* out, const void* const* in, const int64_t* s, int64_t n) {
  switch (ew->dtype) {
    case PKT_F32:
      if (binary_row_simd(ew, out, in[0], in[1], s, n)) break;
      switch (ew->kind) {
        case PKT_BINARY_ADD: PKT_EW_LOOP2(float, float, out, in, s, n, x + y); break;
        case PKT_BINARY_SUB: PKT_EW_LOOP2(float, float, out, in, s, n, x - y); break;
        case PKT_BINARY_MUL: PKT_EW_LOOP2(float, float, out, in, s, n, x * y); break;
        case PKT_BINARY_DIV: PKT_EW_LOOP2(float, float, out, in, s, n, x / y); break;
        case PKT_BINARY_POW: PKT_EW_LOOP2(float, float, out, in, s, n, powf(x, y)); break;
        case PKT_BINARY_MAX: PKT_EW_LOOP2(float, float, out, in, s, n, max_f(x, y)); break;
        case PKT_BINARY_MIN: PKT_EW_LOOP2(float, float, out, in, s, n, min_f(x, y)); break;
        case PKT_BINARY_FLOORDIV: PKT_EW_LOOP2(float, float, out, in, s, n, floordiv_f(x, y)); break;
        case PKT_BINARY_REMAINDER: PKT_EW_LOOP2(float, float, out, in, s, n, remainder_f(x, y)); break;
        case PKT_BINARY_ATAN2: PKT_EW_LOOP2(float, float, out, in, s, n, atan2f(x, y)); break;
        default: break;
      }
      if (ew->act != PKT_ACT_NONE) ew->cfg->act((float*)out, n, ew->act, ew->act_lo, ew->act_hi);
      break;
    case PKT_I64: PKT_BINARY_INT_ROW(int64_t, uint64_t, i64) break;
    case PKT_I32: PKT_BINARY_INT_ROW(int32_t, uint32_t, i32) break;
    default: /* bool, uint8, int8: bitwise kinds only */
      switch (ew->kind) {
        case PKT_BINARY_BITAND: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, x & y); break;
        case PKT_BINARY_BITOR: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, x | y); break;
        case PKT_BINARY_BITXOR: PKT_EW_LOOP2(uint8_t, uint8_t, out, in, s, n, x ^ y); break;
        default: break;
      }
  }
}

pkt_status pkt_kernel_binary_run(const pkt_node* n) {
  pkt_ew ew;
  pkt_ew_init(&ew, n, binary_row);
  ew.dtype = n->outputs[0]->dtype;
  ew.kind = (int)pkt_param_i(n, PKT_BINARY_KIND);
  ew.act = (int)pkt_param_i(n, PKT_BINARY_ACT);
  ew.act_lo = (float)pkt_param_f(n, PKT_BINARY_ACT_MIN);
  ew.act_hi = (float)pkt_param_f(n, PKT_BINARY_ACT_MAX);
  pkt_ew_run(n, &ew);
  return PKT_OK;
}
