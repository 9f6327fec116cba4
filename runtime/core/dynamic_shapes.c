/* Dynamic shapes: the SHAPES section (FORMAT.md), its validation and the evaluation of dimension expressions.
 * A dynamic dim is an expression over the program's symbols (the exporter writes torch.export's, e.g. 2*s0 or
 * (s0 - 1) // 2 + 1) in postfix code. Everything here reads untrusted bytes, so every count, index, stack depth
 * and arithmetic step is bounded, and the loader checks each expression at the symbols' bounds against the plan. */
#include <string.h>

#include "core/program.h"

enum { SHAPES_HEADER = 16, SYMBOL_ENTRY = 32, DIM_ENTRY = 16, MAX_EXPR_WORDS = 256, MAX_STACK = 16 };
enum { X_CONST = 1, X_SYM, X_ADD, X_SUB, X_MUL, X_FLOORDIV, X_MOD, X_MAX, X_MIN };
#define MAX_DIM ((int64_t)1 << 31)
#define NO_STRING 0xFFFFFFFFu

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static int64_t rd64(const uint8_t* p) { return (int64_t)((uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32)); }

/* Values stay within +-2^62 so that no step can overflow int64. */
#define LIMIT ((int64_t)1 << 62)
static int in_limit(int64_t v) { return v >= -LIMIT && v <= LIMIT; }

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

pkt_status pkt_eval_dim(const pkt_dim_expr* e, const int64_t* symbols, int64_t* value) {
  int64_t stack[MAX_STACK];
  int depth = 0;
  for (uint32_t i = 0; i < e->n_words; i++) {
    int64_t op = rd64(e->words + 8 * (size_t)i);
    if (op == X_CONST || op == X_SYM) { /* validated: an argument follows and the stack has room */
      int64_t arg = rd64(e->words + 8 * (size_t)++i);
      stack[depth++] = op == X_CONST ? arg : symbols[arg];
      continue;
    }
    int64_t b = stack[--depth], a = stack[depth - 1], r;
    switch (op) {
      case X_ADD: r = a + b; break;
      case X_SUB: r = a - b; break;
      case X_MUL:
        if (a != 0 && (b > LIMIT / (a < 0 ? -a : a) || b < -LIMIT / (a < 0 ? -a : a))) return PKT_BAD_SHAPE;
        r = a * b;
        break;
      case X_FLOORDIV:
        if (b == 0) return PKT_BAD_SHAPE;
        r = floor_div(a, b);
        break;
      case X_MOD:
        if (b == 0) return PKT_BAD_SHAPE;
        r = a - floor_div(a, b) * b;
        break;
      case X_MAX: r = a > b ? a : b; break;
      default: r = a < b ? a : b; break; /* X_MIN */
    }
    if (!in_limit(r)) return PKT_BAD_SHAPE;
    stack[depth - 1] = r;
  }
  *value = stack[0];
  return PKT_OK;
}

/* Structure of one expression: known op codes, arguments present, symbols in range, constants within limits,
 * the stack never under- or overflowing and ending with exactly one value. */
static int expr_valid(const pkt_dim_expr* e, int n_symbols) {
  int depth = 0;
  for (uint32_t i = 0; i < e->n_words; i++) {
    int64_t op = rd64(e->words + 8 * (size_t)i);
    if (op == X_CONST || op == X_SYM) {
      if (i + 1 >= e->n_words || depth == MAX_STACK) return 0;
      int64_t arg = rd64(e->words + 8 * (size_t)++i);
      if (op == X_SYM ? (arg < 0 || arg >= n_symbols) : !in_limit(arg)) return 0;
      depth++;
    } else if (op >= X_ADD && op <= X_MIN) {
      if (depth < 2) return 0;
      depth--;
    } else {
      return 0;
    }
  }
  return depth == 1;
}

int pkt_dim_symbol(const pkt_dim_expr* e) { return (int)rd64(e->words + 8); }

