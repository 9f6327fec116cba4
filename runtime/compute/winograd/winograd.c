/* Winograd F(4x4, 3x3) and F(2x2, 3x3) convolution (see winograd.h).
 *
 * Weights: U = G g G^T per (output, input) channel pair, done once in pack(), stored as npos
 * ((m + 2)^2) matrices [Cin x Cout] packed with the GEMM's B layout (32-column panels).
 *
 * Run, per band of tile rows (a tile is m x m outputs reading an (m + 2)^2 input patch; tiles are
 * numbered over the whole batch, row-major):
 *  1. the band's input is copied channel-last and zero-padded ([rows][m*tw+2][Cp]), in parallel over
 *     tile rows, so every later step reads contiguous channel vectors and never tests bounds;
 *  2. work items (block of up to TB tiles) x (chunk of CC output channels) are split over the thread
 *     slots; per item: the input transform V[npos][tiles][Cp] (skipped when the slot's previous item
 *     had the same block), npos GEMMs M[pos] = V[pos] x U[pos] on the GEMM micro-kernels, then the
 *     output transform A^T m A with bias, scattered into the NCHW output with the fused activation.
 * V and M of one block stay in L2; each slot owns its part of the scratch. F(4x4) splits blocks into
 * chunks of output channels only when there are too few blocks for the threads; F(2x2), used on small
 * images with many channels, keeps a band's tiles in one block where V fits and bounds M by chunks,
 * so each chunk of U is streamed once. */
#include "compute/winograd/winograd_internal.h"

#include <math.h>

#include "compute/gemm/gemm.h"

#define WG_XP_BUDGET ((int64_t)2 << 20)    /* bytes of the band copy */
#ifndef WG_BLOCK_BUDGET
#define WG_BLOCK_BUDGET ((int64_t)1 << 20) /* bytes of V + M per slot */
#endif
#define WG_TB_MAX 144
#define WG_MIN_BLOCK 8 /* tiles: fewer leave the GEMMs of a block too short */
#ifndef WG2_MIN_TILES
#define WG2_MIN_TILES 32 /* F(2x2) tiles of a conv: fewer use each transformed weight too little */
#endif
#define WG2_V_BUDGET ((int64_t)1 << 20) /* F(2x2): bytes of V per slot (the rest of L2 for M and U) */
#define WG2_M_BUDGET ((int64_t)512 << 10) /* F(2x2): bytes of M per slot */

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Any 3x3 stride-1 dilation-1 ungrouped f32 conv2d is computed correctly by the entry points below;
 * applies() adds the size heuristics. */
int pkt_winograd_tile(const pkt_node* n) {
  if (n->op != PKT_OP_CONV2D || n->n_inputs < 2 || n->n_outputs != 1 || n->n_params < PKT_CONV2D_NUM_PARAMS) return 0;
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  if (x->dtype != PKT_F32 || w->dtype != PKT_F32 || y->dtype != PKT_F32) return 0;
  if (x->rank != 4 || w->rank != 4 || y->rank != 4) return 0;
  if (w->dims[2] != 3 || w->dims[3] != 3) return 0;
  if (pkt_param_i(n, PKT_CONV2D_STRIDE_H) != 1 || pkt_param_i(n, PKT_CONV2D_STRIDE_W) != 1) return 0;
  if (pkt_param_i(n, PKT_CONV2D_DIL_H) != 1 || pkt_param_i(n, PKT_CONV2D_DIL_W) != 1) return 0;
  if (pkt_param_i(n, PKT_CONV2D_GROUPS) != 1) return 0;
  int64_t ph = pkt_param_i(n, PKT_CONV2D_PAD_H), pw = pkt_param_i(n, PKT_CONV2D_PAD_W);
  if (ph < 0 || pw < 0 || ph > 2 || pw > 2) return 0;
  /* Chosen at the planned shape (the bound of a dynamic one): pack() lays the weights out for this tile, and a
   * run at any other shape must read them as packed. */
  const int64_t* xd = x->bound_dims ? x->bound_dims : x->dims;
  const int64_t* yd = y->bound_dims ? y->bound_dims : y->dims;
  int64_t C = xd[1], O = yd[1], OH = yd[2], OW = yd[3];
  if (w->dims[0] != O || w->dims[1] != C) return 0;
  /* Keep every size small enough that the plan's products cannot overflow. */
  if (C > 65536 || O > 65536 || OH > 65536 || OW > 65536 || xd[0] > 65536) return 0;
  /* Measured (AVX-512, one core, inside resnet18 where each layer's weights come cold from L3): with
   * 16+ channels F(4x4) beats im2col + GEMM by up to 4x at 28x28 (49 tiles), but at 14x14 (16
   * tiles, 256 ch) the GEMM is ~15% faster: each transformed weight (4x the bytes of the 3x3
   * kernel) is used for too few tiles to pay for streaming it. F(2x2) has 49 tiles there and is 1.5x
   * faster than the GEMM; at 7x7 (16 tiles, 512 ch) it is 20% slower. Few channels leave the GEMMs
   * too thin to pay for the transforms. */
  if (C < 16 || O < 16) return 0;
  if (OH >= 4 && OW >= 4 && xd[0] * ((OH + 3) / 4) * ((OW + 3) / 4) >= 32) return 4;
  if (OH >= 2 && OW >= 2 && xd[0] * ((OH + 1) / 2) * ((OW + 1) / 2) >= WG2_MIN_TILES) return 2;
  return 0;
}

