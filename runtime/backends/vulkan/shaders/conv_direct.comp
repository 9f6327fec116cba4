#version 450
// Grouped/depthwise conv2d, NCHW, weight [O, C/groups, KH, KW]: one invocation per output element.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X_ { STORE x[]; };
layout(std430, binding = 1) readonly buffer W_ { STORE w[]; };
layout(std430, binding = 2) readonly buffer Bias_ { STORE bias[]; };
layout(std430, binding = 3) readonly buffer Res_ { STORE res[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

// p: 0 N 1 C 2 H 3 W 4 O 5 OH 6 OW 7 KH 8 KW 9 sh 10 sw 11 ph 12 pw 13 dh 14 dw 15 groups 16 has_bias
//    17 has_res 18 act; f: 1 act_lo 2 act_hi
void main() {
  int N = pc.p[0], C = pc.p[1], H = pc.p[2], W = pc.p[3], O = pc.p[4], OH = pc.p[5], OW = pc.p[6];
  int KH = pc.p[7], KW = pc.p[8];
  uint id = linear_id(WG);
  if (id >= uint(N * O * OH * OW)) return;
  int i = int(id);
  int ow = i % OW, oh = (i / OW) % OH, o = (i / (OW * OH)) % O, nb = i / (OW * OH * O);
  int cg = C / pc.p[15], og = O / pc.p[15], c0 = (o / og) * cg;
  float acc = pc.p[16] != 0 ? LD(bias[o]) : 0.0;
  for (int ci = 0; ci < cg; ci++) {
    int xb = (nb * C + c0 + ci) * H, wb = (o * cg + ci) * KH;
    for (int kh = 0; kh < KH; kh++) {
      int ih = oh * pc.p[9] - pc.p[11] + kh * pc.p[13];
      if (ih < 0 || ih >= H) continue;
      for (int kw = 0; kw < KW; kw++) {
        int iw = ow * pc.p[10] - pc.p[12] + kw * pc.p[14];
        if (iw < 0 || iw >= W) continue;
        acc += LD(x[(xb + ih) * W + iw]) * LD(w[(wb + kh) * KW + kw]);
      }
    }
  }
  if (pc.p[17] != 0) acc += LD(res[id]);
  y[id] = ST(act(acc, pc.p[18], pc.f[1], pc.f[2]));
}
