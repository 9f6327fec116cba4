/* advanced_index (torch x[..., i0, i1, ...] with several index tensors): inputs x and k index tensors
 * (int64/int32) that broadcast together to B and index dims axis..axis+k-1; out = x.shape[:axis] + B +
 * x.shape[axis+k:]. Negative indices count from the end; any index outside its dim makes run() return
 * PKT_INDEX_OUT_OF_RANGE before anything is written. x may be any dtype. (Non-adjacent index tensors are
 * moved next to each other by the exporter with a permute first, which is where torch puts B then.) */
#include "kernels/pkt_index.h"
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_advanced_index_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_ADVANCED_INDEX_MIN_INPUTS, PKT_ADVANCED_INDEX_MAX_INPUTS, 1,
                                     PKT_ADVANCED_INDEX_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(y, x->dtype, "output", err))) return st;
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  int64_t axis = pkt_param_i(n, PKT_ADVANCED_INDEX_AXIS);
  pkt_index_view v;
  if ((st = pkt_index_view_init(&v, x, n->inputs + 1, n->n_inputs - 1, axis, err))) return st;
  int64_t dims[PKT_MAX_RANK];
  int r = pkt_index_view_shape(&v, x, axis, dims);
  if (r != y->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "output rank %d, expected %d", y->rank, r);
  for (int d = 0; d < r; d++)
    if (y->dims[d] != dims[d])
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, expected %lld", d, (long long)y->dims[d], (long long)dims[d]);
  *scratch = 0;
  return PKT_OK;
}

typedef struct advanced_index_job {
  pkt_index_view v;
  const unsigned char* x;
  unsigned char* y;
  int64_t row_bytes;
} advanced_index_job;

/* Work item it = (outer block, B position); each copies one row of `inner` elements. */
static void advanced_index_rows(void* ctx, int64_t begin, int64_t end) {
  const advanced_index_job* j = ctx;
  for (int64_t it = begin; it < end; it++) {
    int64_t o = it / j->v.b_numel, row = o * j->v.span + pkt_index_row(&j->v, it % j->v.b_numel);
    memcpy(j->y + it * j->row_bytes, j->x + row * j->row_bytes, (size_t)j->row_bytes);
  }
}

pkt_status pkt_kernel_advanced_index_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  advanced_index_job j;
  pkt_err none = {0};
  pkt_index_view_init(&j.v, x, n->inputs + 1, n->n_inputs - 1, pkt_param_i(n, PKT_ADVANCED_INDEX_AXIS), &none);
  pkt_status st = pkt_index_check(&j.v);
  if (st) return st;
  /* y is non-empty and every index is inside a non-empty dim, so x is non-empty: no product overflows */
  j.x = x->data;
  j.y = y->data;
  j.row_bytes = j.v.inner * (int64_t)pkt_dtype_size(x->dtype);
  int64_t items = j.v.outer * j.v.b_numel;
  if ((int64_t)y->nbytes >= PKT_STRIDED_PARALLEL_BYTES && items > 1)
    pkt_parallel_for(n, items, advanced_index_rows, &j);
  else
    advanced_index_rows(&j, 0, items);
  return PKT_OK;
}
