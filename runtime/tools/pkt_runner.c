/* pkt_runner: load a .ptm program, run it, time it, and print one JSON object (tools/RUN_JSON.md).
 *
 *   pkt_runner model.ptm [--iters N] [--warmup N] [--threads N] [--seed N] [--input [NAME=]file.npy ...]
 *                        [--output-dir DIR] [--dump DIR] [--profile] [--json out.json]
 * A program with dynamic dims takes .npy inputs of any shape inside its ranges (random inputs: the maxima).
 *
 * Exit codes: 0 success, 1 load/run/input error (stderr: "pkt_runner: PKT_<STATUS>: detail"), 2 bad usage.
 * The same binary is pushed to devices (static, per ABI) by the device harness. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "json.h"
#include "npy.h"
#include "pockettorch/pockettorch.h"
#include "stats.h"

#define RUN_SCHEMA "pockettorch.run/1"
#define MAX_INPUT_ARGS 256

typedef struct options {
  const char* model;
  long iters, warmup, threads;
  unsigned long long seed;
  const char* inputs[MAX_INPUT_ARGS];
  int n_inputs;
  const char* output_dir;
  const char* dump_dir;
  const char* json_path;
  int profile;
  int samples;  /* --samples: every timed latency in the JSON */
  int progress; /* --progress: each timed latency on stderr as it is measured (kept if the run is cut short) */
  const char* backend; /* --backend: the one delegate backend to use ("cpu": none); its delegates must run on it */
  int strict_backends; /* --strict-backends: every delegate must run on its backend */
} options;

static void usage(FILE* f) {
  fprintf(f,
          "usage: pkt_runner model.ptm [--iters N] [--warmup N] [--threads N] [--seed N]\n"
          "                  [--input [NAME=]file.npy ...] [--output-dir DIR] [--profile] [--json out.json]\n"
          "  --iters N       timed runs (default 20, >= 1)\n"
          "  --warmup N      untimed runs after the first one (default 3)\n"
          "  --threads N     worker threads (default 1; 0 = all cores)\n"
          "  --seed N        seed of the random inputs used when no --input is given (default 0)\n"
          "  --input FILE    one .npy per program input, in input order, or NAME=FILE by input name;\n"
          "                  several files may follow one --input\n"
          "  --output-dir D  write the outputs of the last run as D/output_<i>.npy\n"
          "  --dump D        write every instruction's outputs of the first run as D/i<index>_o<k>.npy,\n"
          "                  listed in D/index.json (the numerical debugger's capture)\n"
          "  --profile       per-operator times in the JSON (\"ops\", and \"instructions\" in program order)\n"
          "  --samples       every timed latency in the JSON (\"samples_ms\")\n"
          "  --progress      print \"pkt-sample I MS\" on stderr after each timed run\n"
          "  --json FILE     also write the JSON object to FILE\n"
          "  --backend NAME  run delegates of backend NAME only, and fail unless they all run on it;\n"
          "                  'cpu' runs every delegate's CPU fallback (default: each delegate's backend when\n"
          "                  compiled in and available, else its fallback)\n"
          "  --strict-backends  fail unless every delegate runs on its backend\n"
          "Prints one JSON object (schema " RUN_SCHEMA ", see RUN_JSON.md) to stdout.\n"
          "Exit status: 0 ok, 1 load/run/input error, 2 bad usage.\n");
}

static int usage_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "pkt_runner: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  usage(stderr);
  return 2;
}

/* Prints "pkt_runner: PKT_<STATUS>: detail" and returns exit code 1. */
static int run_error(pkt_status st, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "pkt_runner: %s: ", pkt_status_name(st));
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  return 1;
}