/* Blocks of a band: enough of at most TB tiles; with fewer than two per thread, a multiple of the
 * threads when the blocks stay big enough for the GEMMs (49 tiles on 2 threads: 13+12 | 12+12, not
 * 20+20 | 9). More blocks than that are balanced by output-channel chunks (wg_make_plan). */
static int64_t wg_blocks(const wg_plan* p, int64_t band_tiles) {
  int64_t nb = (band_tiles + p->TB - 1) / p->TB, even = round_up(nb, p->T);
  if (p->m == 2) return nb;
  return nb < 2 * p->T && band_tiles / even >= WG_MIN_BLOCK ? even : nb;
}

static void wg_make_plan(const pkt_node* n, int m, wg_plan* p) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  memset(p, 0, sizeof *p);
  p->N = x->dims[0];
  p->C = x->dims[1];
  p->H = x->dims[2];
  p->W = x->dims[3];
  p->O = y->dims[1];
  p->OH = y->dims[2];
  p->OW = y->dims[3];
  p->ph = pkt_param_i(n, PKT_CONV2D_PAD_H);
  p->pw = pkt_param_i(n, PKT_CONV2D_PAD_W);
  p->m = m;
  p->npos = (m + 2) * (m + 2);
  p->th = (p->OH + m - 1) / m;
  p->tw = (p->OW + m - 1) / m;
  p->rows = p->N * p->th;
  p->Cp = round_up(p->C, 16);
  p->Op = round_up(p->O, 32);
  p->Wp = m * p->tw + 2;
  p->T = n->num_threads > 1 ? n->num_threads : 1;
  const int64_t fpos = p->npos * (int64_t)sizeof(float);
  /* Band: as many tile rows as fit the copy budget (a tile row needs at most m + 2 input rows). */
  p->BR = min64(p->rows, max64(1, WG_XP_BUDGET / ((m + 2) * p->Wp * p->Cp * (int64_t)sizeof(float))));
  p->xp_rows = m * p->BR + 2 * min64(p->N, p->BR);
  int64_t band_tiles = p->BR * p->tw;
  if (m == 2) {
    /* The band's tiles in one block when their V fits, else blocks of 12k (the AVX-512 micro-kernel's
     * height); output channels in chunks whose M fits, as many as the threads at least. */
    int64_t fit = WG2_V_BUDGET / (fpos * p->Cp);
    p->TB = band_tiles <= fit ? band_tiles : max64(12, fit / 12 * 12);
    int64_t nb = (band_tiles + p->TB - 1) / p->TB;
    int64_t cc_max = max64(32, WG2_M_BUDGET / (fpos * p->TB) / 32 * 32);
    p->ncc = (p->Op + cc_max - 1) / cc_max;
    if (nb % p->T != 0) p->ncc = round_up(p->ncc, p->T);
  } else {
    /* Block: V + M within the budget, a multiple of 12 rows (the AVX-512 micro-kernel's height). */
    int64_t tb = WG_BLOCK_BUDGET / (fpos * (p->Cp + p->Op));
    tb = tb / 12 * 12;
    p->TB = min64(max64(tb, 12), WG_TB_MAX);
    if (p->TB > band_tiles) p->TB = round_up(band_tiles, 4);
    /* Output-channel chunks: only when the blocks alone cannot keep the threads evenly busy. */
    int64_t nb = wg_blocks(p, band_tiles);
    p->ncc = 1;
    if (p->T > 1 && nb % p->T != 0 && nb < 4 * p->T) p->ncc = min64(p->T, p->Op / 32);
  }
  p->ncc = min64(p->ncc, p->Op / 32);
  p->CC = round_up((p->Op + p->ncc - 1) / p->ncc, 32);
  p->ncc = (p->Op + p->CC - 1) / p->CC;
  /* Scratch, in floats: bias, band copy, then per slot V, M and the tile's outputs. */
  size_t bias = (size_t)p->Op;
  size_t xp = (size_t)(p->xp_rows * p->Wp * p->Cp);
  p->off_v = 0;
  p->off_m = (size_t)(p->npos * p->TB * p->Cp);
  p->off_y = p->off_m + (size_t)(p->npos * p->TB * p->CC);
  p->slot_floats = p->off_y + 16 * 16;
  p->off_bias = 0;
  p->off_slots = bias + xp;
  p->total_bytes = (p->off_slots + (size_t)p->T * p->slot_floats) * sizeof(float);
}