/* The symbol an expression is exactly (`SYM k`), or -1. */
static int plain_symbol(const pkt_dim_expr* e) {
  return e->n_words == 2 && rd64(e->words) == X_SYM ? (int)rd64(e->words + 8) : -1;
}

static pkt_status parse_symbols(pkt_program* p, const uint8_t* b, uint32_t n, const char* strings, uint64_t strings_size,
                                pkt_err* err) {
  for (uint32_t k = 0; k < n; k++) {
    const uint8_t* e = b + SHAPES_HEADER + (size_t)k * SYMBOL_ENTRY;
    pkt_symbol* s = &p->symbols[k];
    uint32_t name = rd32(e);
    if (name == NO_STRING || name >= strings_size)
      return pkt_fail(err, PKT_BAD_OFFSET, "shapes: symbol %u has no name in the string section", k);
    s->name = strings + name;
    s->min = rd64(e + 8);
    s->max = rd64(e + 16);
    if (rd32(e + 4) != 0 || rd64(e + 24) != 0)
      return pkt_fail(err, PKT_BAD_SECTION, "shapes: symbol %u (%s): reserved fields are not 0", k, s->name);
    if (s->min < 1 || s->max < s->min || s->max > MAX_DIM)
      return pkt_fail(err, PKT_BAD_SHAPE, "shapes: symbol %s has the range %lld..%lld; expected 1 <= min <= max <= 2^31",
                      s->name, (long long)s->min, (long long)s->max);
  }
  return PKT_OK;
}

/* Each dynamic dim, evaluated at every symbol's max, is the dim the plan holds; at every min it is a size
 * inside it. Inputs' dynamic dims are plain symbols (a caller's shape gives their values) and each symbol is
 * one. */
static pkt_status check_bounds(pkt_program* p, pkt_err* err) {
  int64_t lo[PKT_MAX_SYMBOLS], hi[PKT_MAX_SYMBOLS];
  int on_input[PKT_MAX_SYMBOLS] = {0};
  for (int k = 0; k < p->n_symbols; k++) lo[k] = p->symbols[k].min, hi[k] = p->symbols[k].max;
  for (int i = 0; i < p->n_tensors; i++) {
    const pkt_tensor_desc* t = &p->tensors[i];
    int is_input = 0;
    for (int k = 0; k < p->n_inputs; k++) is_input |= p->io[k] == (uint32_t)i;
    for (int d = 0; d < t->rank; d++) {
      if (t->dim_expr[d] < 0) continue;
      const pkt_dim_expr* e = &p->exprs[t->dim_expr[d]];
      int64_t at_max, at_min;
      if (pkt_eval_dim(e, hi, &at_max) || pkt_eval_dim(e, lo, &at_min))
        return pkt_fail(err, PKT_BAD_SHAPE, "shapes: tensor %d (%s) dim %d cannot be computed at its symbols' bounds", i,
                        t->name, d);
      if (at_max != t->dims[d] || at_min < 0 || at_min > t->dims[d])
        return pkt_fail(err, PKT_BAD_SHAPE,
                        "shapes: tensor %d (%s) dim %d is %lld..%lld over its symbols' ranges; the plan holds %lld", i,
                        t->name, d, (long long)at_min, (long long)at_max, (long long)t->dims[d]);
      if (is_input) {
        int s = plain_symbol(e);
        if (s < 0)
          return pkt_fail(err, PKT_BAD_SHAPE, "shapes: input %s dim %d is an expression, not a symbol", t->name, d);
        on_input[s] = 1;
      }
    }
  }
  for (int k = 0; k < p->n_symbols; k++)
    if (!on_input[k])
      return pkt_fail(err, PKT_BAD_SHAPE, "shapes: symbol %s is no input's dim, so no call can give its value",
                      p->symbols[k].name);
  return PKT_OK;
}

