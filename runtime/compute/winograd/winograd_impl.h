/* Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms, vectorized over channels. Included by winograd.c (portable:
 * 4-lane GNU vectors, or scalar floats without GNU C) and winograd_x86.c (AVX2 8 lanes, AVX-512 16
 * lanes) with these macros defined:
 *   WG_NAME(x)  suffixes the function name      WG_TARGET  function attributes (target ISA)
 *   wg_v        the vector type (or float)       WG_VW      its lane count (divides 16)
 *   WG_LINKAGE  static or empty                  WG_EMIT    stores one channel group of a tile
 * Channel counts are padded to multiples of 16 in every buffer, so there are no channel tails; all
 * buffers are 64-byte aligned (scratch from the arena), so vectors are loaded by plain dereference.
 * No intrinsics: the arithmetic is written once on GNU vector extensions. */

#define WG_LD(p) (*(const wg_v*)(const void*)(p))
#define WG_ST(p, v) (*(wg_v*)(void*)(p) = (v))

/* V[pos][ti][c] = (B^T d B)[pos] for tiles [t0, t0 + nt) of the current band; d read from the band's
 * padded channel-last copy. V's position stride is TB * Cp floats, its tile stride Cp. */
WG_LINKAGE WG_TARGET void WG_NAME(wg_input_block)(const wg_run* r, int64_t t0, int64_t nt, float* V) {
  const wg_plan* p = &r->p;
  const int64_t Cp = p->Cp, rs = p->Wp * Cp, ps = p->TB * Cp;
  for (int64_t ti = 0; ti < nt; ti++) {
    int64_t g = t0 + ti, row = g / p->tw, tx = g % p->tw;
    const float* base = r->xp + wg_xp_row(p, r->band_r0, row) * rs + 4 * tx * Cp;
    float* v = V + ti * Cp;
    for (int64_t c = 0; c < Cp; c += WG_VW) {
      wg_v t[6][6];
      for (int j = 0; j < 6; j++) {
        const float* col = base + j * Cp + c;
        wg_v d0 = WG_LD(col), d1 = WG_LD(col + rs), d2 = WG_LD(col + 2 * rs), d3 = WG_LD(col + 3 * rs);
        wg_v d4 = WG_LD(col + 4 * rs), d5 = WG_LD(col + 5 * rs);
        t[0][j] = 4.f * d0 - 5.f * d2 + d4;
        t[1][j] = d3 + d4 - 4.f * (d1 + d2);
        t[2][j] = 4.f * (d1 - d2) + d4 - d3;
        t[3][j] = 2.f * (d3 - d1) + d4 - d2;
        t[4][j] = 2.f * (d1 - d3) + d4 - d2;
        t[5][j] = 4.f * d1 - 5.f * d3 + d5;
      }
      for (int i = 0; i < 6; i++) {
        wg_v d0 = t[i][0], d1 = t[i][1], d2 = t[i][2], d3 = t[i][3], d4 = t[i][4], d5 = t[i][5];
        float* o = v + (int64_t)(i * 6) * ps + c;
        WG_ST(o, 4.f * d0 - 5.f * d2 + d4);
        WG_ST(o + ps, d3 + d4 - 4.f * (d1 + d2));
        WG_ST(o + 2 * ps, 4.f * (d1 - d2) + d4 - d3);
        WG_ST(o + 3 * ps, 2.f * (d3 - d1) + d4 - d2);
        WG_ST(o + 4 * ps, 2.f * (d1 - d3) + d4 - d2);
        WG_ST(o + 5 * ps, 4.f * d1 - 5.f * d3 + d5);
      }
    }
  }
}

/* Y = A^T m A + bias for tiles [t0, t0 + nt) and output channels [c0, c0 + cw) (cw a multiple of
 * 32, the chunk's padded width); Mb[pos][ti][c] with position stride TB * CC, tile stride CC. Each
 * group of WG_VW channels of a tile (16 pixel vectors) goes to WG_EMIT, which transposes it into the
 * NCHW output with the fused activation, clipped at the image's right and bottom edges. */
