/* qmatmul: int8 batched matmul of two activations with broadcasting batch dims, b symmetric (zero point 0, the
 * quantizer annotates it so). Per batch, b is packed into scratch and multiplied on the int8 GEMM (compute/qgemm)
 * with one requantization multiplier a_scale * b_scale / out_scale. */
#include "core/kernel.h"
#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
#include "kernels/quant_util.h"

static void qm_dims(const pkt_node* n, int64_t* M, int64_t* K, int64_t* N) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1];
  const int tb = (int)pkt_param_i(n, PKT_QMATMUL_TRANSPOSE_B);
  *M = a->dims[a->rank - 2], *K = a->dims[a->rank - 1], *N = b->dims[b->rank - (tb ? 2 : 1)];
}

pkt_status pkt_kernel_qmatmul_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 2, 2, 1, PKT_QMATMUL_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(a, PKT_I8, "a", err)) || (st = pkt_check_dtype(b, PKT_I8, "b", err)) ||
      (st = pkt_check_dtype(y, PKT_I8, "output", err)) || (st = pkt_q_check_qparams(n, PKT_QMATMUL_A_SCALE, "a", err)) ||
      (st = pkt_q_check_scale(pkt_param_f(n, PKT_QMATMUL_B_SCALE), "b", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QMATMUL_OUT_SCALE, "output", err)) ||
      (st = pkt_q_check_clamp(pkt_param_i(n, PKT_QMATMUL_OUT_MIN), pkt_param_i(n, PKT_QMATMUL_OUT_MAX), err)))
    return st;
  int64_t tb = pkt_param_i(n, PKT_QMATMUL_TRANSPOSE_B);
  if (tb != 0 && tb != 1) return pkt_fail(err, PKT_BAD_PARAMS, "transpose_b must be 0 or 1");
  if (a->rank < 2 || b->rank < 2 || y->rank != (a->rank > b->rank ? a->rank : b->rank))
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks a %d, b %d, output %d", a->rank, b->rank, y->rank);
  int64_t M, K, N;
  qm_dims(n, &M, &K, &N);
  if (b->dims[b->rank - (tb ? 1 : 2)] != K || y->dims[y->rank - 2] != M || y->dims[y->rank - 1] != N)
    return pkt_fail(err, PKT_BAD_OPERANDS, "matrix dims do not match");
  for (int d = 0; d < y->rank - 2; d++) {
    int da = d - (y->rank - a->rank), db = d - (y->rank - b->rank);
    int64_t ea = da >= 0 ? a->dims[da] : 1, eb = db >= 0 ? b->dims[db] : 1;
    if ((ea != 1 && ea != y->dims[d]) || (eb != 1 && eb != y->dims[d]) || (ea == 1 && eb == 1 && y->dims[d] != 1))
      return pkt_fail(err, PKT_BAD_OPERANDS, "batch dim %d does not broadcast", d);
  }
  if (K > PKT_QGEMM_MAX_K) return pkt_fail(err, PKT_BAD_OPERANDS, "K %lld is too large", (long long)K);
  *scratch = pkt_q_align64(pkt_qgemm_packed_size(n->cfg, K, N)) + (size_t)N * 4u;
  return PKT_OK;
}

pkt_status pkt_kernel_qmatmul_run(const pkt_node* n) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  int64_t M, K, N;
  qm_dims(n, &M, &K, &N);
  const int tb = (int)pkt_param_i(n, PKT_QMATMUL_TRANSPOSE_B);
  void* packed = n->scratch;
  float* scale = (float*)((char*)n->scratch + pkt_q_align64(pkt_qgemm_packed_size(n->cfg, K, N)));
  const float s = (float)(pkt_param_f(n, PKT_QMATMUL_A_SCALE) * pkt_param_f(n, PKT_QMATMUL_B_SCALE) /
                          pkt_param_f(n, PKT_QMATMUL_OUT_SCALE));
  for (int64_t i = 0; i < N; i++) scale[i] = s;
  int64_t sa[PKT_MAX_RANK] = {0}, sb[PKT_MAX_RANK] = {0}, idx[PKT_MAX_RANK] = {0};
  pkt_batch_strides(a, y, sa);
  pkt_batch_strides(b, y, sb);
  int32_t zp = (int32_t)pkt_param_i(n, PKT_QMATMUL_A_ZP);
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = K;
  g.a_zp = &zp;
  g.packed_b = packed;
  g.epilogue = PKT_QGEMM_REQUANT;
  g.ldc = N;
  g.scale = scale;
  g.c_zp = (int32_t)pkt_param_i(n, PKT_QMATMUL_OUT_ZP);
  g.c_min = (int32_t)pkt_param_i(n, PKT_QMATMUL_OUT_MIN);
  g.c_max = (int32_t)pkt_param_i(n, PKT_QMATMUL_OUT_MAX);
  const int64_t batches = y->numel / (M * N);
  int64_t oa = 0, ob = 0;
  for (int64_t bi = 0; bi < batches; bi++) {
    const int8_t* bp = (const int8_t*)b->data + ob;
    pkt_qgemm_pack_b(n->cfg, bp, tb ? 1 : N, tb ? K : 1, K, N, NULL, packed);
    g.A = (const int8_t*)a->data + oa;
    g.C8 = (int8_t*)y->data + bi * M * N;
    pkt_qgemm(n, n->cfg, &g);
    for (int d = y->rank - 3; d >= 0; d--) {
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
