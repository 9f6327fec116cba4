/* lstm: one layer, one direction of torch.nn.LSTM (the exporter emits one per layer and direction).
 * Inputs x [B, T, I] (batch_first) or [T, B, I], h0 [B, H], c0 [B, H], w_ih [4H, I], w_hh [4H, H] and
 * bias [4H] (b_ih + b_hh, folded by the exporter); outputs y (x's layout, H features), h_n [B, H],
 * c_n [B, H]. Gates in PyTorch's order i, f, g, o; reverse=1 walks the steps from the last.
 *
 * The input projections of every step are one GEMM before the loop (w_ih packed once per session);
 * each step then adds w_hh h: a GEMV reading w_hh in place for one sequence (the projection row is its
 * bias), a GEMM on w_hh packed once for several. The gate math runs on the vectorized activations. */
#include "kernels/recurrent.h"

PKT_DECLARE_PACKING(lstm)

pkt_status pkt_kernel_lstm_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 6, 6, 3, PKT_LSTM_NUM_PARAMS, err);
  if (st) return st;
  static const char* const names[6] = {"input", "h0", "c0", "w_ih", "w_hh", "bias"};
  for (int i = 0; i < 6; i++)
    if ((st = pkt_check_dtype(n->inputs[i], PKT_F32, names[i], err))) return st;
  for (int i = 0; i < 3; i++)
    if ((st = pkt_check_dtype(n->outputs[i], PKT_F32, "output", err))) return st;
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_LSTM_BATCH_FIRST, PKT_LSTM_REVERSE, 4, &d);
  if ((st = pkt_lstm_check_shapes(n, &d, err))) return st;
  /* scratch: every step's input projection, one step's gates, h, c and tanh(c) */
  *scratch = (size_t)(((uint64_t)d.T * d.B * d.G + (uint64_t)d.B * d.G + 3 * (uint64_t)d.B * d.H) * sizeof(float));
  return PKT_OK;
}

size_t pkt_kernel_lstm_pack_size(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_LSTM_BATCH_FIRST, PKT_LSTM_REVERSE, 4, &d);
  uint64_t hh;
  return (size_t)(pkt_rnn_packed_floats(&d, &hh) * sizeof(float));
}

void pkt_kernel_lstm_pack(const pkt_node* n, void* packed) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_LSTM_BATCH_FIRST, PKT_LSTM_REVERSE, 4, &d);
  pkt_rnn_pack(n, &d, n->inputs[3]->data, n->inputs[4]->data, packed);
}

pkt_status pkt_kernel_lstm_run(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_LSTM_BATCH_FIRST, PKT_LSTM_REVERSE, 4, &d);
  const int64_t B = d.B, T = d.T, H = d.H, G = d.G;
  float* y = n->outputs[0]->data;
  float *hn = n->outputs[1]->data, *cn = n->outputs[2]->data;
  if (B == 0) return PKT_OK;
  float* proj = n->scratch; /* [T*B rows in x's order][G] */
  float* gates = proj + T * B * G;
  float *h = gates + B * G, *c = h + B * H, *tc = c + B * H;
  memcpy(h, n->inputs[1]->data, (size_t)(B * H) * sizeof(float));
  memcpy(c, n->inputs[2]->data, (size_t)(B * H) * sizeof(float));
  const float* whh = n->inputs[4]->data;
  uint64_t hh;
  pkt_rnn_packed_floats(&d, &hh);
  pkt_rnn_project_inputs(n, &d, n->inputs[5]->data, proj);
  for (int64_t s = 0; s < T; s++) {
    const int64_t t = d.reverse ? T - 1 - s : s;
    /* row of (t, b) in x, proj and y: b * T + t (batch first) or t * B + b */
    const int64_t row0 = d.batch_first ? t : t * B, step = d.batch_first ? T : 1;
    if (B == 1) {
      pkt_gemv(n, n->cfg, G, H, h, whh, H, proj + row0 * G, gates, PKT_ACT_NONE, 0.f, 0.f);
    } else {
      pkt_gemm_args a = {B, G, H, h, H, (const float*)n->packed + hh, gates, G, NULL, PKT_ACT_NONE, 0.f, 0.f, 0};
      pkt_gemm(n, n->cfg, &a);
      pkt_rnn_add_rows(gates, proj, row0, step, B, G);
    }
    for (int64_t b = 0; b < B; b++)
      pkt_lstm_cell(n, gates + b * G, h + b * H, c + b * H, tc + b * H, y + (row0 + b * step) * H, H);
  }
  memcpy(hn, h, (size_t)(B * H) * sizeof(float));
  memcpy(cn, c, (size_t)(B * H) * sizeof(float));
  return PKT_OK;
}
