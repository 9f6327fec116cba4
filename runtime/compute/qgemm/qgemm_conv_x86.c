/* The AVX-512 VNNI int8 convolution GEMM (see qgemm_conv.h). Packed block: panels of NR = 48 columns, each Kp / 4
 * k-groups of 192 bytes (vector v's 64 bytes hold columns 16v..16v+15, a column's four k in one 32-bit lane), u8. */
#include "compute/qgemm/qgemm_conv.h"
#include "compute/qgemm/qgemm_internal.h"

#include <string.h>

enum { MR = 8, NR = 48, GROUP = 4 * NR, L2_BLOCK = 256 * 1024 };

static int64_t kpad(int64_t K) { return (K + 3) / 4 * 4; }
static int64_t panels_of(int64_t P) { return (P + NR - 1) / NR; }
/* Panels per packed block: as many as keep it within L2_BLOCK bytes, at least one. */
static int64_t block_panels(int64_t K, int64_t P) {
  int64_t b = L2_BLOCK / (kpad(K) * NR), all = panels_of(P);
  return b < 1 ? 1 : b > all ? all : b;
}
/* Two groups' four gathered rows of a block (plus room for a vector store past their end), then the block. */
static size_t rows_bytes(int64_t K, int64_t P) { return (size_t)(8 * (block_panels(K, P) * NR + 64) + 63) / 64 * 64; }

/* One column of a packed panel, contiguous (the column products), with room for 64-byte loads. */
static size_t column_bytes(int64_t K) { return (size_t)(kpad(K) + 127) / 64 * 64; }

static size_t slice_bytes(int64_t K, int64_t P) {
  return rows_bytes(K, P) + column_bytes(K) + (size_t)(block_panels(K, P) * NR * kpad(K));
}

/* The padded HWC plane: every row and column a window reads, as many as the output needs. */
static int64_t hwc_rows(const pkt_qconv_gemm_args* a) { return (a->OH - 1) * a->sh + (a->kh - 1) * a->dh + 1; }
static int64_t hwc_cols(const pkt_qconv_gemm_args* a) { return (a->OW - 1) * a->sw + (a->kw - 1) * a->dw + 1; }
static size_t hwc_bytes(const pkt_qconv_gemm_args* a) {
  return pkt_qconv_gemm_hwc(a) ? (size_t)(hwc_rows(a) * hwc_cols(a) * a->Cg + 63) / 64 * 64 : 0;
}

size_t pkt_qconv_gemm_scratch(const pkt_qconv_gemm_args* a, int threads) {
  return hwc_bytes(a) + (size_t)threads * slice_bytes(a->K, a->OH * a->OW);
}

#if defined(PKT_QGEMM_HAVE_X86)
#include <immintrin.h>

#define T512 __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")))

int pkt_qconv_gemm_supported(const pkt_isa_config* cfg) {
  return cfg->isa == PKT_ISA_AVX512 && (cfg->features & PKT_CPU_VNNI);
}

/* ---- gathering: row k of the im2col matrix over columns [n0, n0 + nc), int8 with padding iz. Stride 1 and 2 take
 * masked loads (input bytes outside the row's valid columns read as iz, and never touched), 64 output bytes a
 * store: a store may run up to 63 bytes past its segment, which the next segment rewrites (or the row's slack). */
static inline __mmask64 range_mask(int64_t lo, int64_t hi) { /* bits [lo, hi) of 64 */
  lo = lo < 0 ? 0 : lo;
  hi = hi > 64 ? 64 : hi;
  if (hi <= lo) return 0;
  return (hi == 64 ? ~(__mmask64)0 : (((__mmask64)1 << hi) - 1)) & ~(((__mmask64)1 << lo) - 1);
}
/* s + i for an i that may point outside the row: only its masked-in bytes are read. */
static inline const int8_t* at(const int8_t* s, int64_t i) { return (const int8_t*)((uintptr_t)s + (uintptr_t)i); }

/* Row (c, ky, kx) over nc columns from output position (oy, ox). */
typedef struct krow {
  int64_t c, ky, kx;
} krow;