size_t pkt_winograd_packed_size(const pkt_node* n, int m) {
  int64_t C = n->inputs[0]->dims[1], O = n->outputs[0]->dims[1];
  return (size_t)((m + 2) * (m + 2)) * pkt_gemm_packed_size(C, O) * sizeof(float);
}

size_t pkt_winograd_scratch_size(const pkt_node* n, int m) {
  wg_plan p;
  wg_make_plan(n, m, &p);
  if (!n->dynamic) return p.total_bytes;
  /* A bound non-decreasing in the dims (kernel.h) on wg_make_plan's sizes: the band copy is within its budget
   * unless one tile row exceeds it, a block holds at most WG_TB_MAX tiles (F(2x2): the V budget's, or 12), and
   * an output-channel chunk at most Op. */
  const int64_t fpos = p.npos * (int64_t)sizeof(float);
  const int64_t tile_row = (m + 2) * p.Wp * p.Cp, tb = m == 2 ? max64(12, WG2_V_BUDGET / (fpos * p.Cp)) : WG_TB_MAX;
  const int64_t xp = max64(WG_XP_BUDGET / (int64_t)sizeof(float), tile_row);
  const int64_t slot = p.npos * tb * (p.Cp + p.Op) + 16 * 16;
  return (size_t)(p.Op + xp + p.T * slot) * sizeof(float);
}

/* U = G g G^T for every (o, c), in double, into the (m + 2)^2 packed [C x O] matrices. One GEMM panel
 * (PKT_GEMM_NR output channels) at a time: each (position, c) row of the panel is written whole, its lanes
 * past O as zeros (so every byte of the packed size is written), and the lane loops vectorize. */
static void wg_pack_panel(const float* w, int64_t C, int64_t O, int64_t o0, const double (*G)[3], int a, size_t ps,
                          float* u) {
  const int nr = (int)min64(PKT_GEMM_NR, O - o0);
  double g[9][PKT_GEMM_NR], t[6][3][PKT_GEMM_NR];
  memset(g, 0, sizeof g); /* lanes past nr stay zero */
  for (int64_t c = 0; c < C; c++) {
    for (int l = 0; l < nr; l++) {
      const float* src = w + ((o0 + l) * C + c) * 9;
      for (int k = 0; k < 9; k++) g[k][l] = src[k];
    }
    for (int i = 0; i < a; i++)
      for (int k = 0; k < 3; k++)
        for (int l = 0; l < PKT_GEMM_NR; l++) t[i][k][l] = G[i][0] * g[k][l] + G[i][1] * g[3 + k][l] + G[i][2] * g[6 + k][l];
    float* dst = u + (o0 / PKT_GEMM_NR) * C * PKT_GEMM_NR + c * PKT_GEMM_NR;
    for (int i = 0; i < a; i++)
      for (int j = 0; j < a; j++) {
        float* d = dst + (size_t)(i * a + j) * ps;
        for (int l = 0; l < PKT_GEMM_NR; l++) d[l] = (float)(t[i][0][l] * G[j][0] + t[i][1][l] * G[j][1] + t[i][2][l] * G[j][2]);
      }
  }
}

