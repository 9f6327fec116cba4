/* Test and benchmark driver for runtime/compute/winograd/winograd.c: builds a conv2d node by hand, runs the
 * Winograd entry points (and, for comparison, the conv2d kernel) on raw float32 files.
 *
 *   winograd_harness isa
 *       prints the ISA the runtime picks (PKT_MAX_ISA caps it)
 *   winograd_harness run N C H W O ph pw act lo hi threads m x.bin w.bin b.bin|- y.bin
 *       y = Winograd conv with m x m output tiles (2 or 4; computed even where pkt_winograd_tile()
 *       picks another or none); with WG_TILE_ONLY set, only prints pkt_winograd_tile()'s pick
 *   winograd_harness bench N C H W O ph pw threads m reps
 *       best-of-reps milliseconds and effective GFLOP/s of Winograd and of the conv2d kernel */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/cpu/isa_config.h"
#include "compute/gemm/gemm.h"
#include "core/program.h"
#include "compute/winograd/winograd.h"

PKT_DECLARE_KERNEL(conv2d)

static float* read_floats(const char* path, size_t n) {
  float* p = pkt_aligned_alloc(64, n * sizeof(float) + 64);
  FILE* f = fopen(path, "rb");
  if (!p || !f || fread(p, sizeof(float), n, f) != n) {
    fprintf(stderr, "cannot read %zu floats from %s\n", n, path);
    exit(2);
  }
  fclose(f);
  return p;
}

static void set_tensor(pkt_tensor* t, float* data, int rank, const int64_t* dims) {
  memset(t, 0, sizeof *t);
  t->data = data;
  t->dtype = PKT_F32;
  t->rank = rank;
  t->numel = 1;
  for (int i = 0; i < rank; i++) {
    t->dims[i] = dims[i];
    t->numel *= dims[i];
  }
  t->nbytes = (size_t)t->numel * sizeof(float);
}

typedef struct conv {
  pkt_tensor x, w, b, y;
  pkt_tensor* ins[3];
  pkt_tensor* outs[1];
  int64_t params[PKT_CONV2D_NUM_PARAMS];
  pkt_node node;
} conv;

static void make_conv(conv* c, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t ph, int64_t pw,
                      float* x, float* w, float* b, float* y, int act, double lo, double hi, int threads) {
  int64_t OH = H + 2 * ph - 2, OW = W + 2 * pw - 2;
  set_tensor(&c->x, x, 4, (int64_t[]){N, C, H, W});
  set_tensor(&c->w, w, 4, (int64_t[]){O, C, 3, 3});
  set_tensor(&c->b, b, 1, (int64_t[]){O});
  set_tensor(&c->y, y, 4, (int64_t[]){N, O, OH, OW});
  c->ins[0] = &c->x;
  c->ins[1] = &c->w;
  c->ins[2] = &c->b;
  c->outs[0] = &c->y;
  int64_t ints[7] = {1, 1, ph, pw, 1, 1, 1};
  for (int i = 0; i < 7; i++) c->params[i] = ints[i];
  c->params[PKT_CONV2D_ACT] = act;
  memcpy(&c->params[PKT_CONV2D_ACT_MIN], &lo, sizeof lo);
  memcpy(&c->params[PKT_CONV2D_ACT_MAX], &hi, sizeof hi);
  memset(&c->node, 0, sizeof c->node);
  c->node.op = PKT_OP_CONV2D;
  c->node.n_inputs = b ? 3 : 2;
  c->node.n_outputs = 1;
  c->node.n_params = PKT_CONV2D_NUM_PARAMS;
  c->node.inputs = c->ins;
  c->node.outputs = c->outs;
  c->node.params = c->params;
  c->node.num_threads = threads;
  c->node.pool = threads > 1 ? pkt_threadpool_create(threads) : NULL;
  c->node.cfg = pkt_isa_config_get(pkt_cpu_isa());
}

static double now_ms(void) { return (double)pkt_now_ns() / 1e6; }

