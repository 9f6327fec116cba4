/* Pointwise convs shared along K (see conv_ksplit.h). */
#include "compute/conv/conv_ksplit.h"

#include <math.h>

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
  conv_geom share = *g; /* the thread's input channels, for packing the tail panel */
  share.C = share.Cg = share.K = ke - kb;
  for (int64_t p0 = 0; p0 < P; p0 += nr) {
    const int cnt = (int)(P - p0 < nr ? P - p0 : nr), in_place = cnt == nr;
    if (!in_place) conv_pack_panel(&share, j->x + kb * P, p0, cnt, nr, j->impl->fill2, panel);
    for (int64_t k0 = kb; k0 < ke; k0 += CONV_POINTWISE_KC) {
      const int64_t kc = ke - k0 < CONV_POINTWISE_KC ? ke - k0 : CONV_POINTWISE_KC;
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
  /* the addends: the partial sums of threads 1 .. T-1, then the residual; the activation with the last */
  const int addends = T - 1 + (j->res != NULL);
  for (int s = 1; s <= addends; s++) {
    const float* r = s < T ? partial_sums(j, s) : j->res;
    if (s < addends)
      j->impl->residual(j->y + p0, r + p0, P, g->O, p1 - p0, -INFINITY, INFINITY);
    else
      conv_add_act(j->impl, j->y + p0, r + p0, P, g->O, p1 - p0, j->act, j->lo, j->hi);
  }
}

void conv_ksplit_run(const pkt_node* n, const conv_ksplit_job* j) {
  pkt_parallel_for_threads(n, ksplit_partial, (void*)j);
  pkt_parallel_for_threads(n, ksplit_total, (void*)j);
}