typedef struct wg_pack_job {
  const float* w;
  int64_t C, O;
  const double (*G)[3];
  int a;
  size_t ps;
  float* u;
} wg_pack_job;

static void wg_pack_range(void* ctx, int64_t begin, int64_t end) {
  const wg_pack_job* j = ctx;
  for (int64_t q = begin; q < end; q++) wg_pack_panel(j->w, j->C, j->O, q * PKT_GEMM_NR, j->G, j->a, j->ps, j->u);
}

void pkt_winograd_pack(const pkt_node* n, int m, void* packed) {
  static const double G4[6][3] = {{1.0 / 4, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};
  static const double G2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  int64_t C = n->inputs[0]->dims[1], O = n->outputs[0]->dims[1];
  wg_pack_job j = {n->inputs[1]->data, C, O, m == 2 ? G2 : G4, m + 2, pkt_gemm_packed_size(C, O), packed};
  pkt_parallel_for(n, (O + PKT_GEMM_NR - 1) / PKT_GEMM_NR, wg_pack_range, &j); /* panels are independent */
}

/* ---- the band copy: NCHW rows -> [Wp][Cp], zero outside the image and past C ---- */
static void wg_fill_row(const wg_run* r, int64_t n, int64_t iy, float* dst) {
  const wg_plan* p = &r->p;
  const int64_t Cp = p->Cp;
  if (iy < 0 || iy >= p->H) {
    memset(dst, 0, (size_t)(p->Wp * Cp) * sizeof(float));
    return;
  }
  memset(dst, 0, (size_t)(p->pw * Cp) * sizeof(float));
  memset(dst + (p->pw + p->W) * Cp, 0, (size_t)((p->Wp - p->pw - p->W) * Cp) * sizeof(float));
  const int64_t HW = p->H * p->W;
  const float* src = r->x + n * p->C * HW + iy * p->W;
  float* d = dst + p->pw * Cp;
  if (r->wc->fill_row) {
    r->wc->fill_row(r, src, HW, d);
    return;
  }
  for (int64_t x0 = 0; x0 < p->W; x0 += 16) {
    int64_t xn = min64(16, p->W - x0);
    for (int64_t c = 0; c < p->C; c++) {
      const float* s = src + c * HW + x0;
      for (int64_t x = 0; x < xn; x++) d[(x0 + x) * Cp + c] = s[x];
    }
  }
  if (p->C < Cp)
    for (int64_t x = 0; x < p->W; x++)
      for (int64_t c = p->C; c < Cp; c++) d[x * Cp + c] = 0.f;
}

static void wg_fill_range(void* ctx, int64_t begin, int64_t end) {
  const wg_run* r = ctx;
  const wg_plan* p = &r->p;
  const int64_t rs = p->Wp * p->Cp;
  for (int64_t row = r->band_r0 + begin; row < r->band_r0 + end; row++) {
    int64_t n = row / p->th, ty = row % p->th;
    float* dst = r->xp + wg_xp_row(p, r->band_r0, row) * rs;
    /* the last tile row of the band or of its image also writes the two rows below it */
    int last = row + 1 == r->band_r1 || (row + 1) % p->th == 0;
    for (int k = 0; k < p->m + (last ? 2 : 0); k++) wg_fill_row(r, n, p->m * ty - p->ph + k, dst + k * rs);
  }
}

/* ---- the output scatter with the fused activation ---- */
int wg_act_bounds(const wg_run* r, float* lo, float* hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  switch (r->act) {
    case PKT_ACT_NONE: return 1;
    case PKT_ACT_RELU: *lo = 0.f; return 1;
    case PKT_ACT_RELU6: *lo = 0.f; *hi = 6.f; return 1;
    case PKT_ACT_CLAMP: *lo = r->lo; *hi = r->hi; return 1;
    default: return 0;
  }
}

static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

void wg_emit_scalar(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const float* vals, int vw, int m) {
  float lo, hi;
  const int simple = wg_act_bounds(r, &lo, &hi);
  for (int k = 0; k < nc; k++) {
    float* yo = to->base + (c + k) * to->plane;
    for (int i = 0; i < to->vi; i++) {
      float* row = yo + i * to->OW;
      for (int j = 0; j < to->vj; j++) row[j] = clampf(vals[(i * m + j) * vw + k], lo, hi);
      if (!simple) r->cfg->act(row, to->vj, r->act, r->lo, r->hi);
    }
  }
}

void wg_emit2(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const float* vals, int vw) {
  float lo, hi;
  if (!wg_act_bounds(r, &lo, &hi) || to->vi != 2 || to->vj != 2) {
    wg_emit_scalar(r, to, c, nc, vals, vw, 2);
    return;
  }
  float* yo = to->base + c * to->plane;
  const int64_t OW = to->OW;
  for (int k = 0; k < nc; k++, yo += to->plane) {
    yo[0] = clampf(vals[k], lo, hi);
    yo[1] = clampf(vals[vw + k], lo, hi);
    yo[OW] = clampf(vals[2 * vw + k], lo, hi);
    yo[OW + 1] = clampf(vals[3 * vw + k], lo, hi);
  }
}

/* ---- portable transforms ---- */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PKT_NO_VECTOR_EXT)
typedef float wg_v4 __attribute__((vector_size(16), may_alias));
#define wg_v wg_v4
#define WG_VW 4
#else
#define wg_v float
#define WG_VW 1
#endif
#define WG_NAME(x) x##_portable
#define WG_TARGET
#define WG_LINKAGE static
static void wg_emit_portable(const wg_run* r, const wg_tile_out* to, int64_t c, int nc, const wg_v* o, float* Yt) {
  for (int q = 0; q < 16; q++) memcpy(Yt + q * WG_VW, &o[q], sizeof(wg_v));
  wg_emit_scalar(r, to, c, nc, Yt, WG_VW, 4);
}
#define WG_EMIT wg_emit_portable
#include "compute/winograd/winograd_impl.h"
#undef WG_EMIT
#undef wg_v
#undef WG_VW
#undef WG_NAME
#undef WG_TARGET
#undef WG_LINKAGE