pkt_status pkt_parse_shapes(pkt_program* p, uint64_t offset, uint64_t size, pkt_err* err) {
  const uint8_t* b = p->base + offset;
  if (size < SHAPES_HEADER) return pkt_fail(err, PKT_TRUNCATED, "shapes section is too small");
  uint32_t ns = rd32(b), nd = rd32(b + 4), nw = rd32(b + 8);
  if (rd32(b + 12) != 0) return pkt_fail(err, PKT_BAD_SECTION, "shapes section: reserved word is not 0");
  if (ns < 1 || ns > PKT_MAX_SYMBOLS)
    return pkt_fail(err, PKT_BAD_SHAPE, "shapes section declares %u symbols; expected 1..%d", ns, PKT_MAX_SYMBOLS);
  if (nd > (uint32_t)p->n_tensors * PKT_MAX_RANK)
    return pkt_fail(err, PKT_BAD_SHAPE, "shapes section declares %u dynamic dims for %d tensors", nd, p->n_tensors);
  const uint64_t need = SHAPES_HEADER + (uint64_t)ns * SYMBOL_ENTRY + (uint64_t)nd * DIM_ENTRY + (uint64_t)nw * 8;
  if (need != size)
    return pkt_fail(err, PKT_TRUNCATED, "shapes section is %llu bytes; its counts need %llu", (unsigned long long)size,
                    (unsigned long long)need);
  p->symbols = pkt_ws_calloc(p->ws, ns, sizeof(pkt_symbol));
  p->exprs = pkt_ws_calloc(p->ws, nd ? nd : 1, sizeof(pkt_dim_expr));
  if (!p->symbols || !p->exprs) return pkt_fail(err, PKT_OUT_OF_MEMORY, "no memory for the shape tables");
  p->n_symbols = (int)ns;
  p->n_exprs = (int)nd;
  pkt_status st = parse_symbols(p, b, ns, p->strings, p->strings_size, err);
  if (st) return st;
  const uint8_t* dims = b + SHAPES_HEADER + (size_t)ns * SYMBOL_ENTRY;
  const uint8_t* words = dims + (size_t)nd * DIM_ENTRY;
  for (uint32_t k = 0; k < nd; k++) {
    const uint8_t* e = dims + (size_t)k * DIM_ENTRY;
    uint32_t t = rd32(e), first = rd32(e + 8), len = rd32(e + 12);
    int d = e[4];
    if (e[5] || e[6] || e[7]) return pkt_fail(err, PKT_BAD_SECTION, "shapes: dim entry %u: reserved bytes are not 0", k);
    if (t >= (uint32_t)p->n_tensors) return pkt_fail(err, PKT_BAD_TENSOR_INDEX, "shapes: dim entry %u names tensor %u of %d", k, t, p->n_tensors);
    pkt_tensor_desc* td = &p->tensors[t];
    if (td->storage != 0) return pkt_fail(err, PKT_BAD_SHAPE, "shapes: tensor %u (%s) is a constant; only arena tensors vary", t, td->name);
    if (d >= td->rank) return pkt_fail(err, PKT_BAD_SHAPE, "shapes: tensor %u (%s) has no dim %d", t, td->name, d);
    if (td->dim_expr[d] >= 0) return pkt_fail(err, PKT_BAD_SHAPE, "shapes: tensor %u (%s) dim %d is given twice", t, td->name, d);
    if (len == 0 || len > MAX_EXPR_WORDS || first > nw || len > nw - first)
      return pkt_fail(err, PKT_BAD_OFFSET, "shapes: tensor %u (%s) dim %d: expression %u+%u lies outside the %u words", t,
                      td->name, d, first, len, nw);
    p->exprs[k] = (pkt_dim_expr){words + 8 * (size_t)first, len};
    if (!expr_valid(&p->exprs[k], (int)ns))
      return pkt_fail(err, PKT_BAD_SHAPE, "shapes: tensor %u (%s) dim %d: malformed expression", t, td->name, d);
    td->dim_expr[d] = (int32_t)k;
  }
  return check_bounds(p, err);
}
