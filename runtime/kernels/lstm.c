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
  const pkt_tensor *x = n->inputs[0], *h0 = n->inputs[1], *c0 = n->inputs[2], *wih = n->inputs[3],
                   *whh = n->inputs[4], *b = n->inputs[5], *y = n->outputs[0];
  if (x->rank != 3 || h0->rank != 2 || c0->rank != 2 || wih->rank != 2 || whh->rank != 2 || b->rank != 1 ||
      y->rank != 3)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, h0 %d, c0 %d, w_ih %d, w_hh %d, bias %d, output %d; "
                    "expected 3, 2, 2, 2, 2, 1, 3", x->rank, h0->rank, c0->rank, wih->rank, whh->rank, b->rank, y->rank);
  const int64_t G = d.G;
  if (d.H < 1 || h0->dims[0] != d.B || h0->dims[1] != d.H || c0->dims[0] != d.B || c0->dims[1] != d.H ||
      wih->dims[0] != G || wih->dims[1] != d.I || whh->dims[0] != G || whh->dims[1] != d.H || b->numel != G ||
      y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] || y->dims[2] != d.H)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input [%lld, %lld, %lld], h0 [%lld, %lld], w_ih [%lld, %lld] and w_hh "
                    "[%lld, %lld] do not make an LSTM layer of hidden size %lld",
                    (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2], (long long)h0->dims[0],
                    (long long)h0->dims[1], (long long)wih->dims[0], (long long)wih->dims[1], (long long)whh->dims[0],
                    (long long)whh->dims[1], (long long)d.H);
  for (int i = 1; i < 3; i++)
    if (n->outputs[i]->rank != 2 || n->outputs[i]->dims[0] != d.B || n->outputs[i]->dims[1] != d.H)
      return pkt_fail(err, PKT_BAD_OPERANDS, "h_n and c_n must be [%lld, %lld]", (long long)d.B, (long long)d.H);
  if (!wih->data || !whh->data || !b->data)
    return pkt_fail(err, PKT_BAD_OPERANDS, "the weights and bias must be constants (the exporter emits only those)");
  /* scratch: every step's input projection, one step's gates, h, c and tanh(c) */
  if ((st = pkt_rnn_check_size(&d, "an LSTM", err))) return st;
  *scratch = (size_t)(((uint64_t)d.T * d.B * G + (uint64_t)d.B * G + 3 * (uint64_t)d.B * d.H) * sizeof(float));
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
      for (int64_t b = 0; b < B; b++) {
        const float* p = proj + (row0 + b * step) * G;
        float* g = gates + b * G;
        for (int64_t j = 0; j < G; j++) g[j] += p[j];
      }
    }
    for (int64_t b = 0; b < B; b++) {
      float *g = gates + b * G, *hb = h + b * H, *cb = c + b * H, *tb = tc + b * H;
      n->cfg->act(g, 2 * H, PKT_ACT_SIGMOID, 0.f, 0.f);     /* i, f */
      n->cfg->act(g + 2 * H, H, PKT_ACT_TANH, 0.f, 0.f);    /* g */
      n->cfg->act(g + 3 * H, H, PKT_ACT_SIGMOID, 0.f, 0.f); /* o */
      const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
      for (int64_t j = 0; j < H; j++) tb[j] = cb[j] = gf[j] * cb[j] + gi[j] * gg[j];
      n->cfg->act(tb, H, PKT_ACT_TANH, 0.f, 0.f);
      float* yb = y + (row0 + b * step) * H;
      for (int64_t j = 0; j < H; j++) yb[j] = hb[j] = go[j] * tb[j];
    }
  }
  memcpy(hn, h, (size_t)(B * H) * sizeof(float));
  memcpy(cn, c, (size_t)(B * H) * sizeof(float));
  return PKT_OK;
}
