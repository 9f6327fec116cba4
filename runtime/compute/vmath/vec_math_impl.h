/* Vectorized float maps, written once over a small set of vector macros and included once per ISA by
 * vmath_x86.c (AVX2+FMA, AVX-512F) and vmath_arm.c (arm64 NEON). The includer defines V (the vector type),
 * VL (lanes), TARGET (the function attribute), VFN(name) (a suffixed name) and the V* operation macros;
 * VMAX(a, b) / VMIN(a, b) must be x86's maxps / minps (a > b ? a : b, so b when either is NaN).
 *
 * Accuracy (float32, against the exact functions): exp within 2 ulp over its whole range, denormal
 * results included; sigmoid, silu, tanh, gelu and gelu_tanh within a few ulp relative -- also where
 * the result is tiny (sigmoid and gelu of large negative x are computed from exp(-|x|) and erfc, not as
 * 1 - something). NaN in gives NaN out; +-inf give what the scalar formulas in vmath.c give (gelu(+inf) is
 * NaN there, as in eager float32 torch). */

/* exp(x): x = n ln2 + r, |r| <= ln2/2, e^r by the Cephes polynomial, times 2^n built in two halves so
 * that results down to the smallest denormal are right. Clamping keeps NaN (max/min return their
 * second operand when either is NaN). */
static inline TARGET V VFN(exp)(V x) {
  x = VMAX(VSET(-104.f), x);
  x = VMIN(VSET(88.8f), x);
  V n = VROUND(VMUL(x, VSET(1.44269504088896341f)));
  V r = VFNMA(n, VSET(0.693359375f), x);
  r = VFNMA(n, VSET(-2.12194440e-4f), r);
  V p = VSET(1.9875691500E-4f);
  p = VFMA(p, r, VSET(1.3981999507E-3f));
  p = VFMA(p, r, VSET(8.3334519073E-3f));
  p = VFMA(p, r, VSET(4.1665795894E-2f));
  p = VFMA(p, r, VSET(1.6666665459E-1f));
  p = VFMA(p, r, VSET(5.0000001201E-1f));
  V y = VFMA(p, VMUL(r, r), VADD(r, VSET(1.f)));
  VI ni = VCVTI(n);
  VI h = VI_SRAI1(ni);
  VI k = VI_SUB(ni, h);
  V s1 = VCASTF(VI_SLLI23(VI_ADD(h, VI_SET(127))));
  V s2 = VCASTF(VI_SLLI23(VI_ADD(k, VI_SET(127))));
  return VMUL(VMUL(y, s1), s2);
}

/* sigmoid(x) from e = exp(-|x|) in (0, 1]: 1/(1+e) for x >= 0, e/(1+e) below (no overflow, and
 * accurate tiny results). */
static inline TARGET V VFN(sigmoid)(V x) {
  V e = VFN(exp)(VOR(VABS(x), VSET(-0.f)));
  V s = VDIV(VSET(1.f), VADD(VSET(1.f), e));
  return VSEL_GE(x, VSET(0.f), s, VMUL(e, s));
}

/* tanh(x): x + x^3 P(x^2) for |x| < 0.625 (Cephes), else sign(x) (1 - 2 / (exp(2|x|) + 1)). */
static inline TARGET V VFN(tanh)(V x) {
  V ax = VABS(x);
  V x2 = VMUL(x, x);
  V p = VSET(-5.70498872745E-3f);
  p = VFMA(p, x2, VSET(2.06390887954E-2f));
  p = VFMA(p, x2, VSET(-5.37397155531E-2f));
  p = VFMA(p, x2, VSET(1.33314422036E-1f));
  p = VFMA(p, x2, VSET(-3.33332819422E-1f));
  V small = VOR(VFMA(VMUL(p, x2), x, x), VSIGN(x)); /* the OR keeps tanh(-0) = -0 */
  V e = VFN(exp)(VADD(ax, ax));
  V large = VFNMA(VSET(2.f), VDIV(VSET(1.f), VADD(e, VSET(1.f))), VSET(1.f));
  large = VOR(large, VSIGN(x));
  return VSEL_LT(ax, VSET(0.625f), small, large);
}

/* erfc(z) for z = |x| / sqrt(2) (Numerical Recipes' erfcc, relative error < 1.2e-7): returns
 * erfc(-x / sqrt(2)), i.e. 2 - erfc(z) for x > 0, so that gelu(x) = 0.5 x erfc(-x / sqrt(2)). */
static inline TARGET V VFN(erfc_neg)(V x) {
  V z = VMIN(VSET(10.5f), VMUL(VABS(x), VSET(0.70710678118654752f)));
  V t = VDIV(VSET(1.f), VFMA(VSET(0.5f), z, VSET(1.f)));
  V p = VSET(0.17087277f);
  p = VFMA(p, t, VSET(-0.82215223f));
  p = VFMA(p, t, VSET(1.48851587f));
  p = VFMA(p, t, VSET(-1.13520398f));
  p = VFMA(p, t, VSET(0.27886807f));
  p = VFMA(p, t, VSET(-0.18628806f));
  p = VFMA(p, t, VSET(0.09678418f));
  p = VFMA(p, t, VSET(0.37409196f));
  p = VFMA(p, t, VSET(1.00002368f));
  p = VFMA(p, t, VSET(-1.26551223f));
  V z2 = VMUL(z, z);
  V z2_err = VFMS(z, z, z2); /* z*z - z2 exactly: the rounding error of z2 */
  V v = VMUL(t, VFN(exp)(VSUB(VSUB(p, z2), z2_err)));
  return VSEL_GT(x, VSET(0.f), VSUB(VSET(2.f), v), v);
}

