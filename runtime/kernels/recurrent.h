/* What the recurrent layers (lstm.c, gru.c and their int8 forms qlstm_dynamic.c, qgru_dynamic.c) share: their dims
 * and shape checks, the packing of w_ih (and of w_hh when several sequences run together), the size limit, the
 * input projection of every step done as one GEMM up front, and the gate math of one step.
 * All take x [B, T, I] (batch_first) or [T, B, I] as input 0 and h0 [B, H] as input 1. */
#ifndef PKT_RECURRENT_H
#define PKT_RECURRENT_H

#include "core/kernel.h"
#include "compute/gemm/gemm.h"

typedef struct pkt_rnn_dims {
  int64_t B, T, I, H, G; /* G = gates x H: the rows of w_ih and w_hh */
  int batch_first, reverse;
} pkt_rnn_dims;

static inline void pkt_rnn_read(const pkt_node* n, int batch_first_param, int reverse_param, int gates,
                                pkt_rnn_dims* d) {
  const pkt_tensor *x = n->inputs[0], *h0 = n->inputs[1];
  d->batch_first = (int)pkt_param_i(n, batch_first_param);
  d->reverse = (int)pkt_param_i(n, reverse_param);
  d->B = x->rank == 3 ? x->dims[d->batch_first ? 0 : 1] : 0;
  d->T = x->rank == 3 ? x->dims[d->batch_first ? 1 : 0] : 0;
  d->I = x->rank == 3 ? x->dims[2] : 0;
  d->H = h0->rank == 2 ? h0->dims[1] : 0;
  d->G = gates * d->H;
}

/* Floats of w_ih packed for the GEMM, then of w_hh (from *hh_offset) when several sequences run together. */
static inline uint64_t pkt_rnn_packed_floats(const pkt_rnn_dims* d, uint64_t* hh_offset) {
  uint64_t ih = (uint64_t)pkt_gemm_packed_size(d->I, d->G);
  *hh_offset = ih;
  return ih + (d->B > 1 ? (uint64_t)pkt_gemm_packed_size(d->H, d->G) : 0);
}

static inline void pkt_rnn_pack(const pkt_node* n, const pkt_rnn_dims* d, const float* w_ih, const float* w_hh,
                                float* packed) {
  uint64_t hh;
  pkt_rnn_packed_floats(d, &hh);
  pkt_gemm_pack_b_on(n, w_ih, 1, d->I, d->I, d->G, packed);
  if (d->B > 1) pkt_gemm_pack_b_on(n, w_hh, 1, d->H, d->H, d->G, packed + hh);
}

/* Scratch counts must fit in size_t: refuse layers whose projections alone pass 2^40 floats. */
static inline pkt_status pkt_rnn_check_size(const pkt_rnn_dims* d, const char* layer, pkt_err* err) {
  const uint64_t limit = (uint64_t)1 << 40;
  if ((uint64_t)d->T * (uint64_t)d->B > limit / (uint64_t)d->G || (uint64_t)d->I > limit / (uint64_t)d->G)
    return pkt_fail(err, PKT_BAD_OPERANDS, "%s of %lld steps x %lld sequences x %lld features is too large", layer,
                    (long long)d->T, (long long)d->B, (long long)d->G);
  return PKT_OK;
}

/* proj [T*B rows in x's order][G] = x w_ih^T + bias, with the packed w_ih at the start of n->packed. */
static inline void pkt_rnn_project_inputs(const pkt_node* n, const pkt_rnn_dims* d, const float* bias, float* proj) {
  if (d->T == 0) return;
  pkt_gemm_args a = {d->T * d->B, d->G, d->I, n->inputs[0]->data, d->I, n->packed, proj, d->G, bias,
                     PKT_ACT_NONE, 0.f, 0.f, 0};
  pkt_gemm(n, n->cfg, &a);
}

/* Shapes (not dtypes) of an LSTM layer: x, h0, c0, w_ih [G, I], w_hh [G, H], bias [G] -> y, h_n, c_n; the weights
 * and bias constants. */
static inline pkt_status pkt_lstm_check_shapes(const pkt_node* n, const pkt_rnn_dims* d, pkt_err* err) {
  const pkt_tensor *x = n->inputs[0], *h0 = n->inputs[1], *c0 = n->inputs[2], *wih = n->inputs[3],
                   *whh = n->inputs[4], *b = n->inputs[5], *y = n->outputs[0];
  if (x->rank != 3 || h0->rank != 2 || c0->rank != 2 || wih->rank != 2 || whh->rank != 2 || b->rank != 1 ||
      y->rank != 3)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, h0 %d, c0 %d, w_ih %d, w_hh %d, bias %d, output %d; "
                    "expected 3, 2, 2, 2, 2, 1, 3", x->rank, h0->rank, c0->rank, wih->rank, whh->rank, b->rank, y->rank);
  const int64_t G = d->G;
  if (d->H < 1 || h0->dims[0] != d->B || h0->dims[1] != d->H || c0->dims[0] != d->B || c0->dims[1] != d->H ||
      wih->dims[0] != G || wih->dims[1] != d->I || whh->dims[0] != G || whh->dims[1] != d->H || b->numel != G ||
      y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] || y->dims[2] != d->H)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input [%lld, %lld, %lld], h0 [%lld, %lld], w_ih [%lld, %lld] and w_hh "
                    "[%lld, %lld] do not make an LSTM layer of hidden size %lld",
                    (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2], (long long)h0->dims[0],
                    (long long)h0->dims[1], (long long)wih->dims[0], (long long)wih->dims[1], (long long)whh->dims[0],
                    (long long)whh->dims[1], (long long)d->H);
  for (int i = 1; i < 3; i++)
    if (n->outputs[i]->rank != 2 || n->outputs[i]->dims[0] != d->B || n->outputs[i]->dims[1] != d->H)
      return pkt_fail(err, PKT_BAD_OPERANDS, "h_n and c_n must be [%lld, %lld]", (long long)d->B, (long long)d->H);
  if (!wih->data || !whh->data || !b->data)
    return pkt_fail(err, PKT_BAD_OPERANDS, "the weights and bias must be constants (the exporter emits only those)");
  return pkt_rnn_check_size(d, "an LSTM", err);
}