int main(int argc, char** argv) {
  if (argc >= 2 && !strcmp(argv[1], "isa")) {
    printf("%s\n", pkt_isa_name(pkt_cpu_isa()));
    return 0;
  }
  if (argc == 18 && !strcmp(argv[1], "run")) {
    int64_t v[7];
    for (int i = 0; i < 7; i++) v[i] = atoll(argv[2 + i]);
    int64_t N = v[0], C = v[1], H = v[2], W = v[3], O = v[4], ph = v[5], pw = v[6];
    int act = atoi(argv[9]);
    double lo = atof(argv[10]), hi = atof(argv[11]);
    int threads = atoi(argv[12]), m = atoi(argv[13]);
    int64_t OH = H + 2 * ph - 2, OW = W + 2 * pw - 2;
    float* x = read_floats(argv[14], (size_t)(N * C * H * W));
    float* w = read_floats(argv[15], (size_t)(O * C * 9));
    float* b = strcmp(argv[16], "-") ? read_floats(argv[16], (size_t)O) : NULL;
    size_t ny = (size_t)(N * O * OH * OW);
    float* y = pkt_aligned_alloc(64, ny * sizeof(float) + 64);
    for (size_t i = 0; i < ny; i++) y[i] = NAN;
    conv c;
    make_conv(&c, N, C, H, W, O, ph, pw, x, w, b, y, act, lo, hi, threads);
    size_t scratch_bytes = 0;
    char msg[256];
    pkt_err err = {msg, sizeof msg};
    if (pkt_kernel_conv2d_prepare(&c.node, &scratch_bytes, &err)) {
      fprintf(stderr, "prepare: %s\n", msg);
      return 2;
    }
    int pick = pkt_winograd_tile(&c.node);
    if (getenv("WG_TILE_ONLY")) {
      printf("tile=%d\n", pick);
      return 0;
    }
    size_t pb = pkt_winograd_packed_size(&c.node, m), sb = pkt_winograd_scratch_size(&c.node, m);
    /* poison scratch and packed tails so reads of unwritten memory show up as NaN */
    void* packed = pkt_aligned_alloc(64, pb + 64);
    float* scratch = pkt_aligned_alloc(64, sb + 64);
    for (size_t i = 0; i < sb / sizeof(float); i++) scratch[i] = NAN;
    /* sessions do not zero packed weights: pack (on the node's pool with 2 threads) must write every float */
    for (size_t i = 0; i < pb / sizeof(float); i++) ((float*)packed)[i] = NAN;
    pkt_winograd_pack(&c.node, m, packed);
    for (size_t i = 0; i < pb / sizeof(float); i++)
      if (isnan(((float*)packed)[i])) {
        fprintf(stderr, "packed float %zu of %zu was not written\n", i, pb / sizeof(float));
        return 2;
      }
    c.node.packed = packed;
    c.node.scratch = scratch;
    pkt_winograd_run(&c.node, m, act, packed, scratch);
    pkt_winograd_run(&c.node, m, act, packed, scratch); /* twice: the run must not depend on scratch contents */
    FILE* f = fopen(argv[17], "wb");
    if (!f || fwrite(y, sizeof(float), ny, f) != ny) return 2;
    fclose(f);
    printf("isa=%s tile=%d packed=%zu scratch=%zu\n", pkt_isa_name(c.node.cfg->isa), m, pb, sb);
    pkt_threadpool_free(c.node.pool);
    return 0;
  }
  if (argc == 12 && !strcmp(argv[1], "bench")) {
    int64_t v[7];
    for (int i = 0; i < 7; i++) v[i] = atoll(argv[2 + i]);
    int64_t N = v[0], C = v[1], H = v[2], W = v[3], O = v[4], ph = v[5], pw = v[6];
    int threads = atoi(argv[9]), m = atoi(argv[10]), reps = atoi(argv[11]);
    int64_t OH = H + 2 * ph - 2, OW = W + 2 * pw - 2;
    size_t nx = (size_t)(N * C * H * W), nw = (size_t)(O * C * 9), ny = (size_t)(N * O * OH * OW);
    float* x = pkt_aligned_alloc(64, nx * 4 + 64);
    float* w = pkt_aligned_alloc(64, nw * 4 + 64);
    float* b = pkt_aligned_alloc(64, (size_t)O * 4 + 64);
    float* y = pkt_aligned_alloc(64, ny * 4 + 64);
    uint32_t s = 1;
    for (size_t i = 0; i < nx; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.f - 0.5f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.f - 0.5f;
    for (int64_t i = 0; i < O; i++) b[i] = 0.1f;
    conv c;
    make_conv(&c, N, C, H, W, O, ph, pw, x, w, b, y, PKT_ACT_RELU, 0, 0, threads);
    size_t cs = 0;
    if (pkt_kernel_conv2d_prepare(&c.node, &cs, NULL)) return 2;
    int wg = pkt_winograd_tile(&c.node);
    size_t pb = pkt_winograd_packed_size(&c.node, m), sb = pkt_winograd_scratch_size(&c.node, m);
    void* packed = pkt_aligned_alloc(64, pb + 64);
    void* wscratch = pkt_aligned_alloc(64, sb + 64);
    void* cscratch = pkt_aligned_alloc(64, cs + 64);
    pkt_winograd_pack(&c.node, m, packed);
    double flops = 2.0 * (double)N * O * OH * OW * C * 9;
    double best_w = 1e30, best_c = 1e30, best_g = 1e30;
    /* the GEMM an im2col conv would run (weights [O x 9C] times a pre-packed [9C x OH*OW] matrix),
     * without the im2col itself: a lower bound for im2col + GEMM */
    int64_t K = 9 * C, P = OH * OW;
    float* bpk = pkt_aligned_alloc(64, pkt_gemm_packed_size(K, P) * 4 + 64);
    float* col = pkt_aligned_alloc(64, (size_t)(K * P) * 4 + 64);
    for (int64_t i = 0; i < K * P; i++) col[i] = x[i % (int64_t)nx];
    pkt_gemm_pack_b(col, P, 1, K, P, bpk);
    pkt_gemm_args ga = {O, P, K, w, K, bpk, y, P, b, PKT_ACT_RELU, 0.f, 0.f};
    for (int r = 0; r < reps; r++) { /* interleaved */
      c.node.scratch = wscratch;
      double t0 = now_ms();
      pkt_winograd_run(&c.node, m, PKT_ACT_RELU, packed, wscratch);
      double t1 = now_ms();
      c.node.scratch = cscratch;
      if (!getenv("WG_ONLY")) pkt_kernel_conv2d_run(&c.node);
      double t2 = now_ms();
      if (!getenv("WG_ONLY"))
        for (int64_t img = 0; img < N; img++) pkt_gemm(&c.node, c.node.cfg, &ga);
      double t3 = now_ms();
      if (t3 - t2 < best_g) best_g = t3 - t2;
      if (t1 - t0 < best_w) best_w = t1 - t0;
      if (t2 - t1 < best_c) best_c = t2 - t1;
    }
    printf("%lldx%lld %lld->%lld N=%lld thr=%d isa=%s pick=%d F%d winograd %.3f ms %.1f GF/s   conv2d %.3f ms %.1f GF/s  "
           "gemm-only %.3f ms %.1f GF/s  vs-gemm %.2fx  scratch %.2f MB packed %.2f MB\n",
           (long long)H, (long long)W, (long long)C, (long long)O, (long long)N, threads, pkt_isa_name(c.node.cfg->isa), wg, m,
           best_w, flops / best_w / 1e6, best_c, flops / best_c / 1e6, best_g, flops / best_g / 1e6, best_g / best_w, sb / 1048576.0,
           pb / 1048576.0);
    pkt_threadpool_free(c.node.pool);
    return 0;
  }
  fprintf(stderr, "usage: see the comment at the top of winograd_harness.c\n");
  return 2;
}
