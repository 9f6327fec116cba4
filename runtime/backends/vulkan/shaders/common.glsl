// Shared by every compute shader: storage type (fp32, or fp16 storage with fp32 math under PKT_FP16), the
// push-constant block every op uses (28 ints + 4 floats = 128 bytes, the minimum every device offers), the
// workgroup size as specialization constant 0 (the host sets it from the device's subgroup size) and activations
// coded as runtime/op_table.py's ACT enum.
#ifdef PKT_FP16
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define STORE float16_t
#define LD(x) float(x)
#define ST(x) float16_t(x)
#else
#define STORE float
#define LD(x) (x)
#define ST(x) (x)
#endif

layout(push_constant) uniform PC { int p[28]; float f[4]; } pc;

// A 1-D index over a (gx, gy) grid of workgroups: dispatches wider than 65535 groups spill into y.
uint linear_id(uint wg) {
  return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * wg;
}

float erf_approx(float x) {  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  float s = sign(x), a = abs(x);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}

float tanh_safe(float x) {  // tanh without the inf/inf of exp(2x) for large |x|
  float t = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - t) / (1.0 + t);
}

float act(float v, int a, float lo, float hi) {
  switch (a) {
    case 1: return max(v, 0.0);
    case 2: return min(max(v, 0.0), 6.0);
    case 3: return v / (1.0 + exp(-v));
    case 4: return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
    case 5: return 0.5 * v * (1.0 + tanh_safe(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    case 6: return v * clamp(v + 3.0, 0.0, 6.0) / 6.0;
    case 7: return 1.0 / (1.0 + exp(-v));
    case 8: return min(max(v, lo), hi);
    case 9: return tanh_safe(v);
  }
  return v;
}
