/* Platform layer for bare-metal and RTOS targets (the C SDK's --embed profile): no heap, no file system,
 * no threads, no clock, no environment, and no libc beyond memcpy/memset/memmove and libm.
 *
 * - Memory: pkt_platform_calloc and pkt_aligned_alloc return NULL. Load programs with
 *   pkt_program_load_buffer_in (tables in a caller pkt_workspace) and give sessions a caller arena.
 * - Files: pkt_program_load_file returns PKT_NOT_SUPPORTED.
 * - Threads: sessions run on the caller's thread (one CPU); parallel loops run inline; pkt_mutex_create
 *   returns NULL.
 * - Kernels: always the portable C paths (an MCU has no NEON/AVX; this also makes the arena size the
 *   generator computes exact on every target).
 * - Clock: pkt_now_ns returns 0, so profiling records zeros.
 *
 * Host builds (setup.py, CMakeLists.txt, build.py) compile every .c file in src/: this one compiles to nothing
 * there. The SDK generator copies it with PKT_PLATFORM_EMBEDDED defined at its top, instead of
 * platform_posix.c. */
#ifdef PKT_PLATFORM_EMBEDDED
#include "core/program.h"

void* pkt_platform_calloc(size_t n, size_t size) {
  (void)n, (void)size;
  return NULL;
}

void pkt_platform_free(void* p) { (void)p; }

void* pkt_aligned_alloc(size_t alignment, size_t size) {
  (void)alignment, (void)size;
  return NULL;
}

void pkt_aligned_free(void* p) { (void)p; }

uint64_t pkt_now_ns(void) { return 0; }

int pkt_cpu_count(void) { return 1; }

int pkt_cpu_default_threads(void) { return 1; }

const char* pkt_platform_isa_cap(void) { return "portable"; }
unsigned pkt_platform_cpu_features(void) { return 0; }

#ifdef PKT_FAULT_INJECTION /* test builds only: core/fault_inject.h */
const char* pkt_platform_fault_spec(void) { return NULL; }
#endif

pkt_status pkt_map_file(const char* path, void** base, size_t* size, pkt_err* err) {
  (void)base, (void)size;
  return pkt_fail(err, PKT_NOT_SUPPORTED,
                  "cannot open %s: this build has no file system (embedded platform); load the program from memory "
                  "with pkt_program_load_buffer_in",
                  path);
}

void pkt_unmap_file(void* base, size_t size) { (void)base, (void)size; }

pkt_threadpool* pkt_threadpool_create(int num_threads) {
  (void)num_threads;
  return NULL;
}

void pkt_threadpool_free(pkt_threadpool* pool) { (void)pool; }

pkt_mutex* pkt_mutex_create(void) { return NULL; } /* no threads: nothing to lock against */
void pkt_mutex_lock(pkt_mutex* mutex) { (void)mutex; }
void pkt_mutex_unlock(pkt_mutex* mutex) { (void)mutex; }
void pkt_mutex_free(pkt_mutex* mutex) { (void)mutex; }

void pkt_parallel_for(const pkt_node* node, int64_t n, pkt_range_fn fn, void* ctx) {
  (void)node;
  if (n > 0) fn(ctx, 0, n);
}

void pkt_parallel_for_threads(const pkt_node* node, pkt_thread_fn fn, void* ctx) {
  int count = node->num_threads > 1 ? node->num_threads : 1;
  for (int i = 0; i < count; i++) fn(ctx, i, count);
}

/* ---- error details: a small vsnprintf for the conversions the runtime uses (d i u x c s p g f e %, with
 * the hh h l ll z j t length modifiers; flags, width and precision are read and ignored). */
typedef struct out_buf {
  char* buf;
  size_t size, len;
} out_buf;