T512 static void im2col_row(const pkt_qconv_gemm_args* a, krow k, int64_t oy, int64_t ox, int64_t nc, int8_t* dst) {
  const int64_t off = k.kx * a->dw - a->pw, sw = a->sw;
  /* output columns [lo, hi) of a row read input columns inside it */
  int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
  int64_t hi = a->W - off <= 0 ? 0 : (a->W - off + sw - 1) / sw;
  if (hi > a->OW) hi = a->OW;
  if (lo > hi) lo = hi;
  const int iz = a->iz;
  const __m512i pad = _mm512_set1_epi8((char)iz);
  const int8_t* plane = a->x + k.c * a->H * a->W;
  int64_t iy = oy * a->sh - a->ph + k.ky * a->dh;
  for (int64_t done = 0, ox0 = ox; done < nc; ox0 = 0, iy += a->sh) {
    const int64_t ox1 = a->OW < ox0 + nc - done ? a->OW : ox0 + nc - done;
    int8_t* d = dst + done; /* d[i] is column ox0 + i */
    done += ox1 - ox0;
    if (iy < 0 || iy >= a->H) {
      for (int64_t o = ox0; o < ox1; o += 64) _mm512_storeu_si512(d + (o - ox0), pad);
      continue;
    }
    const int8_t* s = plane + iy * a->W; /* column o reads s[o * sw + off] */
    if (sw == 1) {
      for (int64_t o = ox0; o < ox1; o += 64)
        _mm512_storeu_si512(d + (o - ox0), _mm512_mask_loadu_epi8(pad, range_mask(lo - o, hi - o), at(s, o + off)));
    } else if (sw == 2) { /* column ox0 + i is the even byte 2i of the window: vpmovwb keeps those */
      for (int64_t o = ox0; o < ox1; o += 32) {
        const __mmask64 m = range_mask(2 * (lo - o), 2 * (hi - o) - 1);
        _mm256_storeu_si256((__m256i*)(d + (o - ox0)),
                            _mm512_cvtepi16_epi8(_mm512_mask_loadu_epi8(pad, m, at(s, 2 * o + off))));
      }
    } else {
      const int64_t b = lo > ox0 ? (lo < ox1 ? lo : ox1) : ox0, e = hi < ox1 ? (hi > b ? hi : b) : ox1;
      memset(d, iz, (size_t)(b - ox0));
      for (int64_t o = b; o < e; o++) d[o - ox0] = s[o * sw + off];
      memset(d + (e - ox0), iz, (size_t)(ox1 - e));
    }
  }
}

/* The four rows of k-group k0 (gathered into rows, or read in place for a 1x1 stride-1 unpadded conv; zeros past
 * K, where the weights' tail is zero too); *k is the next row's (c, ky, kx). */
T512 static void group_rows(const pkt_qconv_gemm_args* a, int pointwise, int64_t k0, int64_t n0, int64_t nc,
                            int8_t* rows, int64_t stride, krow* k, const int8_t* src[4]) {
  for (int r = 0; r < 4; r++) {
    int8_t* row = rows + r * stride;
    src[r] = row;
    if (k0 + r >= a->K) {
      memset(row, 0, (size_t)nc);
    } else if (pointwise) {
      src[r] = a->x + (k0 + r) * a->OH * a->OW + n0;
    } else {
      im2col_row(a, *k, n0 / a->OW, n0 % a->OW, nc, row);
      if (++k->kx == a->kw) {
        k->kx = 0;
        if (++k->ky == a->kh) k->ky = 0, k->c++;
      }
    }
  }
}

/* Columns [n0, n0 + nc) packed into panels at out: per k-group its four rows interleaved 16 columns at a time.
 * The next group's rows are gathered (into the other half of rows) before a group is interleaved, so its reloads
 * do not wait on the gather's overlapping stores. */
