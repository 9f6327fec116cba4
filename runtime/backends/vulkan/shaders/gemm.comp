#version 450
// C = act(alpha * A B + bias + residual), batched, every operand strided (so transposes and conv-as-GEMM need no
// copies). TILE x TILE workgroups stage A and B tiles in shared memory. With PKT_IM2COL, B is the implicit im2col
// of an NCHW input: a groups=1 conv2d of any kernel as one GEMM per image (M = out channels, N = OH*OW,
// K = C*KH*KW), the slots of A's and B's strides holding the conv geometry instead.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint TILE = 16;
layout(local_size_x_id = 0, local_size_y_id = 0) in;

layout(std430, binding = 0) readonly buffer A_ { STORE a[]; };
layout(std430, binding = 1) readonly buffer B_ { STORE b[]; };
layout(std430, binding = 2) readonly buffer Bias_ { STORE bias[]; };
layout(std430, binding = 3) readonly buffer Res_ { STORE res[]; };
layout(std430, binding = 4) writeonly buffer C_ { STORE c[]; };

shared float As[TILE][TILE];
shared float Bs[TILE][TILE];

// p: 0 batch 1 M 2 N 3 K | 4 a_off 5 a_sb 6 a_sm 7 a_sk | 8 b_off 9 b_sb 10 b_sk 11 b_sn |
//    12 c_off 13 c_sb 14 c_sm 15 c_sn | 16 bias_mode (0 none, 1 per row, 2 per column) 17 has_res 18 act
// PKT_IM2COL: 5 C 6 H 7 W 8 KH 9 KW 10 sh 11 sw 12 ph 13 pw 14 dh 15 dw 19 OW (A is [M, K] dense, C is
//    [batch, M, N] dense); f: 0 alpha 1 act_lo 2 act_hi
float load_a(uint bi, uint m, uint k) {
#ifdef PKT_IM2COL
  return LD(a[m * uint(pc.p[3]) + k]);
#else
  return LD(a[uint(pc.p[4]) + bi * uint(pc.p[5]) + m * uint(pc.p[6]) + k * uint(pc.p[7])]);
#endif
}

float load_b(uint bi, uint k, uint n) {
#ifdef PKT_IM2COL
  int KH = pc.p[8], KW = pc.p[9], H = pc.p[6], W = pc.p[7], OW = pc.p[19];
  int kk = int(k), cin = kk / (KH * KW), r = kk % (KH * KW), kh = r / KW, kw = r % KW;
  int oh = int(n) / OW, ow = int(n) % OW;
  int ih = oh * pc.p[10] - pc.p[12] + kh * pc.p[14], iw = ow * pc.p[11] - pc.p[13] + kw * pc.p[15];
  if (ih < 0 || ih >= H || iw < 0 || iw >= W) return 0.0;
  return LD(b[((int(bi) * pc.p[5] + cin) * H + ih) * W + iw]);
#else
  return LD(b[uint(pc.p[8]) + bi * uint(pc.p[9]) + k * uint(pc.p[10]) + n * uint(pc.p[11])]);
#endif
}

uint c_index(uint bi, uint m, uint n) {
#ifdef PKT_IM2COL
  return (bi * uint(pc.p[1]) + m) * uint(pc.p[2]) + n;
#else
  return uint(pc.p[12]) + bi * uint(pc.p[13]) + m * uint(pc.p[14]) + n * uint(pc.p[15]);
#endif
}

void main() {
  uint M = uint(pc.p[1]), N = uint(pc.p[2]), K = uint(pc.p[3]);
  uint bi = gl_WorkGroupID.z;
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
  uint n = gl_WorkGroupID.x * TILE + tx, m = gl_WorkGroupID.y * TILE + ty;
  float acc = 0.0;
  for (uint k0 = 0; k0 < K; k0 += TILE) {
    uint ka = k0 + tx, kb = k0 + ty;
    As[ty][tx] = (m < M && ka < K) ? load_a(bi, m, ka) : 0.0;
    Bs[ty][tx] = (n < N && kb < K) ? load_b(bi, kb, n) : 0.0;
    barrier();
    for (uint kk = 0; kk < TILE; kk++) acc += As[ty][kk] * Bs[kk][tx];
    barrier();
  }
  if (m >= M || n >= N) return;
  float v = acc * pc.f[0];
  if (pc.p[16] == 1) v += LD(bias[m]);
  else if (pc.p[16] == 2) v += LD(bias[n]);
  uint ci = c_index(bi, m, n);
  if (pc.p[17] != 0) v += LD(res[ci]);
  c[ci] = ST(act(v, pc.p[18], pc.f[1], pc.f[2]));
}