static const wg_config configs[] = {
    [PKT_ISA_PORTABLE] = {wg_input_block_portable, wg_output_block_portable, wg_input_block2_portable,
                          wg_output_block2_portable, NULL},
#ifdef PKT_WG_HAVE_X86
    [PKT_ISA_AVX2] = {wg_input_block_avx2, wg_output_block_avx2, wg_input_block2_avx2, wg_output_block2_avx2, NULL},
    [PKT_ISA_AVX512] = {wg_input_block_avx512, wg_output_block_avx512, wg_input_block2_avx512, wg_output_block2_avx512,
                        wg_fill_row_avx512},
#endif
};

static const wg_config* wg_config_of(const pkt_isa_config* cfg) {
  unsigned i = (unsigned)cfg->isa;
  return i < sizeof configs / sizeof configs[0] && configs[i].in4 ? &configs[i] : &configs[PKT_ISA_PORTABLE];
}

/* ---- the run ---- */
typedef void (*wg_in_fn)(const wg_run*, int64_t, int64_t, float*);
typedef void (*wg_out_fn)(const wg_run*, int64_t, int64_t, int64_t, int64_t, const float*, float*);

typedef struct wg_job {
  wg_run* r;
  wg_in_fn in;
  wg_out_fn out;
  pkt_gemm_ukernel uk;
  int mr;
  int nslots;
  int64_t tb, band_tiles;
} wg_job;