static void put(out_buf* o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void put_str(out_buf* o, const char* s) {
  while (*s) put(o, *s++);
}

static void put_unsigned(out_buf* o, unsigned long long v, unsigned base) {
  char digits[24];
  int n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    digits[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v);
  while (n) put(o, digits[--n]);
}

/* %g with 6 significant digits: fixed notation for 1e-4 <= |v| < 1e6, else d.ddddde+XX. */
static void put_double(out_buf* o, double v) {
  if (v != v) {
    put_str(o, "nan");
    return;
  }
  if (v < 0) {
    put(o, '-');
    v = -v;
  }
  if (v > 1.7976931348623157e308) {
    put_str(o, "inf");
    return;
  }
  int exp10 = 0;
  if (v != 0) {
    while (v >= 10) v /= 10, exp10++;
    while (v < 1) v *= 10, exp10--;
  }
  unsigned long long digits = (unsigned long long)(v * 100000 + 0.5); /* 6 significant digits */
  if (digits >= 1000000) digits /= 10, exp10++;
  int sci = v != 0 && (exp10 < -4 || exp10 >= 6);
  int point = sci ? 0 : exp10; /* digits before the decimal point, minus one */
  char d[6];
  for (int i = 5; i >= 0; i--) d[i] = (char)('0' + digits % 10), digits /= 10;
  int last = 5;
  while (last > 0 && d[last] == '0' && last > point) last--;
  if (point < 0) {
    put_str(o, "0.");
    for (int i = -1; i > point; i--) put(o, '0');
    point = -1;
  }
  for (int i = 0; i <= last || i <= point; i++) {
    put(o, i <= last ? d[i] : '0');
    if (i == point && i < last) put(o, '.');
  }
  if (sci) {
    put(o, 'e');
    put(o, exp10 < 0 ? '-' : '+');
    if (exp10 < 0) exp10 = -exp10;
    if (exp10 < 10) put(o, '0');
    put_unsigned(o, (unsigned long long)exp10, 10);
  }
}

void pkt_platform_vformat(char* buf, size_t size, const char* fmt, va_list ap) {
  out_buf o = {buf, size, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    while (*fmt == '-' || *fmt == '+' || *fmt == ' ' || *fmt == '#' || *fmt == '0') fmt++;
    while ((*fmt >= '0' && *fmt <= '9') || *fmt == '.') fmt++;
    int longs = 0, size_arg = 0;
    for (;; fmt++) {
      if (*fmt == 'l') longs++;
      else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't') size_arg = *fmt;
      else if (*fmt != 'h') break;
    }
    switch (*fmt) {
      case 'd':
      case 'i': {
        long long v = longs >= 2 || size_arg == 'j' ? va_arg(ap, long long)
                      : longs == 1                  ? va_arg(ap, long)
                      : size_arg                    ? (long long)va_arg(ap, ptrdiff_t)
                                                    : va_arg(ap, int);
        if (v < 0) put(&o, '-');
        put_unsigned(&o, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v, 10);
        break;
      }
      case 'u':
      case 'x':
      case 'X': {
        unsigned long long v = longs >= 2 || size_arg == 'j' ? va_arg(ap, unsigned long long)
                               : longs == 1                  ? va_arg(ap, unsigned long)
                               : size_arg                    ? va_arg(ap, size_t)
                                                             : va_arg(ap, unsigned);
        put_unsigned(&o, v, *fmt == 'u' ? 10 : 16);
        break;
      }
      case 'p':
        put_str(&o, "0x");
        put_unsigned(&o, (unsigned long long)(uintptr_t)va_arg(ap, void*), 16);
        break;
      case 'c': put(&o, (char)va_arg(ap, int)); break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        put_str(&o, s ? s : "(null)");
        break;
      }
      case 'g':
      case 'f':
      case 'e': put_double(&o, va_arg(ap, double)); break;
      case '%': put(&o, '%'); break;
      case '\0': fmt--; break;
      default: put(&o, '%'), put(&o, *fmt); break;
    }
  }
  if (size) buf[o.len < size ? o.len : size - 1] = '\0';
}
#endif
