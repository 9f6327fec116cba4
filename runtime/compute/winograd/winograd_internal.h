/* Shared between winograd.c and winograd_x86.c: the plan of one Winograd conv and the run state. */
#ifndef PKT_WINOGRAD_INTERNAL_H
#define PKT_WINOGRAD_INTERNAL_H

#include "compute/winograd/winograd.h"
#include "backends/cpu/isa_config.h"

/* Everything derived from the node's shapes and thread count; the same in scratch_size and run. */
typedef struct wg_plan {
  int64_t N, C, H, W, O, OH, OW, ph, pw;
  int m, npos;          /* outputs per tile side (2 or 4); transformed positions ((m + 2)^2) */
  int64_t th, tw;       /* tiles per image: rows, columns (m x m outputs each) */
  int64_t rows;         /* N * th: tile rows over the batch */
  int64_t Cp, Op;       /* C rounded up to 16, O rounded up to 32 (the GEMM panel width) */
  int64_t BR;           /* tile rows per band (the band's input is copied channel-last) */
  int64_t Wp, xp_rows;  /* band copy: columns (m * tw + 2) and the most rows a band needs */
  int64_t TB;           /* tiles per block (rows of the npos GEMMs) */
  int64_t CC, ncc;      /* output channels per chunk (multiple of 32), chunks */
  int T;                /* thread slots */
  size_t off_bias, off_slots, slot_floats, total_bytes;
  size_t off_v, off_m, off_y; /* within a slot, in floats */
} wg_plan;

typedef struct wg_run wg_run;
/* The Winograd family's part of the session's ISA config: input and output transforms of blocks of
 * F(4x4) and F(2x2) tiles, and the band copy's row (NULL: the portable loop). */
typedef struct wg_config {
  void (*in4)(const wg_run* r, int64_t t0, int64_t nt, float* V);
  void (*out4)(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb, float* Yt);
  void (*in2)(const wg_run* r, int64_t t0, int64_t nt, float* V);
  void (*out2)(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb, float* Yt);
  void (*fill_row)(const wg_run* r, const float* src, int64_t hw, float* dst);
} wg_config;

struct wg_run {
  wg_plan p;
  const float* x;
  float* y;
  const float* u;  /* packed transformed weights */
  float* xp;       /* band copy [xp_rows][Wp][Cp] */
  float* bias;     /* Op floats, zero-padded */
  float* slots;
  const pkt_isa_config* cfg;
  const wg_config* wc;
  int act;
  float lo, hi;
  int64_t band_r0, band_r1; /* current band: tile rows [r0, r1) */
  int64_t band_t0, nblocks, items;
};

/* Row of the band copy where tile row `row` (flat over the batch) starts. */
static inline int64_t wg_xp_row(const wg_plan* p, int64_t r0, int64_t row) {
  return p->m * (row - r0) + 2 * (row / p->th - r0 / p->th);
}

/* Where one tile's outputs go: out[n][c0][oy][ox], the valid rows and columns (the last tile row and
 * column may be partial). */
typedef struct wg_tile_out {
  float* base;
  int64_t plane, OW;
  int vi, vj;
} wg_tile_out;

static inline void wg_tile_locate(const wg_run* r, int64_t g, int64_t c0, wg_tile_out* to) {
  const wg_plan* p = &r->p;
  const int m = p->m;
  int64_t tpi = p->th * p->tw, n = g / tpi, rem = g % tpi, oy = m * (rem / p->tw), ox = m * (rem % p->tw);
  to->vi = (int)(p->OH - oy < m ? p->OH - oy : m);
  to->vj = (int)(p->OW - ox < m ? p->OW - ox : m);
  to->plane = p->OH * p->OW;
  to->OW = p->OW;
  to->base = r->y + ((n * p->O + c0) * p->OH + oy) * p->OW + ox;
}

/* The clamp bounds of the fused activation when it is clamp-like (none, relu, relu6, clamp: returns 1);
 * otherwise +-inf and 0 (apply the activation after clamping). */
int wg_act_bounds(const wg_run* r, float* lo, float* hi);
/* Scalar store of channels [c, c + nc) of a tile from vals[m * m pixels][vw channels], with activation. */
void wg_emit_scalar(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const float* vals, int vw, int m);
/* The same for a 2x2 tile, with a straight path for whole tiles and clamp-like activations. */
void wg_emit2(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const float* vals, int vw);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PKT_WG_HAVE_X86 1
void wg_input_block_avx2(const wg_run* r, int64_t t0, int64_t nt, float* V);
void wg_output_block_avx2(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb, float* Yt);
void wg_input_block_avx512(const wg_run* r, int64_t t0, int64_t nt, float* V);
void wg_input_block2_avx2(const wg_run* r, int64_t t0, int64_t nt, float* V);
void wg_output_block2_avx2(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb, float* Yt);
void wg_input_block2_avx512(const wg_run* r, int64_t t0, int64_t nt, float* V);
void wg_output_block2_avx512(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb,
                             float* Yt);
void wg_output_block_avx512(const wg_run* r, int64_t t0, int64_t nt, int64_t c0, int64_t cw, const float* Mb,
                            float* Yt);
void wg_fill_row_avx512(const wg_run* r, const float* src, int64_t hw, float* dst);
#endif

#endif
