/* Program loader. Trusts nothing: structure first (magic, version, sections, offsets, sizes,
 * alignment), then meaning (dtypes, ranks, dims, byte sizes, operand indices, op codes, def-before-use).
 * Every arithmetic on file values is overflow-checked. See FORMAT.md. */
#include <string.h>

#include "core/program.h"

enum { HEADER_SIZE = 64, SECTION_ENTRY = 24, TENSOR_ENTRY = 96, MAX_SECTIONS = 64 };
/* REFERENCE (since 1.1) is optional: placed and bounds-checked like the others, never parsed (tools read it).
 * SHAPES (since 1.2) is optional: a program without it is static (dynamic_shapes.c parses it). */
/* DELEGATES (since 1.3) is optional: a program without it runs on the CPU kernels only. */
enum { SEC_TENSORS = 1, SEC_CONSTANTS, SEC_INSTRUCTIONS, SEC_IO, SEC_METADATA, SEC_STRINGS, SEC_REFERENCE, SEC_SHAPES,
       SEC_DELEGATES, SEC_KINDS_ };
enum { DELEGATE_ENTRY = 32, MAX_DELEGATES = 256, MAX_BACKEND_NAME = 64 };
#define NO_STRING 0xFFFFFFFFu
#define MAX_DIM ((int64_t)1 << 31)

typedef struct section {
  uint64_t offset, size;
  int present;
} section;

static uint16_t rd16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t* p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

/* a + b <= limit without overflow */
static int fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

size_t pkt_dtype_size(int dtype) {
  switch (dtype) {
    case PKT_F32: case PKT_I32: return 4;
    case PKT_I64: return 8;
    case PKT_BOOL: case PKT_U8: case PKT_I8: return 1;
    case PKT_F16: return 2;
    default: return 0;
  }
}

static const char* string_at(const section* strings, const uint8_t* base, uint32_t ref) {
  if (ref == NO_STRING) return "";
  if (ref >= strings->size) return NULL;
  return (const char*)base + strings->offset + ref; /* section ends with NUL, checked */
}

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): the strings become names in
 * every binding (Python, Kotlin, Swift), whose decoders would otherwise fail outside the catalogue. */
static int valid_utf8(const uint8_t* s, uint64_t n) {
  uint64_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < (uint64_t)len) return 0;
    for (int k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += (uint64_t)len;
  }
  return 1;
}

/* 1 when bytes [p, p + n) are all zero (the format's reserved fields: a newer writer that sets them means
 * something this runtime does not know, so it must not guess). */
static int all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

static pkt_status parse_sections(pkt_program* p, section sec[SEC_KINDS_], pkt_err* err) {
  const uint8_t* b = p->base;
  if (p->size < HEADER_SIZE) return pkt_fail(err, PKT_TRUNCATED, "file is %zu bytes, smaller than the 64-byte header", p->size);
  if (memcmp(b, "PKTM", 4) != 0) return pkt_fail(err, PKT_BAD_MAGIC, "file does not start with the PKTM magic");
  unsigned major = rd16(b + 4), minor = rd16(b + 6);
  if (major != PKT_FORMAT_MAJOR)
    return pkt_fail(err, PKT_UNSUPPORTED_VERSION, "file format version %u.%u; this runtime reads version %d.x",
                    major, minor, PKT_FORMAT_MAJOR);
  if (rd32(b + 8) != HEADER_SIZE) return pkt_fail(err, PKT_BAD_SECTION, "header size is %u, expected 64", rd32(b + 8));
  if (rd32(b + 32) != 0) return pkt_fail(err, PKT_BAD_SECTION, "header flags are 0x%x, expected 0", rd32(b + 32));
  if (!all_zero(b + 36, 28)) return pkt_fail(err, PKT_BAD_SECTION, "header reserved bytes 36..63 are not zero");
  uint32_t count = rd32(b + 12);
  uint64_t file_size = rd64(b + 16);
  if (file_size > p->size)
    return pkt_fail(err, PKT_TRUNCATED, "header says %llu bytes but only %zu are present",
                    (unsigned long long)file_size, p->size);
  if (file_size < p->size)
    return pkt_fail(err, PKT_BAD_SECTION, "header says %llu bytes but the file has %zu",
                    (unsigned long long)file_size, p->size);
  p->arena_bytes = rd64(b + 24);
  if (p->arena_bytes > ((uint64_t)1 << 40))
    return pkt_fail(err, PKT_BAD_SHAPE, "planned arena of %llu bytes is beyond any device", (unsigned long long)p->arena_bytes);
  if (count == 0 || count > MAX_SECTIONS) return pkt_fail(err, PKT_BAD_SECTION, "section count %u out of range 1..64", count);
  if (!fits(HEADER_SIZE, (uint64_t)count * SECTION_ENTRY, p->size))
    return pkt_fail(err, PKT_TRUNCATED, "section table runs past the end of the file");
  memset(sec, 0, sizeof(section) * SEC_KINDS_);
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* e = b + HEADER_SIZE + (size_t)i * SECTION_ENTRY;
    uint32_t kind = rd32(e);
    uint64_t off = rd64(e + 8), size = rd64(e + 16);
    if (rd32(e + 4) != 0)
      return pkt_fail(err, PKT_BAD_SECTION, "section %u (kind %u): reserved field is %u, expected 0", i, kind, rd32(e + 4));
    if (!fits(off, size, p->size))
      return pkt_fail(err, PKT_BAD_OFFSET, "section %u (kind %u) at %llu+%llu lies outside the %zu-byte file", i, kind,
                      (unsigned long long)off, (unsigned long long)size, p->size);
    if (off % PKT_ALIGNMENT) return pkt_fail(err, PKT_BAD_ALIGNMENT, "section %u offset %llu is not 64-byte aligned", i, (unsigned long long)off);
    if (off < HEADER_SIZE + (uint64_t)count * SECTION_ENTRY && size > 0)
      return pkt_fail(err, PKT_BAD_OFFSET, "section %u overlaps the header", i);
    if (kind == 0 || kind >= SEC_KINDS_) continue; /* newer minor versions may add sections */
    if (sec[kind].present) return pkt_fail(err, PKT_BAD_SECTION, "section kind %u appears twice", kind);
    sec[kind] = (section){off, size, 1};
  }
  for (int k = 1; k < SEC_KINDS_; k++) {
    if (!sec[k].present && k != SEC_REFERENCE && k != SEC_SHAPES && k != SEC_DELEGATES) return pkt_fail(err, PKT_BAD_SECTION, "section kind %d is missing", k);
    for (int j = 1; j < k; j++) {
      if (sec[k].size && sec[j].size && sec[k].offset < sec[j].offset + sec[j].size &&
          sec[j].offset < sec[k].offset + sec[k].size)
        return pkt_fail(err, PKT_BAD_SECTION, "sections %d and %d overlap", j, k);
    }
  }
  const section* s = &sec[SEC_STRINGS];
  if (s->size == 0 || b[s->offset + s->size - 1] != 0)
    return pkt_fail(err, PKT_BAD_SECTION, "string section is empty or not NUL-terminated");
  if (!valid_utf8(b + s->offset, s->size)) return pkt_fail(err, PKT_BAD_SECTION, "string section is not valid UTF-8");
  return PKT_OK;
}

