/* ARM int8 GEMM micro-kernels (see qgemm_internal.h for the packed layout):
 *   neon_i8mm_4x16  smmla (armv8.6 i8mm), kr 8: each instruction a 2 x 2 block of rows x columns over 8 k
 *   neon_sdot_4x16  sdot (armv8.2 dotprod), kr 4: four columns' 4-k dot products per instruction
 *   neon_4x8        arm64 without dotprod and armv7: A and B widened to int16, vmlal by lane (int32 sums), kr 1
 * and the vectorized row quantization. Signed x signed throughout: no shift. The dotprod and i8mm kernels use
 * target attributes, so the file builds for the arm64 baseline and runs them only where the CPU reports them. */
#include "compute/qgemm/qgemm_internal.h"

#if defined(PKT_QGEMM_HAVE_NEON)
#include <arm_neon.h>
#include <float.h>
#include <math.h>
#include <string.h>

/* Round to nearest, ties to even, for |f| < 2^22: vcvtnq on arm64; armv7 has no such conversion, so 1.5 * 2^23
 * is added (NEON arithmetic always rounds to nearest even) and the integer read off the mantissa. */
static inline int32x4_t round_s32(float32x4_t f) {
#if defined(__aarch64__)
  return vcvtnq_s32_f32(f);
#else
  return vsubq_s32(vreinterpretq_s32_f32(vaddq_f32(f, vdupq_n_f32(12582912.f))), vdupq_n_s32(0x4B400000));
#endif
}

static inline int32x4_t compensate(const int32_t* dot, const int32_t* bias, const int32_t* colsum, int32x4_t zs) {
  return vmlsq_s32(vaddq_s32(vld1q_s32(dot), vld1q_s32(bias)), zs, vld1q_s32(colsum));
}

/* The epilogue over 8 columns at a time, the scalar code for the rest. */
static void finish_row_neon(const qgemm_tile* t, int r, const int32_t* dot, int NR) {
  const pkt_qgemm_args* g = t->g;
  const int64_t m = t->m0 + r;
  const int32_t* colsum = qgemm_colsum(t->panel);
  const int32_t* bias = qgemm_bias(t->panel, NR);
  const int32x4_t zs = vdupq_n_s32(qgemm_row_zp(g, m));
  int j = 0;
  if (g->epilogue == PKT_QGEMM_REQUANT) {
    const float32x4_t lo = vdupq_n_f32(qgemm_lo(g)), hi = vdupq_n_f32(qgemm_hi(g));
    const int32x4_t czp = vdupq_n_s32(g->c_zp), rb = vdupq_n_s32(qgemm_row_bias(g, m));
    const float* scale = qgemm_col_scale(t);
    const float32x4_t rs = vdupq_n_f32(scale ? 0.f : g->row_scale[m]);
    int8_t* c = g->C8 + m * g->ldc + t->n0;
    for (; j + 8 <= t->nr; j += 8) {
      float32x4_t f0 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(compensate(dot + j, bias + j, colsum + j, zs), rb)),
                                 scale ? vld1q_f32(scale + j) : rs);
      float32x4_t f1 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(compensate(dot + j + 4, bias + j + 4, colsum + j + 4, zs), rb)),
                                 scale ? vld1q_f32(scale + j + 4) : rs);
      int32x4_t q0 = vaddq_s32(round_s32(vminq_f32(vmaxq_f32(f0, lo), hi)), czp);
      int32x4_t q1 = vaddq_s32(round_s32(vminq_f32(vmaxq_f32(f1, lo), hi)), czp);
      vst1_s8(c + j, vqmovn_s16(vcombine_s16(vqmovn_s32(q0), vqmovn_s32(q1))));
    }
  } else {
    const float32x4_t s = vdupq_n_f32(g->a_scale[m]);
    const float* ws = g->w_scale + t->n0;
    float* c = g->Cf + m * g->ldc + t->n0;
    for (; j + 4 <= t->nr; j += 4) {
      float32x4_t f = vmulq_f32(vmulq_f32(vcvtq_f32_s32(compensate(dot + j, bias + j, colsum + j, zs)), s), vld1q_f32(ws + j));
      if (g->fbias) f = vaddq_f32(f, vld1q_f32(g->fbias + t->n0 + j));
      vst1q_f32(c + j, f);
    }
  }
  if (j < t->nr) pkt_qgemm_finish_cols(t, r, dot, 0, j);
  qgemm_row_act(t, r);
}

