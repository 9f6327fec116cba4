/* IEEE half-precision (float16, stored as uint16 bits) to and from float32, rounding to nearest even like
 * torch's conversions: overflow gives infinity, NaN stays NaN, subnormals are kept. Portable bit arithmetic
 * (after F. Giesen's float_to_half_fast3_rtne); it needs the default rounding mode and no flush-to-zero. */
#ifndef PKT_HALF_H
#define PKT_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint16_t pkt_f32_to_f16(float f) {
  const uint32_t f32_inf = 255u << 23, f16_overflow = (127u + 16u) << 23;
  const uint32_t denorm_magic = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  uint32_t sign = u & 0x80000000u;
  uint16_t o;
  u ^= sign;
  if (u >= f16_overflow) {
    o = u > f32_inf ? 0x7e00 : 0x7c00; /* NaN : infinity */
  } else if (u < (113u << 23)) {      /* a half subnormal or zero: let the float adder round it */
    float fu, magic;
    memcpy(&fu, &u, sizeof fu);
    memcpy(&magic, &denorm_magic, sizeof magic);
    fu += magic;
    memcpy(&u, &fu, sizeof u);
    o = (uint16_t)(u - denorm_magic);
  } else {
    uint32_t mant_odd = (u >> 13) & 1u;
    u += ((uint32_t)(15 - 127) << 23) + 0xfffu; /* rebias the exponent, round half up ... */
    u += mant_odd;                              /* ... to even */
    o = (uint16_t)(u >> 13);
  }
  return (uint16_t)(o | (sign >> 16));
}

static inline float pkt_f16_to_f32(uint16_t h) {
  const uint32_t shifted_exp = 0x7c00u << 13, magic_bits = 113u << 23;
  uint32_t o = ((uint32_t)h & 0x7fffu) << 13;
  uint32_t exp = shifted_exp & o;
  o += (127u - 15u) << 23;
  if (exp == shifted_exp) {
    o += (128u - 16u) << 23; /* infinity / NaN */
  } else if (exp == 0) {     /* zero / subnormal: renormalize */
    float f, magic;
    o += 1u << 23;
    memcpy(&f, &o, sizeof f);
    memcpy(&magic, &magic_bits, sizeof magic);
    f -= magic;
    memcpy(&o, &f, sizeof o);
  }
  o |= ((uint32_t)h & 0x8000u) << 16;
  float r;
  memcpy(&r, &o, sizeof r);
  return r;
}

#endif
