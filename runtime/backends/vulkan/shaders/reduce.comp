#version 450
// Reduction of the middle axis of [outer, R, inner] (contiguous reduced axes): kind 0 sum, 1 mean, 2 max, 3 min.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X_ { STORE x[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

// p: 0 outer 1 R 2 inner 3 kind
void main() {
  int R = pc.p[1], inner = pc.p[2], kind = pc.p[3];
  uint id = linear_id(WG);
  if (id >= uint(pc.p[0] * inner)) return;
  int o = int(id) / inner, i = int(id) % inner, base = o * R * inner + i;
  float acc = kind == 2 ? -1.0 / 0.0 : kind == 3 ? 1.0 / 0.0 : 0.0;
  bool nan_seen = false;
  for (int r = 0; r < R; r++) {
    float v = LD(x[base + r * inner]);
    nan_seen = nan_seen || isnan(v);
    acc = kind == 2 ? max(acc, v) : kind == 3 ? min(acc, v) : acc + v;
  }
  if (kind == 1) acc /= float(R);
  y[id] = ST(nan_seen ? 0.0 / 0.0 : acc);
}