static pkt_status parse_tensors(pkt_program* p, const section* sec, const section* strings, pkt_err* err) {
  const uint8_t* b = p->base + sec->offset;
  if (sec->size < 8) return pkt_fail(err, PKT_TRUNCATED, "tensor section is too small");
  uint32_t count = rd32(b);
  if (rd32(b + 4) != 0) return pkt_fail(err, PKT_BAD_SECTION, "tensor section: reserved word after the count is not 0");
  if ((uint64_t)count * TENSOR_ENTRY > sec->size - 8)
    return pkt_fail(err, PKT_TRUNCATED, "tensor section holds fewer than its %u entries", count);
  p->n_tensors = (int)count;
  p->tensors = pkt_ws_calloc(p->ws, count ? count : 1, sizeof(pkt_tensor_desc));
  if (!p->tensors) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for %u tensor descriptors", count);
  uint64_t arena_end = 0; /* furthest byte any arena tensor uses */
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* e = b + 8 + (size_t)i * TENSOR_ENTRY;
    pkt_tensor_desc* t = &p->tensors[i];
    t->dtype = e[0];
    t->rank = e[1];
    t->storage = e[2];
    t->offset = rd64(e + 8);
    t->nbytes = rd64(e + 16);
    t->name = string_at(strings, p->base, rd32(e + 4));
    for (int d = 0; d < PKT_MAX_RANK; d++) t->dim_expr[d] = -1;
    if (!t->name) return pkt_fail(err, PKT_BAD_OFFSET, "tensor %u: name offset outside the string section", i);
    if (e[3] != 0 || rd64(e + 88) != 0)
      return pkt_fail(err, PKT_BAD_SECTION, "tensor %u (%s): reserved fields are not 0", i, t->name);
    size_t esize = pkt_dtype_size(t->dtype);
    if (!esize) return pkt_fail(err, PKT_BAD_DTYPE, "tensor %u (%s): unknown dtype %d", i, t->name, t->dtype);
    if (t->rank > PKT_MAX_RANK) return pkt_fail(err, PKT_BAD_SHAPE, "tensor %u (%s): rank %d exceeds %d", i, t->name, t->rank, PKT_MAX_RANK);
    uint64_t numel = 1;
    for (int d = 0; d < PKT_MAX_RANK; d++) {
      int64_t v = (int64_t)rd64(e + 24 + 8 * d);
      if (d >= t->rank) {
        if (v != 0) return pkt_fail(err, PKT_BAD_SHAPE, "tensor %u (%s): dim %d past rank %d is %lld, expected 0", i, t->name, d, t->rank, (long long)v);
        continue;
      }
      if (v < 0 || v > MAX_DIM)
        return pkt_fail(err, PKT_BAD_SHAPE, "tensor %u (%s): dim %d is %lld", i, t->name, d, (long long)v);
      t->dims[d] = v;
      if (v && numel > ((uint64_t)1 << 40) / (uint64_t)v)
        return pkt_fail(err, PKT_BAD_SHAPE, "tensor %u (%s): element count overflows", i, t->name);
      numel *= (uint64_t)v;
    }
    t->numel = (int64_t)numel;
    if (t->nbytes != numel * esize)
      return pkt_fail(err, PKT_BAD_SHAPE, "tensor %u (%s): byte size %llu does not match %llu elements of %zu bytes", i,
                      t->name, (unsigned long long)t->nbytes, (unsigned long long)numel, esize);
    if (t->offset % PKT_ALIGNMENT)
      return pkt_fail(err, PKT_BAD_ALIGNMENT, "tensor %u (%s): offset %llu is not 64-byte aligned", i, t->name, (unsigned long long)t->offset);
    if (t->storage == 0) {
      if (!fits(t->offset, t->nbytes, p->arena_bytes))
        return pkt_fail(err, PKT_BAD_OFFSET, "tensor %u (%s): arena range %llu+%llu exceeds the %llu-byte arena", i, t->name,
                        (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)p->arena_bytes);
      if (t->offset + t->nbytes > arena_end) arena_end = t->offset + t->nbytes;
    } else if (t->storage == 1) {
      if (!fits(t->offset, t->nbytes, p->constants_size))
        return pkt_fail(err, PKT_BAD_OFFSET, "tensor %u (%s): constant range %llu+%llu exceeds the %llu-byte constant section", i,
                        t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)p->constants_size);
    } else {
      return pkt_fail(err, PKT_BAD_SECTION, "tensor %u (%s): unknown storage kind %d", i, t->name, t->storage);
    }
  }
  /* The planned arena holds the arena tensors, nothing else (kernel scratch is planned at session
   * creation): a larger size would only make every session allocate and zero memory no tensor uses. */
  uint64_t planned = (arena_end + PKT_ALIGNMENT - 1) / PKT_ALIGNMENT * PKT_ALIGNMENT;
  if (p->arena_bytes > planned)
    return pkt_fail(err, PKT_BAD_SHAPE, "planned arena of %llu bytes is larger than its tensors use (%llu bytes)",
                    (unsigned long long)p->arena_bytes, (unsigned long long)planned);
  return PKT_OK;
}

