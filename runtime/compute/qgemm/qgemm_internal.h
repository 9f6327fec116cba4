/* The int8 GEMM family's internals (see qgemm.h): the packed-B layout every micro-kernel reads, the family's
 * per-config table and the scalar epilogue the portable kernel (and SIMD tails) share.
 *
 * Packed B: panels of nr columns. A panel is nr int32 column sums, nr int32 biases (0 when none), then the
 * weights as int8 with K rounded up to kr: byte (k, j) at (k / kr) * nr * kr + j * kr + k % kr, zero-padded past
 * K and past N. kr = 1 is K-major; kr = 4 puts each column's four k in one 32-bit lane (vpdpbusd, sdot); kr = 8
 * gives two columns' eight k in 16 bytes (smmla's 2 x 8 operand). The micro-kernel computes the raw dot products
 * sum_k A'[m, k] B[k, n] with A' = A + shift (x86 VNNI multiplies u8 x s8: shift 128), and the epilogue makes
 *   acc = dot + bias[n] - (a_zp[m] + shift) * colsum[n]
 * (wrapping int32 arithmetic: acc itself fits int32 for every K the kernels take, see PKT_QGEMM_MAX_K). */
#ifndef PKT_QGEMM_INTERNAL_H
#define PKT_QGEMM_INTERNAL_H

#include "compute/qgemm/qgemm.h"

/* |sum_k (A - zp) B| <= K * 255 * 128 stays below 2^31 (also with the +128 shift) up to this K. */
#define PKT_QGEMM_MAX_K 65535

/* One micro-kernel call: rows [m0, m0 + mr) x the columns [n0, n0 + nr) of one panel, epilogue included. */
typedef struct qgemm_tile {
  const pkt_qgemm_args* g;
  const pkt_isa_config* cfg;
  const uint8_t* panel;
  int64_t m0, n0;
  int mr, nr;
} qgemm_tile;
typedef void (*pkt_qgemm_ukernel)(const qgemm_tile* t);

typedef struct pkt_qgemm_config {
  const char* name; /* "<path>_<mr>x<nr>" */
  pkt_qgemm_ukernel ukernel;
  int mr, nr, kr; /* register tile rows, panel width, k per column group */
  int shift;      /* added to A in the kernel (128: u8 x s8), taken out through the column sums */
} pkt_qgemm_config;
const pkt_qgemm_config* pkt_qgemm_config_of(const pkt_isa_config* cfg);

static inline int64_t qgemm_kpad(int64_t K, int kr) { return (K + kr - 1) / kr * kr; }
static inline size_t qgemm_panel_bytes(const pkt_qgemm_config* qc, int64_t K) {
  return (size_t)qc->nr * 8u + (size_t)qgemm_kpad(K, qc->kr) * (size_t)qc->nr;
}
static inline const int32_t* qgemm_colsum(const uint8_t* panel) { return (const int32_t*)(const void*)panel; }
static inline const int32_t* qgemm_bias(const uint8_t* panel, int nr) {
  return (const int32_t*)(const void*)panel + nr;
}
static inline const int8_t* qgemm_weights(const uint8_t* panel, int nr) {
  return (const int8_t*)(panel + (size_t)nr * 8u);
}
static inline int32_t qgemm_row_zp(const pkt_qgemm_args* g, int64_t m) { return g->a_zp[g->a_zp_per_row ? m : 0]; }

/* acc = dot + bias - (zp + shift) * colsum with int32 wrap-around (defined through uint32). */
static inline int32_t qgemm_compensate(int32_t dot, int32_t bias, int32_t zp_shift, int32_t colsum) {
  return (int32_t)((uint32_t)dot + (uint32_t)bias - (uint32_t)zp_shift * (uint32_t)colsum);
}

/* The epilogue for one row of a tile (acc already compensated): REQUANT to int8 or DEQUANT to float with the
 * activation. */
void pkt_qgemm_store_row(const qgemm_tile* t, int r, const int32_t* acc);

/* Portable micro-kernel and quantize_rows, the fallbacks of every config. */
void pkt_qgemm_ukernel_portable(const qgemm_tile* t);
void pkt_quantize_rows_portable(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                                int32_t* a_zp);

#endif