/* ---- plain NEON: 4 rows x 8 columns, kr 1 ---- */
void pkt_qgemm_ukernel_neon_4x8(const qgemm_tile* t) {
  enum { MR = 4, NR = 8 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  int32x4_t lo[MR], hi[MR];
  for (int r = 0; r < MR; r++) lo[r] = hi[r] = vdupq_n_s32(0);
  const int64_t K = g->K;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    int16x8_t a[MR];
    for (int r = 0; r < MR; r++) a[r] = vmovl_s8(vld1_s8(rows[r] + k));
#define STEP(kk, half, lane)                                                   \
  {                                                                            \
    int16x8_t b = vmovl_s8(vld1_s8(w + (k + kk) * NR));                        \
    for (int r = 0; r < MR; r++) {                                             \
      lo[r] = vmlal_lane_s16(lo[r], vget_low_s16(b), half(a[r]), lane);        \
      hi[r] = vmlal_lane_s16(hi[r], vget_high_s16(b), half(a[r]), lane);       \
    }                                                                          \
  }
    STEP(0, vget_low_s16, 0) STEP(1, vget_low_s16, 1) STEP(2, vget_low_s16, 2) STEP(3, vget_low_s16, 3)
    STEP(4, vget_high_s16, 0) STEP(5, vget_high_s16, 1) STEP(6, vget_high_s16, 2) STEP(7, vget_high_s16, 3)
#undef STEP
  }
  for (; k < K; k++) {
    int16x8_t b = vmovl_s8(vld1_s8(w + k * NR));
    for (int r = 0; r < MR; r++) {
      lo[r] = vmlal_n_s16(lo[r], vget_low_s16(b), rows[r][k]);
      hi[r] = vmlal_n_s16(hi[r], vget_high_s16(b), rows[r][k]);
    }
  }
  /* All MR rows stored (constant indices keep the accumulators in registers), then the mr real ones finished. */
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
  for (int r = 0; r < MR; r++) {
    vst1q_s32(dot[r], lo[r]);
    vst1q_s32(dot[r] + 4, hi[r]);
  }
  for (int r = 0; r < t->mr; r++) finish_row_neon(t, r, dot[r], NR);
}

#if defined(PKT_QGEMM_HAVE_NEON64)
static inline int32_t load_u32(const int8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}
/* The last K % kr bytes of a row, zero-filled (the packed B is zero there). */
static inline int32_t load_tail4(const int8_t* p, int64_t n) {
  int32_t v = 0;
  memcpy(&v, p, (size_t)n);
  return v;
}
static inline int8x8_t load_tail8(const int8_t* p, int64_t n) {
  int8_t tmp[8] = {0};
  memcpy(tmp, p, (size_t)n);
  return vld1_s8(tmp);
}

/* ---- sdot: 4 rows x 16 columns, kr 4 ---- */
__attribute__((target("dotprod"))) void pkt_qgemm_ukernel_neon_sdot_4x16(const qgemm_tile* t) {
  enum { MR = 4, NR = 16 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  int32x4_t acc[MR][4];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = vdupq_n_s32(0);
  const int64_t K = g->K, kfull = K / 4 * 4;
#define STEP(LOAD)                                                                                         \
  {                                                                                                        \
    int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16), b2 = vld1q_s8(w + 32), b3 = vld1q_s8(w + 48);       \
    for (int r = 0; r < MR; r++) {                                                                         \
      int8x16_t a = vreinterpretq_s8_s32(vdupq_n_s32(LOAD));                                               \
      acc[r][0] = vdotq_s32(acc[r][0], b0, a);                                                             \
      acc[r][1] = vdotq_s32(acc[r][1], b1, a);                                                             \
      acc[r][2] = vdotq_s32(acc[r][2], b2, a);                                                             \
      acc[r][3] = vdotq_s32(acc[r][3], b3, a);                                                             \
    }                                                                                                      \
  }
  int64_t k = 0;
  for (; k < kfull; k += 4, w += 4 * NR) STEP(load_u32(rows[r] + k))
  if (k < K) STEP(load_tail4(rows[r] + k, K - k))
#undef STEP
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < 4; v++) vst1q_s32(dot[r] + 4 * v, acc[r][v]);
  for (int r = 0; r < t->mr; r++) finish_row_neon(t, r, dot[r], NR);
}