static pkt_status parse_instructions(pkt_program* p, const section* sec, const section* strings, pkt_err* err) {
  const uint8_t* b = p->base + sec->offset;
  uint64_t size = sec->size;
  if (size < 8) return pkt_fail(err, PKT_TRUNCATED, "instruction section is too small");
  uint32_t count = rd32(b);
  if (rd32(b + 4) != 0) return pkt_fail(err, PKT_BAD_SECTION, "instruction section: reserved word after the count is not 0");
  if ((uint64_t)count * 16 > size - 8) return pkt_fail(err, PKT_TRUNCATED, "instruction section holds fewer than its %u records", count);
  p->n_instructions = (int)count;
  p->instructions = pkt_ws_calloc(p->ws, count ? count : 1, sizeof(pkt_instruction));
  if (!p->instructions) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for %u instructions", count);
  uint64_t pos = 8;
  for (uint32_t i = 0; i < count; i++) {
    if (!fits(pos, 16, size)) return pkt_fail(err, PKT_TRUNCATED, "instruction %u runs past its section", i);
    const uint8_t* r = b + pos;
    pkt_instruction* ins = &p->instructions[i];
    ins->op = rd32(r);
    ins->n_inputs = rd16(r + 4);
    ins->n_outputs = rd16(r + 6);
    ins->n_params = rd16(r + 8);
    ins->source = string_at(strings, p->base, rd32(r + 12));
    if (!ins->source) return pkt_fail(err, PKT_BAD_OFFSET, "instruction %u: source offset outside the string section", i);
    if (ins->op == 0 || ins->op >= PKT_OP_COUNT_ || !pkt_op_names[ins->op])
      return pkt_fail(err, PKT_UNKNOWN_OP, "instruction %u uses op code %u, unknown to this runtime", i, ins->op);
    uint64_t operand_bytes = ((uint64_t)(ins->n_inputs + ins->n_outputs) * 4 + 7) & ~(uint64_t)7;
    uint64_t total = 16 + operand_bytes + (uint64_t)ins->n_params * 8;
    if (!fits(pos, total, size)) return pkt_fail(err, PKT_TRUNCATED, "instruction %u (%s) runs past its section", i, pkt_op_names[ins->op]);
    const size_t used = (size_t)(ins->n_inputs + ins->n_outputs) * 4; /* then zero padding to 8 bytes */
    if (rd16(r + 10) != 0 || !all_zero(r + 16 + used, (size_t)operand_bytes - used))
      return pkt_fail(err, PKT_BAD_SECTION, "instruction %u (%s): reserved field or operand padding is not 0", i,
                      pkt_op_names[ins->op]);
    ins->operands = (const uint32_t*)(r + 16);
    ins->params = (const int64_t*)(r + 16 + operand_bytes);
    for (int k = 0; k < ins->n_inputs + ins->n_outputs; k++) {
      uint32_t t = rd32(r + 16 + 4 * k);
      if (t >= (uint32_t)p->n_tensors)
        return pkt_fail(err, PKT_BAD_TENSOR_INDEX, "instruction %u (%s): operand %d refers to tensor %u of %d", i,
                        pkt_op_names[ins->op], k, t, p->n_tensors);
    }
    pos += total;
  }
  return PKT_OK;
}

