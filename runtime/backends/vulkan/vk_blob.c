/* Parsing and validation of the Vulkan backend's blob (layout in vk_blob.h). No Vulkan here: the checks run (and
 * are fuzzed) on any machine. */
#include "backends/vulkan/vk_blob.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "backends/vulkan/vk_shaders.h"

#define HEADER_BYTES 64
#define TENSOR_BYTES 48
#define OP_BYTES 160
#define IDX_MAX 2147483647LL /* shaders index with 32-bit ints */

static uint32_t rd32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static uint64_t rd64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* [off, off + n * rec) inside the blob, without overflow. */
static int fits(uint64_t off, uint64_t n, uint64_t rec, size_t size) {
  return off <= size && n <= (size - off) / rec;
}

static pkt_status parse_tensors(const uint8_t* base, size_t size, uint64_t off, pkt_vk_blob* b, pkt_err* err) {
  for (uint32_t i = 0; i < b->n_tensors; i++) {
    const uint8_t* r = base + off + (uint64_t)i * TENSOR_BYTES;
    pkt_vk_tensor* t = &b->tensors[i];
    t->kind = rd32(r);
    t->rank = rd32(r + 4);
    if (t->kind > PKT_VK_T_CONSTANT) return pkt_fail(err, PKT_BAD_PARAMS, "vulkan blob: tensor %u has kind %u", i, t->kind);
    if (t->rank < 1 || t->rank > PKT_VK_MAX_RANK)
      return pkt_fail(err, PKT_BAD_SHAPE, "vulkan blob: tensor %u has rank %u (1..%d)", i, t->rank, PKT_VK_MAX_RANK);
    t->numel = 1;
    for (int d = 0; d < PKT_VK_MAX_RANK; d++) {
      t->dims[d] = rd32(r + 8 + 4 * d);
      if (d >= (int)t->rank) {
        if (t->dims[d] != 0) return pkt_fail(err, PKT_BAD_SHAPE, "vulkan blob: tensor %u has a dim past its rank", i);
        continue;
      }
      if (t->dims[d] < 1 || (t->numel *= t->dims[d]) > IDX_MAX)
        return pkt_fail(err, PKT_BAD_SHAPE, "vulkan blob: tensor %u has an empty or too large shape", i);
    }
    uint64_t doff = rd64(r + 32), dbytes = rd64(r + 40);
    t->data = NULL;
    if (t->kind == PKT_VK_T_CONSTANT && doff == 0 && dbytes == 0) {
      /* a program constant the delegate receives as an input: read from there at init (parse_io checks it is one) */
    } else if (t->kind == PKT_VK_T_CONSTANT) {
      if (dbytes != (uint64_t)t->numel * 4 || doff % 16 != 0 || !fits(doff, dbytes, 1, size))
        return pkt_fail(err, PKT_BAD_OFFSET, "vulkan blob: constant %u: %llu bytes at %llu (expected %lld float32, "
                        "16-byte aligned, inside the %zu-byte blob)", i, (unsigned long long)dbytes,
                        (unsigned long long)doff, (long long)t->numel, size);
      t->data = (const float*)(const void*)(base + doff);
    } else if (doff != 0 || dbytes != 0) {
      return pkt_fail(err, PKT_BAD_OFFSET, "vulkan blob: tensor %u is not a constant but has data", i);
    }
  }
  return PKT_OK;
}

/* The io lists: outputs are OUTPUT tensors; inputs are INPUT tensors or CONSTANT ones (a delegate input the
 * program holds as a constant is embedded in the blob, and its io entry is not read). Every INPUT or OUTPUT tensor is
 * listed exactly once. */
