#version 450
// A strided copy over up to 6 dims: permute, reshape, slice and each input of a concat are all this copy with the
// strides and base offsets the exporter worked out.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X_ { STORE x[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

// p: 0 n 1 rank 2..7 dims 8..13 input strides 14..19 output strides 20 input base 21 output base
void main() {
  uint id = linear_id(WG);
  if (id >= uint(pc.p[0])) return;
  int rem = int(id), ix = pc.p[20], iy = pc.p[21];
  for (int d = pc.p[1] - 1; d >= 0; d--) {
    int dim = pc.p[2 + d], idx = rem % dim;
    rem /= dim;
    ix += idx * pc.p[8 + d];
    iy += idx * pc.p[14 + d];
  }
  y[iy] = x[ix];
}
