/* int8 elementwise rows and max pooling planes (qbinary, quantize, dequantize, qconcat's requantization,
 * qmax_pool2d), each the kernel's own float arithmetic in the same order, so every implementation gives the
 * reference's bytes:
 *   binary:     y = q((float)(a - az) * as  (+ or *)  (float)(b - bz) * bs)
 *   quantize:   y = q(x)
 *   requantize: y = q((float)(x - iz) * s)
 *   dequantize: y = (float)(x - zp) * scale
 * with q(v) = clamp(round_half_even(v * inv) + oz, lo, hi), NaN as 0 (pkt_q_round). Vector code clamps in float to
 * [lo - oz, hi - oz] before converting (the same integers: the bounds are integers and rounding is monotonic) and
 * never contracts a multiply and an add. Implementations: portable C (qelem.c, the reference), AVX-512 and AVX2
 * (qelem_x86.c), NEON (qelem_arm.c), chosen through the session's ISA config. */
#ifndef PKT_QELEM_H
#define PKT_QELEM_H

#include "backends/cpu/isa_config.h"
#include "core/kernel.h"

typedef struct pkt_qelem_out {
  float inv; /* float32(1 / out_scale) */
  int32_t oz, lo, hi;
} pkt_qelem_out;

typedef struct pkt_qelem_binary {
  float as, bs;
  int32_t az, bz;
  int mul; /* 0: add, 1: mul */
  pkt_qelem_out out;
} pkt_qelem_binary;

/* y[i] = a[i] op b[i * b_step] for i in [0, n), b_step 0 (one b for the row) or 1. */
void pkt_qelem_binary_row(const pkt_isa_config* cfg, const pkt_qelem_binary* p, const int8_t* a, const int8_t* b,
                          int b_step, int8_t* y, int64_t n);
void pkt_qelem_quantize(const pkt_isa_config* cfg, const float* x, int8_t* y, int64_t n, const pkt_qelem_out* o);
void pkt_qelem_requantize(const pkt_isa_config* cfg, const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n,
                          const pkt_qelem_out* o);
void pkt_qelem_dequantize(const pkt_isa_config* cfg, const int8_t* x, int32_t zp, float scale, float* y, int64_t n);

typedef struct pkt_qelem_pool {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
} pkt_qelem_pool;
/* One plane of int8 max pooling, window cells outside the input excluded (-128 when none is inside). */
void pkt_qelem_max_plane(const pkt_isa_config* cfg, const pkt_qelem_pool* p, const int8_t* x, int8_t* y);

/* ---- Internals shared by the implementations. ---- */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_QELEM_HAVE_X86 1
#endif
#if defined(__aarch64__) || (defined(__arm__) && defined(__ARM_NEON))
#define PKT_QELEM_HAVE_NEON 1
#endif

/* Each ISA's rows: n elements, no checks (the dispatcher sends the cases the vector code does not take to the
 * portable rows). Binary rows take b_step 0 or 1. */
typedef struct pkt_qelem_impl {
  void (*binary)(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int8_t* y, int64_t n);
  void (*quantize)(const float* x, int8_t* y, int64_t n, const pkt_qelem_out* o);
  void (*requantize)(const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n, const pkt_qelem_out* o);
  void (*dequantize)(const int8_t* x, int32_t zp, float scale, float* y, int64_t n);
  void (*max_plane)(const pkt_qelem_pool* p, const int8_t* x, int8_t* y);
} pkt_qelem_impl;

extern const pkt_qelem_impl pkt_qelem_portable;
/* Every window cell inside the input, one at a time (the tiled planes' fallback for windows wider than their row). */
void pkt_qelem_max_plane_reference(const pkt_qelem_pool* p, const int8_t* x, int8_t* y);
#if defined(PKT_QELEM_HAVE_X86)
extern const pkt_qelem_impl pkt_qelem_avx512, pkt_qelem_avx2;
#endif
#if defined(PKT_QELEM_HAVE_NEON)
extern const pkt_qelem_impl pkt_qelem_neon;
#endif

#endif
