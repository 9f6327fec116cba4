#version 450
// Elementwise a (op) b with broadcasting (stride 0 on broadcast dims, up to rank 6) and a fused activation;
// kinds 100.. read only a: 100 identity (an activation on its own), 101 neg, 102 abs, 103 exp, 104 log, 105 sqrt,
// 106 rsqrt, 107 reciprocal.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer A_ { STORE a[]; };
layout(std430, binding = 1) readonly buffer B_ { STORE b[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

// p: 0 n 1 rank 2..7 out dims 8..13 a strides 14..19 b strides 20 kind 21 act; f: 1 act_lo 2 act_hi
void main() {
  uint id = linear_id(WG);
  if (id >= uint(pc.p[0])) return;
  int rem = int(id), ia = 0, ib = 0;
  for (int d = pc.p[1] - 1; d >= 0; d--) {
    int dim = pc.p[2 + d], idx = rem % dim;
    rem /= dim;
    ia += idx * pc.p[8 + d];
    ib += idx * pc.p[14 + d];
  }
  float x = LD(a[ia]), v;
  int kind = pc.p[20];
  if (kind >= 100) {
    switch (kind) {
      case 101: v = -x; break;
      case 102: v = abs(x); break;
      case 103: v = exp(x); break;
      case 104: v = log(x); break;
      case 105: v = sqrt(x); break;
      case 106: v = 1.0 / sqrt(x); break;
      case 107: v = 1.0 / x; break;
      default: v = x;
    }
  } else {
    float z = LD(b[ib]);
    switch (kind) {
      case 0: v = x + z; break;
      case 1: v = x - z; break;
      case 2: v = x * z; break;
      case 3: v = x / z; break;
      case 5: v = (isnan(x) || isnan(z)) ? x + z : max(x, z); break;
      case 6: v = (isnan(x) || isnan(z)) ? x + z : min(x, z); break;
      default: v = 0.0;
    }
  }
  y[id] = ST(act(v, pc.p[21], pc.f[1], pc.f[2]));
}