/* x - x is NaN at +-inf and +0 elsewhere: gelu(+inf) is NaN, as eager float32 torch gives it. */
static inline TARGET V VFN(gelu)(V x) { return VMUL(VMUL(VSET(0.5f), x), VADD(VFN(erfc_neg)(x), VSUB(x, x))); }

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). */
static inline TARGET V VFN(gelu_tanh)(V x) {
  V x2 = VMUL(x, x);
  V u2 = VMUL(VMUL(x, VSET(2.f * 0.79788456080286536f)), VFMA(VSET(0.044715f), x2, VSET(1.f)));
  return VMUL(x, VFN(sigmoid)(u2));
}

static inline TARGET V VFN(hardswish)(V x) {
  V c = VMIN(VMAX(VADD(x, VSET(3.f)), VSET(0.f)), VSET(6.f)); /* NaN + 3 gives 0 here, x keeps NaN */
  return VMUL(VMUL(x, c), VSET(1.f / 6.f));
}

#define VFN_MAP_LOOP(EXPR)                              \
  do {                                                  \
    int64_t i_ = 0;                                     \
    for (; i_ + VL <= n; i_ += VL) {                    \
      V v = VLOAD(x + i_);                              \
      VSTORE(y + i_, (EXPR));                           \
    }                                                   \
    if (i_ < n) {                                       \
      VTAIL_MASK(tm_, (int)(n - i_));                   \
      V v = VLOAD_TAIL(tm_, x + i_);                    \
      VSTORE_TAIL(tm_, y + i_, (EXPR));                 \
    }                                                   \
  } while (0)

/* y[i] = f(x[i]) for the PKT_ACT_* and PKT_VMAP_* codes; y == x is allowed. */
static TARGET void VFN(map)(float* y, const float* x, int64_t n, int fn, float lo, float hi) {
  const V zero = VSET(0.f), six = VSET(6.f), vlo = VSET(lo), vhi = VSET(hi);
  switch (fn) {
    /* x86 max/min return their second operand when either is NaN: the bound goes first, so NaN stays NaN */
    case PKT_ACT_RELU: VFN_MAP_LOOP(VMAX(zero, v)); break;
    case PKT_ACT_RELU6: VFN_MAP_LOOP(VMIN(six, VMAX(zero, v))); break;
    case PKT_ACT_CLAMP: VFN_MAP_LOOP(VMIN(vhi, VMAX(vlo, v))); break;
    case PKT_ACT_SILU: VFN_MAP_LOOP(VMUL(v, VFN(sigmoid)(v))); break;
    case PKT_ACT_SIGMOID: VFN_MAP_LOOP(VFN(sigmoid)(v)); break;
    case PKT_ACT_TANH: VFN_MAP_LOOP(VFN(tanh)(v)); break;
    case PKT_ACT_GELU: VFN_MAP_LOOP(VFN(gelu)(v)); break;
    case PKT_ACT_GELU_TANH: VFN_MAP_LOOP(VFN(gelu_tanh)(v)); break;
    case PKT_ACT_HARDSWISH: VFN_MAP_LOOP(VFN(hardswish)(v)); break;
    case PKT_VMAP_EXP: VFN_MAP_LOOP(VFN(exp)(v)); break;
    case PKT_VMAP_HARDSIGMOID: /* keeps NaN, as the unary kernel's clamp */
      VFN_MAP_LOOP(VMUL(VMIN(six, VMAX(zero, VADD(v, VSET(3.f)))), VSET(1.f / 6.f)));
      break;
    default:
      if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
      break;
  }
}
#undef VFN_MAP_LOOP

/* out = a op b over n elements; sa / sb are 1 (contiguous) or 0 (a broadcast scalar). out may equal a or b. */
#define VFN_BIN_LOOP(OP)                                                                 \
  do {                                                                                   \
    int64_t i_ = 0;                                                                      \
    if (sa && sb) {                                                                      \
      for (; i_ + VL <= n; i_ += VL) VSTORE(out + i_, OP(VLOAD(a + i_), VLOAD(b + i_))); \
    } else if (sa) {                                                                     \
      const V vb = VSET(b[0]);                                                           \
      for (; i_ + VL <= n; i_ += VL) VSTORE(out + i_, OP(VLOAD(a + i_), vb));            \
    } else {                                                                             \
      const V va = VSET(a[0]);                                                           \
      for (; i_ + VL <= n; i_ += VL) VSTORE(out + i_, OP(va, VLOAD(b + i_)));            \
    }                                                                                    \
    if (i_ < n) {                                                                        \
      VTAIL_MASK(tm_, (int)(n - i_));                                                    \
      V va_ = sa ? VLOAD_TAIL(tm_, a + i_) : VSET(a[0]);                                 \
      V vb_ = sb ? VLOAD_TAIL(tm_, b + i_) : VSET(b[0]);                                 \
      VSTORE_TAIL(tm_, out + i_, OP(va_, vb_));                                          \
    }                                                                                    \
  } while (0)

static TARGET void VFN(binary)(float* out, const float* a, const float* b, int64_t sa, int64_t sb, int64_t n, int op) {
  switch (op) {
    case PKT_VBIN_ADD: VFN_BIN_LOOP(VADD); break;
    case PKT_VBIN_SUB: VFN_BIN_LOOP(VSUB); break;
    case PKT_VBIN_MUL: VFN_BIN_LOOP(VMUL); break;
    case PKT_VBIN_DIV: VFN_BIN_LOOP(VDIV); break;
    default: break;
  }
}
#undef VFN_BIN_LOOP
