#include "npy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pockettorch/pockettorch.h"

static int fail(char* err, size_t n, const char* fmt, ...) {
  if (err && n) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static const struct {
  int dtype;
  const char* descr;
} k_descr[] = {{PKT_F32, "<f4"}, {PKT_I64, "<i8"}, {PKT_I32, "<i4"}, {PKT_BOOL, "|b1"},
               {PKT_U8, "|u1"},  {PKT_I8, "|i1"},  {PKT_F16, "<f2"}};

const char* pkt_npy_descr(int dtype) {
  for (size_t i = 0; i < sizeof k_descr / sizeof k_descr[0]; i++)
    if (k_descr[i].dtype == dtype) return k_descr[i].descr;
  return NULL;
}

static int dtype_from_descr(const char* d, size_t n) {
  if (n != 3) return 0;
  char order = d[0];
  for (size_t i = 0; i < sizeof k_descr / sizeof k_descr[0]; i++) {
    const char* k = k_descr[i].descr;
    if (d[1] != k[1] || d[2] != k[2]) continue;
    int one_byte = k[0] == '|';
    if (order == '|' || order == '=' || order == '<' || (one_byte && order == '>')) return k_descr[i].dtype;
  }
  return 0;
}

/* Find `'key':` in the header dict; returns a pointer just past the colon or NULL. */
static const char* find_key(const char* h, size_t n, const char* key) {
  size_t k = strlen(key);
  for (size_t i = 0; i + k + 2 < n; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, k) == 0 && h[i + 1 + k] == h[i]) {
      size_t j = i + 2 + k;
      while (j < n && h[j] == ' ') j++;
      if (j < n && h[j] == ':') return h + j + 1;
    }
  }
  return NULL;
}

int pkt_npy_parse(const uint8_t* b, size_t size, pkt_npy* out, char* err, size_t en) {
  memset(out, 0, sizeof *out);
  if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) return fail(err, en, "not a .npy file (no \\x93NUMPY magic)");
  unsigned major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = (size_t)b[8] | ((size_t)b[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return fail(err, en, ".npy header is truncated");
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    return fail(err, en, ".npy format version %u is not supported", major);
  }
  if (hlen > size - hstart) return fail(err, en, ".npy header is truncated");
  const char* h = (const char*)b + hstart;

  const char* p = find_key(h, hlen, "descr");
  if (!p) return fail(err, en, ".npy header has no 'descr'");
  const char* end = h + hlen;
  while (p < end && *p == ' ') p++;
  if (p >= end || (*p != '\'' && *p != '"')) return fail(err, en, ".npy 'descr' is not a simple dtype (structured arrays are not supported)");
  char q = *p++;
  const char* d0 = p;
  while (p < end && *p != q) p++;
  if (p >= end) return fail(err, en, ".npy 'descr' is unterminated");
  out->dtype = dtype_from_descr(d0, (size_t)(p - d0));
  if (!out->dtype) return fail(err, en, ".npy dtype '%.*s' is not supported (little-endian float32/float16/int64/int32/int8/uint8/bool only)",
                               (int)(p - d0 > 16 ? 16 : p - d0), d0);

  p = find_key(h, hlen, "fortran_order");
  if (!p) return fail(err, en, ".npy header has no 'fortran_order'");
  while (p < end && *p == ' ') p++;
  if (end - p >= 4 && memcmp(p, "True", 4) == 0) return fail(err, en, ".npy array is in Fortran order; save a C-contiguous array");

  p = find_key(h, hlen, "shape");
  if (!p) return fail(err, en, ".npy header has no 'shape'");
  while (p < end && *p == ' ') p++;
  if (p >= end || *p != '(') return fail(err, en, ".npy 'shape' is not a tuple");
  p++;
  uint64_t numel = 1;
  for (;;) {
    while (p < end && (*p == ' ' || *p == ',')) p++;
    if (p >= end) return fail(err, en, ".npy 'shape' is unterminated");
    if (*p == ')') break;
    if (*p < '0' || *p > '9') return fail(err, en, ".npy 'shape' holds a non-integer");
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
      v = v * 10 + (uint64_t)(*p - '0');
      if (v > ((uint64_t)1 << 40)) return fail(err, en, ".npy dimension is too large");
      p++;
    }
    if (p < end && *p == 'L') p++; /* Python 2 longs */
    if (out->rank >= PKT_NPY_MAX_RANK) return fail(err, en, ".npy array has more than %d dimensions", PKT_NPY_MAX_RANK);
    out->dims[out->rank++] = (int64_t)v;
    if (v && numel > ((uint64_t)1 << 40) / v) return fail(err, en, ".npy array is too large");
    numel *= v;
  }
  size_t esize = pkt_dtype_size(out->dtype);
  uint64_t nbytes = numel * esize;
  size_t data_off = hstart + hlen;
  if (size - data_off < nbytes)
    return fail(err, en, ".npy data is truncated: %zu bytes for %llu expected", size - data_off, (unsigned long long)nbytes);
  if (size - data_off > nbytes)
    return fail(err, en, ".npy file has %zu bytes of data, expected %llu", size - data_off, (unsigned long long)nbytes);
  out->data = malloc(nbytes ? (size_t)nbytes : 1);
  if (!out->data) return fail(err, en, "no memory for %llu bytes of .npy data", (unsigned long long)nbytes);
  if (nbytes) memcpy(out->data, b + data_off, (size_t)nbytes);
  out->nbytes = (size_t)nbytes;
  return 0;
}