static int parse_long(const char* s, long lo, long hi, long* out) {
  if (!s || !*s) return 0;
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

static int parse_args(int argc, char** argv, options* o) {
  memset(o, 0, sizeof *o);
  o->iters = 20;
  o->warmup = 3;
  o->threads = 1;
  for (int i = 1; i < argc; i++) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE() \
  if (!v) return usage_error("%s needs a value", a); \
  i++;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--iters")) {
      NEED_VALUE();
      if (!parse_long(v, 1, 100000000, &o->iters)) return usage_error("--iters must be an integer >= 1, got '%s'", v);
    } else if (!strcmp(a, "--warmup")) {
      NEED_VALUE();
      if (!parse_long(v, 0, 100000000, &o->warmup)) return usage_error("--warmup must be an integer >= 0, got '%s'", v);
    } else if (!strcmp(a, "--threads")) {
      NEED_VALUE();
      if (!parse_long(v, 0, 1024, &o->threads)) return usage_error("--threads must be an integer in 0..1024, got '%s'", v);
    } else if (!strcmp(a, "--seed")) {
      NEED_VALUE();
      long s;
      if (!parse_long(v, 0, LONG_MAX, &s)) return usage_error("--seed must be an integer >= 0, got '%s'", v);
      o->seed = (unsigned long long)s;
    } else if (!strcmp(a, "--input")) {
      NEED_VALUE();
      /* one or more files: everything up to the next option */
      for (;;) {
        if (o->n_inputs >= MAX_INPUT_ARGS) return usage_error("too many --input files");
        o->inputs[o->n_inputs++] = argv[i];
        if (i + 1 < argc && argv[i + 1][0] != '-' && o->model) i++;
        else break;
      }
    } else if (!strcmp(a, "--output-dir")) {
      NEED_VALUE();
      o->output_dir = v;
    } else if (!strcmp(a, "--dump")) {
      NEED_VALUE();
      o->dump_dir = v;
    } else if (!strcmp(a, "--json")) {
      NEED_VALUE();
      o->json_path = v;
    } else if (!strcmp(a, "--profile")) {
      o->profile = 1;
    } else if (!strcmp(a, "--samples")) {
      o->samples = 1;
    } else if (!strcmp(a, "--progress")) {
      o->progress = 1;
    } else if (!strcmp(a, "--backend")) {
      NEED_VALUE();
      if (!*v || strchr(v, ',')) return usage_error("--backend takes one backend name, got '%s'", v);
      o->backend = v;
    } else if (!strcmp(a, "--strict-backends")) {
      o->strict_backends = 1;
    } else if (a[0] == '-' && a[1] != 0) {
      return usage_error("unknown option %s", a);
    } else if (!o->model) {
      o->model = a;
    } else {
      return usage_error("unexpected argument '%s' (one model per run)", a);
    }
#undef NEED_VALUE
  }
  if (!o->model) return usage_error("no model file given");
  return 0;
}

/* ---- helpers ---- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Peak resident memory of this process. On Linux, getrusage's ru_maxrss keeps the high-water mark of
 * the process that forked us (it survives exec), so a runner started from a 400 MB Python process would
 * report 400 MB; VmHWM in /proc/self/status belongs to this program's own address space. */
static long peak_rss_kb(void) {
#if defined(__linux__)
  FILE* f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    long kb = -1;
    while (kb < 0 && fgets(line, sizeof line, f))
      if (sscanf(line, "VmHWM: %ld kB", &kb) != 1) kb = -1;
    fclose(f);
    if (kb >= 0) return kb;
  }
#endif
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
#if defined(__APPLE__)
  return ru.ru_maxrss / 1024; /* bytes on Darwin */
#else
  return ru.ru_maxrss; /* kilobytes elsewhere */
#endif
}

static void format_shape(char* buf, size_t n, int rank, const int64_t* dims) {
  size_t len = 0;
  len += (size_t)snprintf(buf + len, n - len, "[");
  for (int i = 0; i < rank && len < n; i++)
    len += (size_t)snprintf(buf + len, n - len, i ? ", %lld" : "%lld", (long long)dims[i]);
  if (len < n) snprintf(buf + len, n - len, "]");
}

/* The top-level "name" string of the metadata JSON, by a bounded scan that tracks nesting and strings.
 * Returns 1 and fills out (truncated, NUL-terminated) when found. */
