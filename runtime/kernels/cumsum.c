/* cumsum along one axis for float32, int64 and int32 (output dtype = input dtype; the exporter casts
 * first when torch promotes). Integer sums wrap around like torch's instead of overflowing (UB). */
#include "core/kernel.h"

pkt_status pkt_kernel_cumsum_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_CUMSUM_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s, expected float32, int64 or int32", pkt_dtype_name(x->dtype));
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axis = pkt_param_i(n, PKT_CUMSUM_AXIS);
  int rank = x->rank < 1 ? 1 : x->rank;
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  *scratch = 0;
  return PKT_OK;
}

typedef struct cumsum_job {
  const void* x;
  void* y;
  int64_t len, inner;
  int dtype;
} cumsum_job;

static void cumsum_outer(void* ctx, int64_t begin, int64_t end) {
  const cumsum_job* j = ctx;
  const int64_t L = j->len, inner = j->inner, span = L * inner;
  for (int64_t o = begin; o < end; o++) {
    if (j->dtype == PKT_F32) {
      const float* x = (const float*)j->x + o * span;
      float* y = (float*)j->y + o * span;
      if (inner == 1) {
        double acc = 0.0; /* torch accumulates float sums in double on CPU */
        for (int64_t a = 0; a < L; a++) {
          acc += x[a];
          y[a] = (float)acc;
        }
      } else {
        for (int64_t i = 0; i < inner; i++) y[i] = x[i];
        for (int64_t a = 1; a < L; a++)
          for (int64_t i = 0; i < inner; i++) y[a * inner + i] = y[(a - 1) * inner + i] + x[a * inner + i];
      }
    } else if (j->dtype == PKT_I64) {
      const int64_t* x = (const int64_t*)j->x + o * span;
      int64_t* y = (int64_t*)j->y + o * span;
      for (int64_t i = 0; i < inner; i++) y[i] = x[i];
      for (int64_t a = 1; a < L; a++)
        for (int64_t i = 0; i < inner; i++)
          y[a * inner + i] = (int64_t)((uint64_t)y[(a - 1) * inner + i] + (uint64_t)x[a * inner + i]);
    } else {
      const int32_t* x = (const int32_t*)j->x + o * span;
      int32_t* y = (int32_t*)j->y + o * span;
      for (int64_t i = 0; i < inner; i++) y[i] = x[i];
      for (int64_t a = 1; a < L; a++)
        for (int64_t i = 0; i < inner; i++)
          y[a * inner + i] = (int32_t)((uint32_t)y[(a - 1) * inner + i] + (uint32_t)x[a * inner + i]);
    }
  }
}

pkt_status pkt_kernel_cumsum_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_CUMSUM_AXIS);
  cumsum_job j = {x->data, y->data, x->rank ? x->dims[axis] : 1, 1, x->dtype};
  for (int d = axis + 1; d < x->rank; d++) j.inner *= x->dims[d];
  pkt_parallel_for(n, x->numel / (j.len * j.inner), cumsum_outer, &j);
  return PKT_OK;
}
