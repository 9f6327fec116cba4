/* Helpers shared by kernels: error formatting, operand checks, broadcasting and batch strides. */
#include <math.h>

#include "core/program.h"

pkt_status pkt_fail(pkt_err* err, pkt_status status, const char* fmt, ...) {
  if (err && err->buf && err->size) {
    va_list ap;
    va_start(ap, fmt);
    pkt_platform_vformat(err->buf, err->size, fmt, ap);
    va_end(ap);
  }
  return status;
}

const char* pkt_dtype_name(int dtype) {
  switch (dtype) {
    case PKT_F32: return "float32";
    case PKT_I64: return "int64";
    case PKT_I32: return "int32";
    case PKT_BOOL: return "bool";
    case PKT_U8: return "uint8";
    case PKT_I8: return "int8";
    case PKT_F16: return "float16";
    default: return "unknown";
  }
}

pkt_status pkt_check_operands(const pkt_node* n, int min_in, int max_in, int n_out, int n_params_min, pkt_err* err) {
  if (n->n_inputs < min_in || n->n_inputs > max_in)
    return pkt_fail(err, PKT_BAD_OPERANDS, "has %d inputs, expected %d to %d", n->n_inputs, min_in, max_in);
  if (n->n_outputs != n_out) return pkt_fail(err, PKT_BAD_OPERANDS, "has %d outputs, expected %d", n->n_outputs, n_out);
  if (n->n_params < n_params_min)
    return pkt_fail(err, PKT_BAD_PARAMS, "has %d parameters, expected at least %d", n->n_params, n_params_min);
  return PKT_OK;
}

pkt_status pkt_check_dtype(const pkt_tensor* t, int dtype, const char* what, pkt_err* err) {
  if (t->dtype != dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "%s is %s, expected %s", what, pkt_dtype_name(t->dtype), pkt_dtype_name(dtype));
  return PKT_OK;
}

int pkt_same_shape(const pkt_tensor* a, const pkt_tensor* b) {
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

pkt_status pkt_check_act(const pkt_node* n, int act_index, pkt_err* err) {
  int64_t act = pkt_param_i(n, act_index);
  if (act < 0 || act >= PKT_ACT_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown fused activation %lld", (long long)act);
  if (act == PKT_ACT_CLAMP) {
    double lo = pkt_param_f(n, act_index + 1), hi = pkt_param_f(n, act_index + 2);
    if (isnan(lo) || isnan(hi) || lo > hi) return pkt_fail(err, PKT_BAD_PARAMS, "clamp bounds [%g, %g] are invalid", lo, hi);
  }
  return PKT_OK;
}

int pkt_all_finite(const float* x, int64_t n) {
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    const int64_t i1 = n - i0 < 4096 ? n : i0 + 4096;
    uint32_t bad = 0; /* exponent all ones: inf or NaN; an integer OR, so the loop vectorizes */
    for (int64_t i = i0; i < i1; i++) {
      uint32_t b;
      memcpy(&b, x + i, sizeof b);
      bad |= (b & 0x7F800000u) == 0x7F800000u;
    }
    if (bad) return 0;
  }
  return 1;
}

int pkt_broadcast_strides(const pkt_tensor* in, const pkt_tensor* out, int64_t strides[PKT_MAX_RANK]) {
  if (in->rank > out->rank) return 0;
  int64_t stride = 1;
  for (int d = out->rank - 1; d >= 0; d--) {
    int id = d - (out->rank - in->rank);
    if (id < 0) {
      strides[d] = 0;
      continue;
    }
    int64_t dim = in->dims[id];
    if (dim == out->dims[d]) {
      strides[d] = dim == 1 ? 0 : stride;
    } else if (dim == 1) {
      strides[d] = 0;
    } else {
      return 0;
    }
    stride *= dim;
  }
  return 1;
}

void pkt_batch_strides(const pkt_tensor* t, const pkt_tensor* y, int64_t* str) {
  int64_t s = t->dims[t->rank - 1] * t->dims[t->rank - 2];
  for (int d = y->rank - 3; d >= 0; d--) {
    int dt = d - (y->rank - t->rank);
    int64_t e = dt >= 0 ? t->dims[dt] : 1;
    str[d] = e == 1 ? 0 : s;
    s *= e;
  }
}
