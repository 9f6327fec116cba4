/* arg_reduce: int64 index of the max (ARGMAX) or min (ARGMIN) of x along `axis`; keepdim is implied
 * by the output shape (x's rank with 1 at axis, or x's rank minus one). Ties give the first index;
 * NaN counts as the extreme (the first NaN wins), as in torch. x is f32, an integer type or bool. */
#include "kernels/pkt_strided.h"

#define ARG_BLOCK 64

pkt_status pkt_kernel_arg_reduce_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_ARG_REDUCE_MIN_INPUTS, PKT_ARG_REDUCE_MAX_INPUTS, 1, PKT_ARG_REDUCE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t kind = pkt_param_i(n, PKT_ARG_REDUCE_KIND), axis = pkt_param_i(n, PKT_ARG_REDUCE_AXIS);
  if (kind < 0 || kind >= PKT_ARGREDUCE_COUNT_) return pkt_fail(err, PKT_BAD_PARAMS, "unknown kind %lld", (long long)kind);
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32 && x->dtype != PKT_U8 && x->dtype != PKT_I8 &&
      x->dtype != PKT_BOOL)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s, expected float32, an integer type or bool", pkt_dtype_name(x->dtype));
  if ((st = pkt_check_dtype(y, PKT_I64, "output", err))) return st;
  if (axis < 0 || axis >= x->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  int keep_ok = y->rank == x->rank, squeeze_ok = y->rank == x->rank - 1;
  for (int d = 0, k = 0; d < x->rank; d++) {
    if (keep_ok && y->dims[d] != (d == axis ? 1 : x->dims[d])) keep_ok = 0;
    if (d != axis) {
      if (squeeze_ok && y->dims[k] != x->dims[d]) squeeze_ok = 0;
      k++;
    }
  }
  if (!keep_ok && !squeeze_ok) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape does not match the input without axis %lld", (long long)axis);
  if (x->dims[axis] == 0 && y->numel > 0) return pkt_fail(err, PKT_BAD_OPERANDS, "arg reduction over an empty dim");
  *scratch = 0;
  return PKT_OK;
}

typedef struct arg_job {
  const void* x;
  int64_t* y;
  int dtype, is_max;
  int64_t dim, inner, blocks;
} arg_job;

static inline int64_t arg_load_i(const void* p, int dt, int64_t k) {
  switch (dt) {
    case PKT_I64: return ((const int64_t*)p)[k];
    case PKT_I32: return ((const int32_t*)p)[k];
    case PKT_I8: return ((const int8_t*)p)[k];
    default: return ((const uint8_t*)p)[k];
  }
}

/* float: v beats best when strictly more extreme, or v is the first NaN */
static inline int beats_f(float v, float best, int is_max) {
  if (best != best) return 0;
  if (v != v) return 1;
  return is_max ? v > best : v < best;
}

/* Item = (outer index, block of ARG_BLOCK positions along the inner dims). */
static void arg_blocks(void* ctx, int64_t begin, int64_t end) {
  const arg_job* j = ctx;
  float bf[ARG_BLOCK];
  int64_t bi[ARG_BLOCK], at[ARG_BLOCK];
  for (int64_t it = begin; it < end; it++) {
    int64_t o = it / j->blocks, i0 = (it % j->blocks) * ARG_BLOCK;
    int64_t w = j->inner - i0 < ARG_BLOCK ? j->inner - i0 : ARG_BLOCK;
    int64_t base = o * j->dim * j->inner + i0;
    if (j->dtype == PKT_F32) {
      const float* x = (const float*)j->x + base;
      for (int64_t k = 0; k < w; k++) { bf[k] = x[k]; at[k] = 0; }
      for (int64_t d = 1; d < j->dim; d++) {
        const float* r = x + d * j->inner;
        for (int64_t k = 0; k < w; k++)
          if (beats_f(r[k], bf[k], j->is_max)) { bf[k] = r[k]; at[k] = d; }
      }
    } else {
      for (int64_t k = 0; k < w; k++) { bi[k] = arg_load_i(j->x, j->dtype, base + k); at[k] = 0; }
      for (int64_t d = 1; d < j->dim; d++)
        for (int64_t k = 0; k < w; k++) {
          int64_t v = arg_load_i(j->x, j->dtype, base + d * j->inner + k);
          if (j->is_max ? v > bi[k] : v < bi[k]) { bi[k] = v; at[k] = d; }
        }
    }
    memcpy(j->y + o * j->inner + i0, at, (size_t)w * sizeof(int64_t));
  }
}

pkt_status pkt_kernel_arg_reduce_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK; /* otherwise x is non-empty (dims[axis] > 0, checked) */
  int axis = (int)pkt_param_i(n, PKT_ARG_REDUCE_AXIS);
  arg_job j = {x->data, y->data, x->dtype, pkt_param_i(n, PKT_ARG_REDUCE_KIND) == PKT_ARGREDUCE_ARGMAX, x->dims[axis], 1, 0};
  int64_t outer = 1;
  for (int d = 0; d < axis; d++) outer *= x->dims[d];
  for (int d = axis + 1; d < x->rank; d++) j.inner *= x->dims[d];
  j.blocks = (j.inner + ARG_BLOCK - 1) / ARG_BLOCK;
  int64_t items = outer * j.blocks;
  if ((int64_t)x->nbytes >= PKT_STRIDED_PARALLEL_BYTES && items > 1)
    pkt_parallel_for(n, items, arg_blocks, &j);
  else
    arg_blocks(&j, 0, items);
  return PKT_OK;
}
