/* Platform layer for POSIX systems: the only file that touches the OS (clock, memory, files, threads). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "program.h"

void* pkt_aligned_alloc(size_t alignment, size_t size) {
  void* p = NULL;
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
  return p;
}

void pkt_aligned_free(void* p) { free(p); }

uint64_t pkt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int pkt_cpu_count(void) {
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

pkt_status pkt_map_file(const char* path, void** base, size_t* size, pkt_err* err) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return pkt_fail(err, PKT_IO, "cannot open %s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return pkt_fail(err, PKT_IO, "%s is not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return pkt_fail(err, PKT_TRUNCATED, "%s is empty", path);
  }
  void* p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return pkt_fail(err, PKT_IO, "cannot map %s: %s", path, strerror(errno));
  *base = p;
  *size = (size_t)st.st_size;
  return PKT_OK;
}

void pkt_unmap_file(void* base, size_t size) { munmap(base, size); }

/* Thread pool: workers sleep on a condition variable between jobs; the caller's thread takes chunk 0. */
struct pkt_threadpool {
  pthread_mutex_t lock;
  pthread_cond_t wake, done;
  pthread_t* threads;
  int n_workers;
  uint64_t generation;
  int pending;
  int stop;
  pkt_range_fn fn;
  void* ctx;
  int64_t n;
  int chunks;
};

static void chunk_range(int64_t n, int chunks, int c, int64_t* begin, int64_t* end) {
  *begin = n * c / chunks;
  *end = n * (c + 1) / chunks;
}

typedef struct worker_arg {
  pkt_threadpool* pool;
  int index;
} worker_arg;

static void* worker_main(void* arg) {
  worker_arg* w = arg;
  pkt_threadpool* pool = w->pool;
  int index = w->index;
  free(w);
  uint64_t seen = 0;
  pthread_mutex_lock(&pool->lock);
  for (;;) {
    while (!pool->stop && pool->generation == seen) pthread_cond_wait(&pool->wake, &pool->lock);
    if (pool->stop) break;
    seen = pool->generation;
    pkt_range_fn fn = pool->fn;
    void* ctx = pool->ctx;
    int chunks = pool->chunks;
    int64_t n = pool->n;
    pthread_mutex_unlock(&pool->lock);
    if (index + 1 < chunks) {
      int64_t b, e;
      chunk_range(n, chunks, index + 1, &b, &e);
      if (b < e) fn(ctx, b, e);
    }
    pthread_mutex_lock(&pool->lock);
    if (--pool->pending == 0) pthread_cond_signal(&pool->done);
  }
  pthread_mutex_unlock(&pool->lock);
  return NULL;
}

pkt_threadpool* pkt_threadpool_create(int num_threads) {
  pkt_threadpool* pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  pool->n_workers = num_threads - 1;
  pool->threads = calloc((size_t)pool->n_workers + 1, sizeof(pthread_t));
  if (!pool->threads) {
    free(pool);
    return NULL;
  }
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->done, NULL);
  for (int i = 0; i < pool->n_workers; i++) {
    worker_arg* w = malloc(sizeof *w);
    if (!w) {
      pool->n_workers = i;
      pkt_threadpool_free(pool);
      return NULL;
    }
    w->pool = pool;
    w->index = i;
    if (pthread_create(&pool->threads[i], NULL, worker_main, w) != 0) {
      free(w);
      pool->n_workers = i;
      pkt_threadpool_free(pool);
      return NULL;
    }
  }
  return pool;
}

void pkt_threadpool_free(pkt_threadpool* pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->lock);
  pool->stop = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (int i = 0; i < pool->n_workers; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->done);
  free(pool->threads);
  free(pool);
}

void pkt_parallel_for(const pkt_node* node, int64_t n, pkt_range_fn fn, void* ctx) {
  if (n <= 0) return;
  pkt_threadpool* pool = node->pool;
  int chunks = node->num_threads;
  if (!pool || chunks <= 1 || n == 1) {
    fn(ctx, 0, n);
    return;
  }
  if (chunks > n) chunks = (int)n;
  pthread_mutex_lock(&pool->lock);
  pool->fn = fn;
  pool->ctx = ctx;
  pool->n = n;
  pool->chunks = chunks;
  pool->pending = pool->n_workers;
  pool->generation++;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  int64_t b, e;
  chunk_range(n, chunks, 0, &b, &e);
  fn(ctx, b, e);
  pthread_mutex_lock(&pool->lock);
  while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->lock);
  pthread_mutex_unlock(&pool->lock);
}

const char* pkt_platform_isa_cap(void) { return getenv("PKT_MAX_ISA"); }
