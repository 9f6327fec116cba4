/* cumprod along one axis for float32, int64 and int32 (output dtype = input dtype; the exporter casts
 * first when torch promotes). Float products accumulate in double as torch's CPU kernel does; integer
 * products wrap around like torch's instead of overflowing (UB). */
#include "core/kernel.h"

pkt_status pkt_kernel_cumprod_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_CUMPROD_MIN_INPUTS, PKT_CUMPROD_MAX_INPUTS, 1, PKT_CUMPROD_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s, expected float32, int64 or int32", pkt_dtype_name(x->dtype));
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axis = pkt_param_i(n, PKT_CUMPROD_AXIS);
  int rank = x->rank < 1 ? 1 : x->rank;
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  *scratch = 0;
  return PKT_OK;
}

typedef struct cumprod_job {
  const void* x;
  void* y;
  int64_t len, inner;
  int dtype;
} cumprod_job;

/* Work item = one (outer, inner) line along the axis. */
static void cumprod_lines(void* ctx, int64_t begin, int64_t end) {
  const cumprod_job* j = ctx;
  for (int64_t line = begin; line < end; line++) {
    int64_t o = line / j->inner, i = line % j->inner, base = o * j->len * j->inner + i;
    if (j->dtype == PKT_F32) {
      const float* x = (const float*)j->x + base;
      float* y = (float*)j->y + base;
      double acc = 1.0;
      for (int64_t a = 0; a < j->len; a++) y[a * j->inner] = (float)(acc *= x[a * j->inner]);
    } else if (j->dtype == PKT_I64) {
      const int64_t* x = (const int64_t*)j->x + base;
      int64_t* y = (int64_t*)j->y + base;
      uint64_t acc = 1;
      for (int64_t a = 0; a < j->len; a++) y[a * j->inner] = (int64_t)(acc *= (uint64_t)x[a * j->inner]);
    } else {
      const int32_t* x = (const int32_t*)j->x + base;
      int32_t* y = (int32_t*)j->y + base;
      uint32_t acc = 1;
      for (int64_t a = 0; a < j->len; a++) y[a * j->inner] = (int32_t)(acc *= (uint32_t)x[a * j->inner]);
    }
  }
}

pkt_status pkt_kernel_cumprod_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_CUMPROD_AXIS);
  cumprod_job j = {x->data, y->data, x->rank ? x->dims[axis] : 1, 1, x->dtype};
  for (int d = axis + 1; d < x->rank; d++) j.inner *= x->dims[d];
  pkt_parallel_for(n, x->numel / j.len, cumprod_lines, &j);
  return PKT_OK;
}
