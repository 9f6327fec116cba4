/* permute: out.dims[i] = x.dims[perm[i]], out[i0, .., ir] = x[j] with j[perm[k]] = i[k]. Any dtype. */
#include "kernels/pkt_strided.h"

pkt_status pkt_kernel_permute_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_PERMUTE_MIN_INPUTS, PKT_PERMUTE_MAX_INPUTS, 1, PKT_PERMUTE_PERM, err);
  if (st) return st; /* perm is empty for rank 0 */
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (x->dtype != y->dtype)
    return pkt_fail(err, PKT_BAD_OPERANDS, "changes dtype %s to %s", pkt_dtype_name(x->dtype), pkt_dtype_name(y->dtype));
  if (!pkt_dtype_size(x->dtype)) return pkt_fail(err, PKT_BAD_OPERANDS, "unsupported dtype %d", x->dtype);
  int r = n->n_params - PKT_PERMUTE_PERM;
  if (r != x->rank || y->rank != x->rank)
    return pkt_fail(err, PKT_BAD_PARAMS, "perm has %d entries for input rank %d, output rank %d", r, x->rank, y->rank);
  int seen[PKT_MAX_RANK] = {0};
  for (int i = 0; i < r; i++) {
    int64_t p = pkt_param_i(n, PKT_PERMUTE_PERM + i);
    if (p < 0 || p >= r || seen[p]) return pkt_fail(err, PKT_BAD_PARAMS, "perm entry %d (%lld) is not a permutation of 0..%d", i, (long long)p, r - 1);
    seen[p] = 1;
    if (y->dims[i] != x->dims[p])
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is %lld, expected input dim %lld (%lld)", i,
                      (long long)y->dims[i], (long long)p, (long long)x->dims[p]);
  }
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_permute_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int64_t xs[PKT_MAX_RANK], strides[PKT_MAX_RANK];
  pkt_contiguous_strides(x, xs);
  for (int i = 0; i < y->rank; i++) strides[i] = xs[pkt_param_i(n, PKT_PERMUTE_PERM + i)];
  pkt_strided s;
  pkt_strided_init(&s, y->rank, y->dims, strides, pkt_dtype_size(x->dtype), x->data, y->data);
  pkt_strided_copy(n, &s);
  return PKT_OK;
}