static void wg_slot(const wg_job* j, int s) {
  const wg_run* r = j->r;
  const wg_plan* p = &r->p;
  float* slot = r->slots + (size_t)s * p->slot_floats;
  float *V = slot + p->off_v, *Mb = slot + p->off_m, *Yt = slot + p->off_y;
  const int64_t items = r->items, i0 = items * s / j->nslots, i1 = items * (s + 1) / j->nslots;
  const size_t ups = pkt_gemm_packed_size(p->C, p->O);
  const int64_t K = p->C, Cp = p->Cp, CC = p->CC, TB = p->TB;
  int64_t last = -1;
  for (int64_t it = i0; it < i1; it++) {
    int64_t b = it / p->ncc, cc = it % p->ncc;
    int64_t t0 = b * j->tb, nt = min64(j->tb, j->band_tiles - t0);
    t0 += r->band_t0;
    if (b != last) {
      j->in(r, t0, nt, V);
      last = b;
    }
    int64_t c0 = cc * CC, cw = min64(CC, p->Op - c0);
    for (int pos = 0; pos < p->npos; pos++) {
      const float* A = V + pos * TB * Cp;
      float* Cm = Mb + pos * TB * CC;
      const float* U = r->u + pos * ups;
      for (int64_t q = c0 / PKT_GEMM_NR; q < (c0 + cw) / PKT_GEMM_NR; q++) {
        const float* panel = U + q * K * PKT_GEMM_NR;
        float* Cq = Cm + q * PKT_GEMM_NR - c0;
        for (int64_t m0 = 0; m0 < nt; m0 += j->mr)
          j->uk(K, A + m0 * Cp, Cp, (int)min64(j->mr, nt - m0), panel, Cq + m0 * CC, CC, PKT_GEMM_NR, NULL,
                PKT_ACT_NONE, 0.f, 0.f);
      }
    }
    j->out(r, t0, nt, c0, cw, Mb, Yt);
  }
}

static void wg_slots_range(void* ctx, int64_t begin, int64_t end) {
  for (int64_t s = begin; s < end; s++) wg_slot(ctx, (int)s);
}

void pkt_winograd_run(const pkt_node* n, int m, int act, const void* packed, void* scratch) {
  wg_run r;
  memset(&r, 0, sizeof r);
  wg_make_plan(n, m, &r.p);
  const wg_plan* p = &r.p;
  r.x = n->inputs[0]->data;
  r.y = n->outputs[0]->data;
  r.u = packed;
  r.bias = (float*)scratch + p->off_bias;
  r.xp = r.bias + p->Op;
  r.slots = (float*)scratch + p->off_slots;
  r.cfg = n->cfg;
  r.wc = wg_config_of(n->cfg);
  r.act = act;
  r.lo = (float)pkt_param_f(n, PKT_CONV2D_ACT_MIN);
  r.hi = (float)pkt_param_f(n, PKT_CONV2D_ACT_MAX);
  const float* b = n->n_inputs >= 3 ? n->inputs[2]->data : NULL;
  for (int64_t o = 0; o < p->Op; o++) r.bias[o] = b && o < p->O ? b[o] : 0.f;

  const int f2 = m == 2;
  const pkt_gemm_config* gc = pkt_gemm_config_of(n->cfg);
  wg_job j = {&r, f2 ? r.wc->in2 : r.wc->in4, f2 ? r.wc->out2 : r.wc->out4, gc->ukernel, gc->mr, 1, 0, 0};
  for (r.band_r0 = 0; r.band_r0 < p->rows; r.band_r0 += p->BR) {
    r.band_r1 = min64(p->rows, r.band_r0 + p->BR);
    pkt_parallel_for(n, r.band_r1 - r.band_r0, wg_fill_range, &r);
    j.band_tiles = (r.band_r1 - r.band_r0) * p->tw;
    r.band_t0 = r.band_r0 * p->tw;
    /* blocks of equal size, at most TB */
    r.nblocks = wg_blocks(p, j.band_tiles);
    j.tb = (j.band_tiles + r.nblocks - 1) / r.nblocks;
    r.nblocks = (j.band_tiles + j.tb - 1) / j.tb;
    r.items = r.nblocks * p->ncc;
    j.nslots = (int)min64(p->T, r.items);
    pkt_parallel_for(n, j.nslots, wg_slots_range, &j);
  }
}
