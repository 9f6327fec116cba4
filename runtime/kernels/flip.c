/* flip: reverse a tensor of any dtype along a set of axes. Works row by row over the last dim:
 * each output row copies (or reverses, when the last axis is flipped) one source row. */
#include "core/kernel.h"

static size_t elem_size(int dtype) {
  switch (dtype) {
    case PKT_F32: case PKT_I32: return 4;
    case PKT_I64: return 8;
    case PKT_F16: return 2;
    default: return 1;
  }
}

pkt_status pkt_kernel_flip_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, 0, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  int seen = 0;
  for (int i = PKT_FLIP_AXES; i < n->n_params; i++) {
    int64_t a = pkt_param_i(n, i);
    if (a < 0 || a >= x->rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)a, x->rank);
    if (seen & (1 << a)) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld appears twice", (long long)a);
    seen |= 1 << a;
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct flip_job {
  const char* x;
  char* y;
  int rank, flip_mask;
  int64_t dims[PKT_MAX_RANK];
  int64_t row; /* elements in the last dim */
  size_t es;
} flip_job;

static void flip_rows(void* ctx, int64_t begin, int64_t end) {
  const flip_job* j = ctx;
  const size_t es = j->es, row_bytes = (size_t)j->row * es;
  const int last_flipped = (j->flip_mask >> (j->rank - 1)) & 1;
  for (int64_t r = begin; r < end; r++) {
    /* Source row index: unravel r over dims[0..rank-2], mirror flipped coordinates. */
    int64_t rem = r, src = 0, stride = 1;
    for (int d = j->rank - 2; d >= 0; d--) {
      int64_t idx = rem % j->dims[d];
      rem /= j->dims[d];
      if ((j->flip_mask >> d) & 1) idx = j->dims[d] - 1 - idx;
      src += idx * stride;
      stride *= j->dims[d];
    }
    const char* s = j->x + (size_t)src * row_bytes;
    char* o = j->y + (size_t)r * row_bytes;
    if (!last_flipped) {
      memcpy(o, s, row_bytes);
    } else if (es == 4) {
      const uint32_t* s4 = (const uint32_t*)s;
      uint32_t* o4 = (uint32_t*)o;
      for (int64_t i = 0; i < j->row; i++) o4[i] = s4[j->row - 1 - i];
    } else {
      for (int64_t i = 0; i < j->row; i++) memcpy(o + (size_t)i * es, s + (size_t)(j->row - 1 - i) * es, es);
    }
  }
}

pkt_status pkt_kernel_flip_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  flip_job j;
  memset(&j, 0, sizeof j);
  j.x = x->data;
  j.y = y->data;
  j.es = elem_size(x->dtype);
  if (x->rank == 0) {
    memcpy(j.y, j.x, j.es);
    return PKT_OK;
  }
  j.rank = x->rank;
  memcpy(j.dims, x->dims, sizeof j.dims);
  for (int i = PKT_FLIP_AXES; i < n->n_params; i++) j.flip_mask |= 1 << (int)pkt_param_i(n, i);
  j.row = x->dims[x->rank - 1];
  pkt_parallel_for(n, x->numel / j.row, flip_rows, &j);
  return PKT_OK;
}
