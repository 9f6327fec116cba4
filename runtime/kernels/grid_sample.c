/* grid_sample: torch.nn.functional.grid_sample on NCHW input x [N, C, H, W] with grid [N, OH, OW, 2] (x, y in
 * [-1, 1]) -> [N, C, OH, OW]. Modes bilinear and nearest; padding zeros, border and reflection; align_corners.
 *
 * The coordinate math follows ATen's vectorized CPU kernel (GridSamplerKernel.cpp), which is what eager runs on
 * x86, so NaN and infinite grid values give eager's answers: border/reflection clipping maps NaN to 0 (the SIMD
 * max/min semantics), zeros padding reads 0 outside the image and still multiplies the (possibly NaN) weights.
 * Parallel over N*OH output rows. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_grid_sample_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 2, 2, 1, PKT_GRID_SAMPLE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *g = n->inputs[1], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(g, PKT_F32, "grid", err)) ||
      (st = pkt_check_dtype(y, PKT_F32, "output", err)))
    return st;
  if (x->rank != 4 || g->rank != 4 || y->rank != 4 || g->dims[3] != 2 || g->dims[0] != x->dims[0] ||
      y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1] || y->dims[2] != g->dims[1] || y->dims[3] != g->dims[2])
    return pkt_fail(err, PKT_BAD_OPERANDS, "grid_sample needs input [N, C, H, W], grid [N, OH, OW, 2] and output "
                    "[N, C, OH, OW]");
  int64_t mode = pkt_param_i(n, PKT_GRID_SAMPLE_MODE), pad = pkt_param_i(n, PKT_GRID_SAMPLE_PADDING),
          ac = pkt_param_i(n, PKT_GRID_SAMPLE_ALIGN_CORNERS);
  if (mode != PKT_INTERP_NEAREST && mode != PKT_INTERP_BILINEAR)
    return pkt_fail(err, PKT_BAD_PARAMS, "grid_sample mode %lld is not supported (nearest, bilinear)", (long long)mode);
  if (pad < PKT_GRID_PAD_ZEROS || pad > PKT_GRID_PAD_REFLECTION)
    return pkt_fail(err, PKT_BAD_PARAMS, "grid_sample padding mode %lld is invalid", (long long)pad);
  if (ac != 0 && ac != 1) return pkt_fail(err, PKT_BAD_PARAMS, "align_corners must be 0 or 1, got %lld", (long long)ac);
  if (y->numel > 0 && (x->dims[2] == 0 || x->dims[3] == 0))
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot sample from an empty image");
  *scratch = 0;
  return PKT_OK;
}

typedef struct grid_job {
  int64_t C, H, W, OH, OW;
  int mode, pad, ac;
  const float *x, *g;
  float* y;
} grid_job;

/* NaN -> 0, then into [0, limit]: _mm256_max_ps(v, 0) returns 0 for NaN, as eager's clip_coordinates does. */
static inline float clip(float v, float limit) {
  v = v > 0.f ? v : 0.f;
  return v < limit ? v : limit;
}

/* ATen's vectorized reflect_coordinates: fold v into [0, span] (align_corners) or [-0.5, span - 0.5]. */
static inline float reflect(float v, int64_t size, int ac) {
  if (ac && size <= 1) return 0.f;
  const float twice_span = ac ? 2.f * (float)(size - 1) : 2.f * (float)size;
  const float a = ac ? fabsf(v) : fabsf(v + 0.5f);
  const float extra = a - truncf(a / twice_span) * twice_span;
  const float r = fminf(extra, twice_span - extra);
  return ac ? r : r - 0.5f;
}

/* Grid value -> source pixel coordinate, padding applied (ApplyGridSample's compute_W / compute_H). */
static inline float source(float v, int64_t size, const grid_job* j) {
  const float s = j->ac ? (float)(size - 1) / 2.f : (float)size / 2.f;
  float c = j->ac ? (v + 1.f) * s : (v + 1.f) * s - 0.5f;
  if (j->pad == PKT_GRID_PAD_BORDER) return clip(c, (float)(size - 1));
  if (j->pad == PKT_GRID_PAD_REFLECTION) return clip(reflect(c, size, j->ac), (float)(size - 1));
  return c;
}

/* The pixel at integer float coordinates (xi, yi), 0 outside the image (a NaN coordinate is outside). */
static inline float pixel(const float* plane, float xi, float yi, const grid_job* j) {
  if (!(xi > -1.f && xi < (float)j->W && yi > -1.f && yi < (float)j->H)) return 0.f;
  return plane[(int64_t)yi * j->W + (int64_t)xi];
}

static void grid_rows(void* ctx, int64_t begin, int64_t end) {
  const grid_job* j = ctx;
  for (int64_t row = begin; row < end; row++) {
    const int64_t b = row / j->OH, oy = row % j->OH;
    const float* g = j->g + row * j->OW * 2;
    for (int64_t ox = 0; ox < j->OW; ox++) {
      const float sx = source(g[2 * ox], j->W, j), sy = source(g[2 * ox + 1], j->H, j);
      const float* xb = j->x + b * j->C * j->H * j->W;
      float* yo = j->y + (b * j->C * j->OH + oy) * j->OW + ox;
      if (j->mode == PKT_INTERP_NEAREST) {
        const float xi = nearbyintf(sx), yi = nearbyintf(sy);
        for (int64_t c = 0; c < j->C; c++) yo[c * j->OH * j->OW] = pixel(xb + c * j->H * j->W, xi, yi, j);
        continue;
      }
      const float xw = floorf(sx), yn = floorf(sy);
      const float w = sx - xw, e = 1.f - w, nn = sy - yn, s = 1.f - nn;
      const float nw = s * e, ne = s * w, sw = nn * e, se = nn * w;
      for (int64_t c = 0; c < j->C; c++) {
        const float* p = xb + c * j->H * j->W;
        yo[c * j->OH * j->OW] = pixel(p, xw, yn, j) * nw + pixel(p, xw + 1.f, yn, j) * ne +
                                pixel(p, xw, yn + 1.f, j) * sw + pixel(p, xw + 1.f, yn + 1.f, j) * se;
      }
    }
  }
}

pkt_status pkt_kernel_grid_sample_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  grid_job j = {x->dims[1], x->dims[2], x->dims[3], y->dims[2], y->dims[3],
                (int)pkt_param_i(n, PKT_GRID_SAMPLE_MODE), (int)pkt_param_i(n, PKT_GRID_SAMPLE_PADDING),
                (int)pkt_param_i(n, PKT_GRID_SAMPLE_ALIGN_CORNERS), x->data, n->inputs[1]->data, y->data};
  if (y->numel == 0) return PKT_OK;
  pkt_parallel_for(n, y->dims[0] * j.OH, grid_rows, &j);
  return PKT_OK;
}
