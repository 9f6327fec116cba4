/* What the recurrent layers (lstm.c, gru.c) share: their dims, the packing of w_ih (and of w_hh when several
 * sequences run together), the size limit and the input projection of every step done as one GEMM up front.
 * Both take x [B, T, I] (batch_first) or [T, B, I] as input 0 and h0 [B, H] as input 1. */
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

#endif
