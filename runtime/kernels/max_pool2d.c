/* max_pool2d: NCHW, kernel/stride/padding/dilation; padding acts as -inf. Ceil mode is implied by the
 * output shape: prepare accepts the floor-mode or the ceil-mode size. NaN propagates as in torch.
 * Parallel over N*C planes; column ranges are computed so no index leaves the input row. */
#include <math.h>

#include "core/kernel.h"

#define POOL_PARAM_LIMIT ((int64_t)1 << 24)

/* Output size of a pooling window along one dim, floor and ceil mode (torch's pooling_output_shape). */
static void pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t* fl, int64_t* ce) {
  int64_t num = in + 2 * p - d * (k - 1) - 1;
  if (num < 0) {
    *fl = *ce = -1;
    return;
  }
  *fl = num / s + 1;
  *ce = (num + s - 1) / s + 1;
  if ((*ce - 1) * s >= in + p) --*ce; /* the last window must start inside the input or left padding */
}

pkt_status pkt_kernel_max_pool2d_prepare(const pkt_node* n, size_t* scratch, pkt_err* err) {
  pkt_status st = pkt_check_operands(n, 1, 1, 1, PKT_MAX_POOL2D_NUM_PARAMS, err);
  if (st) return st;
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((st = pkt_check_dtype(x, PKT_F32, "input", err)) || (st = pkt_check_dtype(y, PKT_F32, "output", err))) return st;
  if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1])
    return pkt_fail(err, PKT_BAD_OPERANDS, "input and output must be NCHW with the same N and C");
  for (int i = 0; i < PKT_MAX_POOL2D_NUM_PARAMS; i++) {
    int64_t v = pkt_param_i(n, i);
    int64_t lo = (i == PKT_MAX_POOL2D_PAD_H || i == PKT_MAX_POOL2D_PAD_W) ? 0 : 1;
    if (v < lo || v > POOL_PARAM_LIMIT)
      return pkt_fail(err, PKT_BAD_PARAMS, "parameter %d = %lld is out of range [%lld, %lld]", i, (long long)v,
                      (long long)lo, (long long)POOL_PARAM_LIMIT);
  }
  for (int a = 0; a < 2; a++) {
    int64_t fl, ce;
    pool_out_size(x->dims[2 + a], pkt_param_i(n, PKT_MAX_POOL2D_KERNEL_H + a), pkt_param_i(n, PKT_MAX_POOL2D_STRIDE_H + a),
                  pkt_param_i(n, PKT_MAX_POOL2D_PAD_H + a), pkt_param_i(n, PKT_MAX_POOL2D_DIL_H + a), &fl, &ce);
    int64_t o = y->dims[2 + a];
    if (fl < 0 || (o != fl && o != ce))
      return pkt_fail(err, PKT_BAD_OPERANDS, "output %s %lld does not match the input %lld with this window",
                      a ? "width" : "height", (long long)o, (long long)x->dims[2 + a]);
  }
  *scratch = 0;
  return PKT_OK;
}

typedef struct mp_job {
  int64_t H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw;
  const float* x;
  float* y;
} mp_job;

static inline float mp_max(float a, float b) { return ((b > a) | (b != b)) ? b : a; } /* no branch: vectorizes */

/* yr[ox] = max(yr[ox], the window's columns of input row xr) */
static void mp_row(const mp_job* j, const float* xr, float* yr) {
  for (int64_t kx = 0; kx < j->kw; kx++) {
    int64_t off = kx * j->dw - j->pw; /* ix = ox*sw + off */
    int64_t lo = off >= 0 ? 0 : (-off + j->sw - 1) / j->sw;
    int64_t last = j->W - 1 - off;
    if (last < 0) break;
    int64_t hi = last / j->sw + 1;
    if (hi > j->OW) hi = j->OW;
    for (int64_t ox = lo; ox < hi; ox++) yr[ox] = mp_max(yr[ox], xr[ox * j->sw + off]);
  }
}

