/* Helpers shared by kernels: error formatting, operand checks, fused activations, broadcasting. */
#include <math.h>
#include <stdio.h>

#include "kernel.h"

pkt_status pkt_fail(pkt_err* err, pkt_status status, const char* fmt, ...) {
  if (err && err->buf && err->size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->buf, err->size, fmt, ap);
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

void pkt_apply_act(float* x, int64_t n, int act, float lo, float hi) {
  switch (act) {
    case PKT_ACT_RELU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.f ? x[i] : 0.f;
      break;
    case PKT_ACT_RELU6:
      for (int64_t i = 0; i < n; i++) x[i] = fminf(fmaxf(x[i], 0.f), 6.f);
      break;
    case PKT_ACT_CLAMP:
      for (int64_t i = 0; i < n; i++) x[i] = fminf(fmaxf(x[i], lo), hi);
      break;
    case PKT_ACT_SILU:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.f + expf(-x[i]));
      break;
    case PKT_ACT_SIGMOID:
      for (int64_t i = 0; i < n; i++) x[i] = 1.f / (1.f + expf(-x[i]));
      break;
    case PKT_ACT_TANH:
      for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
      break;
    case PKT_ACT_GELU:
      for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.f + erff(x[i] * 0.70710678118654752f));
      break;
    case PKT_ACT_GELU_TANH:
      for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      }
      break;
    case PKT_ACT_HARDSWISH:
      for (int64_t i = 0; i < n; i++) x[i] = x[i] * fminf(fmaxf(x[i] + 3.f, 0.f), 6.f) / 6.f;
      break;
    default:
      break;
  }
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
