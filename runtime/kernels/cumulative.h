/* The scan cumsum and cumprod share: the same prepare() checks (float32, int64 or int32 in, the same dtype and shape
 * out, one axis) and one walk over the lines along the axis, each accumulated in order as torch's CPU kernel does:
 * floats in double, integers wrapping around like torch's instead of overflowing (UB). */
#ifndef PKT_CUMULATIVE_H
#define PKT_CUMULATIVE_H

#include "core/kernel.h"

typedef enum { PKT_CUM_SUM, PKT_CUM_PROD } pkt_cum_kind;

static inline pkt_status pkt_cum_prepare(const pkt_node* n, int n_params, int axis_param, size_t* scratch,
                                         pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, n_params, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s, expected float32, int64 or int32", pkt_dtype_name(x->dtype));
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int64_t axis = pkt_param_i(n, axis_param);
  int rank = x->rank < 1 ? 1 : x->rank;
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  *scratch = 0;
  return PKT_OK;
}

typedef struct pkt_cum_job {
  const void* x;
  void* y;
  int64_t len, inner;
  int dtype;
  pkt_cum_kind kind;
} pkt_cum_job;

#define PKT_CUM_LINE(T, ACC, START)                                              \
  do {                                                                            \
    const T* x_ = (const T*)j->x + base;                                          \
    T* y_ = (T*)j->y + base;                                                      \
    ACC acc_ = (START);                                                           \
    for (int64_t a = 0; a < j->len; a++) {                                        \
      const ACC v_ = (ACC)x_[a * j->inner];                                       \
      acc_ = j->kind == PKT_CUM_SUM ? acc_ + v_ : acc_ * v_;                      \
      y_[a * j->inner] = (T)acc_;                                                 \
    }                                                                             \
  } while (0)

/* Work item = one (outer, inner) line along the axis. */
static void pkt_cum_lines(void* ctx, int64_t begin, int64_t end) {
  const pkt_cum_job* j = ctx;
  const int prod = j->kind == PKT_CUM_PROD;
  for (int64_t line = begin; line < end; line++) {
    const int64_t o = line / j->inner, i = line % j->inner, base = o * j->len * j->inner + i;
    if (j->dtype == PKT_F32)
      PKT_CUM_LINE(float, double, prod ? 1.0 : 0.0);
    else if (j->dtype == PKT_I64)
      PKT_CUM_LINE(int64_t, uint64_t, (uint64_t)prod);
    else
      PKT_CUM_LINE(int32_t, uint32_t, (uint32_t)prod);
  }
}

static inline pkt_status pkt_cum_run(const pkt_node* n, int axis_param, pkt_cum_kind kind) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  const int axis = (int)pkt_param_i(n, axis_param);
  pkt_cum_job j = {x->data, y->data, x->rank ? x->dims[axis] : 1, 1, x->dtype, kind};
  for (int d = axis + 1; d < x->rank; d++) j.inner *= x->dims[d];
  pkt_parallel_for(n, x->numel / j.len, pkt_cum_lines, &j);
  return PKT_OK;
}

#endif
