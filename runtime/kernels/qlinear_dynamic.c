/* qlinear_dynamic: float y = act(x @ dequant(w)^T + b) with int8 weights [N, K] (per-channel scales): each row of x
 * is quantized at run time (asymmetric int8, pkt_quantize_rows), multiplied on the int8 GEMM and scaled back to float
 * in its epilogue with the float bias and the activation. */
#include "core/kernel.h"
#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
#include "kernels/quant_util.h"

PKT_DECLARE_PACKING(qlinear_dynamic)

static size_t qd_scratch(int64_t M, int64_t K) {
  return pkt_q_align64((size_t)(M * K)) + pkt_q_align64((size_t)M * 4u) + (size_t)M * 4u;
}

pkt_status pkt_kernel_qlinear_dynamic_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, PKT_QLINEAR_DYNAMIC_MIN_INPUTS, PKT_QLINEAR_DYNAMIC_MAX_INPUTS, 1,
                                     PKT_QLINEAR_DYNAMIC_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err)) ||
      (st = pkt_q_check_linear(n, PKT_QGEMM_MAX_K, err)))
    return st;
  int64_t M = w->dims[0] ? y->numel / w->dims[0] : 0;
  if (M > ((int64_t)1 << 40) / (w->dims[1] + 1)) return pkt_fail(err, PKT_BAD_OPERANDS, "input too large");
  *scratch = qd_scratch(M, w->dims[1]);
  return pkt_check_act(n, PKT_QLINEAR_DYNAMIC_ACT, err);
}

size_t pkt_kernel_qlinear_dynamic_pack_size(const pkt_node* n) {
  return pkt_qgemm_packed_size(n->cfg, n->inputs[1]->dims[1], n->inputs[1]->dims[0]);
}

void pkt_kernel_qlinear_dynamic_pack(const pkt_node* n, void* packed) {
  const pkt_tensor* w = n->inputs[1];
  pkt_qgemm_pack_b(n->cfg, w->data, 1, w->dims[1], w->dims[1], w->dims[0], NULL, packed);
}

pkt_status pkt_kernel_qlinear_dynamic_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if (y->numel == 0) return PKT_OK;
  const int64_t N = w->dims[0], K = w->dims[1], M = y->numel / N;
  int8_t* q = n->scratch;
  float* a_scale = (float*)((char*)n->scratch + pkt_q_align64((size_t)(M * K)));
  int32_t* a_zp = (int32_t*)((char*)a_scale + pkt_q_align64((size_t)M * 4u));
  pkt_quantize_rows(n->cfg, M, K, x->data, K, q, a_scale, a_zp);
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = M;
  g.N = N;
  g.K = K;
  g.A = q;
  g.lda = K;
  g.a_zp = a_zp;
  g.a_zp_per_row = 1;
  g.packed_b = n->packed;
  g.epilogue = PKT_QGEMM_DEQUANT;
  g.Cf = y->data;
  g.ldc = N;
  g.a_scale = a_scale;
  g.w_scale = n->inputs[2]->data;
  g.fbias = n->n_inputs == 4 ? n->inputs[3]->data : NULL;
  g.act = (int)pkt_param_i(n, PKT_QLINEAR_DYNAMIC_ACT);
  g.act_min = (float)pkt_param_f(n, PKT_QLINEAR_DYNAMIC_ACT_MIN);
  g.act_max = (float)pkt_param_f(n, PKT_QLINEAR_DYNAMIC_ACT_MAX);
  pkt_qgemm(n, n->cfg, &g);
  return PKT_OK;
}