static pkt_status parse_io(const uint8_t* p, uint32_t n, uint32_t kind, uint32_t* out, const pkt_vk_blob* b,
                           const char* what, pkt_err* err) {
  uint32_t of_kind = 0, listed = 0;
  for (uint32_t i = 0; i < b->n_tensors; i++) of_kind += b->tensors[i].kind == kind;
  for (uint32_t i = 0; i < n; i++) {
    out[i] = rd32(p + 4 * (uint64_t)i);
    uint32_t k = out[i] < b->n_tensors ? b->tensors[out[i]].kind : 0xffffffffu;
    if (k != kind && !(kind == PKT_VK_T_INPUT && k == PKT_VK_T_CONSTANT))
      return pkt_fail(err, PKT_BAD_IO, "vulkan blob: %s %u names tensor %u, which is not one", what, i, out[i]);
    listed += k == kind;
    for (uint32_t j = 0; j < i; j++)
      if (out[j] == out[i]) return pkt_fail(err, PKT_BAD_IO, "vulkan blob: %s %u is listed twice", what, i);
  }
  if (listed != of_kind)
    return pkt_fail(err, PKT_BAD_IO, "vulkan blob: %u %ss listed but %u tensors are %ss", listed, what, of_kind, what);
  if (kind == PKT_VK_T_INPUT) /* a constant without data in the blob must come through an input */
    for (uint32_t t = 0; t < b->n_tensors; t++) {
      if (b->tensors[t].kind != PKT_VK_T_CONSTANT || b->tensors[t].data) continue;
      uint32_t i = 0;
      while (i < n && out[i] != t) i++;
      if (i == n) return pkt_fail(err, PKT_BAD_IO, "vulkan blob: constant %u has neither data nor an input", t);
    }
  return PKT_OK;
}

/* ---- per-op bounds: every element a shader can touch lies inside the tensors it binds ---- */

typedef struct check {
  const pkt_vk_blob* b;
  const pkt_vk_op* op;
  uint32_t index;
  pkt_err* err;
} check;

static pkt_status bad(const check* c, const char* what) {
  return pkt_fail(c->err, PKT_BAD_PARAMS, "vulkan blob: op %u (kind %u): %s", c->index, c->op->op, what);
}

/* The numel of the tensor at binding `slot`, 0 when the binding is unused. */
static int64_t bound(const check* c, int slot) {
  int32_t t = c->op->bind[slot];
  return t < 0 ? 0 : c->b->tensors[t].numel;
}

/* p[first..first+n) all >= lo. */
static int at_least(const check* c, int first, int n, int32_t lo) {
  for (int i = first; i < first + n; i++)
    if (c->op->p[i] < lo) return 0;
  return 1;
}

static pkt_status need(const check* c, int slot, int64_t elements, const char* what) {
  if (elements > IDX_MAX || bound(c, slot) < elements) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s needs %lld elements at binding %d, which has %lld", what, (long long)elements, slot,
             (long long)bound(c, slot));
    return bad(c, msg);
  }
  return PKT_OK;
}

#define NEED(slot, n, what) do { pkt_status s_ = need(c, slot, n, what); if (s_ != PKT_OK) return s_; } while (0)

static int act_ok(int32_t a) { return a >= 0 && a <= 9; }

/* Largest index off + sum((ext_i - 1) * stride_i) over a strided walk (0-based, all terms non-negative). */
static int64_t reach(int64_t off, int n, const int64_t* ext, const int32_t* stride) {
  int64_t m = off;
  for (int i = 0; i < n; i++) m += (ext[i] - 1) * (int64_t)stride[i];
  return m;
}

static pkt_status check_gemm(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 4, 1) || !at_least(c, 4, 12, 0)) return bad(c, "negative or zero sizes/strides");
  if (p[0] > 65535) return bad(c, "more than 65535 batches");
  if (p[16] < 0 || p[16] > 2 || (p[17] != 0 && p[17] != 1) || !act_ok(p[18])) return bad(c, "bad bias/residual/act");
  int64_t ea[3] = {p[0], p[1], p[3]}, eb[3] = {p[0], p[3], p[2]}, ec[3] = {p[0], p[1], p[2]};
  int32_t sa[3] = {p[5], p[6], p[7]}, sb[3] = {p[9], p[10], p[11]}, sc[3] = {p[13], p[14], p[15]};
  NEED(0, reach(p[4], 3, ea, sa) + 1, "A");
  NEED(1, reach(p[8], 3, eb, sb) + 1, "B");
  int64_t cmax = reach(p[12], 3, ec, sc) + 1;
  NEED(4, cmax, "C");
  if (p[16]) NEED(2, p[16] == 1 ? p[1] : p[2], "bias");
  if (p[17]) NEED(3, cmax, "residual");
  return PKT_OK;
}