static pkt_status parse_io(pkt_program* p, const section* sec, pkt_err* err) {
  const uint8_t* b = p->base + sec->offset;
  if (sec->size < 8) return pkt_fail(err, PKT_TRUNCATED, "io section is too small");
  uint32_t ni = rd32(b), no = rd32(b + 4);
  if (ni > 4096 || no > 4096 || (uint64_t)(ni + no) * 4 > sec->size - 8)
    return pkt_fail(err, PKT_BAD_IO, "io section declares %u inputs and %u outputs but cannot hold them", ni, no);
  if (no == 0) return pkt_fail(err, PKT_BAD_IO, "program has no outputs");
  p->n_inputs = (int)ni;
  p->n_outputs = (int)no;
  p->io = pkt_ws_calloc(p->ws, (size_t)ni + no + 1, sizeof(uint32_t));
  if (!p->io) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for io table");
  for (uint32_t k = 0; k < ni + no; k++) {
    p->io[k] = rd32(b + 8 + 4 * k);
    if (p->io[k] >= (uint32_t)p->n_tensors)
      return pkt_fail(err, PKT_BAD_IO, "%s %u refers to tensor %u of %d", k < ni ? "input" : "output", k < ni ? k : k - ni,
                      p->io[k], p->n_tensors);
    if (p->tensors[p->io[k]].storage != 0)
      return pkt_fail(err, PKT_BAD_IO, "%s %u is not an arena tensor", k < ni ? "input" : "output", k < ni ? k : k - ni);
  }
  /* An output never shares bytes with an input: a caller may bind an input to its own (read-only) memory or
   * read outputs while it sets the next inputs. O(inputs x outputs), at most 4096^2 cheap checks. */
  for (uint32_t o = ni; o < ni + no; o++) {
    const pkt_tensor_desc* t = &p->tensors[p->io[o]];
    for (uint32_t k = 0; k < ni; k++) {
      const pkt_tensor_desc* in = &p->tensors[p->io[k]];
      if (p->io[o] == p->io[k] || (t->nbytes && in->nbytes && t->offset < in->offset + in->nbytes &&
                                   in->offset < t->offset + t->nbytes))
        return pkt_fail(err, PKT_BAD_IO, "output %u (%s) %s input %u (%s)", o - ni, t->name,
                        p->io[o] == p->io[k] ? "is" : "shares arena bytes with", k, in->name);
    }
  }
  return PKT_OK;
}

/* strlen(s) > max, reading at most max + 1 bytes (no strlen: the embedded build links only mem* and <math.h>). */
static int name_longer_than(const char* s, size_t max) {
  size_t n = 0;
  while (n <= max && s[n]) n++;
  return n > max;
}

/* DELEGATES: the table, then the blobs, each 64-byte aligned inside the section, in entry order, none overlapping. */
static pkt_status parse_delegates(pkt_program* p, const section* sec, const section* strings, pkt_err* err) {
  const uint8_t* b = p->base + sec->offset;
  if (sec->size < 8) return pkt_fail(err, PKT_TRUNCATED, "delegate section is too small");
  uint32_t count = rd32(b);
  if (rd32(b + 4) != 0) return pkt_fail(err, PKT_BAD_SECTION, "delegate section: reserved word after the count is not 0");
  if (count == 0 || count > MAX_DELEGATES)
    return pkt_fail(err, PKT_BAD_SECTION, "delegate section holds %u delegates, expected 1..%d", count, MAX_DELEGATES);
  const uint64_t table_end = 8 + (uint64_t)count * DELEGATE_ENTRY;
  if (table_end > sec->size) return pkt_fail(err, PKT_TRUNCATED, "delegate section holds fewer than its %u entries", count);
  p->n_delegates = (int)count;
  p->delegates = pkt_ws_calloc(p->ws, count, sizeof(pkt_delegate));
  if (!p->delegates) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for %u delegates", count);
  uint64_t prev_end = table_end;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t* e = b + table_end - (uint64_t)(count - i) * DELEGATE_ENTRY;
    pkt_delegate* d = &p->delegates[i];
    uint32_t name = rd32(e);
    uint64_t off = rd64(e + 8), size = rd64(e + 16);
    if (rd32(e + 4) != 0 || rd64(e + 24) != 0)
      return pkt_fail(err, PKT_BAD_SECTION, "delegate %u: reserved fields are not 0", i);
    d->backend = name == NO_STRING ? NULL : string_at(strings, p->base, name);
    if (!d->backend || !d->backend[0] || name_longer_than(d->backend, MAX_BACKEND_NAME))
      return pkt_fail(err, PKT_BAD_OFFSET, "delegate %u: its backend name is missing, empty, longer than %d bytes or "
                      "outside the string section", i, MAX_BACKEND_NAME);
    if (off % PKT_ALIGNMENT)
      return pkt_fail(err, PKT_BAD_ALIGNMENT, "delegate %u (%s): blob offset %llu is not 64-byte aligned", i, d->backend,
                      (unsigned long long)off);
    if (size == 0 || off < prev_end || !fits(off, size, sec->size))
      return pkt_fail(err, PKT_BAD_OFFSET, "delegate %u (%s): blob at %llu+%llu is empty, overlaps the table or the blob "
                      "before it, or runs past the %llu-byte section", i, d->backend, (unsigned long long)off,
                      (unsigned long long)size, (unsigned long long)sec->size);
    d->blob = b + off;
    d->blob_size = size;
    d->instruction = -1;
    prev_end = off + size;
  }
  return PKT_OK;
}

