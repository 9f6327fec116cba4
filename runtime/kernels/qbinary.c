/* qbinary: int8 add/mul with NumPy broadcasting. Each input is dequantized, the two are combined in float and the
 * result quantized, the PT2E reference's own arithmetic, so the result is bit-exact; a fused ReLU is the clamp. */
#include "core/kernel.h"
#include "kernels/quant_util.h"

pkt_status pkt_kernel_qbinary_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 2, 2, 1, PKT_QBINARY_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(a, PKT_I8, "input a", err)) || (st = pkt_check_dtype(b, PKT_I8, "input b", err)) ||
      (st = pkt_check_dtype(y, PKT_I8, "output", err)) || (st = pkt_q_check_qparams(n, PKT_QBINARY_A_SCALE, "a", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QBINARY_B_SCALE, "b", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QBINARY_OUT_SCALE, "output", err)) ||
      (st = pkt_q_check_clamp(pkt_param_i(n, PKT_QBINARY_OUT_MIN), pkt_param_i(n, PKT_QBINARY_OUT_MAX), err)))
    return st;
  int64_t kind = pkt_param_i(n, PKT_QBINARY_KIND);
  if (kind != PKT_BINARY_ADD && kind != PKT_BINARY_MUL)
    return pkt_fail(err, PKT_BAD_PARAMS, "kind %lld: int8 binary is add or mul", (long long)kind);
  int64_t s[PKT_MAX_RANK];
  if (!pkt_broadcast_strides(a, y, s) || !pkt_broadcast_strides(b, y, s))
    return pkt_fail(err, PKT_BAD_OPERANDS, "inputs do not broadcast to the output");
  for (int d = 0; d < y->rank; d++) {
    int ra = d - (y->rank - a->rank), rb = d - (y->rank - b->rank);
    int64_t da = ra >= 0 ? a->dims[ra] : 1, db = rb >= 0 ? b->dims[rb] : 1;
    if (y->dims[d] != (da > db ? da : db) && !(y->dims[d] == 0 && (da == 0 || db == 0)))
      return pkt_fail(err, PKT_BAD_OPERANDS, "output dim %d is not the broadcast of the inputs'", d);
  }
  *scratch = 0;
  return PKT_OK;
}

pkt_status pkt_kernel_qbinary_run(const pkt_node* n) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int64_t sa[PKT_MAX_RANK], sb[PKT_MAX_RANK], idx[PKT_MAX_RANK] = {0};
  pkt_broadcast_strides(a, y, sa);
  pkt_broadcast_strides(b, y, sb);
  const int8_t *pa = a->data, *pb = b->data;
  int8_t* py = y->data;
  const float as = (float)pkt_param_f(n, PKT_QBINARY_A_SCALE), bs = (float)pkt_param_f(n, PKT_QBINARY_B_SCALE);
  const int32_t az = (int32_t)pkt_param_i(n, PKT_QBINARY_A_ZP), bz = (int32_t)pkt_param_i(n, PKT_QBINARY_B_ZP);
  const float inv = pkt_q_inv(pkt_param_f(n, PKT_QBINARY_OUT_SCALE));
  const int32_t oz = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_ZP), lo = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_MIN),
                hi = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_MAX);
  const int mul = pkt_param_i(n, PKT_QBINARY_KIND) == PKT_BINARY_MUL;
  const int r = y->rank;
  const int64_t inner = r ? y->dims[r - 1] : 1, ia = r ? sa[r - 1] : 0, ib = r ? sb[r - 1] : 0;
  int64_t oa = 0, ob = 0;
  for (int64_t done = 0; done < y->numel; done += inner) {
    for (int64_t i = 0; i < inner; i++) {
      float fa = (float)(pa[oa + i * ia] - az) * as, fb = (float)(pb[ob + i * ib] - bz) * bs;
      *py++ = pkt_q_round((mul ? fa * fb : fa + fb) * inv, oz, lo, hi);
    }
    for (int d = r - 2; d >= 0; d--) { /* next outer index */
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < y->dims[d]) break;
      oa -= sa[d] * y->dims[d];
      ob -= sb[d] * y->dims[d];
      idx[d] = 0;
    }
  }
  return PKT_OK;
}
