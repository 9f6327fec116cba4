/* Pointwise convs shared along K (see conv_ksplit.h). */
#include "conv_ksplit.h"

#include <math.h>

#define KSPLIT_KC 256         /* K slice of one micro-kernel call, as conv2d's */
#define KSPLIT_MIN_SHARE 192  /* input channels per thread at least */
#define KSPLIT_MIN_RATIO 3    /* K / O at least: the partial sums are small next to the input */

int conv_ksplit_wanted(const conv_geom* g, int threads) {
  return threads > 1 && g->groups == 1 && conv_pointwise(g) && g->K >= KSPLIT_MIN_RATIO * g->Og &&
         g->K >= KSPLIT_MIN_SHARE * (int64_t)threads;
}

static int64_t share_rows(const conv_geom* g, int threads) { return (g->K + threads - 1) / threads; }

int64_t conv_ksplit_scratch_floats(const conv_geom* g, int nr, int threads) {
  return (int64_t)(threads - 1) * g->O * g->P + (int64_t)threads * share_rows(g, threads) * nr;
}

static float* partial_sums(const conv_ksplit_job* j, int t) {
  return j->scratch + (int64_t)(t - 1) * j->g->O * j->g->P;
}

/* Thread t: out = W[:, kb:ke] x[kb:ke, :] over all pixels, into y (with the bias) for t = 0, else into
 * its partial sums. The same channel range as the depthwise conv's planes on thread t (K * t / T). */
static void ksplit_partial(void* ctx, int t, int T) {
  const conv_ksplit_job* j = ctx;
  const conv_geom* g = j->g;
  const int mr = j->impl->mr, nr = j->impl->nr;
  const int64_t P = g->P, kb = g->K * t / T, ke = g->K * (t + 1) / T;
  float* out = t == 0 ? j->y : partial_sums(j, t);
  float* panel = j->scratch + (int64_t)(T - 1) * g->O * P + (int64_t)t * share_rows(g, T) * nr;
  for (int64_t p0 = 0; p0 < P; p0 += nr) {
    const int cnt = (int)(P - p0 < nr ? P - p0 : nr), in_place = cnt == nr;
    if (!in_place)
      for (int64_t k = kb; k < ke; k++) {
        float* row = panel + (k - kb) * nr;
        memcpy(row, j->x + k * P + p0, (size_t)cnt * sizeof(float));
        memset(row + cnt, 0, (size_t)(nr - cnt) * sizeof(float));
      }
    for (int64_t k0 = kb; k0 < ke; k0 += KSPLIT_KC) {
      const int64_t kc = ke - k0 < KSPLIT_KC ? ke - k0 : KSPLIT_KC;
      const float* b = in_place ? j->x + k0 * P + p0 : panel + (k0 - kb) * nr;
      for (int64_t o0 = 0; o0 < g->O; o0 += mr) {
        const int rows = (int)(g->O - o0 < mr ? g->O - o0 : mr);
        const float* bias = t == 0 && j->bias ? j->bias + o0 : NULL;
        j->impl->ukernel(kc, j->packed + o0 * g->K + k0 * mr, b, in_place ? P : nr, out + o0 * P + p0, P, rows, cnt,
                         bias, k0 == kb, k0 + kc == ke, PKT_ACT_NONE, 0.f, 0.f);
      }
    }
  }
}

/* Thread t: pixels [p0, p1) of y (cut at whole cache lines) get the other threads' partial sums, the
 * residual and the activation. */
static void ksplit_total(void* ctx, int t, int T) {
  const conv_ksplit_job* j = ctx;
  const conv_geom* g = j->g;
  const int64_t P = g->P, p0 = P * t / T / 16 * 16, p1 = t == T - 1 ? P : P * (t + 1) / T / 16 * 16;
  if (p0 >= p1) return;
  float lo, hi;
  conv_act_bounds(j->act, j->lo, j->hi, &lo, &hi);
  for (int s = 1; s < T; s++) {
    const int last = s == T - 1 && !j->res;
    j->impl->residual(j->y + p0, partial_sums(j, s) + p0, P, g->O, p1 - p0, last ? lo : -INFINITY,
                      last ? hi : INFINITY);
  }
  if (j->res) j->impl->residual(j->y + p0, j->res + p0, P, g->O, p1 - p0, lo, hi);
  if (!conv_act_simple(j->act))
    for (int64_t o = 0; o < g->O; o++) pkt_apply_act(j->y + o * P + p0, p1 - p0, j->act, j->lo, j->hi);
}

void conv_ksplit_run(const pkt_node* n, const conv_ksplit_job* j) {
  pkt_parallel_for_threads(n, ksplit_partial, (void*)j);
  pkt_parallel_for_threads(n, ksplit_total, (void*)j);
}