/* An output may share arena bytes with an input only as an exact alias of input 0, and only for ops the
 * op table marks in-place (the planner's reshape aliasing and in-place elementwise ops). Any other overlap would let a kernel's writes change input data it has
 * already validated, e.g. the indices of take/gather, between the check and the use. Inputs are sorted
 * by offset so the check is O(n log n) per instruction however many operands a record claims. */
typedef struct span {
  uint64_t lo, hi; /* [lo, hi) in the arena */
  int input;       /* input position, for the message */
} span;

/* Heap sort by lo (ties by input position): O(n log n) on any input and no libc, so embedded builds
 * need no qsort. */
static int span_before(const span* a, const span* b) { return a->lo < b->lo || (a->lo == b->lo && a->input < b->input); }

static void sift_down(span* s, int root, int n) {
  for (int child; (child = 2 * root + 1) < n; root = child) {
    if (child + 1 < n && span_before(&s[child], &s[child + 1])) child++;
    if (!span_before(&s[root], &s[child])) return;
    span t = s[root];
    s[root] = s[child];
    s[child] = t;
  }
}

static void sort_spans(span* s, int n) {
  for (int i = n / 2 - 1; i >= 0; i--) sift_down(s, i, n);
  for (int end = n - 1; end > 0; end--) {
    span t = s[0];
    s[0] = s[end];
    s[end] = t;
    sift_down(s, 0, end);
  }
}

static pkt_status check_overlaps(const pkt_program* p, int i, const pkt_instruction* ins, span* spans, pkt_err* err) {
  const uint8_t* ops = (const uint8_t*)ins->operands;
  int n = 0;
  for (int m = 1; m < ins->n_inputs; m++) {
    const pkt_tensor_desc* t = &p->tensors[rd32(ops + 4 * m)];
    if (t->storage == 0 && t->nbytes) spans[n++] = (span){t->offset, t->offset + t->nbytes, m};
  }
  sort_spans(spans, n);
  for (int k = 1; k < n; k++) /* hi becomes the running maximum of the ends */
    if (spans[k].hi < spans[k - 1].hi) spans[k].hi = spans[k - 1].hi, spans[k].input = spans[k - 1].input;
  const pkt_tensor_desc* in0 = ins->n_inputs ? &p->tensors[rd32(ops)] : NULL;
  for (int k = 0; k < ins->n_outputs; k++) {
    const pkt_tensor_desc* o = &p->tensors[rd32(ops + 4 * (ins->n_inputs + k))];
    if (!o->nbytes) continue;
    uint64_t lo = o->offset, hi = o->offset + o->nbytes;
    int bad = -1;
    if (in0 && in0->storage == 0 && in0->nbytes && lo < in0->offset + in0->nbytes && in0->offset < hi &&
        !(pkt_op_inplace[ins->op] && lo == in0->offset && o->nbytes == in0->nbytes))
      bad = 0;
    /* inputs starting before hi: the first `c` sorted spans; one of them overlaps iff their max end > lo */
    int a = 0, b = n;
    while (a < b) {
      int mid = a + (b - a) / 2;
      if (spans[mid].lo < hi) a = mid + 1;
      else b = mid;
    }
    if (bad < 0 && a > 0 && spans[a - 1].hi > lo) bad = spans[a - 1].input;
    if (bad >= 0) {
      const pkt_tensor_desc* t = &p->tensors[rd32(ops + 4 * bad)];
      return pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (%s): output %d (%s) overlaps input %d (%s) in the arena", i,
                      pkt_op_names[ins->op], k, o->name, bad, t->name);
    }
  }
  return PKT_OK;
}

/* Tensor states during the dataflow check. */
enum { UNWRITTEN = 0, WRITTEN, PROGRAM_INPUT, IN_FALLBACK, FALLBACK_ONLY };
/* Roles in the delegate whose fallback range is open (a bit mask, cleared when the range closes). */
enum { DELEGATE_INPUT = 1, DELEGATE_OUTPUT = 2 };

static int64_t param_at(const pkt_instruction* ins, int k) {
  int64_t v;
  memcpy(&v, ins->params + k, sizeof v);
  return v;
}

/* A delegate instruction opens its fallback range: its entry is used once, the range lies inside the program,
 * its outputs are distinct arena tensors nothing wrote yet. They count as written when the range has written them. */
