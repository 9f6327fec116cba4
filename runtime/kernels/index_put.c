/* index_put (torch x[..., i0, i1, ...] = values, and index_put(..., accumulate=True)): inputs x, values and
 * k index tensors laid out as in advanced_index; out = x with the indexed view R replaced by values (or
 * values added, with accumulate), values broadcast to R. Writes happen in R's order, so the last of
 * duplicate indices wins and accumulation adds every duplicate. Indices are checked (negative ones wrap)
 * before anything is written: PKT_INDEX_OUT_OF_RANGE otherwise. out may share x's buffer. */
#include "kernels/pkt_index.h"

static int index_put_addable(int dtype) {
  return dtype == PKT_F32 || dtype == PKT_I64 || dtype == PKT_I32 || dtype == PKT_I8 || dtype == PKT_U8 ||
         dtype == PKT_BOOL;
}

pkt_status pkt_kernel_index_put_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_INDEX_PUT_MIN_INPUTS, PKT_INDEX_PUT_MAX_INPUTS, 1, PKT_INDEX_PUT_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *values = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(y, x->dtype, "output", err)) || (st = pkt_check_dtype(values, x->dtype, "values", err)))
    return st;
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  if (!pkt_same_shape(x, y)) return pkt_fail(err, PKT_BAD_OPERANDS, "output shape differs from the input's");
  int64_t axis = pkt_param_i(n, PKT_INDEX_PUT_AXIS), acc = pkt_param_i(n, PKT_INDEX_PUT_ACCUMULATE);
  if (acc != 0 && acc != 1) return pkt_fail(err, PKT_BAD_PARAMS, "accumulate must be 0 or 1, got %lld", (long long)acc);
  if (acc && !index_put_addable(x->dtype))
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot accumulate %s", pkt_dtype_name(x->dtype));
  pkt_index_view v;
  if ((st = pkt_index_view_init(&v, x, n->inputs + 2, n->n_inputs - 2, axis, err))) return st;
  pkt_tensor r = {0};
  r.rank = pkt_index_view_shape(&v, x, axis, r.dims);
  int64_t strides[PKT_MAX_RANK];
  if (!r.rank && x->rank - v.k + v.b_rank > 0) return pkt_fail(err, PKT_BAD_OPERANDS, "indexed view has too many dims");
  if (!pkt_broadcast_strides(values, &r, strides))
    return pkt_fail(err, PKT_BAD_OPERANDS, "values (rank %d) do not broadcast to the indexed shape", values->rank);
  *scratch = 0;
  return PKT_OK;
}

#define INDEX_PUT_ADD(T) (*(T*)dst = (T)(*(T*)dst + *(const T*)src))

pkt_status pkt_kernel_index_put_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *values = n->inputs[1], *y = n->outputs[0];
  int64_t axis = pkt_param_i(n, PKT_INDEX_PUT_AXIS);
  int acc = (int)pkt_param_i(n, PKT_INDEX_PUT_ACCUMULATE);
  pkt_index_view v;
  pkt_err none = {0};
  pkt_index_view_init(&v, x, n->inputs + 2, n->n_inputs - 2, axis, &none);
  pkt_status st = pkt_index_check(&v);
  if (st) return st;
  if (y->data != x->data) memmove(y->data, x->data, x->nbytes);
  pkt_tensor r = {0};
  r.rank = pkt_index_view_shape(&v, x, axis, r.dims);
  int64_t vstr[PKT_MAX_RANK], pos[PKT_MAX_RANK] = {0}, voff = 0;
  pkt_broadcast_strides(values, &r, vstr);
  int64_t items = v.outer * v.b_numel * v.inner;
  if (items == 0) return PKT_OK;
  size_t es = pkt_dtype_size(x->dtype);
  unsigned char* out = y->data;
  const unsigned char* val = values->data;
  int64_t row = 0;
  for (int64_t e = 0; e < items; e++) {
    int64_t i = e % v.inner;
    if (i == 0) {
      int64_t rb = e / v.inner;
      row = (rb / v.b_numel) * v.span + pkt_index_row(&v, rb % v.b_numel);
    }
    unsigned char* dst = out + (size_t)(row * v.inner + i) * es;
    const unsigned char* src = val + (size_t)voff * es;
    if (!acc) {
      memcpy(dst, src, es);
    } else {
      switch (x->dtype) {
        case PKT_F32: INDEX_PUT_ADD(float); break;
        case PKT_I64: *(int64_t*)dst = (int64_t)((uint64_t)*(int64_t*)dst + (uint64_t)*(const int64_t*)src); break;
        case PKT_I32: *(int32_t*)dst = (int32_t)((uint32_t)*(int32_t*)dst + (uint32_t)*(const int32_t*)src); break;
        case PKT_I8: *(int8_t*)dst = (int8_t)(uint8_t)((uint8_t)*(int8_t*)dst + (uint8_t)*(const int8_t*)src); break;
        case PKT_U8: INDEX_PUT_ADD(uint8_t); break;
        default: *dst = (uint8_t)(*dst || *src); break; /* bool */
      }
    }
    for (int d = r.rank - 1; d >= 0; d--) { /* advance the values offset over R */
      voff += vstr[d];
      if (++pos[d] < r.dims[d]) break;
      voff -= r.dims[d] * vstr[d];
      pos[d] = 0;
    }
  }
  return PKT_OK;
}
