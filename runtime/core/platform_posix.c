/* Platform layer for POSIX systems: the only file that touches the OS (clock, memory, files, threads). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#ifdef __APPLE__
#include <sys/sysctl.h>
#endif
#include <time.h>
#include <unistd.h>

#include "backends/cpu/cpu.h"
#include "core/program.h"

void* pkt_platform_calloc(size_t n, size_t size) { return calloc(n, size); }

void pkt_platform_free(void* p) { free(p); }

void pkt_platform_vformat(char* buf, size_t size, const char* fmt, va_list ap) { vsnprintf(buf, size, fmt, ap); }

struct pkt_mutex {
  pthread_mutex_t mutex;
};

pkt_mutex* pkt_mutex_create(void) {
  pkt_mutex* m = malloc(sizeof *m);
  if (m && pthread_mutex_init(&m->mutex, NULL) != 0) {
    free(m);
    m = NULL;
  }
  return m;
}

void pkt_mutex_lock(pkt_mutex* m) {
  if (m) pthread_mutex_lock(&m->mutex);
}

void pkt_mutex_unlock(pkt_mutex* m) {
  if (m) pthread_mutex_unlock(&m->mutex);
}

void pkt_mutex_free(pkt_mutex* m) {
  if (!m) return;
  pthread_mutex_destroy(&m->mutex);
  free(m);
}

/* Blocks of several MB (a session's arena: activations, scratch and the repacked weights, 20 MB for
 * mobilenet_v2) start on a 2 MB boundary and ask Linux for transparent huge pages: each run walks all of
 * them, and with 4 KB pages that is thousands of TLB misses (mobilenet_v2 3% faster at 1 thread). */
#define HUGE_PAGE ((size_t)2 << 20)
void* pkt_aligned_alloc(size_t alignment, size_t size) {
  void* p = NULL;
  const int huge = size >= 2 * HUGE_PAGE;
  if (huge && alignment < HUGE_PAGE) alignment = HUGE_PAGE;
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, size, MADV_HUGEPAGE); /* advice only: without THP the pages stay 4 KB */
#endif
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

/* Big cores: what num_threads = 0 resolves to (see pkt_cpu_default_threads in program.h).
 * The CPUs this process may run on (affinity mask), minus the slowest cluster of a heterogeneous
 * (big.LITTLE) SoC: CPUs whose cpufreq cpuinfo_max_freq is above the lowest one. With two clusters these
 * are the CPUs at the highest frequency; with three (LITTLE, big, prime) the big and prime cores, as
 * ExecuTorch's "performant cores" count does. When the frequencies cannot be read (no cpufreq, as in most
 * VMs) every allowed CPU counts. A cgroup v2 CPU quota (containers) caps the result; it is >= 1. */
#ifdef CPU_COUNT /* Linux: read cpufreq limits; Apple platforms have no affinity masks */
static long read_long_file(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  char buf[64];
  ssize_t k = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (k <= 0) return -1;
  buf[k] = 0;
  char* end;
  long v = strtol(buf, &end, 10);
  return end == buf ? -1 : v;
}
#endif

static int cgroup_cpu_limit(void) {
  int fd = open("/sys/fs/cgroup/cpu.max", O_RDONLY);
  if (fd < 0) return 0;
  char buf[64];
  ssize_t k = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (k <= 0) return 0;
  buf[k] = 0;
  char* end;
  long quota = strtol(buf, &end, 10);
  if (end == buf) return 0; /* "max": no limit */
  long period = strtol(end, NULL, 10);
  if (quota <= 0 || period <= 0) return 0;
  long n = (quota + period - 1) / period;
  return n > 0 && n < 65536 ? (int)n : 0;
}

int pkt_cpu_default_threads(void) {
  int all = pkt_cpu_count();
  int n = all;
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    long lo = -1, hi = -1;
    int ok = 1, fast = 0;
    for (int pass = 0; pass < 2 && ok; pass++) {
      for (int c = 0; c < CPU_SETSIZE && ok; c++) {
        if (!CPU_ISSET(c, &set)) continue;
        char path[96];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", c);
        long f = read_long_file(path);
        if (f <= 0) {
          ok = 0;
        } else if (pass == 0) {
          if (lo < 0 || f < lo) lo = f;
          if (f > hi) hi = f;
        } else if (lo == hi || f > lo) {
          fast++;
        }
      }
    }
    if (ok && fast > 0 && fast < n) n = fast;
  }
#elif defined(__APPLE__)
  /* iOS/macOS: performance level 0 is the performance (big) cluster on Apple silicon */
  int perf = 0;
  size_t len = sizeof perf;
  if (sysctlbyname("hw.perflevel0.logicalcpu", &perf, &len, NULL, 0) == 0 && perf > 0 && perf < n) n = perf;
