/* What the dynamic int8 recurrent layers (qlstm_dynamic.c, qgru_dynamic.c) add to recurrent.h: w_ih and w_hh int8
 * symmetric per row (inputs wi and wi + 1) with their f32 scales (inputs 6 and 7), both packed once for the int8
 * GEMM, and the projection of rows of x or h through them: each row quantized at run time (pkt_quantize_rows, as
 * qlinear_dynamic does), int32 accumulation, float result (acc * row scale * weight scale + float bias). Gates and
 * state stay float. The quantized rows live in the node's scratch after the float part: nothing is allocated while
 * the layer runs. */
#ifndef PKT_QRECURRENT_H
#define PKT_QRECURRENT_H

#include "compute/qgemm/qgemm.h"
#include "compute/qgemm/qgemm_internal.h"
#include "kernels/quant_util.h"
#include "kernels/recurrent.h"

/* The int8 weights' dtypes and their scales (count G, finite, > 0); I and H within the int8 GEMM's K. Run after the
 * layer's shape check. */
static inline pkt_status pkt_qrnn_check(const pkt_node* n, const pkt_rnn_dims* d, int wi, pkt_err* err) {
  pkt_status st;
  if ((st = pkt_check_dtype(n->inputs[wi], PKT_I8, "w_ih", err)) ||
      (st = pkt_check_dtype(n->inputs[wi + 1], PKT_I8, "w_hh", err)) ||
      (st = pkt_q_check_scales(n->inputs[6], d->G, err)) || (st = pkt_q_check_scales(n->inputs[7], d->G, err)))
    return st;
  if (d->I > PKT_QGEMM_MAX_K || d->H > PKT_QGEMM_MAX_K)
    return pkt_fail(err, PKT_BAD_OPERANDS, "input size %lld or hidden size %lld is too large for the int8 GEMM",
                    (long long)d->I, (long long)d->H);
  return PKT_OK;
}

/* Packed weights: w_ih for the input projection, then (64-byte aligned) w_hh for the steps. */
static inline size_t pkt_qrnn_hh_offset(const pkt_node* n, const pkt_rnn_dims* d) {
  return pkt_q_align64(pkt_qgemm_packed_size(n->cfg, d->I, d->G));
}

static inline size_t pkt_qrnn_pack_size(const pkt_node* n, const pkt_rnn_dims* d) {
  return pkt_qrnn_hh_offset(n, d) + pkt_qgemm_packed_size(n->cfg, d->H, d->G);
}

static inline void pkt_qrnn_pack(const pkt_node* n, const pkt_rnn_dims* d, int wi, void* packed) {
  pkt_qgemm_pack_b(n->cfg, n->inputs[wi]->data, 1, d->I, d->I, d->G, NULL, packed);
  pkt_qgemm_pack_b(n->cfg, n->inputs[wi + 1]->data, 1, d->H, d->H, d->G, NULL,
                   (char*)packed + pkt_qrnn_hh_offset(n, d));
}

/* Where the quantized rows go: room for the larger of the input projection (T*B rows of I) and a step (B rows of
 * H), their scales and zero points. */
typedef struct pkt_qrnn_rows {
  int8_t* q;
  float* scale;
  int32_t* zp;
} pkt_qrnn_rows;

static inline void pkt_qrnn_sizes(const pkt_rnn_dims* d, uint64_t* q_bytes, uint64_t* rows) {
  uint64_t tb = (uint64_t)d->T * (uint64_t)d->B, x = tb * (uint64_t)d->I, h = (uint64_t)d->B * (uint64_t)d->H;
  *q_bytes = x > h ? x : h;
  *rows = tb > (uint64_t)d->B ? tb : (uint64_t)d->B;
}

/* Scratch bytes: `float_bytes` of the layer's own, then the quantized rows (the caller's size check bounds T*B*G
 * and I*G by 2^40; I is at most PKT_QGEMM_MAX_K, so this fits 64 bits). */
static inline uint64_t pkt_qrnn_scratch(const pkt_rnn_dims* d, uint64_t float_bytes) {
  uint64_t q, rows;
  pkt_qrnn_sizes(d, &q, &rows);
  return ((float_bytes + 63) & ~(uint64_t)63) + ((q + 63) & ~(uint64_t)63) + ((rows * 4 + 63) & ~(uint64_t)63) +
         rows * 4;
}

/* Refuse what the scratch cannot address (past 2^42 bytes, or size_t on a 32-bit target). */
static inline pkt_status pkt_qrnn_set_scratch(uint64_t bytes, const char* layer, size_t* scratch, pkt_err* err) {
  if (bytes > ((uint64_t)1 << 42) || bytes > (uint64_t)SIZE_MAX)
    return pkt_fail(err, PKT_BAD_OPERANDS, "%s needs %llu bytes of scratch: too large", layer,
                    (unsigned long long)bytes);
  *scratch = (size_t)bytes;
  return PKT_OK;
}

static inline pkt_qrnn_rows pkt_qrnn_rows_at(const pkt_rnn_dims* d, void* scratch, uint64_t float_bytes) {
  uint64_t q, rows;
  pkt_qrnn_sizes(d, &q, &rows);
  pkt_qrnn_rows r;
  r.q = (int8_t*)((char*)scratch + pkt_q_align64((size_t)float_bytes));
  r.scale = (float*)(void*)((char*)r.q + pkt_q_align64((size_t)q));
  r.zp = (int32_t*)(void*)((char*)r.scale + pkt_q_align64((size_t)rows * 4u));
  return r;
}

/* out [M, G] (row stride G) = rows of a [M, K] (row stride lda) quantized per row, times the packed int8 weights
 * [G, K] and their scales, + fbias [G] (or NULL). */
static inline void pkt_qrnn_project(const pkt_node* n, const pkt_qrnn_rows* r, int64_t M, int64_t K, int64_t G,
                                    const float* a, int64_t lda, const void* packed, const float* w_scale,
                                    const float* fbias, float* out) {
  if (M == 0) return;
  pkt_quantize_rows(n->cfg, M, K, a, lda, r->q, r->scale, r->zp);
  pkt_qgemm_args g;
  memset(&g, 0, sizeof g);
  g.M = M;
  g.N = G;
  g.K = K;
  g.A = r->q;
  g.lda = K;
  g.a_zp = r->zp;
  g.a_zp_per_row = 1;
  g.packed_b = packed;
  g.epilogue = PKT_QGEMM_DEQUANT;
  g.Cf = out;
  g.ldc = G;
  g.a_scale = r->scale;
  g.w_scale = w_scale;
  g.fbias = fbias;
  g.act = PKT_ACT_NONE;
  pkt_qgemm(n, n->cfg, &g);
}

#endif