/* mp_row at stride 2 along x (dilation 1): the row's even and odd columns are split once, so each
 * kernel column is a contiguous pass (ix = 2*ox + off reads phase off & 1 at ox + floor(off / 2)). */
static void mp_row2(const mp_job* j, const float* xr, float* yr, float* even, float* odd) {
  const int64_t half = (j->W + 1) / 2;
  for (int64_t i = 0; i < j->W / 2; i++) {
    even[i] = xr[2 * i];
    odd[i] = xr[2 * i + 1];
  }
  if (j->W & 1) even[half - 1] = xr[j->W - 1];
  for (int64_t kx = 0; kx < j->kw; kx++) {
    int64_t off = kx - j->pw; /* ix = 2*ox + off */
    int64_t lo = off >= 0 ? 0 : (-off + 1) / 2;
    int64_t last = j->W - 1 - off;
    if (last < 0) break;
    int64_t hi = last / 2 + 1;
    if (hi > j->OW) hi = j->OW;
    const float* src = (off & 1 ? odd : even) + (off >= 0 ? off / 2 : -((-off + 1) / 2));
    for (int64_t ox = lo; ox < hi; ox++) yr[ox] = mp_max(yr[ox], src[ox]);
  }
}

/* The max is separable: the window's rows are first reduced into one row (contiguous, vectorizes),
 * so the strided column pass runs once per output row instead of once per window row. */
#define MP_ROW_MAX 1024

static void mp_planes(void* ctx, int64_t begin, int64_t end) {
  const mp_job* j = ctx;
  float vrow[MP_ROW_MAX], even[MP_ROW_MAX / 2 + 1], odd[MP_ROW_MAX / 2 + 1];
  for (int64_t plane = begin; plane < end; plane++) {
    const float* xp = j->x + plane * j->H * j->W;
    float* yp = j->y + plane * j->OH * j->OW;
    for (int64_t oy = 0; oy < j->OH; oy++) {
      float* yr = yp + oy * j->OW;
      for (int64_t ox = 0; ox < j->OW; ox++) yr[ox] = -INFINITY;
      int rows = 0;
      for (int64_t ky = 0; ky < j->kh; ky++) {
        int64_t iy = oy * j->sh - j->ph + ky * j->dh;
        if (iy < 0) continue;
        if (iy >= j->H) break;
        const float* xr = xp + iy * j->W;
        if (j->W > MP_ROW_MAX) {
          mp_row(j, xr, yr);
        } else if (rows++ == 0) {
          memcpy(vrow, xr, (size_t)j->W * sizeof(float));
        } else {
          for (int64_t c = 0; c < j->W; c++) vrow[c] = mp_max(vrow[c], xr[c]);
        }
      }
      if (rows && j->sw == 2 && j->dw == 1)
        mp_row2(j, vrow, yr, even, odd);
      else if (rows)
        mp_row(j, vrow, yr);
    }
  }
}

pkt_status pkt_kernel_max_pool2d_run(const pkt_node* n) {
  const pkt_tensor *x = n->inputs[0], *y = n->outputs[0];
  mp_job j = {x->dims[2], x->dims[3], y->dims[2], y->dims[3],
              pkt_param_i(n, PKT_MAX_POOL2D_KERNEL_H), pkt_param_i(n, PKT_MAX_POOL2D_KERNEL_W),
              pkt_param_i(n, PKT_MAX_POOL2D_STRIDE_H), pkt_param_i(n, PKT_MAX_POOL2D_STRIDE_W),
              pkt_param_i(n, PKT_MAX_POOL2D_PAD_H), pkt_param_i(n, PKT_MAX_POOL2D_PAD_W),
              pkt_param_i(n, PKT_MAX_POOL2D_DIL_H), pkt_param_i(n, PKT_MAX_POOL2D_DIL_W),
              x->data, y->data};
  pkt_parallel_for(n, x->dims[0] * x->dims[1], mp_planes, &j);
  return PKT_OK;
}
