#version 450
// (Log-)softmax of rows [outer, L, inner] along L, one workgroup per row, reductions in shared memory (workgroup
// size from the host: the device's subgroup size). f0 scales the input first; a causal limit (p4 = query length,
// the row's query index is its outer index mod it) masks columns past the query, as SDPA's is_causal does.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X_ { STORE x[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

shared float red[WG];

float reduce_max(float v) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) red[t] = max(red[t], red[t + s]);
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
}

float reduce_sum(float v) {
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s) red[t] += red[t + s];
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
}

// p: 0 rows(outer*inner) 1 L 2 inner 3 log 4 causal query length (0: none); f: 0 scale
void main() {
  uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  if (row >= uint(pc.p[0])) return;  // uniform across the workgroup
  int L = pc.p[1], inner = pc.p[2];
  int o = int(row) / inner, base = o * L * inner + int(row) % inner;
  int limit = pc.p[4] > 0 ? (o % pc.p[4]) + 1 : L;
  float scale = pc.f[0];
  uint t = gl_LocalInvocationID.x;
  float m = -1.0 / 0.0;
  bool nan_seen = false;
  for (int j = int(t); j < limit; j += int(WG)) {
    float v = LD(x[base + j * inner]) * scale;
    nan_seen = nan_seen || isnan(v);
    m = max(m, v);
  }
  m = reduce_max(nan_seen ? 0.0 / 0.0 : m);
  float s = 0.0;
  for (int j = int(t); j < limit; j += int(WG)) s += exp(LD(x[base + j * inner]) * scale - m);
  s = reduce_sum(s);
  float lse = m + log(s);
  for (int j = int(t); j < L; j += int(WG)) {
    float v = LD(x[base + j * inner]) * scale;
    float r = pc.p[3] != 0 ? v - lse : exp(v - m) / s;
    if (j >= limit) r = pc.p[3] != 0 ? -1.0 / 0.0 : 0.0;
    y[base + j * inner] = ST(r);
  }
}