static int metadata_name(const char* m, size_t len, char* out, size_t out_size) {
  int depth = 0;
  size_t i = 0;
  while (i < len) {
    char c = m[i];
    if (c == '{' || c == '[') {
      depth++;
      i++;
    } else if (c == '}' || c == ']') {
      depth--;
      i++;
    } else if (c == '"') {
      size_t start = ++i;
      while (i < len && m[i] != '"') i += (m[i] == '\\') ? 2 : 1;
      if (i >= len) return 0;
      size_t end = i++;
      if (depth != 1 || end - start != 4 || memcmp(m + start, "name", 4) != 0) continue;
      /* key "name": expect ':' then a string */
      while (i < len && (m[i] == ' ' || m[i] == '\t' || m[i] == '\n' || m[i] == '\r')) i++;
      if (i >= len || m[i] != ':') continue;
      i++;
      while (i < len && (m[i] == ' ' || m[i] == '\t' || m[i] == '\n' || m[i] == '\r')) i++;
      if (i >= len || m[i] != '"') return 0;
      i++;
      size_t o = 0;
      while (i < len && m[i] != '"') {
        char ch = m[i];
        if (ch == '\\' && i + 1 < len) {
          ch = m[++i];
          if (ch == 'n') ch = '\n';
          else if (ch == 't') ch = '\t';
        }
        if ((unsigned char)ch >= 0x20 && o + 1 < out_size) out[o++] = ch;
        i++;
      }
      if (i >= len) return 0;
      out[o] = 0;
      return o > 0;
    } else {
      i++;
    }
  }
  return 0;
}

static void name_from_path(const char* path, char* out, size_t n) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(out, n, "%s", base);
  char* dot = strrchr(out, '.');
  if (dot && dot != out) *dot = 0;
}