/* ---- smmla: 4 rows (two pairs) x 16 columns (eight pairs), kr 8 ---- */
__attribute__((target("i8mm"))) void pkt_qgemm_ukernel_neon_i8mm_4x16(const qgemm_tile* t) {
  enum { MR = 4, NR = 16 };
  const pkt_qgemm_args* g = t->g;
  const int8_t* w = qgemm_weights(t->panel, NR);
  const int8_t* rows[MR];
  for (int r = 0; r < MR; r++) rows[r] = g->A + (t->m0 + (r < t->mr ? r : t->mr - 1)) * g->lda;
  int32x4_t acc[2][8];
  for (int p = 0; p < 2; p++)
    for (int c = 0; c < 8; c++) acc[p][c] = vdupq_n_s32(0);
  const int64_t K = g->K, kfull = K / 8 * 8;
#define STEP(LOAD)                                                                                         \
  {                                                                                                        \
    int8x16_t a0 = vcombine_s8(LOAD(rows[0]), LOAD(rows[1])), a1 = vcombine_s8(LOAD(rows[2]), LOAD(rows[3])); \
    for (int c = 0; c < 8; c++) {                                                                          \
      int8x16_t b = vld1q_s8(w + 16 * c); /* columns 2c and 2c + 1, 8 k each */                            \
      acc[0][c] = vmmlaq_s32(acc[0][c], a0, b);                                                            \
      acc[1][c] = vmmlaq_s32(acc[1][c], a1, b);                                                            \
    }                                                                                                      \
  }
  int64_t k = 0;
#define LOAD(row) vld1_s8(row + k)
  for (; k < kfull; k += 8, w += 8 * NR) STEP(LOAD)
#undef LOAD
#define LOAD(row) load_tail8(row + k, K - k)
  if (k < K) STEP(LOAD)
#undef LOAD
#undef STEP
  int32_t(*dot)[NR] = (int32_t(*)[NR])t->dot; /* the caller's (qgemm_tile.dot) */
  for (int p = 0; p < 2; p++) /* acc[p][c] = [row 2p: col 2c, 2c+1 | row 2p+1: col 2c, 2c+1] */
    for (int c = 0; c < 8; c += 2) {
      int64x2_t x = vreinterpretq_s64_s32(acc[p][c]), y = vreinterpretq_s64_s32(acc[p][c + 1]);
      vst1q_s32(dot[2 * p] + 2 * c, vreinterpretq_s32_s64(vzip1q_s64(x, y)));
      vst1q_s32(dot[2 * p + 1] + 2 * c, vreinterpretq_s32_s64(vzip2q_s64(x, y)));
    }
  for (int r = 0; r < t->mr; r++) finish_row_neon(t, r, dot[r], NR);
}
#endif

/* ---- row quantization ---- */
void pkt_quantize_rows_neon(int64_t M, int64_t K, const float* x, int64_t ldx, int8_t* q, float* a_scale,
                            int32_t* a_zp) {
  for (int64_t m = 0; m < M; m++) {
    const float* row = x + m * ldx;
    int8_t* qr = q + m * K;
    float32x4_t vmn = vdupq_n_f32(0.f), vmx = vdupq_n_f32(0.f);
    uint32x4_t ok = vdupq_n_u32(~0u);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      float32x4_t v = vld1q_f32(row + k);
      ok = vandq_u32(ok, vcleq_f32(vabsq_f32(v), vdupq_n_f32(FLT_MAX))); /* false for NaN */
      vmn = vminq_f32(vmn, v);
      vmx = vmaxq_f32(vmx, v);
    }
    float mn[4], mx[4];
    uint32_t okl[4];
    vst1q_f32(mn, vmn);
    vst1q_f32(mx, vmx);
    vst1q_u32(okl, ok);
    int finite = (okl[0] & okl[1] & okl[2] & okl[3]) != 0;
    for (int i = 1; i < 4; i++) {
      mn[0] = mn[i] < mn[0] ? mn[i] : mn[0];
      mx[0] = mx[i] > mx[0] ? mx[i] : mx[0];
    }
    float inv;
    if (!pkt_qgemm_row_qparams(row, k, K, mn[0], mx[0], finite, qr, &a_scale[m], &a_zp[m], &inv)) continue;
    const float lof = (float)(-128 - a_zp[m]), hif = (float)(127 - a_zp[m]);
    const float32x4_t vinv = vdupq_n_f32(inv), lo = vdupq_n_f32(lof), hi = vdupq_n_f32(hif);
    const int32x4_t zp = vdupq_n_s32(a_zp[m]);
    for (k = 0; k + 8 <= K; k += 8) {
      float32x4_t f0 = vminq_f32(vmaxq_f32(vmulq_f32(vld1q_f32(row + k), vinv), lo), hi);
      float32x4_t f1 = vminq_f32(vmaxq_f32(vmulq_f32(vld1q_f32(row + k + 4), vinv), lo), hi);
      int16x8_t v = vcombine_s16(vqmovn_s32(vaddq_s32(round_s32(f0), zp)), vqmovn_s32(vaddq_s32(round_s32(f1), zp)));
      vst1_s8(qr + k, vqmovn_s16(v));
    }
    for (; k < K; k++) {
      float f = row[k] * inv;
      f = f < lof ? lof : f > hif ? hif : f;
      qr[k] = (int8_t)((int32_t)nearbyintf(f) + a_zp[m]);
    }
  }
}
#endif