static pkt_status check_im2col(const check* c) {
  const int32_t* p = c->op->p;
  /* batch M N K, C H W KH KW, sh sw (>= 1), ph pw (>= 0), dh dw (>= 1), OW */
  if (!at_least(c, 0, 4, 1) || !at_least(c, 5, 7, 1) || !at_least(c, 12, 2, 0) || !at_least(c, 14, 2, 1) ||
      p[19] < 1)
    return bad(c, "bad conv geometry");
  if (p[0] > 65535 || p[2] % p[19] != 0 || (int64_t)p[5] * p[8] * p[9] != p[3]) return bad(c, "inconsistent sizes");
  if (p[16] < 0 || p[16] > 1 || (p[17] != 0 && p[17] != 1) || !act_ok(p[18])) return bad(c, "bad bias/residual/act");
  NEED(0, (int64_t)p[1] * p[3], "weight");
  NEED(1, (int64_t)p[0] * p[5] * p[6] * p[7], "input");
  int64_t out = (int64_t)p[0] * p[1] * p[2];
  NEED(4, out, "output");
  if (p[16]) NEED(2, p[1], "bias");
  if (p[17]) NEED(3, out, "residual");
  return PKT_OK;
}

static pkt_status check_conv_direct(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 11, 1) || !at_least(c, 11, 2, 0) || !at_least(c, 13, 3, 1)) return bad(c, "bad conv geometry");
  if (p[1] % p[15] != 0 || p[4] % p[15] != 0) return bad(c, "channels not divisible by groups");
  if ((p[16] != 0 && p[16] != 1) || (p[17] != 0 && p[17] != 1) || !act_ok(p[18])) return bad(c, "bad bias/residual/act");
  NEED(0, (int64_t)p[0] * p[1] * p[2] * p[3], "input");
  NEED(1, (int64_t)p[4] * (p[1] / p[15]) * p[7] * p[8], "weight");
  int64_t out = (int64_t)p[0] * p[4] * p[5] * p[6];
  NEED(4, out, "output");
  if (p[16]) NEED(2, p[4], "bias");
  if (p[17]) NEED(3, out, "residual");
  return PKT_OK;
}

/* binary and copy: n, rank, dims[6], two stride sets; `bases` = the copy's two base offsets (p[20], p[21]). */
static pkt_status check_strided(const check* c, int bases, int second_slot) {
  const int32_t* p = c->op->p;
  int rank = p[1];
  if (rank < 1 || rank > PKT_VK_MAX_RANK || !at_least(c, 2, rank, 1) || !at_least(c, 8, rank, 0) ||
      !at_least(c, 14, rank, 0))
    return bad(c, "bad rank, dims or strides");
  int64_t ext[PKT_VK_MAX_RANK], n = 1;
  for (int i = 0; i < rank; i++) {
    ext[i] = p[2 + i];
    if ((n *= ext[i]) > IDX_MAX) return bad(c, "too many elements");
  }
  if (n != p[0]) return bad(c, "element count is not the product of the dims");
  int64_t off0 = 0, off1 = 0;
  if (bases) {
    if (p[20] < 0 || p[21] < 0) return bad(c, "negative base offset");
    off0 = p[20];
    off1 = p[21];
  }
  NEED(0, reach(off0, rank, ext, p + 8) + 1, "input");
  if (second_slot == 4) {
    NEED(4, reach(off1, rank, ext, p + 14) + 1, "output");
  } else {
    NEED(second_slot, reach(0, rank, ext, p + 14) + 1, "second input");
    /* binary's output is dense */
    NEED(4, n, "output");
  }
  return PKT_OK;
}

static pkt_status check_binary(const check* c) {
  const int32_t* p = c->op->p;
  int k = p[20];
  if (!(k == 0 || k == 1 || k == 2 || k == 3 || k == 5 || k == 6 || (k >= 100 && k <= 107)) || !act_ok(p[21]))
    return bad(c, "bad kind or act");
  if (k >= 100) { /* only a is read */
    pkt_vk_op tmp = *c->op;
    for (int i = 0; i < PKT_VK_MAX_RANK; i++) tmp.p[14 + i] = 0;
    tmp.bind[1] = tmp.bind[0];
    check c2 = *c;
    c2.op = &tmp;
    return check_strided(&c2, 0, 1);
  }
  return check_strided(c, 0, 1);
}

