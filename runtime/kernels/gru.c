/* gru: one layer, one direction of torch.nn.GRU (the exporter emits one per layer and direction).
 * Inputs x [B, T, I] (batch_first) or [T, B, I], h0 [B, H], w_ih [3H, I], w_hh [3H, H], b_ih [3H], b_hh [3H]
 * (kept apart: b_hn sits inside the reset gate's product); outputs y (x's layout, H features) and h_n [B, H].
 * Gates in PyTorch's order r, z, n, computed as ATen's GRU cell does:
 *   r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r * hn), h' = (h - n) * z + n
 * where x* = W_i* x + b_i* and h* = W_h* h + b_h*. reverse=1 walks the steps from the last.
 *
 * The input projections of every step are one GEMM before the loop (w_ih packed once per session); each step's
 * hidden projection is a GEMV reading w_hh in place for one sequence, a GEMM on w_hh packed once for several. */
#include "kernels/recurrent.h"

PKT_DECLARE_PACKING(gru)

pkt_status pkt_kernel_gru_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 6, 6, 2, PKT_GRU_NUM_PARAMS, err);
  if (st) return st;
  static const char* const names[6] = {"input", "h0", "w_ih", "w_hh", "b_ih", "b_hh"};
  for (int i = 0; i < 6; i++)
    if ((st = pkt_check_dtype(n->inputs[i], PKT_F32, names[i], err))) return st;
  for (int i = 0; i < 2; i++)
    if ((st = pkt_check_dtype(n->outputs[i], PKT_F32, "output", err))) return st;
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_GRU_BATCH_FIRST, PKT_GRU_REVERSE, 3, &d);
  if ((st = pkt_gru_check_shapes(n, &d, err))) return st;
  /* scratch: every step's input projection, one step's hidden projection, h */
  *scratch = (size_t)(((uint64_t)d.T * d.B * d.G + (uint64_t)d.B * d.G + (uint64_t)d.B * d.H) * sizeof(float));
  return PKT_OK;
}

size_t pkt_kernel_gru_pack_size(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_GRU_BATCH_FIRST, PKT_GRU_REVERSE, 3, &d);
  uint64_t hh;
  return (size_t)(pkt_rnn_packed_floats(&d, &hh) * sizeof(float));
}

void pkt_kernel_gru_pack(const pkt_node* n, void* packed) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_GRU_BATCH_FIRST, PKT_GRU_REVERSE, 3, &d);
  pkt_rnn_pack(n, &d, n->inputs[2]->data, n->inputs[3]->data, packed);
}

pkt_status pkt_kernel_gru_run(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_GRU_BATCH_FIRST, PKT_GRU_REVERSE, 3, &d);
  const int64_t B = d.B, T = d.T, H = d.H, G = d.G;
  float *y = n->outputs[0]->data, *hn = n->outputs[1]->data;
  if (B == 0) return PKT_OK;
  float* proj = n->scratch; /* [T*B rows in x's order][G] */
  float* hg = proj + T * B * G; /* [B][G]: W_hh h + b_hh */
  float* h = hg + B * G;
  memcpy(h, n->inputs[1]->data, (size_t)(B * H) * sizeof(float));
  const float *whh = n->inputs[3]->data, *bhh = n->inputs[5]->data;
  uint64_t hh;
  pkt_rnn_packed_floats(&d, &hh);
  pkt_rnn_project_inputs(n, &d, n->inputs[4]->data, proj);
  for (int64_t s = 0; s < T; s++) {
    const int64_t t = d.reverse ? T - 1 - s : s;
    /* row of (t, b) in x, proj and y: b * T + t (batch first) or t * B + b */
    const int64_t row0 = d.batch_first ? t : t * B, step = d.batch_first ? T : 1;
    if (B == 1) {
      pkt_gemv(n, n->cfg, G, H, h, whh, H, bhh, hg, PKT_ACT_NONE, 0.f, 0.f);
    } else {
      pkt_gemm_args a = {B, G, H, h, H, (const float*)n->packed + hh, hg, G, bhh, PKT_ACT_NONE, 0.f, 0.f, 0};
      pkt_gemm(n, n->cfg, &a);
    }
    for (int64_t b = 0; b < B; b++)
      pkt_gru_cell(n, hg + b * G, proj + (row0 + b * step) * G, h + b * H, y + (row0 + b * step) * H, H);
  }
  memcpy(hn, h, (size_t)(B * H) * sizeof(float));
  return PKT_OK;
}
