/* interpolate: resize NCHW to the output's H, W. Modes nearest, bilinear and bicubic (align_corners 0/1) and
 * nearest-exact, with torch's source-index rules (in float, as torch computes them for float32).
 * scale_h / scale_w are the user's scale factors (output/input); > 0 means they define the source
 * index mapping (torch uses 1/scale when a scale factor was given), 0 means derive from the sizes.
 * Every source index is clamped to [0, in - 1]. Bicubic is torch's (A = -0.75, the 4x4 neighbourhood's indices
 * clamped to the image, the source coordinate itself not clamped). Parallel over N*C planes. */
#include <math.h>

#include "core/kernel.h"

pkt_status pkt_kernel_interpolate_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_INTERPOLATE_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input and output must be NCHW with the same N and C");
  int64_t mode = pkt_param_i(n, PKT_INTERPOLATE_MODE), ac = pkt_param_i(n, PKT_INTERPOLATE_ALIGN_CORNERS);
  if (mode != PKT_INTERP_NEAREST && mode != PKT_INTERP_BILINEAR && mode != PKT_INTERP_NEAREST_EXACT &&
      mode != PKT_INTERP_BICUBIC)
    return pkt_fail(err, PKT_BAD_PARAMS, "interpolation mode %lld is not supported (nearest, bilinear, "
                    "nearest-exact, bicubic)", (long long)mode);
  if (ac != 0 && ac != 1) return pkt_fail(err, PKT_BAD_PARAMS, "align_corners must be 0 or 1, got %lld", (long long)ac);
  for (int i = 0; i < 2; i++) {
    double s = pkt_param_f(n, PKT_INTERPOLATE_SCALE_H + i);
    if (!(s >= 0.0) || isinf(s)) return pkt_fail(err, PKT_BAD_PARAMS, "scale %g is invalid", s);
  }
  if ((y->dims[2] > 0 && x->dims[2] == 0) || (y->dims[3] > 0 && x->dims[3] == 0))
    return pkt_fail(err, PKT_BAD_OPERANDS, "cannot resize an empty input to a non-empty output");
  *scratch = 0;
  return PKT_OK;
}

typedef struct interp_job {
  int64_t H, W, OH, OW;
  int mode, ac;
  float sh, sw; /* source-index scales */
  const float* x;
  float* y;
} interp_job;

/* torch's area_pixel_compute_scale / compute_scales_value. */
static float src_scale(int64_t in, int64_t out, double user_scale, int align_corners) {
  if (align_corners) return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f;
  if (user_scale > 0.0) return (float)(1.0 / user_scale);
  return out > 0 ? (float)in / (float)out : 0.f;
}

static inline int64_t nearest_idx(const interp_job* j, int64_t dst, float scale, int64_t in) {
  float f = j->mode == PKT_INTERP_NEAREST_EXACT ? floorf(((float)dst + 0.5f) * scale) : floorf((float)dst * scale);
  int64_t s = f > 0.f ? (int64_t)(f < (float)in ? f : (float)in) : 0;
  return s < in ? s : in - 1;
}

static inline void linear_idx(int64_t dst, float scale, int ac, int64_t in, int64_t* i0, int64_t* i1, float* l1) {
  float src = ac ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
  if (!(src > 0.f)) src = 0.f;
  if (src > (float)(in - 1)) src = (float)(in - 1);
  int64_t a = (int64_t)src;
  if (a > in - 1) a = in - 1;
  *i0 = a;
  *i1 = a + (a < in - 1 ? 1 : 0);
  float l = src - (float)a;
  *l1 = l < 0.f ? 0.f : l > 1.f ? 1.f : l;
}