static pkt_status check_pool(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 5, 1) || p[13] < 0 || p[13] > 3) return bad(c, "bad sizes or mode");
  if (p[13] < 2 && (!at_least(c, 5, 4, 1) || !at_least(c, 9, 2, 0) || !at_least(c, 11, 2, 1) || p[14] < 0 ||
                    p[14] > 1 || p[15] < 0))
    return bad(c, "bad window");
  NEED(0, (int64_t)p[0] * p[1] * p[2], "input");
  NEED(4, (int64_t)p[0] * p[3] * p[4], "output");
  return PKT_OK;
}

static pkt_status check_reduce(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 3, 1) || p[3] < 0 || p[3] > 3) return bad(c, "bad sizes or kind");
  NEED(0, (int64_t)p[0] * p[1] * p[2], "input");
  NEED(4, (int64_t)p[0] * p[2], "output");
  return PKT_OK;
}

static pkt_status check_softmax(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 3, 1) || p[0] % p[2] != 0 || (p[3] != 0 && p[3] != 1) || p[4] < 0)
    return bad(c, "bad rows, length or flags");
  NEED(0, (int64_t)p[0] * p[1], "input");
  NEED(4, (int64_t)p[0] * p[1], "output");
  return PKT_OK;
}

static pkt_status check_layer_norm(const check* c) {
  const int32_t* p = c->op->p;
  if (!at_least(c, 0, 2, 1) || (p[2] != 0 && p[2] != 1) || (p[3] != 0 && p[3] != 1)) return bad(c, "bad sizes");
  NEED(0, (int64_t)p[0] * p[1], "input");
  NEED(4, (int64_t)p[0] * p[1], "output");
  if (p[2]) NEED(1, p[1], "weight");
  if (p[3]) NEED(2, p[1], "bias");
  return PKT_OK;
}

static pkt_status check_op(const check* c) {
  const pkt_vk_op* op = c->op;
  for (int s = 0; s < PKT_VK_BINDINGS; s++)
    if (op->bind[s] < -1 || op->bind[s] >= (int32_t)c->b->n_tensors) return bad(c, "binding names no tensor");
  if (op->bind[4] < 0) return bad(c, "no output");
  uint32_t kind = c->b->tensors[op->bind[4]].kind;
  if (kind == PKT_VK_T_INPUT || kind == PKT_VK_T_CONSTANT) return bad(c, "writes an input or a constant");
  for (int s = 0; s < 4; s++)
    if (op->bind[s] == op->bind[4]) return bad(c, "reads the tensor it writes");
  switch (op->op) {
    case PKT_VK_SH_GEMM: return check_gemm(c);
    case PKT_VK_SH_GEMM_IM2COL: return check_im2col(c);
    case PKT_VK_SH_CONV_DIRECT: return check_conv_direct(c);
    case PKT_VK_SH_BINARY: return check_binary(c);
    case PKT_VK_SH_COPY: return check_strided(c, 1, 4);
    case PKT_VK_SH_POOL: return check_pool(c);
    case PKT_VK_SH_REDUCE: return check_reduce(c);
    case PKT_VK_SH_SOFTMAX: return check_softmax(c);
    case PKT_VK_SH_LAYER_NORM: return check_layer_norm(c);
  }
  return pkt_fail(c->err, PKT_UNKNOWN_OP, "vulkan blob: op %u has unknown kind %u", c->index, op->op);
}