static pkt_status open_delegate(pkt_program* p, int i, const pkt_instruction* ins, uint8_t* state, uint8_t* role,
                                int* range_end, pkt_err* err) {
  if (ins->n_params != PKT_DELEGATE_NUM_PARAMS)
    return pkt_fail(err, PKT_BAD_PARAMS, "instruction %d (delegate) has %d parameters, expected %d", i, ins->n_params,
                    PKT_DELEGATE_NUM_PARAMS);
  if (p->n_symbols) return pkt_fail(err, PKT_NOT_SUPPORTED, "instruction %d: delegates need static shapes", i);
  const int64_t d = param_at(ins, 0), fallback = param_at(ins, 1);
  if (d < 0 || d >= p->n_delegates)
    return pkt_fail(err, PKT_BAD_PARAMS, "instruction %d (delegate) names delegate %lld of %d", i, (long long)d, p->n_delegates);
  if (p->delegates[d].instruction >= 0)
    return pkt_fail(err, PKT_BAD_PARAMS, "instruction %d (delegate) reuses delegate %lld of instruction %d", i,
                    (long long)d, p->delegates[d].instruction);
  if (fallback < 1 || fallback > (int64_t)p->n_instructions - 1 - i)
    return pkt_fail(err, PKT_BAD_PARAMS, "instruction %d (delegate %lld): a fallback of %lld instructions does not fit "
                    "the %d after it", i, (long long)d, (long long)fallback, p->n_instructions - 1 - i);
  if (ins->n_outputs == 0) return pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (delegate %lld) has no outputs", i, (long long)d);
  p->delegates[d].instruction = i;
  p->delegates[d].fallback = (int)fallback;
  *range_end = i + (int)fallback;
  const uint8_t* ops = (const uint8_t*)ins->operands;
  for (int k = 0; k < ins->n_inputs; k++) role[rd32(ops + 4 * k)] |= DELEGATE_INPUT;
  for (int k = 0; k < ins->n_outputs; k++) {
    uint32_t t = rd32(ops + 4 * (ins->n_inputs + k));
    if (p->tensors[t].storage != 0 || state[t] != UNWRITTEN || (role[t] & DELEGATE_OUTPUT))
      return pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (delegate %lld): output %d (%s) is a constant, an input, "
                      "already written or listed twice", i, (long long)d, k, p->tensors[t].name);
    role[t] |= DELEGATE_OUTPUT;
  }
  return PKT_OK;
}

/* The range closes: the fallback wrote every delegate output; what else it wrote only exists when the fallback
 * runs, so no later instruction or program output may read it. */
static pkt_status close_delegate(const pkt_program* p, int i, uint8_t* state, uint8_t* role, pkt_err* err) {
  const pkt_instruction* del = &p->instructions[i];
  const uint8_t* ops = (const uint8_t*)del->operands;
  pkt_status st = PKT_OK;
  for (int k = 0; k < del->n_outputs; k++) {
    uint32_t t = rd32(ops + 4 * (del->n_inputs + k));
    if (state[t] != IN_FALLBACK && st == PKT_OK)
      st = pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (delegate): its fallback never writes output %d (%s)", i, k,
                    p->tensors[t].name);
    state[t] = WRITTEN;
  }
  for (int j = i + 1; j <= i + (int)param_at(del, 1); j++) {
    const pkt_instruction* ins = &p->instructions[j];
    const uint8_t* o = (const uint8_t*)ins->operands;
    for (int k = 0; k < ins->n_outputs; k++) {
      uint32_t t = rd32(o + 4 * (ins->n_inputs + k));
      if (state[t] == IN_FALLBACK) state[t] = FALLBACK_ONLY;
    }
  }
  for (int k = 0; k < del->n_inputs + del->n_outputs; k++) role[rd32(ops + 4 * k)] = 0;
  return st;
}

/* Meaning: every tensor read is a constant, an input, or written earlier; no tensor written twice;
 * inputs and constants never written. A delegate's fallback reads only the delegate's inputs, constants and what
 * it wrote itself (so the delegate's input list is complete), and writes every delegate output. */