#endif
  int quota = cgroup_cpu_limit();
  if (quota > 0 && quota < n) n = quota;
  return n > 0 ? n : 1;
}

/* Thread pool.
 *
 * One job at a time, published by the caller in one atomic word: [generation:32][chunks:16][shares:16].
 * The chunks (contiguous index ranges, a few per thread) are dealt out in `shares` contiguous blocks, one
 * per thread: the caller runs block 0, worker i block i + 1. Each block has its own counter
 * ([generation:32][next chunk:32], a cache line of its own) and a thread claims its block's chunks one by
 * one with a compare-and-swap, then helps with the other blocks the same way, so a late or descheduled
 * thread does not hold the others up. Dealing the same block to the same thread in every job keeps the
 * data of consecutive operators on one core: operator B's chunk k reads what operator A's chunk k wrote,
 * and reading from another core's cache costs several times a read from one's own.
 *
 * A counter only moves while it holds the generation its claimer saw, so a worker that arrives late for a
 * job finds nothing to take and never touches the job's description (fn, ctx, n) without owning one of
 * its chunks; the caller does not write the next description before every chunk of this one has been
 * counted in `done`.
 *
 * Waiting is cheap first, then polite: an idle worker spins on the job word (a pause instruction, after
 * 20 us sched_yield) for PKT_SPIN_US microseconds (default 100) after its last chunk, then sleeps on a condition variable;
 * the caller broadcasts only when someone sleeps. The caller waits for the last chunks the same way
 * (spin, then condition variable). Between inferences the workers therefore sleep after the bounded spin.
 * A parallel_for called from inside a job (nested) runs serially on the calling thread. */
#define POOL_MAX_CHUNKS 4096
/* Spinning starts with a pause instruction (lowest latency, back-to-back operators) and goes on with
 * sched_yield after this long, so that on an oversubscribed machine a waiting thread hands its core to one
 * that has work -- such as a worker that was preempted in the middle of its chunk. */
#define PAUSE_NS 20000u
#define POOL_CHUNKS_PER_THREAD 4

typedef struct pool_block {
  _Alignas(64) _Atomic uint64_t next; /* [generation:32][next chunk:32] */
} pool_block;

typedef struct pool_worker {
  struct pkt_threadpool* pool;
  int index; /* block index: 1 + worker number */
} pool_worker;

struct pkt_threadpool {
  _Alignas(64) _Atomic uint64_t job;
  _Alignas(64) _Atomic int done; /* chunks of the current job finished */
  _Atomic int caller_sleeping;
  _Alignas(64) _Atomic int sleepers; /* workers on the wake condition */
  _Atomic int stop;
  /* The current job's description: written by the caller before publishing, read by chunk owners. */
  _Alignas(64) pkt_range_fn fn;
  pkt_thread_fn tfn;
  void* ctx;
  int64_t n;
  uint32_t generation;
  uint64_t spin_ns;
  pthread_mutex_t lock;
  pthread_cond_t wake, finished;
  pthread_t* threads;
  pool_worker* workers;
  pool_block* blocks; /* one per thread, the caller's first */
  int n_workers;
};

static _Thread_local int tls_in_job; /* set on workers and while the caller runs chunks */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

#define JOB_GEN(w) ((uint32_t)((w) >> 32))
#define JOB_CHUNKS(w) ((int)(((w) >> 16) & 0xffff))
#define JOB_SHARES(w) ((int)((w)&0xffff))

static void run_chunk(pkt_threadpool* pool, int c, int chunks) {
  if (pool->tfn) {
    pool->tfn(pool->ctx, c, chunks);
  } else {
    int64_t n = pool->n;
    int64_t b = n / chunks * c + (n % chunks) * c / chunks;
    int64_t e = n / chunks * (c + 1) + (n % chunks) * (c + 1) / chunks;
    if (b < e) pool->fn(pool->ctx, b, e);
  }
}

/* Run the chunks of job word w: those of block `me` first, then whatever is left in the others. The chunks
 * run are counted in `done` once at the end, not one by one: `done` is a line both threads write, and each
 * add waits for it to come over from the other core. */
