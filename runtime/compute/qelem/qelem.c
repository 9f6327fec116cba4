/* int8 elementwise rows and max pooling: the portable rows (the reference: pkt_q_round per element) and the
 * dispatch on the session's ISA config, which sends the rare cases the vector code leaves out to them (see qelem.h). */
#include "compute/qelem/qelem.h"

#include <math.h>
#include <string.h>

#include "kernels/quant_util.h"

static void binary_portable(const pkt_qelem_binary* p, const int8_t* a, const int8_t* b, int b_step, int8_t* y,
                            int64_t n) {
  const pkt_qelem_out o = p->out;
  for (int64_t i = 0; i < n; i++) {
    float fa = (float)(a[i] - p->az) * p->as, fb = (float)(b[i * b_step] - p->bz) * p->bs;
    y[i] = pkt_q_round((p->mul ? fa * fb : fa + fb) * o.inv, o.oz, o.lo, o.hi);
  }
}

static void quantize_portable(const float* x, int8_t* y, int64_t n, const pkt_qelem_out* o) {
  for (int64_t i = 0; i < n; i++) y[i] = pkt_q_round(x[i] * o->inv, o->oz, o->lo, o->hi);
}

static void requantize_portable(const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n, const pkt_qelem_out* o) {
  for (int64_t i = 0; i < n; i++) y[i] = pkt_q_round((float)(x[i] - iz) * s * o->inv, o->oz, o->lo, o->hi);
}

static void dequantize_portable(const int8_t* x, int32_t zp, float scale, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (float)(x[i] - zp) * scale;
}

void pkt_qelem_max_plane_reference(const pkt_qelem_pool* p, const int8_t* x, int8_t* y) {
  for (int64_t oy = 0; oy < p->OH; oy++)
    for (int64_t ox = 0; ox < p->OW; ox++) {
      int m = -128;
      for (int64_t ky = 0; ky < p->kh; ky++) {
        int64_t iy = oy * p->sh - p->ph + ky * p->dh;
        if (iy < 0 || iy >= p->H) continue;
        for (int64_t kx = 0; kx < p->kw; kx++) {
          int64_t ix = ox * p->sw - p->pw + kx * p->dw;
          if (ix >= 0 && ix < p->W && x[iy * p->W + ix] > m) m = x[iy * p->W + ix];
        }
      }
      y[oy * p->OW + ox] = (int8_t)m;
    }
}

#define QP_NAME(x) x##_portable
#define QP_TARGET
#include "compute/qelem/qelem_pool_impl.h"
#undef QP_NAME
#undef QP_TARGET

const pkt_qelem_impl pkt_qelem_portable = {binary_portable, quantize_portable, requantize_portable, dequantize_portable,
                                           qp_plane_portable};

static const pkt_qelem_impl* impl(const pkt_isa_config* cfg) {
  switch (cfg->isa) {
#if defined(PKT_QELEM_HAVE_X86)
    case PKT_ISA_AVX512: return &pkt_qelem_avx512;
    case PKT_ISA_AVX2: return &pkt_qelem_avx2;
#endif
#if defined(PKT_QELEM_HAVE_NEON)
    case PKT_ISA_NEON: return &pkt_qelem_neon;
#endif
    default: return &pkt_qelem_portable;
  }
}

/* armv7 NEON flushes subnormals to zero: its vector rows run only where no product that matters can be subnormal
 * (a scale in [2^-60, 2^100] keeps (q - zp) * scale normal or 0, and then a sum or product too; a subnormal input
 * times inv <= 2^100, or a subnormal final product, rounds to 0 either way). */
#if defined(__arm__)
static int normal_scale(float s) { return s >= 0x1p-60f && s <= 0x1p100f; }
#else
static int normal_scale(float s) { return (void)s, 1; }
#endif

void pkt_qelem_binary_row(const pkt_isa_config* cfg, const pkt_qelem_binary* p, const int8_t* a, const int8_t* b,
                          int b_step, int8_t* y, int64_t n) {
  /* an infinite inv makes NaN of a 0 (NaN is 0 in the portable rounding; the vector code has no NaN step here) */
  const int fast = isfinite(p->out.inv) && normal_scale(p->as) && normal_scale(p->bs) && normal_scale(p->out.inv);
  (fast ? impl(cfg) : &pkt_qelem_portable)->binary(p, a, b, b_step, y, n);
}

void pkt_qelem_quantize(const pkt_isa_config* cfg, const float* x, int8_t* y, int64_t n, const pkt_qelem_out* o) {
  (normal_scale(o->inv) ? impl(cfg) : &pkt_qelem_portable)->quantize(x, y, n, o);
}

void pkt_qelem_requantize(const pkt_isa_config* cfg, const int8_t* x, int32_t iz, float s, int8_t* y, int64_t n,
                          const pkt_qelem_out* o) {
  const int fast = isfinite(o->inv) && normal_scale(s) && normal_scale(o->inv);
  (fast ? impl(cfg) : &pkt_qelem_portable)->requantize(x, iz, s, y, n, o);
}

void pkt_qelem_dequantize(const pkt_isa_config* cfg, const int8_t* x, int32_t zp, float scale, float* y, int64_t n) {
  (normal_scale(scale) ? impl(cfg) : &pkt_qelem_portable)->dequantize(x, zp, scale, y, n);
}

void pkt_qelem_max_plane(const pkt_isa_config* cfg, const pkt_qelem_pool* p, const int8_t* x, int8_t* y) {
  impl(cfg)->max_plane(p, x, y);
}