/* splitmix64: deterministic random inputs */
static uint64_t next_random(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint16_t float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = (int32_t)((x >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = x & 0x7FFFFFu;
  if (exp <= 0) return (uint16_t)sign; /* tiny values flush to zero: fine for random inputs */
  if (exp >= 31) return (uint16_t)(sign | 0x7C00u);
  return (uint16_t)(sign | ((uint32_t)exp << 10) | (mant >> 13));
}

/* float uniform[-1, 1), integers uniform in [0, 10) (in range for small embeddings), bool 0/1 */
static void fill_random(void* data, int dtype, size_t nbytes, uint64_t seed) {
  uint64_t s = seed;
  size_t esize = pkt_dtype_size(dtype);
  if (!esize) return;
  size_t n = nbytes / esize;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = next_random(&s);
    float f = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    int64_t k = (int64_t)(r % 10);
    switch (dtype) {
      case PKT_F32: ((float*)data)[i] = f; break;
      case PKT_F16: ((uint16_t*)data)[i] = float_to_half(f); break;
      case PKT_I64: ((int64_t*)data)[i] = k; break;
      case PKT_I32: ((int32_t*)data)[i] = (int32_t)k; break;
      case PKT_U8: ((uint8_t*)data)[i] = (uint8_t)k; break;
      case PKT_I8: ((int8_t*)data)[i] = (int8_t)k; break;
      case PKT_BOOL: ((uint8_t*)data)[i] = (uint8_t)(r >> 63); break;
      default: break;
    }
  }
}

static int make_dirs(const char* path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
  for (char* p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
  struct stat st;
  return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

/* The input values, kept outside the arena: the memory plan may reuse an input's bytes for later
 * activations, so inputs are copied into the session before every run (outside the timed region). */
typedef struct input_set {
  int n;
  void** data;
  size_t* nbytes;
  pkt_tensor_info* shape; /* each input's shape (a dynamic program's .npy may take any in its ranges) */
} input_set;

static void free_inputs(input_set* in) {
  for (int i = 0; i < in->n; i++) free(in->data[i]);
  free(in->data);
  free(in->nbytes);
  free(in->shape);
  memset(in, 0, sizeof *in);
}

/* Dynamic shapes: give the session each input's shape (0 or an exit code naming the range it is outside). */
static int shape_inputs(pkt_session* sess, const input_set* in) {
  for (int i = 0; i < in->n; i++) {
    char err[256] = "";
    pkt_status st = pkt_session_set_input_shape(sess, i, in->shape[i].dims, in->shape[i].rank, err, sizeof err);
    if (st) return run_error(st, "%s", err[0] ? err : pkt_status_message(st));
  }
  return 0;
}

static pkt_status reset_inputs(pkt_session* sess, const input_set* in) {
  for (int i = 0; i < in->n; i++) {
    pkt_status st = pkt_session_set_input(sess, i, in->data[i], in->nbytes[i]);
    if (st) return st;
  }
  return PKT_OK;
}

/* The static dims equal the program's; dynamic ones are checked against their ranges by the session. */
static int dims_accepted(const pkt_program* prog, int index, const int64_t* got, const int64_t* want, int rank) {
  for (int d = 0; d < rank; d++)
    if (got[d] != want[d] && pkt_program_input_dim_symbol(prog, index, d) < 0) return 0;
  return 1;
}

/* Read the --input files (or make random data) into `in`. Returns 0 or an exit code. */
static int bind_inputs(const options* o, const pkt_program* prog, input_set* in) {
  int n = pkt_program_num_inputs(prog);
  in->n = 0;
  in->data = calloc((size_t)n + 1, sizeof(void*));
  in->nbytes = calloc((size_t)n + 1, sizeof(size_t));
  in->shape = calloc((size_t)n + 1, sizeof(pkt_tensor_info));
  if (!in->data || !in->nbytes || !in->shape) return run_error(PKT_OUT_OF_MEMORY, "no memory for %d inputs", n);
  in->n = n;
  if (o->n_inputs == 0) {
    for (int i = 0; i < n; i++) {
      pkt_tensor_info info;
      if (pkt_program_input_info(prog, i, &info) != PKT_OK) return run_error(PKT_INTERNAL, "no info for input %d", i);
      in->data[i] = malloc(info.nbytes ? info.nbytes : 1);
      if (!in->data[i]) return run_error(PKT_OUT_OF_MEMORY, "no memory for input '%s'", info.name);
      in->nbytes[i] = info.nbytes;
      in->shape[i] = info; /* random data at the planned (bound) shape */
      fill_random(in->data[i], info.dtype, info.nbytes, o->seed * 1000003ull + (uint64_t)i);
    }
    return 0;
  }
  if (o->n_inputs != n) {
    char names[512] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof names; i++) {
      pkt_tensor_info info;
      if (pkt_program_input_info(prog, i, &info) == PKT_OK)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", info.name);
    }
    return run_error(PKT_INPUT_COUNT, "%s takes %d input(s) (%s), got %d --input file(s)", o->model, n,
                     n ? names : "none", o->n_inputs);
  }
  int bound[MAX_INPUT_ARGS] = {0};
  for (int k = 0; k < o->n_inputs; k++) {
    const char* arg = o->inputs[k];
    const char* path = arg;
    int index = k;
    const char* eq = strchr(arg, '=');
    if (eq) { /* NAME=FILE if NAME is one of the program's input names */
      for (int i = 0; i < n; i++) {
        pkt_tensor_info info;
        if (pkt_program_input_info(prog, i, &info) == PKT_OK && strlen(info.name) == (size_t)(eq - arg) &&
            memcmp(info.name, arg, (size_t)(eq - arg)) == 0) {
          index = i;
          path = eq + 1;
          break;
        }
      }
    }
    if (bound[index]) return run_error(PKT_INPUT_COUNT, "input %d is given twice (%s)", index, arg);
    bound[index] = 1;
    pkt_tensor_info info;
    if (pkt_program_input_info(prog, index, &info) != PKT_OK) return run_error(PKT_INTERNAL, "no info for input %d", index);
    pkt_npy npy;
    char err[512];
    if (pkt_npy_read(path, &npy, err, sizeof err) != 0)
      return run_error(PKT_IO, "input '%s' (input %d): %s", info.name, index, err);
    char want[256], got[256];
    format_shape(want, sizeof want, info.rank, info.dims);
    format_shape(got, sizeof got, npy.rank, npy.dims);
    int rc = 0;
    if (npy.dtype != info.dtype) {
      rc = run_error(PKT_INPUT_DTYPE, "input '%s' (input %d) from %s has dtype %s, expected %s", info.name, index, path,
                     pkt_dtype_name(npy.dtype), pkt_dtype_name(info.dtype));
    } else if (npy.rank != info.rank || !dims_accepted(prog, index, npy.dims, info.dims, info.rank)) {
      rc = run_error(PKT_INPUT_SHAPE, "input '%s' (input %d) from %s has shape %s, expected %s", info.name, index, path,
                     got, want);
    } else if (pkt_program_num_symbols(prog) == 0 && npy.nbytes != info.nbytes) {
      rc = run_error(PKT_INPUT_SHAPE, "input '%s' (input %d) from %s has %zu bytes, expected %zu", info.name, index,
                     path, npy.nbytes, info.nbytes);
    } else {
      in->shape[index] = info;
      memcpy(in->shape[index].dims, npy.dims, sizeof(int64_t) * (size_t)npy.rank);
      in->shape[index].nbytes = npy.nbytes;
      in->data[index] = npy.data; /* ownership moves to the input set */
      in->nbytes[index] = npy.nbytes;
      npy.data = NULL;
    }
    pkt_npy_free(&npy);
    if (rc) return rc;
  }
  return 0;
}

/* --dump: the instruction hook writes each instruction's outputs as it runs (the memory plan reuses their bytes
 * later) and lists them in the index (schema pockettorch.dump/1, RUN_JSON.md). */
typedef struct dump_state {
  const char* dir;
  jw index;    /* the "instructions" array, one object per instruction run */
  int failed;  /* the first write that failed; err says which */
  char err[600];
} dump_state;

static void dump_instruction(void* user, const pkt_session* sess, int i) {
  dump_state* d = user;
  if (d->failed) return;
  jw* w = &d->index;
  jw_begin_object(w);
  jw_key(w, "index"); jw_int(w, i);
  jw_key(w, "outputs");
  jw_begin_array(w);
  for (int k = 0;; k++) {
    pkt_tensor_info info;
    const void* data = pkt_session_instruction_output(sess, i, k, &info);
    if (!data) break;
    char file[64], path[4096], err[512];
    snprintf(file, sizeof file, "i%05d_o%d.npy", i, k);
    snprintf(path, sizeof path, "%s/%s", d->dir, file);
    if (pkt_npy_write(path, info.dtype, info.rank, info.dims, data, info.nbytes, err, sizeof err) != 0) {
      d->failed = 1;
      snprintf(d->err, sizeof d->err, "instruction %d output %d: %s", i, k, err);
      return;
    }
    jw_begin_object(w);
    jw_key(w, "file"); jw_string(w, file);
    jw_key(w, "name"); jw_string(w, info.name);
    jw_key(w, "dtype"); jw_string(w, pkt_dtype_name(info.dtype));
    jw_key(w, "shape");
    jw_begin_array(w);
    for (int r = 0; r < info.rank; r++) jw_int(w, info.dims[r]);
    jw_end_array(w);
    jw_end_object(w);
  }
  jw_end_array(w);
  jw_end_object(w);
}

/* The index of a finished dump: the instructions' op and source beside what the hook recorded. */
static int write_dump_index(const dump_state* d, const pkt_program* prog, pkt_session* sess, const char* model) {
  jw w;
  jw_init(&w);
  jw_begin_object(&w);
  jw_key(&w, "schema"); jw_string(&w, "pockettorch.dump/1");
  jw_key(&w, "isa"); jw_string(&w, pkt_session_isa(sess));
  jw_key(&w, "ops");
  jw_begin_array(&w);
  for (int i = 0; i < pkt_program_num_instructions(prog); i++) {
    jw_begin_object(&w);
    jw_key(&w, "op"); jw_string(&w, pkt_program_instruction_op(prog, i));
    jw_key(&w, "source"); jw_string(&w, pkt_program_instruction_source(prog, i));
    jw_end_object(&w);
  }
  jw_end_array(&w);
  jw_end_object(&w);
  int rc = 0;
  char path[4096];
  snprintf(path, sizeof path, "%s/index.json", d->dir);
  FILE* f = w.failed || d->index.failed ? NULL : fopen(path, "w");
  /* {"schema": ..., "ops": [...]} + , "instructions": [...] } */
  if (!f || fprintf(f, "%.*s, \"instructions\": %s}\n", (int)(w.len - 1), w.buf, d->index.buf) < 0) rc = 1;
  if (f && fclose(f) != 0) rc = 1;
  jw_free(&w);
  if (rc) return run_error(PKT_IO, "cannot write the dump index %s of %s", path, model);
  return 0;
}

typedef struct op_total {
  const char* op;
  long calls;
  double total_ms;
} op_total;

static int cmp_op_total(const void* a, const void* b) {
  const op_total *x = a, *y = b;
  if (x->total_ms != y->total_ms) return x->total_ms < y->total_ms ? 1 : -1;
  return strcmp(x->op, y->op);
}

int main(int argc, char** argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;

  char err[512] = "";
  pkt_program* prog = NULL;
  pkt_session* sess = NULL;
  double* samples = NULL;
  double* instr_ms = NULL;
  op_total* ops = NULL;
  unsigned char* skipped = NULL; /* per instruction: in the fallback of a delegate that runs on its backend */
  uint64_t* device_ns = NULL;    /* per delegate: device time summed over the timed runs */
  input_set inputs = {0, NULL, NULL, NULL};
  jw w;
  jw_init(&w);
  dump_state dump;
  memset(&dump, 0, sizeof dump);
  jw_init(&dump.index);

  double t0 = now_ms();
  pkt_status st = pkt_program_load_file(o.model, &prog, err, sizeof err);
  if (st) return run_error(st, "cannot load %s: %s", o.model, err[0] ? err : pkt_status_message(st));
  pkt_session_options so = pkt_session_options_default();
  so.num_threads = (int)o.threads;
  so.strict_backends = o.strict_backends || (o.backend && strcmp(o.backend, "cpu") != 0);
  if (o.backend) so.backends = strcmp(o.backend, "cpu") ? o.backend : "";
  st = pkt_session_create(prog, &so, &sess, err, sizeof err);
  if (st) {
    rc = run_error(st, "cannot prepare %s: %s", o.model, err[0] ? err : pkt_status_message(st));
    goto done;
  }
  double load_ms = now_ms() - t0;

  if ((rc = bind_inputs(&o, prog, &inputs))) goto done;
  if ((rc = shape_inputs(sess, &inputs))) goto done;

  int n_instr = pkt_program_num_instructions(prog);
  const uint64_t* prof = pkt_session_profile_ns(sess);
  const int n_delegates = pkt_session_num_delegates(sess);
  samples = calloc((size_t)o.iters, sizeof *samples);
  ops = calloc((size_t)n_instr + 1, sizeof *ops);
  skipped = calloc((size_t)n_instr + 1, 1);
  device_ns = calloc((size_t)n_delegates + 1, sizeof *device_ns);
  if (!samples || !ops || !skipped || !device_ns) {
    rc = run_error(PKT_OUT_OF_MEMORY, "no memory for %ld latency samples", o.iters);
    goto done;
  }

#define RESET_INPUTS()                                                          \
  if ((st = reset_inputs(sess, &inputs))) {                                     \
    rc = run_error(st, "cannot copy the inputs into the session of %s", o.model); \
    goto done;                                                                  \
  }
  RESET_INPUTS();
  if (o.dump_dir) {
    if (make_dirs(o.dump_dir) != 0) {
      rc = run_error(PKT_IO, "cannot create dump directory %s: %s", o.dump_dir, strerror(errno));
      goto done;
    }
    dump.dir = o.dump_dir;
    jw_begin_array(&dump.index);
    pkt_session_set_instruction_hook(sess, dump_instruction, &dump);
  }
  t0 = now_ms();
  st = pkt_session_run(sess);
  double first_ms = now_ms() - t0; /* with --dump: including the files written */
  pkt_session_set_instruction_hook(sess, NULL, NULL);
  if (st) {
    rc = run_error(st, "first run of %s failed: %s", o.model,
                   pkt_session_error(sess)[0] ? pkt_session_error(sess) : pkt_status_message(st));
    goto done;
  }
  if (o.dump_dir) {
    jw_end_array(&dump.index);
    if (dump.failed) {
      rc = run_error(PKT_IO, "dump of %s: %s", o.model, dump.err);
      goto done;
    }
    if ((rc = write_dump_index(&dump, prog, sess, o.model))) goto done;
  }
  for (long i = 0; i < o.warmup; i++) {
    RESET_INPUTS();
    if ((st = pkt_session_run(sess))) {
      rc = run_error(st, "warmup run %ld of %s failed: %s", i, o.model, pkt_status_message(st));
      goto done;
    }
  }
  /* a delegate that runs is one slice of the profile: its fallback instructions never run */
  for (int k = 0; k < n_delegates; k++) {
    pkt_delegate_info d;
    pkt_session_delegate_info(sess, k, &d);
    for (int i = d.instruction + 1; d.active && i <= d.instruction + d.fallback; i++) skipped[i] = 1;
  }
  /* per-instruction totals accumulate over the timed runs */
  int n_ops = 0;
  for (int i = 0; i < n_instr; i++) {
    if (skipped[i]) continue;
    const char* name = pkt_program_instruction_op(prog, i);
    int k = 0;
    while (k < n_ops && strcmp(ops[k].op, name) != 0) k++;
    if (k == n_ops) ops[n_ops++].op = name;
  }
  instr_ms = calloc((size_t)n_instr + 1, sizeof *instr_ms);
  if (!instr_ms) {
    rc = run_error(PKT_OUT_OF_MEMORY, "no memory for the profile");
    goto done;
  }
  pkt_session_enable_profiling(sess, o.profile);
  for (long i = 0; i < o.iters; i++) {
    if ((st = reset_inputs(sess, &inputs))) {
      rc = run_error(st, "cannot copy the inputs into the session of %s", o.model);
      goto done;
    }
    t0 = now_ms();
    st = pkt_session_run(sess);
    samples[i] = now_ms() - t0;
    if (o.progress) {
      fprintf(stderr, "pkt-sample %ld %.6f\n", i, samples[i]);
      fflush(stderr);
    }
    if (st) {
      rc = run_error(st, "run %ld of %s failed: %s", i, o.model, pkt_status_message(st));
      goto done;
    }
    if (o.profile && prof)
      for (int k = 0; k < n_instr; k++) instr_ms[k] += (double)prof[k] / 1e6;
    for (int k = 0; k < n_delegates; k++) {
      pkt_delegate_info d;
      pkt_session_delegate_info(sess, k, &d);
      device_ns[k] += d.last_device_ns;
    }
  }
  pkt_session_enable_profiling(sess, 0);
  double profile_total = 0;
  for (int i = 0; i < n_instr; i++) {
    if (skipped[i]) continue;
    const char* name = pkt_program_instruction_op(prog, i);
    for (int k = 0; k < n_ops; k++)
      if (!strcmp(ops[k].op, name)) {
        ops[k].calls += o.iters;
        ops[k].total_ms += instr_ms[i];
      }
    profile_total += instr_ms[i];
  }
  qsort(ops, (size_t)n_ops, sizeof *ops, cmp_op_total);

  if (o.output_dir) {
    if (make_dirs(o.output_dir) != 0) {
      rc = run_error(PKT_IO, "cannot create output directory %s: %s", o.output_dir, strerror(errno));
      goto done;
    }
    for (int i = 0; i < pkt_program_num_outputs(prog); i++) {
      pkt_tensor_info info;
      pkt_session_output_info(sess, i, &info); /* the shape of this run (dynamic programs) */
      char path[4096];
      snprintf(path, sizeof path, "%s/output_%d.npy", o.output_dir, i);
      if (pkt_npy_write(path, info.dtype, info.rank, info.dims, pkt_session_output_data(sess, i), info.nbytes, err,
                        sizeof err) != 0) {
        rc = run_error(PKT_IO, "output %d: %s", i, err);
        goto done;
      }
    }
  }

  pkt_latency_stats ls;
  pkt_latency_summarize(samples, (size_t)o.iters, &ls);
  char model_name[128];
  size_t meta_len = 0;
  const char* meta = pkt_program_metadata(prog, &meta_len);
  if (!meta || !metadata_name(meta, meta_len, model_name, sizeof model_name))
    name_from_path(o.model, model_name, sizeof model_name);

  jw_begin_object(&w);
  jw_key(&w, "schema"); jw_string(&w, RUN_SCHEMA);
  jw_key(&w, "model"); jw_string(&w, model_name);
  jw_key(&w, "runtime"); jw_string(&w, "c");
  jw_key(&w, "threads"); jw_int(&w, pkt_session_num_threads(sess));
  jw_key(&w, "isa"); jw_string(&w, pkt_session_isa(sess));
  jw_key(&w, "iters"); jw_int(&w, o.iters);
  jw_key(&w, "warmup"); jw_int(&w, o.warmup);
  jw_key(&w, "load_ms"); jw_double(&w, load_ms);
  jw_key(&w, "first_inference_ms"); jw_double(&w, first_ms);
  jw_key(&w, "latency_ms");
  jw_begin_object(&w);
  jw_key(&w, "min"); jw_double(&w, ls.min);
  jw_key(&w, "median"); jw_double(&w, ls.median);
  jw_key(&w, "p90"); jw_double(&w, ls.p90);
  jw_key(&w, "p99"); jw_double(&w, ls.p99);
  jw_key(&w, "mean"); jw_double(&w, ls.mean);
  jw_key(&w, "std"); jw_double(&w, ls.std);
  jw_end_object(&w);
  jw_key(&w, "delegates");
  jw_begin_array(&w);
  for (int k = 0; k < n_delegates; k++) {
    pkt_delegate_info d;
    pkt_session_delegate_info(sess, k, &d);
    jw_begin_object(&w);
    jw_key(&w, "backend"); jw_string(&w, d.backend);
    jw_key(&w, "active"); jw_bool(&w, d.active);
    jw_key(&w, "device"); jw_string(&w, d.device);
    jw_key(&w, "driver"); jw_string(&w, d.driver);
    jw_key(&w, "reason"); jw_string(&w, d.reason);
    jw_key(&w, "instruction"); jw_int(&w, d.instruction);
    jw_key(&w, "fallback"); jw_int(&w, d.fallback);
    jw_key(&w, "device_ms"); jw_double(&w, (double)device_ns[k] / 1e6 / (double)o.iters);
    jw_end_object(&w);
  }
  jw_end_array(&w);
  jw_key(&w, "arena_bytes"); jw_int(&w, (int64_t)pkt_program_arena_bytes(prog));
  jw_key(&w, "peak_rss_kb"); jw_int(&w, peak_rss_kb());
  if (o.profile) {
    jw_key(&w, "ops");
    jw_begin_array(&w);
    for (int k = 0; k < n_ops; k++) {
      jw_begin_object(&w);
      jw_key(&w, "op"); jw_string(&w, ops[k].op);
      jw_key(&w, "calls"); jw_int(&w, ops[k].calls);
      jw_key(&w, "total_ms"); jw_double(&w, ops[k].total_ms);
      jw_key(&w, "avg_ms"); jw_double(&w, ops[k].calls ? ops[k].total_ms / (double)ops[k].calls : 0.0);
      jw_key(&w, "share"); jw_double(&w, profile_total > 0 ? ops[k].total_ms / profile_total : 0.0);
      jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_key(&w, "instructions");
    jw_begin_array(&w);
    for (int i = 0; i < n_instr; i++) {
      if (skipped[i]) continue;
      jw_begin_object(&w);
      jw_key(&w, "index"); jw_int(&w, i);
      jw_key(&w, "op"); jw_string(&w, pkt_program_instruction_op(prog, i));
      jw_key(&w, "source"); jw_string(&w, pkt_program_instruction_source(prog, i));
      jw_key(&w, "ms"); jw_double(&w, instr_ms[i] / (double)o.iters);
      for (int k = 0; k < n_delegates; k++) { /* a delegate's slice: where it ran, and its device time */
        pkt_delegate_info d;
        pkt_session_delegate_info(sess, k, &d);
        if (d.instruction != i) continue;
        jw_key(&w, "backend"); jw_string(&w, d.active ? d.backend : "cpu");
        jw_key(&w, "device_ms"); jw_double(&w, (double)device_ns[k] / 1e6 / (double)o.iters);
      }
      jw_end_object(&w);
    }
    jw_end_array(&w);
  }
  if (o.samples) {
    jw_key(&w, "samples_ms");
    jw_begin_array(&w);
    for (long i = 0; i < o.iters; i++) jw_double(&w, samples[i]);
    jw_end_array(&w);
  }
  jw_end_object(&w);
  if (w.failed) {
    rc = run_error(PKT_OUT_OF_MEMORY, "no memory for the JSON report");
    goto done;
  }
  if (o.json_path) {
    FILE* f = fopen(o.json_path, "w");
    int ok = f && fprintf(f, "%s\n", w.buf) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) {
      rc = run_error(PKT_IO, "cannot write %s", o.json_path);
      goto done;
    }
  }
  printf("%s\n", w.buf);
  fflush(stdout);
  rc = 0;

done:
  free_inputs(&inputs);
  jw_free(&w);
  jw_free(&dump.index);
  free(samples);
  free(instr_ms);
  free(ops);
  free(skipped);
  free(device_ns);
  pkt_session_free(sess);
  pkt_program_free(prog);
  return rc;
}
