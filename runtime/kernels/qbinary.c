/* qbinary: int8 add/mul with NumPy broadcasting. Each input is dequantized, the two are combined in float and the
 * result quantized, the PT2E reference's own arithmetic, so the result is bit-exact; a fused ReLU is the clamp.
 * The rows run in compute/qelem (vector code per ISA). */
#include <string.h>

#include "compute/qelem/qelem.h"
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

/* The output in blocks of QB_BLOCK elements (the unit split across threads), over the shape with dims of 1 dropped
 * and neighbours merged where both inputs step through them as one: a row of the last dim reads each input with
 * step 1, or 0 where it is broadcast (contiguous inputs), so it runs as one vector row. */
#define QB_BLOCK 16384

typedef struct qb_job {
  const pkt_isa_config* cfg;
  pkt_qelem_binary p, swapped; /* swapped: b as the stepping operand, for rows where only a is broadcast */
  const int8_t *a, *b;
  int8_t* y;
  int64_t numel, dims[PKT_MAX_RANK], sa[PKT_MAX_RANK], sb[PKT_MAX_RANK];
  int rank;
} qb_job;

static void qb_blocks(void* ctx, int64_t b0, int64_t e0) {
  const qb_job* j = ctx;
  const int r = j->rank;
  const int64_t inner = j->dims[r - 1], ia = j->sa[r - 1], ib = j->sb[r - 1];
  int64_t i = b0 * QB_BLOCK, end = e0 * QB_BLOCK < j->numel ? e0 * QB_BLOCK : j->numel;
  int64_t idx[PKT_MAX_RANK] = {0}, oa = 0, ob = 0, col = i % inner, rest = i / inner;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = rest % j->dims[d];
    rest /= j->dims[d];
    oa += idx[d] * j->sa[d];
    ob += idx[d] * j->sb[d];
  }
  while (i < end) {
    const int64_t len = inner - col < end - i ? inner - col : end - i;
    if (ia)
      pkt_qelem_binary_row(j->cfg, &j->p, j->a + oa + col, j->b + ob + col * ib, (int)ib, j->y + i, len);
    else if (ib)
      pkt_qelem_binary_row(j->cfg, &j->swapped, j->b + ob + col, j->a + oa, 0, j->y + i, len);
    else { /* both broadcast along the row: one value */
      pkt_qelem_binary_row(j->cfg, &j->p, j->a + oa, j->b + ob, 0, j->y + i, 1);
      memset(j->y + i + 1, j->y[i], (size_t)(len - 1));
    }
    i += len;
    col = 0;
    for (int d = r - 2; d >= 0; d--) { /* next row */
      oa += j->sa[d];
      ob += j->sb[d];
      if (++idx[d] < j->dims[d]) break;
      oa -= j->sa[d] * j->dims[d];
      ob -= j->sb[d] * j->dims[d];
      idx[d] = 0;
    }
  }
}

pkt_status pkt_kernel_qbinary_run(const pkt_node* n) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int64_t sa[PKT_MAX_RANK], sb[PKT_MAX_RANK];
  pkt_broadcast_strides(a, y, sa);
  pkt_broadcast_strides(b, y, sb);
  qb_job j = {.cfg = n->cfg, .a = a->data, .b = b->data, .y = y->data, .numel = y->numel, .rank = 0};
  j.p.as = (float)pkt_param_f(n, PKT_QBINARY_A_SCALE);
  j.p.bs = (float)pkt_param_f(n, PKT_QBINARY_B_SCALE);
  j.p.az = (int32_t)pkt_param_i(n, PKT_QBINARY_A_ZP);
  j.p.bz = (int32_t)pkt_param_i(n, PKT_QBINARY_B_ZP);
  j.p.mul = pkt_param_i(n, PKT_QBINARY_KIND) == PKT_BINARY_MUL;
  j.p.out.inv = pkt_q_inv(pkt_param_f(n, PKT_QBINARY_OUT_SCALE));
  j.p.out.oz = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_ZP);
  j.p.out.lo = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_MIN);
  j.p.out.hi = (int32_t)pkt_param_i(n, PKT_QBINARY_OUT_MAX);
  j.swapped = j.p;
  j.swapped.as = j.p.bs;
  j.swapped.bs = j.p.as;
  j.swapped.az = j.p.bz;
  j.swapped.bz = j.p.az;
  for (int d = 0; d < y->rank; d++) {
    if (y->dims[d] == 1) continue;
    const int r = j.rank;
    if (r && j.sa[r - 1] == sa[d] * y->dims[d] && j.sb[r - 1] == sb[d] * y->dims[d]) { /* merge into the previous */
      j.dims[r - 1] *= y->dims[d];
      j.sa[r - 1] = sa[d];
      j.sb[r - 1] = sb[d];
    } else {
      j.dims[r] = y->dims[d];
      j.sa[r] = sa[d];
      j.sb[r] = sb[d];
      j.rank++;
    }
  }
  if (!j.rank) { /* one element */
    j.dims[0] = 1;
    j.sa[0] = j.sb[0] = 0;
    j.rank = 1;
  }
  pkt_parallel_for(n, (y->numel + QB_BLOCK - 1) / QB_BLOCK, qb_blocks, &j);
  return PKT_OK;
}
