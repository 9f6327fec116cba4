/* qlstm_dynamic: lstm (see lstm.c) with int8 weights, as torch.ao.nn.quantized.dynamic.LSTM runs it: w_ih and w_hh
 * int8 symmetric per row with f32 scales (inputs 6, 7), every row of x and, at each step, of h quantized at run
 * time (asymmetric int8 per row), the projections accumulated in int32 and scaled back to float; gates, bias and
 * state float. The input projections of every step are one int8 GEMM before the loop; each step then runs w_hh h
 * on the int8 GEMM (kernels/qrecurrent.h). */
#include "kernels/qrecurrent.h"

PKT_DECLARE_PACKING(qlstm_dynamic)

/* floats: every step's input projection, one step's gates, h, c and tanh(c) */
static uint64_t float_bytes(const pkt_rnn_dims* d) {
  return ((uint64_t)d->T * d->B * d->G + (uint64_t)d->B * d->G + 3 * (uint64_t)d->B * d->H) * sizeof(float);
}

pkt_status pkt_kernel_qlstm_dynamic_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 8, 8, 3, PKT_QLSTM_DYNAMIC_NUM_PARAMS, err);
  if (st) return st;
  static const char* const names[4] = {"input", "h0", "c0", "bias"};
  static const int at[4] = {0, 1, 2, 5};
  for (int i = 0; i < 4; i++)
    if ((st = pkt_check_dtype(n->inputs[at[i]], PKT_F32, names[i], err))) return st;
  for (int i = 0; i < 3; i++)
    if ((st = pkt_check_dtype(n->outputs[i], PKT_F32, "output", err))) return st;
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_QLSTM_DYNAMIC_BATCH_FIRST, PKT_QLSTM_DYNAMIC_REVERSE, 4, &d);
  if ((st = pkt_lstm_check_shapes(n, &d, err)) || (st = pkt_qrnn_check(n, &d, 3, err))) return st;
  return pkt_qrnn_set_scratch(pkt_qrnn_scratch(&d, float_bytes(&d)), "an int8 LSTM", scratch, err);
}

size_t pkt_kernel_qlstm_dynamic_pack_size(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_QLSTM_DYNAMIC_BATCH_FIRST, PKT_QLSTM_DYNAMIC_REVERSE, 4, &d);
  return pkt_qrnn_pack_size(n, &d);
}

void pkt_kernel_qlstm_dynamic_pack(const pkt_node* n, void* packed) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_QLSTM_DYNAMIC_BATCH_FIRST, PKT_QLSTM_DYNAMIC_REVERSE, 4, &d);
  pkt_qrnn_pack(n, &d, 3, packed);
}

pkt_status pkt_kernel_qlstm_dynamic_run(const pkt_node* n) {
  pkt_rnn_dims d;
  pkt_rnn_read(n, PKT_QLSTM_DYNAMIC_BATCH_FIRST, PKT_QLSTM_DYNAMIC_REVERSE, 4, &d);
  const int64_t B = d.B, T = d.T, I = d.I, H = d.H, G = d.G;
  float* y = n->outputs[0]->data;
  float *hn = n->outputs[1]->data, *cn = n->outputs[2]->data;
  if (B == 0) return PKT_OK;
  float* proj = n->scratch; /* [T*B rows in x's order][G] */
  float* gates = proj + T * B * G;
  float *h = gates + B * G, *c = h + B * H, *tc = c + B * H;
  const pkt_qrnn_rows rows = pkt_qrnn_rows_at(&d, n->scratch, float_bytes(&d));
  const void* whh = (const char*)n->packed + pkt_qrnn_hh_offset(n, &d);
  const float *s_ih = n->inputs[6]->data, *s_hh = n->inputs[7]->data;
  memcpy(h, n->inputs[1]->data, (size_t)(B * H) * sizeof(float));
  memcpy(c, n->inputs[2]->data, (size_t)(B * H) * sizeof(float));
  pkt_qrnn_project(n, &rows, T * B, I, G, n->inputs[0]->data, I, n->packed, s_ih, n->inputs[5]->data, proj);
  for (int64_t s = 0; s < T; s++) {
    const int64_t t = d.reverse ? T - 1 - s : s;
    /* row of (t, b) in x, proj and y: b * T + t (batch first) or t * B + b */
    const int64_t row0 = d.batch_first ? t : t * B, step = d.batch_first ? T : 1;
    /* one sequence: its projection row is the step's bias; several: added after */
    pkt_qrnn_project(n, &rows, B, H, G, h, H, whh, s_hh, B == 1 ? proj + row0 * G : NULL, gates);
    if (B > 1) pkt_rnn_add_rows(gates, proj, row0, step, B, G);
    for (int64_t b = 0; b < B; b++)
      pkt_lstm_cell(n, gates + b * G, h + b * H, c + b * H, tc + b * H, y + (row0 + b * step) * H, H);
  }
  memcpy(hn, h, (size_t)(B * H) * sizeof(float));
  memcpy(cn, c, (size_t)(B * H) * sizeof(float));
  return PKT_OK;
}
