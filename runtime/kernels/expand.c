/* expand: write x to the output's shape, with x's dims right-aligned against the output's.
 *   tile = 0 (aten.expand): broadcast; each input dim is 1 or equal to the output dim.
 *   tile = 1 (aten.repeat): tile; each output dim is a multiple of the input dim, out[i] = x[i % dim].
 * Any dtype. Both are one strided copy (tiling splits each output dim into (repeat, dim) with a zero
 * stride on the repeat). */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_expand_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_EXPAND_MIN_INPUTS, PKT_EXPAND_MAX_INPUTS, 1, PKT_EXPAND_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  int64_t tile = pkt_param_i(n, PKT_EXPAND_TILE);
  if (tile != 0 && tile != 1) return pkt_fail(err, PKT_BAD_PARAMS, "tile must be 0 or 1, got %lld", (long long)tile);
  if (y->rank < x->rank) return pkt_fail(err, PKT_BAD_OPERANDS, "output rank %d is below input rank %d", y->rank, x->rank);
  int lead = y->rank - x->rank;
  for (int d = 0; d < x->rank; d++) {
    int64_t xd = x->dims[d], yd = y->dims[lead + d];
    int ok = tile ? (xd == 0 ? yd == 0 : yd % xd == 0) : (xd == yd || xd == 1);
    if (!ok)
      return pkt_fail(err, PKT_BAD_OPERANDS, "input dim %d (%lld) cannot %s to output dim %lld", d, (long long)xd,
                      tile ? "tile" : "broadcast", (long long)yd);
  }
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_expand_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK; /* otherwise every input dim is > 0 too */
  int64_t xs[PKT_MAX_RANK], dims[PKT_STRIDED_MAX_RANK], strides[PKT_STRIDED_MAX_RANK];
  pkt_contiguous_strides(x, xs);
  int lead = y->rank - x->rank, r = 0;
  int tile = (int)pkt_param_i(n, PKT_EXPAND_TILE);
  for (int d = 0; d < y->rank; d++) {
    int64_t yd = y->dims[d];
    if (d < lead) {
      dims[r] = yd;
      strides[r++] = 0;
      continue;
    }
    int64_t xd = x->dims[d - lead], s = xs[d - lead];
    if (tile) {
      dims[r] = yd / xd; /* repeats */
      strides[r++] = 0;
      dims[r] = xd;
      strides[r++] = s;
    } else {
      dims[r] = yd;
      strides[r++] = xd == yd ? s : 0;
    }
  }
  pkt_strided s;
  pkt_strided_init(&s, r, dims, strides, pkt_dtype_size(x->dtype), x->data, y->data);
  pkt_strided_copy(n, &s);
  return PKT_OK;
}