T512 static void pack_block(const pkt_qconv_gemm_args* a, int pointwise, int64_t n0, int64_t nc, int8_t* rows,
                            uint8_t* out) {
  const int64_t Kp = kpad(a->K), stride = nc + 64;
  const __m128i flip = _mm_set1_epi8((char)0x80);
  krow k = {0, 0, 0};
  const int8_t* src[2][4];
  group_rows(a, pointwise, 0, n0, nc, rows, stride, &k, src[0]);
  for (int64_t k0 = 0; k0 < Kp; k0 += 4) {
    const int h = (int)(k0 / 4 % 2);
    if (k0 + 4 < Kp) group_rows(a, pointwise, k0 + 4, n0, nc, rows + (1 - h) * 4 * stride, stride, &k, src[1 - h]);
    const int8_t* const* sr = src[h];
    uint8_t* g = out + k0 * NR;
    for (int64_t j = 0; j < nc; j += 16) {
      __m128i x[4];
      for (int r = 0; r < 4; r++) {
        if (j + 16 <= nc) {
          x[r] = _mm_loadu_si128((const __m128i*)(sr[r] + j));
        } else {
          int8_t tmp[16] = {0};
          memcpy(tmp, sr[r] + j, (size_t)(nc - j));
          x[r] = _mm_loadu_si128((const __m128i*)tmp);
        }
      }
      const __m128i t0 = _mm_unpacklo_epi8(x[0], x[1]), t1 = _mm_unpackhi_epi8(x[0], x[1]);
      const __m128i u0 = _mm_unpacklo_epi8(x[2], x[3]), u1 = _mm_unpackhi_epi8(x[2], x[3]);
      uint8_t* d = g + (j / NR) * (NR * Kp) + (j % NR) * 4;
      _mm_storeu_si128((__m128i*)d, _mm_xor_si128(_mm_unpacklo_epi16(t0, u0), flip));
      _mm_storeu_si128((__m128i*)(d + 16), _mm_xor_si128(_mm_unpackhi_epi16(t0, u0), flip));
      _mm_storeu_si128((__m128i*)(d + 32), _mm_xor_si128(_mm_unpacklo_epi16(t1, u1), flip));
      _mm_storeu_si128((__m128i*)(d + 48), _mm_xor_si128(_mm_unpackhi_epi16(t1, u1), flip));
    }
  }
}

/* ---- the HWC path ---- */
/* x's planes [Cg, H, W] into dst [hwc_rows][hwc_cols][Cg] as u8 (x ^ 0x80), the padding iz ^ 0x80: 16 channels x
 * 16 pixels a byte transpose. */
T512 static void to_hwc(const pkt_qconv_gemm_args* a, uint8_t* dst) {
  const int64_t Hp = hwc_rows(a), Wp = hwc_cols(a), C = a->Cg;
  const __m128i flip = _mm_set1_epi8((char)0x80);
  memset(dst, (uint8_t)(a->iz + 128), (size_t)(Hp * Wp * C));
  const int64_t h_end = a->H < Hp - a->ph ? a->H : Hp - a->ph, w_end = a->W < Wp - a->pw ? a->W : Wp - a->pw;
  for (int64_t c0 = 0; c0 < C; c0 += 16)
    for (int64_t iy = 0; iy < h_end; iy++)
      for (int64_t ix0 = 0; ix0 < w_end; ix0 += 16) {
        const int n = (int)(w_end - ix0 < 16 ? w_end - ix0 : 16);
        const __mmask16 m = (__mmask16)((1u << n) - 1);
        const int8_t* src = a->x + (c0 * a->H + iy) * a->W + ix0;
        __m128i r[16], t[16];
        for (int c = 0; c < 16; c++) r[c] = _mm_maskz_loadu_epi8(m, src + c * a->H * a->W);
        for (int i = 0; i < 8; i++) { /* channel pairs, pixels 0-7 / 8-15 */
          t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
          t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
        }
        for (int h = 0; h < 2; h++)
          for (int i = 0; i < 4; i++) { /* channel quads i, pixel quads 2h (r[8h + i]) and 2h + 1 (r[8h + 4 + i]) */
            r[8 * h + i] = _mm_unpacklo_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
            r[8 * h + 4 + i] = _mm_unpackhi_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);
          }
        uint8_t* d = dst + ((iy + a->ph) * Wp + ix0 + a->pw) * C + c0;
        for (int h = 0; h < 4; h++) { /* pixels 4h..4h+3: channels 0-7 from quads 0, 1, 8-15 from quads 2, 3 */
          const __m128i v0 = _mm_unpacklo_epi32(r[4 * h], r[4 * h + 1]), v1 = _mm_unpackhi_epi32(r[4 * h], r[4 * h + 1]);
          const __m128i v2 = _mm_unpacklo_epi32(r[4 * h + 2], r[4 * h + 3]);
          const __m128i v3 = _mm_unpackhi_epi32(r[4 * h + 2], r[4 * h + 3]);
          const __m128i px[4] = {_mm_unpacklo_epi64(v0, v2), _mm_unpackhi_epi64(v0, v2), _mm_unpacklo_epi64(v1, v3),
                                 _mm_unpackhi_epi64(v1, v3)};
          for (int q = 0; q < 4 && 4 * h + q < n; q++)
            _mm_storeu_si128((__m128i*)(d + (4 * h + q) * C), _mm_xor_si128(px[q], flip));
        }
      }
}

