/* pkt_fuzz: deterministic mutation fuzzer for the loader, the session and the kernels.
 *
 *   pkt_fuzz [--seed S] [--iterations N] [--max-arena BYTES] [--crash-dir DIR] [--dump I] [--verbose]
 *            seed1.ptm seed2.ptm ...
 *
 * Each iteration picks a seed program, applies 1-4 mutations (bit flips, interesting byte values,
 * u32/u64 boundary values at 4/8-aligned offsets, small additions, truncation, chunk duplication and
 * removal, optionally re-patching the header's file size so size-changing mutants get past that check),
 * loads the mutant with pkt_program_load_buffer (copy=1, sometimes copy=0 from an exact-size aligned
 * buffer), walks the whole query API, and if it loads creates a session (1 thread, sometimes 2, sometimes
 * a caller arena) and runs it twice on random input bytes. Offsets are biased towards the structural
 * sections (header, section table, tensors, instructions, io, strings, shapes, delegates) of the seed.
 *
 * It never decides pass/fail itself beyond "did not crash": run it under ASan/UBSan (PKT_SANITIZE=ON).
 * Prints a summary JSON (schema pockettorch.fuzz/1) with outcome counts per status. With --crash-dir,
 * the mutant under test is kept in DIR/current.ptm (and its iteration in DIR/current.txt) and removed
 * at a clean exit, so whatever kills the process leaves the mutant behind; a sanitizer death callback
 * or fatal signal also saves it as DIR/crash-<seed>-<iter>.ptm where the sanitizer lets it.
 * --dump I writes mutant I to stdout instead of running (to reproduce a crash). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "pockettorch/pockettorch.h"

#define MAX_SEEDS 64
#define N_STATUS 128

typedef struct seed_file {
  const char* path;
  uint8_t* data;
  size_t size;
  /* structural byte ranges of the seed (offset, size), from its section table */
  uint64_t ranges[16][2];
  int n_ranges;
} seed_file;

typedef struct counts {
  long load[N_STATUS], session[N_STATUS], run[N_STATUS];
  long skipped_big_arena, loaded, ran;
} counts;

/* ---- crash reporting: the mutant under test, saved on a sanitizer report or a fatal signal ---- */
static const char* g_crash_dir;
static const uint8_t* g_cur_data;
static size_t g_cur_size;
static long g_cur_iter = -1;
static int g_current_fd = -1, g_current_iter_fd = -1;

/* Keep the mutant under test on disk (two syscalls per file per iteration). */
static void record_current(const uint8_t* data, size_t size, long iter) {
  if (g_current_fd < 0) return;
  if (ftruncate(g_current_fd, 0) != 0 || pwrite(g_current_fd, data, size, 0) != (ssize_t)size) return;
  char num[32];
  int n = snprintf(num, sizeof num, "%ld\n", iter);
  if (ftruncate(g_current_iter_fd, 0) == 0 && pwrite(g_current_iter_fd, num, (size_t)n, 0) != n) return;
}
static unsigned long long g_seed;

static void write_str(int fd, const char* s) {
  ssize_t r = write(fd, s, strlen(s));
  (void)r;
}

static void fmt_u64(char* buf, unsigned long long v) { /* async-signal-safe decimal */
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
}

static void save_crash(void) {
  char num[24];
  write_str(2, "pkt_fuzz: crash at iteration ");
  fmt_u64(num, (unsigned long long)(g_cur_iter < 0 ? 0 : g_cur_iter));
  write_str(2, num);
  write_str(2, " (--seed ");
  fmt_u64(num, g_seed);
  write_str(2, num);
  write_str(2, "); reproduce with --dump <iteration>\n");
  if (!g_crash_dir || !g_cur_data) return;
  char path[4096];
  size_t n = strlen(g_crash_dir);
  if (n > 4000) return;
  memcpy(path, g_crash_dir, n);
  memcpy(path + n, "/crash-", 7);
  n += 7;
  fmt_u64(path + n, g_seed);
  n = strlen(path);
  path[n++] = '-';
  fmt_u64(path + n, (unsigned long long)g_cur_iter);
  n = strlen(path);
  memcpy(path + n, ".ptm", 5);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  ssize_t r = write(fd, g_cur_data, g_cur_size);
  (void)r;
  close(fd);
  write_str(2, "pkt_fuzz: mutant saved to ");
  write_str(2, path);
  write_str(2, "\n");
}

#if defined(__SANITIZE_ADDRESS__)
#define PKT_HAVE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define PKT_HAVE_SANITIZER 1
#endif
#endif
#ifdef PKT_HAVE_SANITIZER
void __sanitizer_set_death_callback(void (*callback)(void));
#endif

