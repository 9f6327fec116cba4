/* Stress test of the platform thread pool (runtime/core/platform_posix.c), built and run by
 * tests/runtime/test_threadpool.py, optionally under ThreadSanitizer. Exit status 0 when every check holds.
 *
 * Checks: pkt_parallel_for covers [0, n) exactly once with contiguous ranges, for many n and thread
 * counts, with and without pauses long enough for the workers to go to sleep; pkt_parallel_for_threads
 * runs every index exactly once; a nested parallel loop runs serially instead of deadlocking; pools are
 * created and freed back to back, also right after a job; pkt_cpu_default_threads is in 1..cpu_count. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/program.h"

pkt_status pkt_fail(pkt_err* err, pkt_status status, const char* fmt, ...) {
  (void)err;
  (void)fmt;
  return status;
}

#define MAXN 5000
static _Atomic int hits[MAXN];
static _Atomic int calls;
static int failures;

#define CHECK(cond, ...)                 \
  do {                                   \
    if (!(cond)) {                       \
      fprintf(stderr, __VA_ARGS__);      \
      fputc('\n', stderr);               \
      if (++failures > 20) exit(1);      \
    }                                    \
  } while (0)

static void mark(void* ctx, int64_t b, int64_t e) {
  (void)ctx;
  atomic_fetch_add(&calls, 1);
  if (b >= e || b < 0 || e > MAXN) {
    fprintf(stderr, "bad range [%lld, %lld)\n", (long long)b, (long long)e);
    exit(1);
  }
  for (int64_t i = b; i < e; i++) atomic_fetch_add_explicit(&hits[i], 1, memory_order_relaxed);
}

typedef struct nested_ctx {
  const pkt_node* node;
  _Atomic int inner;
} nested_ctx;

static void inner_fn(void* ctx, int64_t b, int64_t e) { atomic_fetch_add(&((nested_ctx*)ctx)->inner, (int)(e - b)); }

static void outer_fn(void* ctx, int64_t b, int64_t e) {
  nested_ctx* c = ctx;
  for (int64_t i = b; i < e; i++) pkt_parallel_for(c->node, 10, inner_fn, c);
}

static _Atomic int index_hits[64];
static void per_thread(void* ctx, int index, int count) {
  int* expect = ctx;
  if (count != *expect || index < 0 || index >= count) {
    fprintf(stderr, "per-thread call (%d, %d), expected count %d\n", index, count, *expect);
    exit(1);
  }
  atomic_fetch_add(&index_hits[index], 1);
}

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static void check_cover(const pkt_node* node, int64_t n) {
  for (int64_t i = 0; i < n; i++) atomic_store_explicit(&hits[i], 0, memory_order_relaxed);
  atomic_store(&calls, 0);
  pkt_parallel_for(node, n, mark, NULL);
  for (int64_t i = 0; i < n; i++)
    CHECK(atomic_load_explicit(&hits[i], memory_order_relaxed) == 1, "threads %d n %lld: index %lld hit %d times",
          node->num_threads, (long long)n, (long long)i, atomic_load(&hits[i]));
  int expect_max = n > 0 ? (int)(n < 4096 ? n : 4096) : 0;
  CHECK(atomic_load(&calls) <= expect_max, "threads %d n %lld: %d calls", node->num_threads, (long long)n, atomic_load(&calls));
}

int main(int argc, char** argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 3000;
  unsigned seed = 12345;
  int counts[] = {2, 3, 4, 8};
  for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++) {
    pkt_node node = {0};
    node.num_threads = counts[t];
    node.pool = pkt_threadpool_create(counts[t]);
    CHECK(node.pool != NULL, "could not create a pool of %d", counts[t]);
    if (!node.pool) return 1;
    for (int r = 0; r < rounds; r++) {
      seed = seed * 1103515245u + 12345u;
      int64_t n = (int64_t)((seed >> 8) % MAXN);
      if (r % 7 == 0) n = r % 9; /* many tiny loops: n = 0, 1, fewer items than threads */
      check_cover(&node, n);
      if (r % 97 == 0) pause_us(300 + (r % 5) * 200); /* let the workers go to sleep */
      if (r % 13 == 0) {
        int expect = counts[t];
        for (int i = 0; i < 64; i++) atomic_store(&index_hits[i], 0);
        pkt_parallel_for_threads(&node, per_thread, &expect);
        for (int i = 0; i < 64; i++)
          CHECK(atomic_load(&index_hits[i]) == (i < expect ? 1 : 0), "per-thread index %d hit %d times", i,
                atomic_load(&index_hits[i]));
      }
      if (r % 101 == 0) {
        nested_ctx c = {&node, 0};
        pkt_parallel_for(&node, 50, outer_fn, &c);
        CHECK(atomic_load(&c.inner) == 500, "nested loops did %d inner items, expected 500", atomic_load(&c.inner));
      }
    }
    pkt_threadpool_free(node.pool);
  }
  /* Pools created and freed back to back, with zero, one or a few jobs. */
  for (int r = 0; r < 200; r++) {
    pkt_node node = {0};
    node.num_threads = 2 + r % 3;
    node.pool = pkt_threadpool_create(node.num_threads);
    CHECK(node.pool != NULL, "could not create pool %d", r);
    if (!node.pool) return 1;
    for (int j = 0; j < r % 3; j++) check_cover(&node, 100 + r);
    pkt_threadpool_free(node.pool);
  }
  /* A node without a pool runs serially; a per-thread call runs index 0 of 1. */
  pkt_node serial = {0};
  serial.num_threads = 1;
  check_cover(&serial, 777);
  int one = 1;
  for (int i = 0; i < 64; i++) atomic_store(&index_hits[i], 0);
  pkt_parallel_for_threads(&serial, per_thread, &one);
  CHECK(atomic_load(&index_hits[0]) == 1, "serial per-thread call missing");
  int d = pkt_cpu_default_threads(), c = pkt_cpu_count();
  CHECK(d >= 1 && d <= c, "default threads %d outside 1..%d", d, c);
  printf("threadpool_stress: %s (default threads %d of %d cpus)\n", failures ? "FAILED" : "ok", d, c);
  return failures ? 1 : 0;
}