/* Columns [n0, n0 + nc) packed from the HWC plane: per 16 columns, each run 64 bytes (16 k-groups) at a time, the
 * columns' words transposed into the groups' vectors (columns past nc repeat the chunk's first). */
T512 static void pack_block_hwc(const pkt_qconv_gemm_args* a, const uint8_t* hwc, int64_t n0, int64_t nc,
                                uint8_t* out) {
  const int64_t C = a->Cg, Wp = hwc_cols(a), K = a->K, runs = pkt_qconv_gemm_runs(a);
  const int64_t len = K / runs, per_row = a->dw == 1 ? 1 : a->kw; /* a multiple of 16 */
  for (int64_t j = 0; j < nc; j += 16) {
    const uint8_t* src[16];
    for (int i = 0; i < 16; i++) {
      const int64_t p = n0 + j + (j + i < nc ? i : 0);
      src[i] = hwc + ((p / a->OW) * a->sh * Wp + (p % a->OW) * a->sw) * C;
    }
    uint8_t* panel = out + (j / NR) * NR * K + (j % NR) / 16 * 64;
    for (int64_t run = 0, g = 0; run < runs; run++) {
      const int64_t at = ((run / per_row) * a->dh * Wp + (run % per_row) * a->dw) * C;
      for (int64_t c0 = 0; c0 < len; c0 += 64) {
        const int ng = len - c0 >= 64 ? 16 : (int)(len - c0) / 4;
        const __mmask64 m = ng == 16 ? ~(__mmask64)0 : ((__mmask64)1 << (4 * ng)) - 1;
        __m512i r[16], t[16];
        for (int i = 0; i < 16; i++) r[i] = _mm512_maskz_loadu_epi8(m, src[i] + at + c0);
        for (int i = 0; i < 16; i += 4) { /* per 128-bit lane L, rows i..i+3: word 4L + q into t[i + q] */
          const __m512i u0 = _mm512_unpacklo_epi32(r[i], r[i + 1]), u1 = _mm512_unpackhi_epi32(r[i], r[i + 1]);
          const __m512i u2 = _mm512_unpacklo_epi32(r[i + 2], r[i + 3]);
          const __m512i u3 = _mm512_unpackhi_epi32(r[i + 2], r[i + 3]);
          t[i] = _mm512_unpacklo_epi64(u0, u2), t[i + 1] = _mm512_unpackhi_epi64(u0, u2);
          t[i + 2] = _mm512_unpacklo_epi64(u1, u3), t[i + 3] = _mm512_unpackhi_epi64(u1, u3);
        }
        for (int q = 0; q < 4; q++) { /* group 4L + q: lane L of t[q], t[4 + q], t[8 + q], t[12 + q] */
          const __m512i e0 = _mm512_shuffle_i32x4(t[q], t[4 + q], 0x44), e1 = _mm512_shuffle_i32x4(t[q], t[4 + q], 0xee);
          const __m512i e2 = _mm512_shuffle_i32x4(t[8 + q], t[12 + q], 0x44);
          const __m512i e3 = _mm512_shuffle_i32x4(t[8 + q], t[12 + q], 0xee);
          r[q] = _mm512_shuffle_i32x4(e0, e2, 0x88), r[4 + q] = _mm512_shuffle_i32x4(e0, e2, 0xdd);
          r[8 + q] = _mm512_shuffle_i32x4(e1, e3, 0x88), r[12 + q] = _mm512_shuffle_i32x4(e1, e3, 0xdd);
        }
        for (int q = 0; q < ng; q++, g++) _mm512_storeu_si512(panel + g * GROUP, r[q]);
      }
    }
  }
}