static void on_signal(int sig) {
  save_crash();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ---- deterministic randomness ---- */
static uint64_t rng_next(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t rng_below(uint64_t* s, uint64_t n) { return n ? rng_next(s) % n : 0; }

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t* p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static void wr32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Structural ranges: header + section table, and every section except CONSTANTS (2) and METADATA (5). */
static void find_ranges(seed_file* s) {
  s->n_ranges = 0;
  if (s->size < 64) return;
  uint32_t count = rd32(s->data + 12);
  if (count > 64 || 64 + (uint64_t)count * 24 > s->size) return;
  s->ranges[s->n_ranges][0] = 0;
  s->ranges[s->n_ranges][1] = 64 + (uint64_t)count * 24;
  s->n_ranges++;
  for (uint32_t i = 0; i < count && s->n_ranges < 16; i++) {
    const uint8_t* e = s->data + 64 + 24 * i;
    uint32_t kind = rd32(e);
    uint64_t off = rd64(e + 8), size = rd64(e + 16);
    if (kind == 2 || kind == 5 || size == 0 || off > s->size || size > s->size - off) continue;
    s->ranges[s->n_ranges][0] = off;
    s->ranges[s->n_ranges][1] = size;
    s->n_ranges++;
  }
}

/* An offset in [0, size - width], biased 3:1 towards the seed's structural ranges. */
static size_t pick_offset(uint64_t* r, const seed_file* s, size_t size, size_t width, size_t align) {
  if (size < width) return 0;
  size_t off;
  if (s->n_ranges && rng_below(r, 4) != 0) {
    int k = (int)rng_below(r, (uint64_t)s->n_ranges);
    off = (size_t)(s->ranges[k][0] + rng_below(r, s->ranges[k][1]));
  } else {
    off = (size_t)rng_below(r, size);
  }
  if (align > 1) off -= off % align;
  if (off > size - width) off = (size - width) - (size - width) % (align ? align : 1);
  return off;
}

static const uint8_t k_bytes[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0x08, 0x09, 0x40, 0xFE};
static const uint32_t k_u32[] = {0,          1,          2,          3,          7,          8,          9,
                                 63,         64,         65,         0x7F,       0x80,       0xFF,       0x100,
                                 0x7FFF,     0x8000,     0xFFFF,     0x10000,    0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
                                 0xFFFFFFFF, 0x40000000, 4096,       4097};
static const uint64_t k_u64[] = {0,
                                 1,
                                 2,
                                 64,
                                 0x7F,
                                 0xFFFFFFFFull,
                                 0x100000000ull,
                                 (uint64_t)1 << 31,
                                 ((uint64_t)1 << 31) + 1,
                                 (uint64_t)1 << 40,
                                 ((uint64_t)1 << 40) + 64,
                                 (uint64_t)1 << 62,
                                 0x7FFFFFFFFFFFFFFFull,
                                 0x8000000000000000ull,
                                 0xFFFFFFFFFFFFFFFFull,
                                 0xFFFFFFFFFFFFFFC0ull,
                                 0xFFFFFFFFFFFFFFFFull - 63};

/* Mutate buf (capacity cap) in place; returns the new size. */
static size_t mutate(uint64_t* r, const seed_file* s, uint8_t* buf, size_t size, size_t cap) {
  int n_mut = 1 + (int)rng_below(r, 4);
  int size_changed = 0;
  for (int m = 0; m < n_mut; m++) {
    if (size == 0) break;
    switch (rng_below(r, 11)) {
      case 0: case 1: { /* bit flip */
        size_t off = pick_offset(r, s, size, 1, 1);
        buf[off] ^= (uint8_t)(1u << rng_below(r, 8));
        break;
      }
      case 2: { /* interesting byte */
        size_t off = pick_offset(r, s, size, 1, 1);
        buf[off] = k_bytes[rng_below(r, sizeof k_bytes)];
        break;
      }
      case 3: case 4: { /* u32 boundary value at a 4-aligned offset */
        if (size < 4) break;
        size_t off = pick_offset(r, s, size, 4, 4);
        uint32_t v = rng_below(r, 8) == 0 ? (uint32_t)size + (uint32_t)rng_below(r, 3) - 1
                                          : k_u32[rng_below(r, sizeof k_u32 / sizeof k_u32[0])];
        wr32(buf + off, v);
        break;
      }
      case 5: case 6: { /* u64 boundary value at an 8-aligned offset */
        if (size < 8) break;
        size_t off = pick_offset(r, s, size, 8, 8);
        uint64_t v = rng_below(r, 8) == 0 ? (uint64_t)size + rng_below(r, 3) - 1
                                          : k_u64[rng_below(r, sizeof k_u64 / sizeof k_u64[0])];
        if (rng_below(r, 8) == 0) v = (uint64_t)(-(int64_t)rng_below(r, 4) - 1); /* small negatives */
        wr64(buf + off, v);
        break;
      }
      case 7: { /* small add/subtract on a u32 (counts, indices, offsets) */
        if (size < 4) break;
        size_t off = pick_offset(r, s, size, 4, 4);
        int32_t delta = (int32_t)rng_below(r, 33) - 16;
        wr32(buf + off, rd32(buf + off) + (uint32_t)delta);
        break;
      }
      case 8: { /* truncate */
        size = (size_t)rng_below(r, size);
        size_changed = 1;
        break;
      }
      case 9: { /* duplicate a chunk: insert a copy of [a, a+len) at b */
        size_t len = 1 + (size_t)rng_below(r, 128);
        if (len > size) len = size;
        if (size + len > cap) break;
        size_t a = (size_t)rng_below(r, size - len + 1), b = (size_t)rng_below(r, size + 1);
        uint8_t tmp[128];
        memcpy(tmp, buf + a, len);
        memmove(buf + b + len, buf + b, size - b);
        memcpy(buf + b, tmp, len);
        size += len;
        size_changed = 1;
        break;
      }
      default: { /* remove a chunk */
        size_t len = 1 + (size_t)rng_below(r, 128);
        if (len >= size) break;
        size_t a = (size_t)rng_below(r, size - len + 1);
        memmove(buf + a, buf + a + len, size - a - len);
        size -= len;
        size_changed = 1;
        break;
      }
    }
  }
  /* let size-changing mutants past the file-size check most of the time */
  if (size_changed && size >= 24 && rng_below(r, 4) != 0) wr64(buf + 16, (uint64_t)size);
  return size;
}

static void count(long* table, pkt_status st) { table[(unsigned)st < N_STATUS ? (unsigned)st : 1]++; }

/* Exercise everything a loaded program offers; results are discarded but must be safe to compute. */
static volatile size_t g_sink;
static void query_program(const pkt_program* p) {
  size_t meta_len = 0;
  const char* meta = pkt_program_metadata(p, &meta_len);
  if (meta && meta_len) g_sink += (unsigned char)meta[meta_len - 1] + (unsigned char)meta[0];
  for (int i = 0; i < pkt_program_num_inputs(p); i++) {
    pkt_tensor_info info;
    if (pkt_program_input_info(p, i, &info) == PKT_OK) g_sink += strlen(info.name) + info.nbytes;
  }
  for (int i = 0; i < pkt_program_num_outputs(p); i++) {
    pkt_tensor_info info;
    if (pkt_program_output_info(p, i, &info) == PKT_OK) g_sink += strlen(info.name) + info.nbytes;
  }
  for (int i = 0; i < pkt_program_num_instructions(p); i++)
    g_sink += strlen(pkt_program_instruction_op(p, i)) + strlen(pkt_program_instruction_source(p, i));
  g_sink += pkt_program_arena_bytes(p);
}

static void fill_inputs(pkt_session* s, const pkt_program* p, uint64_t* r) {
  for (int i = 0; i < pkt_program_num_inputs(p); i++) {
    pkt_tensor_info info;
    if (pkt_program_input_info(p, i, &info) != PKT_OK) continue;
    uint8_t* d = pkt_session_input_data(s, i);
    int mode = (int)rng_below(r, 4); /* 0: random bytes (NaN, huge ints), else small values */
    for (size_t k = 0; k < info.nbytes; k++) d[k] = mode == 0 ? (uint8_t)rng_next(r) : 0;
    if (mode != 0 && info.dtype == PKT_F32)
      for (size_t k = 0; k + 4 <= info.nbytes; k += 4) {
        float f = (float)((int)rng_below(r, 2001) - 1000) / 1000.0f;
        memcpy(d + k, &f, 4);
      }
    else if (mode != 0 && info.dtype == PKT_I64)
      for (size_t k = 0; k + 8 <= info.nbytes; k += 8) {
        int64_t v = (int64_t)rng_below(r, 12) - 1; /* -1 .. 10: some out of range */
        memcpy(d + k, &v, 8);
      }
    else if (mode != 0)
      for (size_t k = 0; k < info.nbytes; k++) d[k] = (uint8_t)rng_below(r, 2);
  }
}

static void run_session(const pkt_program* p, int threads, int caller_arena, int profile, uint64_t* r, counts* c) {
  pkt_session_options opt = pkt_session_options_default();
  opt.num_threads = threads;
  void* arena = NULL;
  if (caller_arena) {
    size_t need = pkt_session_required_arena(p, threads);
    if (need) {
      /* sometimes one 64-byte step too small: must be refused, not overrun */
      size_t give = rng_below(r, 4) == 0 && need >= 64 ? need - 64 : need;
      if (posix_memalign(&arena, 64, give ? give : 64) != 0) return;
      opt.arena = arena;
      opt.arena_size = give;
    }
  }
  pkt_session* s = NULL;
  char err[256];
  pkt_status st = pkt_session_create(p, &opt, &s, err, sizeof err);
  count(c->session, st);
  if (st == PKT_OK) {
    pkt_session_enable_profiling(s, profile);
    for (int k = 0; k < 2; k++) {
      fill_inputs(s, p, r);
      st = pkt_session_run(s);
      count(c->run, st);
      c->ran++;
      for (int i = 0; i < pkt_program_num_outputs(p); i++) {
        pkt_tensor_info info;
        const uint8_t* o = pkt_session_output_data(s, i);
        if (pkt_program_output_info(p, i, &info) == PKT_OK && o && info.nbytes) g_sink += o[0] + o[info.nbytes - 1];
      }
      if (profile && pkt_session_profile_ns(s)) g_sink += (size_t)pkt_session_profile_ns(s)[0];
    }
    pkt_session_free(s);
  }
  free(arena);
}

static int read_file(const char* path, seed_file* s) {
  FILE* f = fopen(path, "rb");
  if (!f) return -1;
  size_t cap = 1 << 16, len = 0;
  uint8_t* buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      if (cap > ((size_t)1 << 28)) break;
      uint8_t* nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    if (!got) break;
    len += got;
  }
  fclose(f);
  if (!buf) return -1;
  s->path = path;
  s->data = buf;
  s->size = len;
  find_ranges(s);
  return 0;
}

static void write_counts(jw* w, const char* key, const long* table) {
  jw_key(w, key);
  jw_begin_object(w);
  for (int i = 0; i < N_STATUS; i++)
    if (table[i]) {
      jw_key(w, pkt_status_name((pkt_status)i));
      jw_int(w, table[i]);
    }
  jw_end_object(w);
}

static int usage(const char* msg) {
  fprintf(stderr, "pkt_fuzz: %s\nusage: pkt_fuzz [--seed S] [--iterations N] [--max-arena BYTES] [--crash-dir DIR] "
                  "[--dump I] [--verbose] seed1.ptm ...\n", msg);
  return 2;
}

int main(int argc, char** argv) {
  unsigned long long seed = 0;
  long iterations = 1000, dump = -1;
  size_t max_arena = 1 << 20;
  int verbose = 0;
  seed_file seeds[MAX_SEEDS];
  int n_seeds = 0;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (!strcmp(a, "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--iterations") && i + 1 < argc) iterations = strtol(argv[++i], NULL, 10);
    else if (!strcmp(a, "--max-arena") && i + 1 < argc) max_arena = (size_t)strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--crash-dir") && i + 1 < argc) g_crash_dir = argv[++i];
    else if (!strcmp(a, "--dump") && i + 1 < argc) dump = strtol(argv[++i], NULL, 10);
    else if (!strcmp(a, "--verbose")) verbose = 1;
    else if (a[0] == '-') return usage("unknown option or missing value");
    else {
      if (n_seeds >= MAX_SEEDS) return usage("too many seed files");
      if (read_file(a, &seeds[n_seeds]) != 0) {
        fprintf(stderr, "pkt_fuzz: cannot read %s\n", a);
        return 1;
      }
      n_seeds++;
    }
  }
  if (!n_seeds) return usage("no seed programs");
  if (iterations < 0) return usage("--iterations must be >= 0");
  g_seed = seed;
  char current_path[4096] = "", current_iter_path[4096] = "";
  if (g_crash_dir) {
    snprintf(current_path, sizeof current_path, "%s/current.ptm", g_crash_dir);
    snprintf(current_iter_path, sizeof current_iter_path, "%s/current.txt", g_crash_dir);
    g_current_fd = open(current_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    g_current_iter_fd = open(current_iter_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (g_current_fd < 0 || g_current_iter_fd < 0) {
      fprintf(stderr, "pkt_fuzz: cannot write to --crash-dir %s: %s\n", g_crash_dir, strerror(errno));
      return 1;
    }
  }
#ifdef PKT_HAVE_SANITIZER
  __sanitizer_set_death_callback(save_crash);
#endif
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGABRT, on_signal);

  size_t max_seed = 0;
  for (int i = 0; i < n_seeds; i++) max_seed = seeds[i].size > max_seed ? seeds[i].size : max_seed;
  size_t cap = max_seed + 4 * 128 + 64;
  uint8_t* buf = malloc(cap);
  counts* c = calloc(1, sizeof *c);
  if (!buf || !c) return 1;

  /* the unmutated seeds must load and run: otherwise the fuzzer would only test the first checks */
  for (int i = 0; i < n_seeds; i++) {
    pkt_program* p = NULL;
    char err[256];
    pkt_status st = pkt_program_load_buffer(seeds[i].data, seeds[i].size, 1, &p, err, sizeof err);
    if (st) {
      fprintf(stderr, "pkt_fuzz: seed %s does not load: %s: %s\n", seeds[i].path, pkt_status_name(st), err);
      return 1;
    }
    pkt_program_free(p);
  }

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long it = 0; it < iterations; it++) {
    uint64_t r = seed * 0x100000001B3ull ^ (uint64_t)it * 0x9E3779B97F4A7C15ull;
    rng_next(&r);
    const seed_file* s = &seeds[rng_below(&r, (uint64_t)n_seeds)];
    memcpy(buf, s->data, s->size);
    size_t size = mutate(&r, s, buf, s->size, cap);
    if (it == dump) {
      fwrite(buf, 1, size, stdout);
      fflush(stdout);
      break;
    }
    if (dump >= 0) continue;
    /* the buffer handed to the loader is exactly `size` bytes so ASan sees any over-read */
    uint8_t* exact = NULL;
    if (posix_memalign((void**)&exact, 64, size ? size : 1) != 0) return 1;
    memcpy(exact, buf, size);
    g_cur_data = exact;
    g_cur_size = size;
    g_cur_iter = it;
    record_current(exact, size, it);
    int copy = rng_below(&r, 4) != 0;
    pkt_program* p = NULL;
    char err[256] = "";
    pkt_status st = pkt_program_load_buffer(exact, size, copy, &p, err, sizeof err);
    count(c->load, st);
    if (verbose) fprintf(stderr, "iter %ld: %zu bytes, load %s %s\n", it, size, pkt_status_name(st), err);
    if (st == PKT_OK) {
      c->loaded++;
      query_program(p);
      size_t need = pkt_session_required_arena(p, 1);
      if (need > max_arena) {
        c->skipped_big_arena++;
      } else {
        run_session(p, 1, rng_below(&r, 8) == 0, rng_below(&r, 4) == 0, &r, c);
        if (rng_below(&r, 4) == 0) run_session(p, 2, 0, rng_below(&r, 2), &r, c);
      }
      pkt_program_free(p);
    }
    g_cur_data = NULL;
    free(exact);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (g_current_fd >= 0) { /* clean exit: nothing to keep */
    close(g_current_fd);
    close(g_current_iter_fd);
    unlink(current_path);
    unlink(current_iter_path);
  }
  if (dump >= 0) {
    for (int i = 0; i < n_seeds; i++) free(seeds[i].data);
    free(buf);
    free(c);
    return dump < iterations ? 0 : usage("--dump index is beyond --iterations");
  }

  jw w;
  jw_init(&w);
  jw_begin_object(&w);
  jw_key(&w, "schema"); jw_string(&w, "pockettorch.fuzz/1");
  jw_key(&w, "seed"); jw_int(&w, (int64_t)seed);
  jw_key(&w, "iterations"); jw_int(&w, iterations);
  jw_key(&w, "seeds");
  jw_begin_array(&w);
  for (int i = 0; i < n_seeds; i++) jw_string(&w, seeds[i].path);
  jw_end_array(&w);
  jw_key(&w, "loaded"); jw_int(&w, c->loaded);
  jw_key(&w, "runs"); jw_int(&w, c->ran);
  jw_key(&w, "skipped_big_arena"); jw_int(&w, c->skipped_big_arena);
  write_counts(&w, "load", c->load);
  write_counts(&w, "session", c->session);
  write_counts(&w, "run", c->run);
  jw_key(&w, "elapsed_s");
  jw_double(&w, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  jw_end_object(&w);
  printf("%s\n", w.buf ? w.buf : "{}");
  jw_free(&w);
  for (int i = 0; i < n_seeds; i++) free(seeds[i].data);
  free(buf);
  free(c);
  return 0;
}
