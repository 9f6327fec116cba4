/* A test-only delegate backend (compiled only into test builds, with PKT_WITH_BACKEND_TEST_ELEMENTWISE): runs
 * float32 elementwise add, mul and relu subgraphs from its own tiny blob format, to prove the delegate interface
 * (core/backend.h) without an accelerator. Its exporter side is elementwise_backend.py, which writes the blob:
 *
 *   u32 magic "PKTE", n_inputs, n_outputs, n_temps, n_ops, numel (every tensor has numel float32 elements)
 *   n_ops x {u32 kind (1 add, 2 mul, 3 relu), a, b, dst}: slots 0.. inputs, then outputs, then temps
 *
 * PKT_TEST_BACKEND=unavailable makes is_available() say no device; =fail-init makes init() fail. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/backend.h"

enum { MAGIC = 0x45544b50u, HEADER = 24, OP_BYTES = 16, ADD = 1, MUL = 2, RELU = 3, MAX_SLOTS = 4096 };

typedef struct handle {
  uint32_t n_inputs, n_outputs, n_temps, n_ops;
  int64_t numel;
  const uint8_t* ops;
  float* temps;
  uint64_t last_ns;
} handle;

static uint32_t rd32(const uint8_t* p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int available(void) {
  const char* mode = getenv("PKT_TEST_BACKEND");
  return !(mode && strcmp(mode, "unavailable") == 0);
}

static const char* device_name(void* h) { return h ? "test elementwise device" : ""; }
static const char* driver_name(void* h) { return h ? "test driver 1.0" : ""; }

static pkt_status init(const void* blob, size_t size, const pkt_backend_io* io, void** out, pkt_err* err) {
  const char* mode = getenv("PKT_TEST_BACKEND");
  if (mode && strcmp(mode, "fail-init") == 0) return pkt_fail(err, PKT_NOT_SUPPORTED, "asked to fail (PKT_TEST_BACKEND)");
  const uint8_t* b = blob;
  if (size < HEADER || rd32(b) != MAGIC) return pkt_fail(err, PKT_BAD_PARAMS, "blob does not start with PKTE");
  handle h = {rd32(b + 4), rd32(b + 8), rd32(b + 12), rd32(b + 16), rd32(b + 20), b + HEADER, NULL, 0};
  const uint64_t slots = (uint64_t)h.n_inputs + h.n_outputs + h.n_temps;
  if (slots > MAX_SLOTS || h.n_ops > MAX_SLOTS || size != HEADER + (uint64_t)h.n_ops * OP_BYTES)
    return pkt_fail(err, PKT_BAD_PARAMS, "blob of %zu bytes does not hold its %u ops over %llu slots", size, h.n_ops,
                    (unsigned long long)slots);
  if ((int)h.n_inputs != io->n_inputs || (int)h.n_outputs != io->n_outputs)
    return pkt_fail(err, PKT_BAD_OPERANDS, "blob has %u inputs and %u outputs, the delegate %d and %d", h.n_inputs,
                    h.n_outputs, io->n_inputs, io->n_outputs);
  for (int i = 0; i < io->n_inputs + io->n_outputs; i++) {
    const pkt_tensor* t = i < io->n_inputs ? io->inputs[i] : io->outputs[i - io->n_inputs];
    if (t->dtype != PKT_F32 || t->numel != h.numel)
      return pkt_fail(err, PKT_BAD_OPERANDS, "tensor %d is not %lld float32 elements", i, (long long)h.numel);
  }
  uint8_t written[MAX_SLOTS] = {0};
  for (uint32_t k = 0; k < h.n_ops; k++) {
    const uint8_t* op = h.ops + (size_t)k * OP_BYTES;
    uint32_t kind = rd32(op), a = rd32(op + 4), bb = rd32(op + 8), dst = rd32(op + 12);
    if (kind < ADD || kind > RELU || a >= slots || bb >= slots || dst < h.n_inputs || dst >= slots ||
        (kind == RELU && bb != 0))
      return pkt_fail(err, PKT_BAD_PARAMS, "op %u is invalid (kind %u, slots %u %u -> %u)", k, kind, a, bb, dst);
    written[dst] = 1;
  }
  for (uint32_t o = h.n_inputs; o < h.n_inputs + h.n_outputs; o++)
    if (!written[o]) return pkt_fail(err, PKT_BAD_PARAMS, "no op writes output slot %u", o);
  handle* made = calloc(1, sizeof *made);
  float* temps = calloc((size_t)(h.n_temps ? h.n_temps : 1) * (size_t)(h.numel ? h.numel : 1), sizeof(float));
  if (!made || !temps) {
    free(made);
    free(temps);
    return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for the delegate");
  }
  h.temps = temps;
  *made = h;
  *out = made;
  return PKT_OK;
}

static float* slot(const handle* h, const pkt_backend_io* io, uint32_t s) {
  if (s < h->n_inputs) return io->inputs[s]->data;
  if (s < h->n_inputs + h->n_outputs) return io->outputs[s - h->n_inputs]->data;
  return h->temps + (size_t)(s - h->n_inputs - h->n_outputs) * (size_t)h->numel;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pkt_status execute(void* hv, const pkt_backend_io* io) {
  handle* h = hv;
  const uint64_t t0 = now_ns();
  for (uint32_t k = 0; k < h->n_ops; k++) {
    const uint8_t* op = h->ops + (size_t)k * OP_BYTES;
    const uint32_t kind = rd32(op);
    const float *a = slot(h, io, rd32(op + 4)), *b = slot(h, io, rd32(op + 8));
    float* y = slot(h, io, rd32(op + 12));
    for (int64_t i = 0; i < h->numel; i++)
      y[i] = kind == ADD ? a[i] + b[i] : kind == MUL ? a[i] * b[i] : (a[i] < 0 ? 0.0f : a[i]); /* relu keeps NaN */
  }
  h->last_ns = now_ns() - t0 + 1; /* never 0: a measured run */
  return PKT_OK;
}

static void destroy(void* hv) {
  handle* h = hv;
  free(h->temps);
  free(h);
}

static uint64_t last_device_ns(void* hv) { return ((handle*)hv)->last_ns; }

const pkt_backend pkt_backend_test_elementwise = {"test_elementwise", available, device_name, driver_name, init,
                                                  execute, destroy, last_device_ns};