/* ---- micro-kernel: rows [m0, m0 + mr) x one panel's nc columns (NV = ceil(nc / 16) vectors) ---- */
/* acc += dot4(b u8, the 4 weight bytes at p broadcast, s8). The asm keeps the accumulator in place (GCC copies an
 * intrinsic's) and takes the broadcast from memory. */
#define DP_MEM(acc, b, p) __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(b), "m"(*(const int32_t*)(p)))
#define DP_REG(acc, b, a) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(b), "v"(a))
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

typedef struct conv_tile {
  const pkt_qconv_gemm_args* a;
  const uint8_t* panel;
  int64_t m0, n0;
  int mr, nc;
} conv_tile;

/* The last n = 1..3 weight bytes of a row, zero above (no memcpy call: it would spill the accumulators). */
static inline __attribute__((always_inline)) int32_t tail_bytes(const int8_t* p, int n) {
  uint32_t v = (uint8_t)p[0];
  if (n > 1) v |= (uint32_t)(uint8_t)p[1] << 8;
  if (n > 2) v |= (uint32_t)(uint8_t)p[2] << 16;
  return (int32_t)v;
}

/* NV is a constant at each call: the branches on it fold away, and so do the unused accumulators. */
/* The sums start at the row's bias (the same int32 result, wrapping). */
#define DECL(r) __m512i c##r##_0 = _mm512_set1_epi32(a->row_bias[m0 + ((r) < mr ? (r) : mr - 1)]), c##r##_1 = c##r##_0, \
                        c##r##_2 = c##r##_0;
