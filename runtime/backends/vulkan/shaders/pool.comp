#version 450
// 2-D pooling over NCHW planes: mode 0 max, 1 average (count_include_pad, divisor), 2 adaptive average,
// 3 adaptive max.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(constant_id = 0) const uint WG = 64;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X_ { STORE x[]; };
layout(std430, binding = 4) writeonly buffer Y_ { STORE y[]; };

// p: 0 NC 1 H 2 W 3 OH 4 OW 5 KH 6 KW 7 sh 8 sw 9 ph 10 pw 11 dh 12 dw 13 mode 14 count_include_pad 15 divisor
void main() {
  int H = pc.p[1], W = pc.p[2], OH = pc.p[3], OW = pc.p[4], mode = pc.p[13];
  uint id = linear_id(WG);
  if (id >= uint(pc.p[0] * OH * OW)) return;
  int i = int(id), ow = i % OW, oh = (i / OW) % OH, plane = i / (OW * OH);
  int base = plane * H * W;
  int h0, h1, w0, w1, dh = 1, dw = 1;
  if (mode >= 2) {
    h0 = (oh * H) / OH; h1 = ((oh + 1) * H + OH - 1) / OH;
    w0 = (ow * W) / OW; w1 = ((ow + 1) * W + OW - 1) / OW;
  } else {
    h0 = oh * pc.p[7] - pc.p[9]; w0 = ow * pc.p[8] - pc.p[10];
    dh = pc.p[11]; dw = pc.p[12];
    h1 = h0 + (pc.p[5] - 1) * dh + 1; w1 = w0 + (pc.p[6] - 1) * dw + 1;
  }
  if (mode == 0 || mode == 3) {
    float m = -1.0 / 0.0;
    bool nan_seen = false;
    for (int h = h0; h < h1; h += dh) {
      if (h < 0 || h >= H) continue;
      for (int w = w0; w < w1; w += dw) {
        if (w < 0 || w >= W) continue;
        float v = LD(x[base + h * W + w]);
        nan_seen = nan_seen || isnan(v);
        m = max(m, v);
      }
    }
    y[id] = ST(nan_seen ? 0.0 / 0.0 : m);
    return;
  }
  // average: the padded window (clipped to the padded input) or only the valid part is the count
  int ph1 = min(h1, H + pc.p[9]), pw1 = min(w1, W + pc.p[10]);
  int cnt_pad = (ph1 - h0) * (pw1 - w0);
  int vh0 = max(h0, 0), vw0 = max(w0, 0), vh1 = min(h1, H), vw1 = min(w1, W);
  float s = 0.0;
  for (int h = vh0; h < vh1; h++)
    for (int w = vw0; w < vw1; w++) s += LD(x[base + h * W + w]);
  int cnt = mode == 2 ? (vh1 - vh0) * (vw1 - vw0)
          : pc.p[15] != 0 ? pc.p[15] : pc.p[14] != 0 ? cnt_pad : (vh1 - vh0) * (vw1 - vw0);
  y[id] = ST(s / float(cnt));
}