/* Shapes (not dtypes) of a GRU layer: x, h0, w_ih [G, I], w_hh [G, H], b_ih [G], b_hh [G] -> y, h_n; the weights
 * and biases constants. */
static inline pkt_status pkt_gru_check_shapes(const pkt_node* n, const pkt_rnn_dims* d, pkt_err* err) {
  const pkt_tensor *x = n->inputs[0], *h0 = n->inputs[1], *wih = n->inputs[2], *whh = n->inputs[3],
                   *bih = n->inputs[4], *bhh = n->inputs[5], *y = n->outputs[0], *hn = n->outputs[1];
  if (x->rank != 3 || h0->rank != 2 || wih->rank != 2 || whh->rank != 2 || bih->rank != 1 || bhh->rank != 1 ||
      y->rank != 3 || hn->rank != 2)
    return pkt_fail(err, PKT_BAD_OPERANDS, "ranks input %d, h0 %d, w_ih %d, w_hh %d, b_ih %d, b_hh %d, output %d, "
                    "h_n %d; expected 3, 2, 2, 2, 1, 1, 3, 2", x->rank, h0->rank, wih->rank, whh->rank, bih->rank,
                    bhh->rank, y->rank, hn->rank);
  const int64_t G = d->G;
  if (d->H < 1 || h0->dims[0] != d->B || wih->dims[0] != G || wih->dims[1] != d->I || whh->dims[0] != G ||
      whh->dims[1] != d->H || bih->numel != G || bhh->numel != G || y->dims[0] != x->dims[0] ||
      y->dims[1] != x->dims[1] || y->dims[2] != d->H || hn->dims[0] != d->B || hn->dims[1] != d->H)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input [%lld, %lld, %lld], h0 [%lld, %lld], w_ih [%lld, %lld] and w_hh "
                    "[%lld, %lld] do not make a GRU layer of hidden size %lld",
                    (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2], (long long)h0->dims[0],
                    (long long)h0->dims[1], (long long)wih->dims[0], (long long)wih->dims[1], (long long)whh->dims[0],
                    (long long)whh->dims[1], (long long)d->H);
  if (!wih->data || !whh->data || !bih->data || !bhh->data)
    return pkt_fail(err, PKT_BAD_OPERANDS, "the weights and biases must be constants (the exporter emits only those)");
  return pkt_rnn_check_size(d, "a GRU", err);
}

/* One LSTM step of one sequence: g [4H] holds the gates' pre-activations (i, f, g, o); updates c and h, writes
 * tanh(c) to tc and h to y. */
/* gates[b] += proj[row0 + b * step] for the B sequences of one step (the input projection of every step was computed
 * up front, rows of G). */
static inline void pkt_rnn_add_rows(float* gates, const float* proj, int64_t row0, int64_t step, int64_t B, int64_t G) {
  for (int64_t b = 0; b < B; b++) {
    const float* p = proj + (row0 + b * step) * G;
    float* g = gates + b * G;
    for (int64_t j = 0; j < G; j++) g[j] += p[j];
  }
}

static inline void pkt_lstm_cell(const pkt_node* n, float* g, float* h, float* c, float* tc, float* y, int64_t H) {
  n->cfg->act(g, 2 * H, PKT_ACT_SIGMOID, 0.f, 0.f);     /* i, f */
  n->cfg->act(g + 2 * H, H, PKT_ACT_TANH, 0.f, 0.f);    /* g */
  n->cfg->act(g + 3 * H, H, PKT_ACT_SIGMOID, 0.f, 0.f); /* o */
  const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
  for (int64_t j = 0; j < H; j++) tc[j] = c[j] = gf[j] * c[j] + gi[j] * gg[j];
  n->cfg->act(tc, H, PKT_ACT_TANH, 0.f, 0.f);
  for (int64_t j = 0; j < H; j++) y[j] = h[j] = go[j] * tc[j];
}

/* One GRU step of one sequence: g [3H] = W_hh h + b_hh, p [3H] = W_ih x + b_ih; updates h and writes it to y. */
static inline void pkt_gru_cell(const pkt_node* n, float* g, const float* p, float* h, float* y, int64_t H) {
  for (int64_t j = 0; j < 2 * H; j++) g[j] += p[j]; /* r, z pre-activations */
  n->cfg->act(g, 2 * H, PKT_ACT_SIGMOID, 0.f, 0.f);
  const float *r = g, *z = g + H;
  float* nn = g + 2 * H;
  for (int64_t j = 0; j < H; j++) nn[j] = p[2 * H + j] + r[j] * nn[j];
  n->cfg->act(nn, H, PKT_ACT_TANH, 0.f, 0.f);
  for (int64_t j = 0; j < H; j++) y[j] = h[j] = (h[j] - nn[j]) * z[j] + nn[j];
}

#endif