static pkt_status check_dataflow(pkt_program* p, pkt_err* err) {
  int max_inputs = 0;
  for (int i = 0; i < p->n_instructions; i++)
    if (p->instructions[i].n_inputs > max_inputs) max_inputs = p->instructions[i].n_inputs;
  uint8_t* state = pkt_ws_calloc(p->ws, (size_t)p->n_tensors + 1, 1);
  uint8_t* role = pkt_ws_calloc(p->ws, (size_t)p->n_tensors + 1, 1);
  span* spans = pkt_ws_calloc(p->ws, (size_t)max_inputs + 1, sizeof(span));
  if (!state || !role || !spans) {
    pkt_ws_free(p->ws, spans);
    pkt_ws_free(p->ws, role);
    pkt_ws_free(p->ws, state);
    return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for dataflow check");
  }
  pkt_status st = PKT_OK;
  int open = -1, range_end = -1; /* the delegate instruction whose fallback range is open, and its last instruction */
  for (int k = 0; k < p->n_inputs; k++) state[p->io[k]] = PROGRAM_INPUT;
  for (int i = 0; i < p->n_instructions && st == PKT_OK; i++) {
    const pkt_instruction* ins = &p->instructions[i];
    const uint8_t* ops = (const uint8_t*)ins->operands;
    const int is_delegate = ins->op == PKT_OP_DELEGATE;
    if (is_delegate && open >= 0) {
      st = pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (delegate) lies inside the fallback of instruction %d", i, open);
      break;
    }
    for (int k = 0; k < ins->n_inputs; k++) {
      uint32_t t = rd32(ops + 4 * k);
      if (p->tensors[t].storage != 0) continue;
      if (state[t] == UNWRITTEN || state[t] == FALLBACK_ONLY) {
        st = pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (%s) reads tensor %u (%s) before it is written%s", i,
                      pkt_op_names[ins->op], t, p->tensors[t].name,
                      state[t] == FALLBACK_ONLY ? " (only a delegate's fallback writes it)" : "");
        break;
      }
      if (open >= 0 && state[t] != IN_FALLBACK && !(role[t] & DELEGATE_INPUT)) {
        st = pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (%s) in the fallback of delegate instruction %d reads tensor "
                      "%u (%s), which is not one of the delegate's inputs", i, pkt_op_names[ins->op], open, t,
                      p->tensors[t].name);
        break;
      }
    }
    if (st == PKT_OK && is_delegate) {
      st = open_delegate(p, i, ins, state, role, &range_end, err);
      if (st == PKT_OK) open = i;
    }
    for (int k = 0; k < ins->n_outputs && st == PKT_OK && !is_delegate; k++) {
      uint32_t t = rd32(ops + 4 * (ins->n_inputs + k));
      if (p->tensors[t].storage != 0 || state[t] != UNWRITTEN)
        st = pkt_fail(err, PKT_BAD_OPERANDS, "instruction %d (%s) writes tensor %u (%s), which is %s", i, pkt_op_names[ins->op],
                      t, p->tensors[t].name, p->tensors[t].storage ? "a constant" : "already written or an input");
      state[t] = open >= 0 ? IN_FALLBACK : WRITTEN;
    }
    if (st == PKT_OK) st = check_overlaps(p, i, ins, spans, err);
    if (st == PKT_OK && open >= 0 && i == range_end) {
      st = close_delegate(p, open, state, role, err);
      open = -1;
    }
  }
  for (int d = 0; d < p->n_delegates && st == PKT_OK; d++)
    if (p->delegates[d].instruction < 0)
      st = pkt_fail(err, PKT_BAD_SECTION, "delegate %d (%s) has no delegate instruction", d, p->delegates[d].backend);
  for (int k = 0; k < p->n_outputs && st == PKT_OK; k++) {
    uint32_t t = p->io[p->n_inputs + k];
    if (state[t] != WRITTEN) st = pkt_fail(err, PKT_BAD_IO, "output %d (%s) is never written%s", k, p->tensors[t].name,
                                            state[t] == FALLBACK_ONLY ? " outside a delegate's fallback" : "");
  }
  pkt_ws_free(p->ws, spans);
  pkt_ws_free(p->ws, role);
  pkt_ws_free(p->ws, state);
  return st;
}

static pkt_status parse(pkt_program* p, pkt_err* err) {
  section sec[SEC_KINDS_];
  pkt_status st = parse_sections(p, sec, err);
  if (st) return st;
  p->constants = p->base + sec[SEC_CONSTANTS].offset;
  p->constants_size = sec[SEC_CONSTANTS].size;
  p->metadata = (const char*)p->base + sec[SEC_METADATA].offset;
  p->metadata_size = (size_t)sec[SEC_METADATA].size;
  if ((st = parse_tensors(p, &sec[SEC_TENSORS], &sec[SEC_STRINGS], err))) return st;
  if ((st = parse_instructions(p, &sec[SEC_INSTRUCTIONS], &sec[SEC_STRINGS], err))) return st;
  if ((st = parse_io(p, &sec[SEC_IO], err))) return st;
  p->strings = (const char*)p->base + sec[SEC_STRINGS].offset;
  p->strings_size = sec[SEC_STRINGS].size;
  if (sec[SEC_SHAPES].present && (st = pkt_parse_shapes(p, sec[SEC_SHAPES].offset, sec[SEC_SHAPES].size, err))) return st;
  if (sec[SEC_DELEGATES].present && (st = parse_delegates(p, &sec[SEC_DELEGATES], &sec[SEC_STRINGS], err))) return st;
  return check_dataflow(p, err);
}

void pkt_program_free(pkt_program* p) {
  if (!p) return;
  pkt_ws_free(p->ws, p->delegates);
  pkt_ws_free(p->ws, p->exprs);
  pkt_ws_free(p->ws, p->symbols);
  pkt_ws_free(p->ws, p->io);
  pkt_ws_free(p->ws, p->instructions);
  pkt_ws_free(p->ws, p->tensors);
  if (p->owned) pkt_aligned_free(p->owned);
  if (p->mapping) pkt_unmap_file(p->mapping, p->mapping_size);
  pkt_ws_free(p->ws, p);
}

static pkt_status finish_load(pkt_program* p, pkt_program** out, pkt_err* err) {
  pkt_status st = parse(p, err);
  if (st) {
    pkt_program_free(p);
    return st;
  }
  *out = p;
  return PKT_OK;
}