static void work_on_job(pkt_threadpool* pool, uint64_t w, int me) {
  const uint32_t gen = JOB_GEN(w);
  const int chunks = JOB_CHUNKS(w), shares = JOB_SHARES(w);
  int ran = 0;
  for (int k = 0; k < shares; k++) {
    int b = (me + k) % shares;
    const uint32_t end = (uint32_t)((int64_t)chunks * (b + 1) / shares);
    _Atomic uint64_t* next = &pool->blocks[b].next;
    uint64_t v = atomic_load_explicit(next, memory_order_acquire);
    while (JOB_GEN(v) == gen && (uint32_t)v < end) {
      if (!atomic_compare_exchange_weak_explicit(next, &v, v + 1, memory_order_acq_rel, memory_order_acquire))
        continue;
      run_chunk(pool, (int)(uint32_t)v, chunks);
      ran++;
      v = atomic_load_explicit(next, memory_order_acquire);
    }
  }
  if (ran && atomic_fetch_add(&pool->done, ran) + ran == chunks && atomic_load(&pool->caller_sleeping)) {
    pthread_mutex_lock(&pool->lock);
    pthread_cond_signal(&pool->finished);
    pthread_mutex_unlock(&pool->lock);
  }
}

static void* worker_main(void* arg) {
  pool_worker* self = arg;
  pkt_threadpool* pool = self->pool;
  tls_in_job = 1;
  uint32_t seen = 0;
  for (;;) {
    /* Spin for a new generation, then sleep. */
    uint64_t t0 = 0, w;
    int yielding = 0;
    for (unsigned i = 1;; i++) {
      if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
      w = atomic_load_explicit(&pool->job, memory_order_acquire);
      if (JOB_GEN(w) != seen) break;
      if (yielding)
        sched_yield();
      else
        cpu_relax();
      if ((i & 63) == 0 || yielding) {
        uint64_t now = pkt_now_ns();
        if (!t0) {
          t0 = now;
        } else if (now - t0 >= pool->spin_ns) {
          yielding = 0;
          pthread_mutex_lock(&pool->lock);
          atomic_fetch_add(&pool->sleepers, 1);
          while (!atomic_load(&pool->stop) && JOB_GEN(atomic_load(&pool->job)) == seen)
            pthread_cond_wait(&pool->wake, &pool->lock);
          atomic_fetch_sub(&pool->sleepers, 1);
          pthread_mutex_unlock(&pool->lock);
          t0 = 0;
        } else {
          yielding = now - t0 >= PAUSE_NS;
        }
      }
    }
    seen = JOB_GEN(w);
    work_on_job(pool, w, self->index);
  }
}

static uint64_t spin_ns_from_env(void) {
  const char* s = getenv("PKT_SPIN_US");
  if (s && *s) {
    char* end;
    long v = strtol(s, &end, 10);
    if (*end == 0 && v >= 0 && v <= 100000) return (uint64_t)v * 1000u;
  }
  return 100000u;
}

pkt_threadpool* pkt_threadpool_create(int num_threads) {
  if (num_threads < 2) num_threads = 2;
  if (num_threads > POOL_MAX_CHUNKS) num_threads = POOL_MAX_CHUNKS;
  pkt_threadpool* pool = pkt_aligned_alloc(64, sizeof *pool);
  if (!pool) return NULL;
  memset(pool, 0, sizeof *pool);
  atomic_init(&pool->job, 0);
  atomic_init(&pool->done, 0);
  atomic_init(&pool->caller_sleeping, 0);
  atomic_init(&pool->sleepers, 0);
  atomic_init(&pool->stop, 0);
  pool->spin_ns = spin_ns_from_env();
  pool->n_workers = 0;
  pool->threads = calloc((size_t)num_threads, sizeof(pthread_t));
  pool->workers = calloc((size_t)num_threads, sizeof(pool_worker));
  pool->blocks = pkt_aligned_alloc(64, (size_t)num_threads * sizeof(pool_block));
  if (!pool->threads || !pool->workers || !pool->blocks) {
    free(pool->threads);
    free(pool->workers);
    pkt_aligned_free(pool->blocks);
    pkt_aligned_free(pool);
    return NULL;
  }
  for (int i = 0; i < num_threads; i++) atomic_init(&pool->blocks[i].next, 0);
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  pthread_cond_init(&pool->finished, NULL);
  for (int i = 0; i < num_threads - 1; i++) {
    pool->workers[i] = (pool_worker){pool, i + 1};
    if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->workers[i]) != 0) {
      pkt_threadpool_free(pool);
      return NULL;
    }
    pool->n_workers = i + 1;
  }
  return pool;
}

void pkt_threadpool_free(pkt_threadpool* pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->lock);
  atomic_store(&pool->stop, 1);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (int i = 0; i < pool->n_workers; i++) pthread_join(pool->threads[i], NULL);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  pthread_cond_destroy(&pool->finished);
  free(pool->threads);
  free(pool->workers);
  pkt_aligned_free(pool->blocks);
  pkt_aligned_free(pool);
}

/* Publish a job of `chunks` chunks in `shares` blocks (the description is already written), take part,
 * wait for the end. */