WG_LINKAGE WG_TARGET void WG_NAME(wg_output_block)(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw,
                                              const float* Mb, float* Yt) {
  const wg_plan* p = &r->p;
  const int64_t CC = p->CC, ps = p->TB * CC;
  const int64_t cvalid = p->O - c0 < cw ? p->O - c0 : cw;
  for (int64_t ti = 0; ti < nt; ti++) {
    const float* m = Mb + ti * CC;
    wg_tile_out to;
    wg_tile_locate(r, t0 + ti, c0, &to);
    for (int64_t c = 0; c < cvalid; c += WG_VW) {
      wg_v s[4][6];
      for (int j = 0; j < 6; j++) {
        const float* col = m + (int64_t)j * ps + c;
        wg_v m0 = WG_LD(col), m1 = WG_LD(col + 6 * ps), m2 = WG_LD(col + 12 * ps), m3 = WG_LD(col + 18 * ps);
        wg_v m4 = WG_LD(col + 24 * ps), m5 = WG_LD(col + 30 * ps);
        wg_v a = m1 + m2, b = m1 - m2, e = m3 + m4, f = m3 - m4;
        s[0][j] = m0 + a + e;
        s[1][j] = b + 2.f * f;
        s[2][j] = a + 4.f * e;
        s[3][j] = b + 8.f * f + m5;
      }
      wg_v bias = WG_LD(r->bias + c0 + c), o[16];
      for (int i = 0; i < 4; i++) {
        wg_v m0 = s[i][0], m1 = s[i][1], m2 = s[i][2], m3 = s[i][3], m4 = s[i][4], m5 = s[i][5];
        wg_v a = m1 + m2, b = m1 - m2, e = m3 + m4, f = m3 - m4;
        o[i * 4] = m0 + a + e + bias;
        o[i * 4 + 1] = b + 2.f * f + bias;
        o[i * 4 + 2] = a + 4.f * e + bias;
        o[i * 4 + 3] = b + 8.f * f + m5 + bias;
      }
      int nc = (int)(cvalid - c < WG_VW ? cvalid - c : WG_VW);
      WG_EMIT(r, &to, c, nc, o, Yt);
    }
  }
}

/* F(2x2, 3x3): V[pos][ti][c] = (B^T d B)[pos] over 4x4 patches (tiles 2 apart), as above. */
WG_LINKAGE WG_TARGET void WG_NAME(wg_input_block2)(const wg_run* r, int64_t t0, int64_t nt, float* V) {
  const wg_plan* p = &r->p;
  const int64_t Cp = p->Cp, rs = p->Wp * Cp, ps = p->TB * Cp;
  for (int64_t ti = 0; ti < nt; ti++) {
    int64_t g = t0 + ti, row = g / p->tw, tx = g % p->tw;
    const float* base = r->xp + wg_xp_row(p, r->band_r0, row) * rs + 2 * tx * Cp;
    float* v = V + ti * Cp;
    for (int64_t c = 0; c < Cp; c += WG_VW) {
      wg_v t[4][4];
      for (int j = 0; j < 4; j++) {
        const float* col = base + j * Cp + c;
        wg_v d0 = WG_LD(col), d1 = WG_LD(col + rs), d2 = WG_LD(col + 2 * rs), d3 = WG_LD(col + 3 * rs);
        t[0][j] = d0 - d2;
        t[1][j] = d1 + d2;
        t[2][j] = d2 - d1;
        t[3][j] = d1 - d3;
      }
      for (int i = 0; i < 4; i++) {
        wg_v d0 = t[i][0], d1 = t[i][1], d2 = t[i][2], d3 = t[i][3];
        float* o = v + (int64_t)(i * 4) * ps + c;
        WG_ST(o, d0 - d2);
        WG_ST(o + ps, d1 + d2);
        WG_ST(o + 2 * ps, d2 - d1);
        WG_ST(o + 3 * ps, d1 - d3);
      }
    }
  }
}

/* F(2x2, 3x3): Y = A^T m A + bias, as above; a tile's 4 pixel vectors go through Yt[4][WG_VW] to the
 * scalar store (2x2 tiles are too small for a transpose to pay). */
WG_LINKAGE WG_TARGET void WG_NAME(wg_output_block2)(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw,
                                               const float* Mb, float* Yt) {
  const wg_plan* p = &r->p;
  const int64_t CC = p->CC, ps = p->TB * CC;
  const int64_t cvalid = p->O - c0 < cw ? p->O - c0 : cw;
  for (int64_t ti = 0; ti < nt; ti++) {
    const float* m = Mb + ti * CC;
    wg_tile_out to;
    wg_tile_locate(r, t0 + ti, c0, &to);
    for (int64_t c = 0; c < cvalid; c += WG_VW) {
      wg_v s[2][4];
      for (int j = 0; j < 4; j++) {
        const float* col = m + (int64_t)j * ps + c;
        wg_v m0 = WG_LD(col), m1 = WG_LD(col + 4 * ps), m2 = WG_LD(col + 8 * ps), m3 = WG_LD(col + 12 * ps);
        s[0][j] = m0 + m1 + m2;
        s[1][j] = m1 - m2 - m3;
      }
      wg_v bias = WG_LD(r->bias + c0 + c);
      for (int i = 0; i < 2; i++) {
        WG_ST(Yt + (2 * i) * WG_VW, s[i][0] + s[i][1] + s[i][2] + bias);
        WG_ST(Yt + (2 * i + 1) * WG_VW, s[i][1] - s[i][2] - s[i][3] + bias);
      }
      int nc = (int)(cvalid - c < WG_VW ? cvalid - c : WG_VW);
      wg_emit2(r, &to, c, nc, Yt, WG_VW);
    }
  }
}

#undef WG_LD
#undef WG_ST
