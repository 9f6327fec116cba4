/* triangular (tril/triu): keep the lower (j <= i + diagonal) or upper (j >= i + diagonal) triangle
 * of the last two dims, zero the rest. Any dtype. */
#include "core/kernel.h"

static size_t elem_size(int dtype) {
  switch (dtype) {
    case PKT_F32: case PKT_I32: return 4;
    case PKT_I64: return 8;
    case PKT_F16: return 2;
    default: return 1;
  }
}

pkt_status pkt_kernel_triangular_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_TRIANGULAR_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from input shape");
  if (x->rank < 2) return pkt_fail(err, PKT_BAD_OPERANDS, "input has rank %d, expected at least 2", x->rank);
  int64_t upper = pkt_param_i(n, PKT_TRIANGULAR_UPPER);
  if (upper != 0 && upper != 1) return pkt_fail(err, PKT_BAD_PARAMS, "upper is %lld, expected 0 or 1", (long long)upper);
  *scratch = 0; /* any diagonal is valid: it is clamped to the matrix size in run() */
  return PKT_OK;
}

typedef struct tri_job {
  const char* x;
  char* y;
  int64_t R, C, diag;
  size_t es;
  int upper;
} tri_job;

static void tri_rows(void* ctx, int64_t begin, int64_t end) {
  const tri_job* j = ctx;
  const size_t rb = (size_t)j->C * j->es;
  for (int64_t r = begin; r < end; r++) {
    const int64_t i = r % j->R;
    int64_t edge = i + j->diag + (j->upper ? 0 : 1); /* lower: keep [0, edge); upper: keep [edge, C) */
    edge = edge < 0 ? 0 : edge > j->C ? j->C : edge;
    const char* s = j->x + (size_t)r * rb;
    char* o = j->y + (size_t)r * rb;
    const size_t cut = (size_t)edge * j->es;
    if (j->upper) {
      memset(o, 0, cut);
      if (o != s) memmove(o + cut, s + cut, rb - cut);
    } else {
      if (o != s) memmove(o, s, cut);
      memset(o + cut, 0, rb - cut);
    }
  }
}

pkt_status pkt_kernel_triangular_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->numel == 0) return PKT_OK;
  tri_job j = {x->data, y->data, x->dims[x->rank - 2], x->dims[x->rank - 1], pkt_param_i(n, PKT_TRIANGULAR_DIAGONAL),
               elem_size(x->dtype), (int)pkt_param_i(n, PKT_TRIANGULAR_UPPER)};
  const int64_t lim = j.R + j.C; /* |diagonal| beyond R + C changes nothing; clamping avoids overflow */
  j.diag = j.diag > lim ? lim : j.diag < -lim ? -lim : j.diag;
  pkt_parallel_for(n, x->numel / j.C, tri_rows, &j);
  return PKT_OK;
}