static void run_job(pkt_threadpool* pool, int chunks, int shares) {
  atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
  pool->generation++;
  if (pool->generation == 0) pool->generation = 1; /* 0 is the workers' initial "seen" */
  const uint64_t gen = (uint64_t)pool->generation << 32;
  for (int b = 0; b < shares; b++)
    atomic_store_explicit(&pool->blocks[b].next, gen | (uint64_t)((int64_t)chunks * b / shares), memory_order_relaxed);
  const uint64_t w = gen | ((uint64_t)chunks << 16) | (uint64_t)shares;
  atomic_store(&pool->job, w);
  if (atomic_load(&pool->sleepers) > 0) {
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
  }
  tls_in_job = 1;
  work_on_job(pool, w, 0);
  tls_in_job = 0;
  if (atomic_load_explicit(&pool->done, memory_order_acquire) == chunks) return;
  uint64_t t0 = pkt_now_ns();
  int yielding = 0;
  for (unsigned i = 1; atomic_load_explicit(&pool->done, memory_order_acquire) != chunks; i++) {
    if (yielding)
      sched_yield();
    else
      cpu_relax();
    if ((i & 63) != 0 && !yielding) continue;
    uint64_t waited = pkt_now_ns() - t0;
    yielding = waited >= PAUSE_NS;
    if (waited >= pool->spin_ns) {
      pthread_mutex_lock(&pool->lock);
      atomic_store(&pool->caller_sleeping, 1);
      while (atomic_load(&pool->done) != chunks) pthread_cond_wait(&pool->finished, &pool->lock);
      atomic_store(&pool->caller_sleeping, 0);
      pthread_mutex_unlock(&pool->lock);
      break;
    }
  }
}

/* Blocks of a job: one per thread taking part, none empty. */
static int pool_shares(const pkt_threadpool* pool, int threads, int chunks) {
  int shares = threads < pool->n_workers + 1 ? threads : pool->n_workers + 1;
  return shares < chunks ? shares : chunks;
}

void pkt_parallel_for(const pkt_node* node, int64_t n, pkt_range_fn fn, void* ctx) {
  if (n <= 0) return;
  pkt_threadpool* pool = node->pool;
  int threads = node->num_threads;
  if (!pool || threads <= 1 || n == 1 || tls_in_job) {
    fn(ctx, 0, n);
    return;
  }
  int64_t want = (int64_t)threads * POOL_CHUNKS_PER_THREAD;
  if (want > POOL_MAX_CHUNKS) want = POOL_MAX_CHUNKS;
  int chunks = (int)(n < want ? n : want);
  pool->fn = fn;
  pool->tfn = NULL;
  pool->ctx = ctx;
  pool->n = n;
  run_job(pool, chunks, pool_shares(pool, threads, chunks));
}

void pkt_parallel_for_threads(const pkt_node* node, pkt_thread_fn fn, void* ctx) {
  pkt_threadpool* pool = node->pool;
  int threads = node->num_threads;
  if (!pool || threads <= 1 || tls_in_job) {
    for (int i = 0; i < (threads > 1 ? threads : 1); i++) fn(ctx, i, threads > 1 ? threads : 1);
    return;
  }
  if (threads > POOL_MAX_CHUNKS) threads = POOL_MAX_CHUNKS;
  pool->fn = NULL;
  pool->tfn = fn;
  pool->ctx = ctx;
  pool->n = threads;
  run_job(pool, threads, pool_shares(pool, threads, threads));
}

const char* pkt_platform_isa_cap(void) { return getenv("PKT_MAX_ISA"); }

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

/* Linux (and Android) report the armv8.2+ int8 instructions as hwcaps: HWCAP_ASIMDDP, HWCAP2_I8MM. */
unsigned pkt_platform_cpu_features(void) {
  unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  return ((hw >> 20) & 1 ? PKT_CPU_DOTPROD : 0u) | ((hw2 >> 13) & 1 ? PKT_CPU_I8MM : 0u);
}
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
static int apple_has(const char* name) {
  int v = 0;
  size_t n = sizeof v;
  return sysctlbyname(name, &v, &n, NULL, 0) == 0 && v;
}
unsigned pkt_platform_cpu_features(void) {
  return (apple_has("hw.optional.arm.FEAT_DotProd") ? PKT_CPU_DOTPROD : 0u) |
         (apple_has("hw.optional.arm.FEAT_I8MM") ? PKT_CPU_I8MM : 0u);
}
#else
unsigned pkt_platform_cpu_features(void) { return 0; }
#endif

#ifdef PKT_FAULT_INJECTION /* test builds only: core/fault_inject.h */
const char* pkt_platform_fault_spec(void) { return getenv("PKT_FAULT_INJECT"); }
#endif
