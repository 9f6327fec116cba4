/* sort (torch.sort, argsort, topk): a stable merge sort along `axis` of float32, int64 or int32 x, into
 * values (x's dtype) and int64 indices shaped like x except along axis, where they keep the first k of
 * the sorted order (k = their dim; topk is a sort with k < n). Ascending puts NaN last and descending
 * first, as torch does; equal values keep their order. Scratch: two index arrays of one row. */
#include <math.h>
#include <stdint.h>

#include "core/kernel.h"

pkt_status pkt_kernel_sort_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_SORT_MIN_INPUTS, PKT_SORT_MAX_INPUTS, 2, PKT_SORT_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *vals = n->outputs[0], *idx = n->outputs[1];
  if (x->dtype != PKT_F32 && x->dtype != PKT_I64 && x->dtype != PKT_I32)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input is %s, expected float32, int64 or int32", pkt_dtype_name(x->dtype));
  if ((st = pkt_check_dtype(vals, x->dtype, "values", err)) || (st = pkt_check_dtype(idx, PKT_I64, "indices", err)))
    return st;
  int64_t axis = pkt_param_i(n, PKT_SORT_AXIS), desc = pkt_param_i(n, PKT_SORT_DESCENDING);
  int rank = x->rank ? x->rank : 1;
  if (axis < 0 || axis >= rank) return pkt_fail(err, PKT_BAD_PARAMS, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  if (desc != 0 && desc != 1) return pkt_fail(err, PKT_BAD_PARAMS, "descending must be 0 or 1, got %lld", (long long)desc);
  if (!pkt_same_shape(vals, idx) || vals->rank != x->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "outputs must share x's rank and one shape");
  for (int d = 0; d < x->rank; d++)
    if (d == axis ? vals->dims[d] > x->dims[d] : vals->dims[d] != x->dims[d])
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld for input dim %lld", d, (long long)vals->dims[d],
                      (long long)x->dims[d]);
  int64_t len = x->rank ? x->dims[axis] : 1;
  if ((uint64_t)len > SIZE_MAX / (2 * sizeof(int64_t))) return pkt_fail(err, PKT_BAD_OPERANDS, "dim %lld is too long to sort", (long long)len);
  *scratch = (size_t)len * 2 * sizeof(int64_t);
  return PKT_OK;
}

typedef struct sort_row {
  const void* x;
  int dtype, desc;
  int64_t stride; /* elements between neighbours along axis */
} sort_row;

/* 1 when element a must come before element b (strictly). */
static int sort_before(const sort_row* r, int64_t a, int64_t b) {
  if (r->dtype == PKT_F32) {
    float va = ((const float*)r->x)[a * r->stride], vb = ((const float*)r->x)[b * r->stride];
    if (r->desc) return va > vb || (isnan(va) && !isnan(vb));
    return va < vb || (isnan(vb) && !isnan(va));
  }
  int64_t va, vb;
  if (r->dtype == PKT_I64) {
    va = ((const int64_t*)r->x)[a * r->stride];
    vb = ((const int64_t*)r->x)[b * r->stride];
  } else {
    va = ((const int32_t*)r->x)[a * r->stride];
    vb = ((const int32_t*)r->x)[b * r->stride];
  }
  return r->desc ? va > vb : va < vb;
}

/* Bottom-up merge sort of idx[0..len) (tmp the same size); returns the array holding the result. */
static int64_t* sort_indices(const sort_row* r, int64_t* idx, int64_t* tmp, int64_t len) {
  for (int64_t i = 0; i < len; i++) idx[i] = i;
  for (int64_t width = 1; width < len; width *= 2) {
    for (int64_t lo = 0; lo < len; lo += 2 * width) {
      int64_t mid = lo + width < len ? lo + width : len, hi = lo + 2 * width < len ? lo + 2 * width : len;
      int64_t a = lo, b = mid, o = lo;
      while (a < mid && b < hi) tmp[o++] = sort_before(r, idx[b], idx[a]) ? idx[b++] : idx[a++];
      while (a < mid) tmp[o++] = idx[a++];
      while (b < hi) tmp[o++] = idx[b++];
    }
    int64_t* t = idx;
    idx = tmp;
    tmp = t;
  }
  return idx;
}

pkt_status pkt_kernel_sort_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *vals = n->outputs[0], *ind = n->outputs[1];
  if (vals->numel == 0) return PKT_OK;
  int axis = (int)pkt_param_i(n, PKT_SORT_AXIS);
  int64_t len = x->rank ? x->dims[axis] : 1, k = vals->rank ? vals->dims[axis] : 1, inner = 1;
  for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t outer = x->numel / (len * inner);
  size_t es = pkt_dtype_size(x->dtype);
  int64_t* idx = n->scratch;
  int64_t* tmp = idx + len;
  sort_row r = {NULL, x->dtype, (int)pkt_param_i(n, PKT_SORT_DESCENDING), inner};
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const unsigned char* row = (const unsigned char*)x->data + (size_t)(o * len * inner + i) * es;
      r.x = row;
      const int64_t* order = sort_indices(&r, idx, tmp, len);
      for (int64_t a = 0; a < k; a++) {
        int64_t at = (o * k + a) * inner + i;
        memcpy((unsigned char*)vals->data + (size_t)at * es, row + (size_t)(order[a] * inner) * es, es);
        ((int64_t*)ind->data)[at] = order[a];
      }
    }
  return PKT_OK;
}
