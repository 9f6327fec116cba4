/* The int8 GEMM family's internals (see qgemm.h): the packed-B layout every micro-kernel reads, the family's
 * per-config table and the scalar epilogue the portable kernel (and SIMD tails) share.
 *
 * Packed B: panels of nr columns. A panel is nr int32 column sums, nr int32 biases (0 when none), then the
 * weights as int8 with K rounded up to kr: byte (k, j) at (k / kr) * nr * kr + j * kr + k % kr, zero-padded past
 * K and past N. kr = 1 is K-major; kr = 4 puts each column's four k in one 32-bit lane (vpdpbusd, sdot); kr = 8
 * gives two columns' eight k in 16 bytes (smmla's 2 x 8 operand, AVX2's vpmaddwd pairs). The micro-kernel computes
 * the raw dot products sum_k A'[m, k] B[k, n] with A' = A + shift (x86 VNNI multiplies u8 x s8: shift 128), and
 * the epilogue makes
 *   acc = dot + bias[n] - (a_zp[m] + shift) * colsum[n]
 * (wrapping int32 arithmetic: acc itself fits int32 for every K the kernels take, see PKT_QGEMM_MAX_K). */
#ifndef PKT_QGEMM_INTERNAL_H
#define PKT_QGEMM_INTERNAL_H

#include "compute/qgemm/qgemm.h"

/* |sum_k (A - zp) B| <= K * 255 * 128 stays below 2^31 (also with the +128 shift) up to this K. */
#define PKT_QGEMM_MAX_K 65535

/* One micro-kernel call: rows [m0, m0 + mr) x the columns [n0, n0 + nr) of one panel, epilogue included. */
#define QGEMM_MAX_TILE (12 * 32) /* the largest MR x NR of any micro-kernel (avx512vnni_12x32) */

typedef struct qgemm_tile {
  const pkt_qgemm_args* g;
  const pkt_isa_config* cfg;
  const uint8_t* panel;
  int64_t m0, n0;
  int mr, nr;
  /* Room for the SIMD kernels' MR x NR int32 sums between the dot products and the epilogue. It lives in the
   * caller's frame: a kernel's own array would sit in its 64-byte-realigned AVX-512 frame, which ASan's fake
   * stack (detect_stack_use_after_return) does not honour, so aligned spills there fault. */
  int32_t* dot;
} qgemm_tile;
typedef void (*pkt_qgemm_ukernel)(const qgemm_tile* t);

typedef struct pkt_qgemm_config {
  const char* name; /* "<path>_<mr>x<nr>" */
  pkt_qgemm_ukernel ukernel;
  int mr, nr, kr; /* register tile rows, panel width, k per column group */
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
/* REQUANT's optional per-row terms (pkt_qgemm_args.row_bias, row_scale). */
static inline int32_t qgemm_row_bias(const pkt_qgemm_args* g, int64_t m) { return g->row_bias ? g->row_bias[m] : 0; }
static inline const float* qgemm_col_scale(const qgemm_tile* t) { return t->g->row_scale ? NULL : t->g->scale + t->n0; }

/* acc = dot + bias - (zp + shift) * colsum with int32 wrap-around (defined through uint32). */
static inline int32_t qgemm_compensate(int32_t dot, int32_t bias, int32_t zp_shift, int32_t colsum) {
  return (int32_t)((uint32_t)dot + (uint32_t)bias - (uint32_t)zp_shift * (uint32_t)colsum);
}

/* The epilogue for columns [j0, nr) of one row of a tile, from the raw dot products: compensation, then REQUANT
 * to int8 or DEQUANT to float (the SIMD epilogues run it on their tails). */
void pkt_qgemm_finish_cols(const qgemm_tile* t, int r, const int32_t* dot, int shift, int j0);
/* The DEQUANT activation over row r's nr outputs, once the row is written. */
static inline void qgemm_row_act(const qgemm_tile* t, int r) {
  const pkt_qgemm_args* g = t->g;
  if (g->epilogue == PKT_QGEMM_DEQUANT && g->act)
    t->cfg->act(g->Cf + (t->m0 + r) * g->ldc + t->n0, t->nr, g->act, g->act_min, g->act_max);
}
/* The REQUANT bounds in the float domain: clamp(round(x) + zp, lo, hi) == round(clamp(x, lo - zp, hi - zp)) + zp
 * as the bounds are integers, and x never leaves the range a float converts to int exactly. */
static inline float qgemm_lo(const pkt_qgemm_args* g) { return (float)(g->c_min - g->c_zp); }
static inline float qgemm_hi(const pkt_qgemm_args* g) { return (float)(g->c_max - g->c_zp); }

/* Packing B rows [K, N] per call: panels [p0, p1) (qgemm.c's portable packer, or an ISA's). */
void pkt_qgemm_pack_rows_portable(const pkt_qgemm_config* qc, const int8_t* B, int64_t ldb, int64_t K, int64_t N,
                                  int64_t p0, int64_t p1, void* packed);

/* SIMD micro-kernels (qgemm_x86.c, qgemm_arm.c) and row quantization. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_QGEMM_HAVE_X86 1
void pkt_qgemm_ukernel_avx512vnni_12x32(const qgemm_tile* t);
void pkt_qgemm_ukernel_avxvnni_6x16(const qgemm_tile* t);
void pkt_qgemm_ukernel_avx2_3x8(const qgemm_tile* t);
void pkt_quantize_rows_avx2(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                            int32_t* a_zp);
void pkt_qgemm_pack_rows_kr4_avx2(const pkt_qgemm_config* qc, const int8_t* B, int64_t ldb, int64_t K, int64_t N,
                                  int64_t p0, int64_t p1, void* packed);
#endif
#if defined(__aarch64__)
#define PKT_QGEMM_HAVE_NEON64 1
void pkt_qgemm_ukernel_neon_i8mm_4x16(const qgemm_tile* t);
void pkt_qgemm_ukernel_neon_sdot_4x16(const qgemm_tile* t);
#endif
#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_NEON))
#define PKT_QGEMM_HAVE_NEON 1
void pkt_qgemm_ukernel_neon_4x8(const qgemm_tile* t);
void pkt_quantize_rows_neon(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                            int32_t* a_zp);
#endif

/* One row's quantization parameters, as PT2E's choose_qparams.tensor, once the caller's lanes have scanned [0, k)
 * into mn, mx (finite: no NaN/inf there): the scalar tail [k, K) joins the scan; a row holding NaN or inf gets
 * scale NaN, zero point 0 and q 0 and returns 0, any other gets scale, zero point and 1/scale (returns 1: the caller
 * quantizes it). */
int pkt_qgemm_row_qparams(const float* row, int64_t k, int64_t K, float mn, float mx, int finite, int8_t* qr,
                          float* scale, int32_t* zp, float* inv);

/* Portable micro-kernel and quantize_rows, the fallbacks of every config. */
void pkt_qgemm_ukernel_portable(const qgemm_tile* t);
void pkt_quantize_rows_portable(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                                int32_t* a_zp);

#endif