static pkt_status load_buffer(const void* data, size_t size, int copy, pkt_workspace* ws, pkt_program** out,
                              pkt_err* err) {
  if (!out || (!data && size)) return pkt_fail(err, PKT_INVALID_ARGUMENT, "program output pointer or data is NULL");
  *out = NULL;
  if (!copy && ((uintptr_t)data % PKT_ALIGNMENT))
    return pkt_fail(err, PKT_BAD_ALIGNMENT, "buffer is not 64-byte aligned; pass copy=1 or align it");
  pkt_program* p = pkt_ws_calloc(ws, 1, sizeof *p);
  if (!p)
    return pkt_fail(err, PKT_OUT_OF_MEMORY, ws ? "the workspace has no room for the program" : "no memory for the program");
  p->ws = ws;
  if (copy) {
    p->owned = pkt_aligned_alloc(PKT_ALIGNMENT, size ? size : 1);
    if (!p->owned) {
      pkt_ws_free(ws, p);
      return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory to copy a %zu-byte program", size);
    }
    if (size) memcpy(p->owned, data, size);
    p->base = p->owned;
  } else {
    p->base = data;
  }
  p->size = size;
  return finish_load(p, out, err);
}

pkt_status pkt_program_load_buffer(const void* data, size_t size, int copy, pkt_program** out, char* err_buf,
                                   size_t err_size) {
  pkt_err err = {err_buf, err_size};
  return load_buffer(data, size, copy, NULL, out, &err);
}

pkt_status pkt_program_load_buffer_in(const void* data, size_t size, pkt_workspace* ws, pkt_program** out,
                                      char* err_buf, size_t err_size) {
  pkt_err err = {err_buf, err_size};
  if (!ws) return pkt_fail(&err, PKT_INVALID_ARGUMENT, "workspace is NULL; use pkt_program_load_buffer for the heap");
  return load_buffer(data, size, 0, ws, out, &err);
}

pkt_status pkt_program_load_file(const char* path, pkt_program** out, char* err_buf, size_t err_size) {
  pkt_err err = {err_buf, err_size};
  if (!out || !path) return pkt_fail(&err, PKT_INVALID_ARGUMENT, "path or program output pointer is NULL");
  *out = NULL;
  pkt_program* p = pkt_ws_calloc(NULL, 1, sizeof *p);
  if (!p) return pkt_fail(&err, PKT_OUT_OF_MEMORY, "no memory for the program");
  pkt_status st = pkt_map_file(path, &p->mapping, &p->mapping_size, &err);
  if (st) {
    pkt_ws_free(NULL, p);
    return st;
  }
  p->base = p->mapping;
  p->size = p->mapping_size;
  return finish_load(p, out, &err);
}

int pkt_program_num_inputs(const pkt_program* p) { return p ? p->n_inputs : 0; }
int pkt_program_num_outputs(const pkt_program* p) { return p ? p->n_outputs : 0; }
size_t pkt_program_arena_bytes(const pkt_program* p) { return p ? (size_t)p->arena_bytes : 0; }
int pkt_program_num_instructions(const pkt_program* p) { return p ? p->n_instructions : 0; }

const char* pkt_program_instruction_op(const pkt_program* p, int i) {
  return (p && i >= 0 && i < p->n_instructions) ? pkt_op_names[p->instructions[i].op] : NULL;
}
const char* pkt_program_instruction_source(const pkt_program* p, int i) {
  return (p && i >= 0 && i < p->n_instructions) ? p->instructions[i].source : NULL;
}
int pkt_program_instruction_num_outputs(const pkt_program* p, int i) {
  return (p && i >= 0 && i < p->n_instructions) ? p->instructions[i].n_outputs : 0;
}

const char* pkt_program_metadata(const pkt_program* p, size_t* len) {
  if (len) *len = p ? p->metadata_size : 0;
  return p ? p->metadata : NULL;
}

static pkt_status io_info(const pkt_program* p, int index, int count, int base, pkt_tensor_info* info) {
  if (!p || !info || index < 0 || index >= count) return PKT_INVALID_ARGUMENT;
  const pkt_tensor_desc* t = &p->tensors[p->io[base + index]];
  memset(info, 0, sizeof *info);
  info->name = t->name;
  info->dtype = t->dtype;
  info->rank = t->rank;
  memcpy(info->dims, t->dims, sizeof info->dims);
  info->nbytes = (size_t)t->nbytes;
  return PKT_OK;
}

pkt_status pkt_program_input_info(const pkt_program* p, int i, pkt_tensor_info* info) {
  return io_info(p, i, p ? p->n_inputs : 0, 0, info);
}
pkt_status pkt_program_output_info(const pkt_program* p, int i, pkt_tensor_info* info) {
  return io_info(p, i, p ? p->n_outputs : 0, p ? p->n_inputs : 0, info);
}

int pkt_program_num_symbols(const pkt_program* p) { return p ? p->n_symbols : 0; }

pkt_status pkt_program_symbol(const pkt_program* p, int k, const char** name, int64_t* min, int64_t* max) {
  if (!p || k < 0 || k >= p->n_symbols) return PKT_INVALID_ARGUMENT;
  if (name) *name = p->symbols[k].name;
  if (min) *min = p->symbols[k].min;
  if (max) *max = p->symbols[k].max;
  return PKT_OK;
}

int pkt_program_input_dim_symbol(const pkt_program* p, int index, int dim) {
  if (!p || index < 0 || index >= p->n_inputs) return -1;
  const pkt_tensor_desc* t = &p->tensors[p->io[index]];
  if (dim < 0 || dim >= t->rank || t->dim_expr[dim] < 0) return -1;
  return pkt_dim_symbol(&p->exprs[t->dim_expr[dim]]);
}

const char* pkt_runtime_version(void) { return "0.1.0"; }