int pkt_npy_read(const char* path, pkt_npy* out, char* err, size_t en) {
  memset(out, 0, sizeof *out);
  FILE* f = fopen(path, "rb");
  if (!f) return fail(err, en, "cannot open %s", path);
  uint8_t* buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      if (cap > SIZE_MAX / 2 || (uint64_t)ncap > ((uint64_t)1 << 40)) { /* 32-bit size_t: no wrap, no 1<<40 shift */
        free(buf);
        fclose(f);
        return fail(err, en, "%s is too large", path);
      }
      uint8_t* nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return fail(err, en, "no memory to read %s", path);
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  int io_error = ferror(f);
  fclose(f);
  if (io_error) {
    free(buf);
    return fail(err, en, "error reading %s", path);
  }
  int rc = pkt_npy_parse(buf, len, out, err, en);
  free(buf);
  return rc;
}

void pkt_npy_free(pkt_npy* npy) {
  if (!npy) return;
  free(npy->data);
  npy->data = NULL;
}

int pkt_npy_write(const char* path, int dtype, int rank, const int64_t* dims, const void* data, size_t nbytes,
                  char* err, size_t en) {
  const char* descr = pkt_npy_descr(dtype);
  if (!descr) return fail(err, en, "cannot write dtype %d to .npy", dtype);
  char header[1024];
  int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < rank && n < 900; i++)
    n += snprintf(header + n, sizeof header - (size_t)n, i + 1 < rank || rank == 1 ? "%lld," : "%lld", (long long)dims[i]);
  n += snprintf(header + n, sizeof header - (size_t)n, "), }");
  /* pad with spaces so that magic(6)+version(2)+len(2)+header is a multiple of 64, ending in \n */
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  if ((size_t)n + pad + 1 >= sizeof header) return fail(err, en, "array rank %d is too large for .npy", rank);
  memset(header + n, ' ', pad);
  n += (int)pad;
  header[n++] = '\n';
  FILE* f = fopen(path, "wb");
  if (!f) return fail(err, en, "cannot create %s", path);
  uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(n & 0xFF), (uint8_t)(n >> 8)};
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)n, f) == (size_t)n &&
           (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
  ok = (fclose(f) == 0) && ok;
  if (!ok) return fail(err, en, "error writing %s", path);
  return 0;
}