pkt_status pkt_vk_blob_parse(const void* data, size_t size, pkt_vk_blob* b, pkt_err* err) {
  const uint8_t* base = (const uint8_t*)data;
  memset(b, 0, sizeof *b);
  if (size < HEADER_BYTES) return pkt_fail(err, PKT_TRUNCATED, "vulkan blob: %zu bytes, shorter than its header", size);
  if (memcmp(base, "PTVK", 4) != 0) return pkt_fail(err, PKT_BAD_MAGIC, "vulkan blob: bad magic");
  if (rd32(base + 4) != PKT_VK_BLOB_VERSION)
    return pkt_fail(err, PKT_UNSUPPORTED_VERSION, "vulkan blob: version %u, this runtime reads %d", rd32(base + 4),
                    PKT_VK_BLOB_VERSION);
  b->n_tensors = rd32(base + 8);
  b->n_ops = rd32(base + 12);
  b->n_inputs = rd32(base + 16);
  b->n_outputs = rd32(base + 20);
  b->precision = rd32(base + 24);
  uint64_t toff = rd64(base + 32), ooff = rd64(base + 40), ioff = rd64(base + 48);
  if (b->precision > 1 || rd32(base + 28) != 0 || rd64(base + 56) != 0)
    return pkt_fail(err, PKT_BAD_PARAMS, "vulkan blob: bad precision %u or non-zero reserved fields", b->precision);
  if (b->n_tensors < 1 || b->n_tensors > PKT_VK_MAX_TENSORS || b->n_ops < 1 || b->n_ops > PKT_VK_MAX_OPS ||
      b->n_outputs < 1 || b->n_inputs > b->n_tensors || b->n_outputs > b->n_tensors)
    return pkt_fail(err, PKT_BAD_PARAMS, "vulkan blob: %u tensors, %u ops, %u inputs, %u outputs", b->n_tensors,
                    b->n_ops, b->n_inputs, b->n_outputs);
  if (!fits(toff, b->n_tensors, TENSOR_BYTES, size) || !fits(ooff, b->n_ops, OP_BYTES, size) ||
      !fits(ioff, (uint64_t)b->n_inputs + b->n_outputs, 4, size))
    return pkt_fail(err, PKT_TRUNCATED, "vulkan blob: its tables run past its %zu bytes", size);
  b->tensors = calloc(b->n_tensors, sizeof *b->tensors);
  b->ops = calloc(b->n_ops, sizeof *b->ops);
  b->inputs = calloc(b->n_inputs + 1, sizeof *b->inputs);
  b->outputs = calloc(b->n_outputs, sizeof *b->outputs);
  pkt_status st = PKT_OUT_OF_MEMORY;
  if (!b->tensors || !b->ops || !b->inputs || !b->outputs) goto fail;
  if ((st = parse_tensors(base, size, toff, b, err)) != PKT_OK) goto fail;
  if ((st = parse_io(base + ioff, b->n_inputs, PKT_VK_T_INPUT, b->inputs, b, "input", err)) != PKT_OK) goto fail;
  if ((st = parse_io(base + ioff + 4ull * b->n_inputs, b->n_outputs, PKT_VK_T_OUTPUT, b->outputs, b, "output", err)) !=
      PKT_OK)
    goto fail;
  for (uint32_t i = 0; i < b->n_ops; i++) {
    const uint8_t* r = base + ooff + (uint64_t)i * OP_BYTES;
    pkt_vk_op* op = &b->ops[i];
    op->op = rd32(r);
    memcpy(op->bind, r + 4, sizeof op->bind);
    memcpy(op->p, r + 24, sizeof op->p);
    memcpy(op->f, r + 136, sizeof op->f);
    if (rd64(r + 152) != 0) {
      st = pkt_fail(err, PKT_BAD_PARAMS, "vulkan blob: op %u has non-zero reserved fields", i);
      goto fail;
    }
    for (int k = 0; k < PKT_VK_NF; k++)
      if (!isfinite(op->f[k])) {
        st = pkt_fail(err, PKT_BAD_PARAMS, "vulkan blob: op %u has a non-finite float parameter", i);
        goto fail;
      }
    check c = {b, op, i, err};
    if ((st = check_op(&c)) != PKT_OK) goto fail;
  }
  return PKT_OK;
fail:
  pkt_vk_blob_free(b);
  return st;
}

void pkt_vk_blob_free(pkt_vk_blob* b) {
  free(b->tensors);
  free(b->ops);
  free(b->inputs);
  free(b->outputs);
  memset(b, 0, sizeof *b);
}
