/* The int8 depthwise plane (qdw.h), written once in plain C over int16 inputs and int32 sums and included once per
 * ISA (qdw.c: portable; qdw_x86.c: AVX-512, AVX2; qdw_arm.c: NEON), where the compiler vectorizes the loops for the
 * ISA's target. The includer defines
 *   QD_NAME(x)   x suffixed with the ISA        QD_TARGET   function attributes
 *   QD_REQUANT   its row requantization (a pkt_qdw_requant_fn, always inlined)
 *
 * The plane is widened to (x - iz) in int16, zero-padded (padding holds iz) and split into sh x sw phases of
 * [Hq][Wq] (qdw.h): tap (ky, kx) of output (oy, ox) reads phase ((ky*dh) % sh, (kx*dw) % sw) at flat index
 * oy*Wq + ox + ((ky*dh) / sh)*Wq + (kx*dw) / sw. Over a band of output rows the flat indices i = oy*Wq + ox are one
 * run, so each tap is one long multiply-add loop (the Wq - OW columns past each row are computed and dropped). */

QD_TARGET void QD_NAME(pkt_qdw_plane)(const pkt_qdw_args* a) {
  const int64_t sh = a->sh, sw = a->sw, OW = a->OW;
  pkt_qdw_layout L;
  pkt_qdw_geometry(a->H, a->W, sh, sw, a->ph, a->pw, &L);
  const int64_t Wq = L.Wq, plane = L.Hq * Wq;
  int16_t* ph = a->buf;
  /* the sums 64-byte aligned (armv7 faults on an int32 vector access at a 2-byte boundary) */
  int32_t* acc = (int32_t*)(void*)((char*)a->buf + ((size_t)(sh * sw * plane + PKT_QDW_SLACK) * 2u + 63) / 64 * 64);
  memset(ph, 0, (size_t)(sh * sw * plane + PKT_QDW_SLACK) * sizeof *ph);
  for (int64_t iy = 0; iy < a->H; iy++) {
    const int64_t r = iy + a->ph;
    int16_t* dst = ph + (r % sh) * sw * plane + (r / sh) * Wq; /* column phase pc at dst + pc * plane */
    const int8_t* src = a->x + iy * a->W;
    const int32_t iz = a->iz;
    if (sw == 1) {
      int16_t* d = dst + a->pw;
      for (int64_t s = 0; s < a->W; s++) d[s] = (int16_t)(src[s] - iz);
    } else if (sw == 2) { /* source column s goes to phase (s + pw) & 1 at (s + pw) >> 1: pairs from s0 */
      const int64_t s0 = a->pw & 1, pairs = (a->W - s0) / 2;
      if (s0) dst[plane + a->pw / 2] = (int16_t)(src[0] - iz);
      int16_t *e = dst + (s0 + a->pw) / 2, *o = e + plane;
      const int8_t* sp = src + s0;
      for (int64_t i = 0; i < pairs; i++) {
        e[i] = (int16_t)(sp[2 * i] - iz);
        o[i] = (int16_t)(sp[2 * i + 1] - iz);
      }
      if (s0 + 2 * pairs < a->W) e[pairs] = (int16_t)(sp[2 * pairs] - iz);
    } else {
      for (int64_t s = 0; s < a->W; s++) {
        const int64_t c = s + a->pw;
        dst[(c % sw) * plane + c / sw] = (int16_t)(src[s] - iz);
      }
    }
  }
  const int64_t band = Wq >= PKT_QDW_BAND ? 1 : PKT_QDW_BAND / Wq;
  for (int64_t oy0 = 0; oy0 < a->OH; oy0 += band) {
    const int64_t oy1 = oy0 + band < a->OH ? oy0 + band : a->OH;
    /* whole vectors: the sums and reads past the band's last output are scratch slack, dropped */
    const int64_t n = ((oy1 - oy0 - 1) * Wq + OW + PKT_QDW_SLACK - 1) / PKT_QDW_SLACK * PKT_QDW_SLACK;
    for (int64_t j = 0; j < n; j++) acc[j] = a->bias;
    /* tap (ky, kx)'s phase and offset, stepped without divisions: padded row ry = ky*dh is phase row pr, index qr */
    for (int64_t ky = 0, pr = 0, qr = 0; ky < a->kh; ky++) {
      for (int64_t kx = 0, pc = 0, qc = 0; kx < a->kw; kx++) {
        const int32_t wv = a->w[ky * a->kw + kx];
        const int16_t* xr = ph + (pr * sw + pc) * plane + (oy0 + qr) * Wq + qc;
        if (wv)
          for (int64_t j = 0; j < n; j++) acc[j] += wv * (int32_t)xr[j];
        for (pc += a->dw; pc >= sw; pc -= sw) qc++;
      }
      for (pr += a->dh; pr >= sh; pr -= sh) qr++;
    }
    for (int64_t oy = oy0; oy < oy1; oy++)
      QD_REQUANT(acc + (oy - oy0) * Wq, OW, a->scale, a->oz, a->lo, a->hi, a->y + oy * OW);
  }
}
