/* qlinear: int8 y[m, n] = requant(sum_k (x[m, k] - in_zp) * w[n, k] + bias32[n]) over all leading dims of x, on
 * the int8 GEMM (compute/qgemm). The constant weight is packed once per session with its int32 bias, after the
 * per-channel requantization multipliers. */
#include "core/kernel.h"
#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
#include "kernels/quant_util.h"

PKT_DECLARE_PACKING(qlinear)

pkt_status pkt_kernel_qlinear_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_QLINEAR_MIN_INPUTS, PKT_QLINEAR_MAX_INPUTS, 1, PKT_QLINEAR_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_I8, "input", err)) || (st = pkt_check_dtype(y, PKT_I8, "output", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QLINEAR_IN_SCALE, "input", err)) ||
      (st = pkt_q_check_qparams(n, PKT_QLINEAR_OUT_SCALE, "output", err)) ||
      (st = pkt_q_check_clamp(pkt_param_i(n, PKT_QLINEAR_OUT_MIN), pkt_param_i(n, PKT_QLINEAR_OUT_MAX), err)) ||
      (st = pkt_q_check_linear(n, PKT_QGEMM_MAX_K, err)))
    return st;
  *scratch = 0;
  return PKT_OK;
}

static size_t ql_consts_bytes(int64_t N) { return pkt_q_align64((size_t)N * 8u); }

size_t pkt_kernel_qlinear_pack_size(const pkt_node* n) {
  const pkt_tensor* w = n->inputs[1];
  return ql_consts_bytes(w->dims[0]) + pkt_qgemm_packed_size(n->cfg, w->dims[1], w->dims[0]);
}

void pkt_kernel_qlinear_pack(const pkt_node* n, void* packed) {
  const pkt_tensor* w = n->inputs[1];
  const int64_t N = w->dims[0], K = w->dims[1];
  memset(packed, 0, ql_consts_bytes(N));
  float* scale = packed;
  int32_t* ibias = (int32_t*)(scale + N);
  pkt_q_gemm_consts(pkt_param_f(n, PKT_QLINEAR_IN_SCALE), n->inputs[2]->data, pkt_param_f(n, PKT_QLINEAR_OUT_SCALE),
                    n->n_inputs == 4 ? n->inputs[3]->data : NULL, N, scale, ibias);
  pkt_qgemm_pack_b(n->cfg, w->data, 1, K, K, N, ibias, (char*)packed + ql_consts_bytes(N));
}

pkt_status pkt_kernel_qlinear_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  const int64_t N = w->dims[0], K = w->dims[1];
  int32_t zp = (int32_t)pkt_param_i(n, PKT_QLINEAR_IN_ZP);
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = y->numel / N;
  g.N = N;
  g.K = K;
  g.A = x->data;
  g.lda = K;
  g.a_zp = &zp;
  g.packed_b = (const char*)n->packed + ql_consts_bytes(N);
  g.epilogue = PKT_QGEMM_REQUANT;
  g.C8 = y->data;
  g.ldc = N;
  g.scale = n->packed;
  g.c_zp = (int32_t)pkt_param_i(n, PKT_QLINEAR_OUT_ZP);
  g.c_min = (int32_t)pkt_param_i(n, PKT_QLINEAR_OUT_MIN);
  g.c_max = (int32_t)pkt_param_i(n, PKT_QLINEAR_OUT_MAX);
  pkt_qgemm(n, n->cfg, &g);
  return PKT_OK;
}