#define ROW_MEM(r)                                 \
  {                                                \
    const int8_t* p = rw[r] + k;                   \
    DP_MEM(c##r##_0, b0, p);                       \
    if (NV > 1) DP_MEM(c##r##_1, b1, p);           \
    if (NV > 2) DP_MEM(c##r##_2, b2, p);           \
  }
#define ROW_TAIL(r)                                                                   \
  {                                                                                   \
    const __m512i wr = _mm512_set1_epi32(tail_bytes(rw[r] + k, (int)(K - k)));       \
    DP_REG(c##r##_0, b0, wr);                                                         \
    if (NV > 1) DP_REG(c##r##_1, b1, wr);                                             \
    if (NV > 2) DP_REG(c##r##_2, b2, wr);                                             \
  }
/* One vector of a row: * row scale, clamped, rounded (MXCSR: nearest even), + zero point, stored. */
#define OUT(r, v)                                                                                                \
  {                                                                                                              \
    const int left = nc - 16 * (v);                                                                              \
    const __mmask16 km = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);                        \
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(c##r##_##v), rs);                                                \
    f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);                                                                 \
    _mm512_mask_cvtepi32_storeu_epi8(y + (r) * ldy + 16 * (v), km, _mm512_add_epi32(_mm512_cvtps_epi32(f), czp)); \
  }
#define FINISH(r)                                                     \
  if ((r) < mr) {                                                     \
    const __m512 rs = _mm512_set1_ps(scale[r]);                       \
    OUT(r, 0)                                                         \
    if (NV > 1) OUT(r, 1)                                             \
    if (NV > 2) OUT(r, 2)                                             \
  }

T512 static inline __attribute__((always_inline)) void ukernel(const conv_tile* t, const int NV) {
  const pkt_qconv_gemm_args* a = t->a;
  const int64_t K = a->K, kfull = K / 4 * 4, m0 = t->m0;
  const int mr = t->mr, nc = t->nc; /* locals: the int8 stores below could alias *t */
  const int8_t* rw[MR];
  for (int r = 0; r < MR; r++) rw[r] = a->w + (m0 + (r < mr ? r : mr - 1)) * K;
  const uint8_t* b = t->panel;
  ROWS8(DECL)
  int64_t k = 0;
  __m512i b0, b1 = _mm512_setzero_si512(), b2 = b1;
  for (; k < kfull; k += 4, b += GROUP) {
    b0 = _mm512_loadu_si512(b);
    if (NV > 1) b1 = _mm512_loadu_si512(b + 64);
    if (NV > 2) b2 = _mm512_loadu_si512(b + 128);
    ROWS8(ROW_MEM)
  }
  if (k < K) {
    b0 = _mm512_loadu_si512(b);
    if (NV > 1) b1 = _mm512_loadu_si512(b + 64);
    if (NV > 2) b2 = _mm512_loadu_si512(b + 128);
    ROWS8(ROW_TAIL)
  }
  const __m512 lo = _mm512_set1_ps((float)(a->c_min - a->c_zp)), hi = _mm512_set1_ps((float)(a->c_max - a->c_zp));
  const __m512i czp = _mm512_set1_epi32(a->c_zp);
  const int64_t ldy = a->OH * a->OW;
  int8_t* y = a->y + m0 * ldy + t->n0;
  const float* scale = a->row_scale + m0;
  ROWS8(FINISH)
}

T512 static void ukernel_1(const conv_tile* t) { ukernel(t, 1); }
T512 static void ukernel_2(const conv_tile* t) { ukernel(t, 2); }
T512 static void ukernel_3(const conv_tile* t) { ukernel(t, 3); }

/* ---- a last panel of few columns (e.g. 49 = 48 + 1 at 7x7): per column and row one dot product over K, the
 * weights' 64 bytes at a time against the column's u8 bytes; at large K far fewer multiply-adds than the tile's
 * 16 lanes a row. The same int32 sums (wrapping) and requantization as the tile. ---- */
static int column_products(int64_t K, int nc) { return nc * (kpad(K) / 64 + 16) < kpad(K) / 4; }

T512 static void column_panel(const pkt_qconv_gemm_args* a, const uint8_t* panel, int64_t n0, int nc, int64_t m0,
                              int64_t m1, uint8_t* col) {
  const int64_t K = a->K, Kp = kpad(K), ldy = a->OH * a->OW;
  const float lo = (float)(a->c_min - a->c_zp), hi = (float)(a->c_max - a->c_zp);
  memset(col + Kp, 0, (size_t)(column_bytes(K) - (size_t)Kp));
  for (int j = 0; j < nc; j++) {
    for (int64_t g = 0; g < Kp / 4; g++) memcpy(col + 4 * g, panel + g * GROUP + 4 * j, 4);
    for (int64_t m = m0; m < m1; m++) {
      const int8_t* w = a->w + m * K;
      __m512i acc = _mm512_setzero_si512();
      for (int64_t k = 0; k < K; k += 64) {
        const __mmask64 km = K - k >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (K - k)) - 1);
        DP_REG(acc, _mm512_loadu_si512(col + k), _mm512_maskz_loadu_epi8(km, w + k));
      }
      const int32_t sum = (int32_t)((uint32_t)_mm512_reduce_add_epi32(acc) + (uint32_t)a->row_bias[m]);
      float f = (float)sum * a->row_scale[m];
      f = f < lo ? lo : f > hi ? hi : f;
      a->y[m * ldy + n0 + j] = (int8_t)(_mm_cvtss_si32(_mm_set_ss(f)) + a->c_zp); /* MXCSR: nearest even */
    }
  }
}

/* ---- driver ---- */
typedef struct conv_job {
  const pkt_qconv_gemm_args* a;
  const uint8_t* hwc; /* the HWC plane, or NULL */
  char* scratch;
  size_t slice;
  int64_t panels, row_blocks, block;
  int pointwise, split_cols;
} conv_job;

static void conv_thread(void* ctx, int index, int count) {
  const conv_job* j = ctx;
  const pkt_qconv_gemm_args* a = j->a;
  const int64_t P = a->OH * a->OW, Kp = kpad(a->K);
  int64_t p0 = 0, p1 = j->panels, r0 = 0, r1 = j->row_blocks;
  if (j->split_cols)
    p0 = j->panels * index / count, p1 = j->panels * (index + 1) / count;
  else
    r0 = j->row_blocks * index / count, r1 = j->row_blocks * (index + 1) / count;
  if (p0 >= p1 || r0 >= r1) return;
  int8_t* rows = (int8_t*)j->scratch + (size_t)index * j->slice;
  uint8_t* col = (uint8_t*)rows + rows_bytes(a->K, P);
  uint8_t* packed = col + column_bytes(a->K);
  for (int64_t pb = p0; pb < p1; pb += j->block) {
    const int64_t pe = pb + j->block < p1 ? pb + j->block : p1, n0 = pb * NR;
    const int64_t nc = (pe * NR < P ? pe * NR : P) - n0;
    if (j->hwc)
      pack_block_hwc(a, j->hwc, n0, nc, packed);
    else
      pack_block(a, j->pointwise, n0, nc, rows, packed);
    /* the last panel of all, when narrow enough, by column products */
    const int last = (int)(P - (pe - 1) * NR);
    const int64_t tiles_end = pe == j->panels && last < NR && column_products(a->K, last) ? pe - 1 : pe;
    if (tiles_end < pe) {
      const int64_t m1 = r1 * MR < a->M ? r1 * MR : a->M;
      column_panel(a, packed + (pe - 1 - pb) * NR * kpad(a->K), (pe - 1) * NR, last, r0 * MR, m1, col);
    }
    conv_tile t;
    t.a = a;
    for (int64_t rb = r0; rb < r1; rb++) {
      t.m0 = rb * MR;
      t.mr = (int)(a->M - t.m0 < MR ? a->M - t.m0 : MR);
      for (int64_t p = pb; p < tiles_end; p++) {
        t.panel = packed + (p - pb) * NR * Kp;
        t.n0 = p * NR;
        t.nc = (int)(P - t.n0 < NR ? P - t.n0 : NR);
        if (t.nc > 32)
          ukernel_3(&t);
        else if (t.nc > 16)
          ukernel_2(&t);
        else
          ukernel_1(&t);
      }
    }
  }
}

void pkt_qconv_gemm(const pkt_node* node, const pkt_qconv_gemm_args* a, void* scratch) {
  const int64_t P = a->OH * a->OW;
  if (a->M <= 0 || P <= 0) return;
  conv_job j;
  j.a = a;
  j.hwc = NULL;
  if (pkt_qconv_gemm_hwc(a)) {
    to_hwc(a, scratch);
    j.hwc = scratch;
  }
  j.scratch = (char*)scratch + hwc_bytes(a);
  j.slice = slice_bytes(a->K, P);
  j.panels = panels_of(P);
  j.row_blocks = (a->M + MR - 1) / MR;
  j.block = block_panels(a->K, P);
  j.pointwise = a->kh == 1 && a->kw == 1 && a->sh == 1 && a->sw == 1 && a->ph == 0 && a->pw == 0;
  const int threads = node && node->pool && node->num_threads > 1 ? node->num_threads : 1;
  /* Columns while every thread gets a few panels (each packs only its own), else row blocks (each packs all). */
  j.split_cols = j.panels >= 4 * threads || j.row_blocks < threads;
  if (threads > 1)
    pkt_parallel_for_threads(node, conv_thread, &j);
  else
    conv_thread(&j, 0, 1);
}

#else
int pkt_qconv_gemm_supported(const pkt_isa_config* cfg) {
  (void)cfg;
  return 0;
}
void pkt_qconv_gemm(const pkt_node* node, const pkt_qconv_gemm_args* a, void* scratch) {
  (void)node, (void)a, (void)scratch;
}
#endif