/* torch's get_cubic_upsample_coefficients (A = -0.75) for the fraction t, and the four clamped indices. */
static inline void cubic_taps(int64_t dst, float scale, int ac, int64_t in, int64_t idx[4], float w[4]) {
  const float A = -0.75f;
  float src = ac ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
  float f = floorf(src), t = src - f;
  for (int k = 0; k < 4; k++) {
    int64_t i = (int64_t)f - 1 + k;
    idx[k] = i < 0 ? 0 : i > in - 1 ? in - 1 : i;
  }
  float x1 = t + 1.f, x2 = 1.f - t, x3 = 2.f - t;
  w[0] = ((A * x1 - 5.f * A) * x1 + 8.f * A) * x1 - 4.f * A;
  w[1] = ((A + 2.f) * t - (A + 3.f)) * t * t + 1.f;
  w[2] = ((A + 2.f) * x2 - (A + 3.f)) * x2 * x2 + 1.f;
  w[3] = ((A * x3 - 5.f * A) * x3 + 8.f * A) * x3 - 4.f * A;
}

static void bicubic_plane(const interp_job* j, const float* xp, float* yp) {
  for (int64_t oy = 0; oy < j->OH; oy++) {
    int64_t ry[4];
    float wy[4];
    cubic_taps(oy, j->sh, j->ac, j->H, ry, wy);
    for (int64_t ox = 0; ox < j->OW; ox++) {
      int64_t rx[4];
      float wx[4], acc = 0.f;
      cubic_taps(ox, j->sw, j->ac, j->W, rx, wx);
      for (int a = 0; a < 4; a++) {
        const float* r = xp + ry[a] * j->W;
        acc += wy[a] * (r[rx[0]] * wx[0] + r[rx[1]] * wx[1] + r[rx[2]] * wx[2] + r[rx[3]] * wx[3]);
      }
      yp[oy * j->OW + ox] = acc;
    }
  }
}

static void interp_planes(void* ctx, int64_t begin, int64_t end) {
  const interp_job* j = ctx;
  for (int64_t plane = begin; plane < end; plane++) {
    const float* xp = j->x + plane * j->H * j->W;
    float* yp = j->y + plane * j->OH * j->OW;
    if (j->mode == PKT_INTERP_BICUBIC) {
      bicubic_plane(j, xp, yp);
      continue;
    }
    for (int64_t oy = 0; oy < j->OH; oy++) {
      float* yr = yp + oy * j->OW;
      if (j->mode == PKT_INTERP_BILINEAR) {
        int64_t y0, y1;
        float ly1;
        linear_idx(oy, j->sh, j->ac, j->H, &y0, &y1, &ly1);
        float ly0 = 1.f - ly1;
        const float *r0 = xp + y0 * j->W, *r1 = xp + y1 * j->W;
        for (int64_t ox = 0; ox < j->OW; ox++) {
          int64_t x0, x1;
          float lx1;
          linear_idx(ox, j->sw, j->ac, j->W, &x0, &x1, &lx1);
          float lx0 = 1.f - lx1;
          yr[ox] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1]);
        }
      } else {
        const float* xr = xp + nearest_idx(j, oy, j->sh, j->H) * j->W;
        for (int64_t ox = 0; ox < j->OW; ox++) yr[ox] = xr[nearest_idx(j, ox, j->sw, j->W)];
      }
    }
  }
}

pkt_status pkt_kernel_interpolate_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  interp_job j;
  j.H = x->dims[2];
  j.W = x->dims[3];
  j.OH = y->dims[2];
  j.OW = y->dims[3];
  j.mode = (int)pkt_param_i(n, PKT_INTERPOLATE_MODE);
  const int has_corners = j.mode == PKT_INTERP_BILINEAR || j.mode == PKT_INTERP_BICUBIC;
  j.ac = has_corners ? (int)pkt_param_i(n, PKT_INTERPOLATE_ALIGN_CORNERS) : 0;
  j.sh = src_scale(j.H, j.OH, pkt_param_f(n, PKT_INTERPOLATE_SCALE_H), j.ac);
  j.sw = src_scale(j.W, j.OW, pkt_param_f(n, PKT_INTERPOLATE_SCALE_W), j.ac);
  j.x = x->data;
  j.y = y->data;
  if (j.OH == 0 || j.OW == 0) return PKT_OK;
  pkt_parallel_for(n, x->dims[0] * x->dims[1], interp_planes, &j);
  return PKT_OK;
}
