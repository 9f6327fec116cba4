/* Fault injection, for the numerical debugger's tests only: a build with -DPKT_FAULT_INJECTION reads
 * PKT_FAULT_INJECT=<instruction index | op name> when a session is created and perturbs the outputs of that
 * instruction (or of every instruction of that op) after each run of it, so the tests have a wrong kernel result
 * to find. Release builds define none of it: session.c's FAULT_ARMED is 0 and fault_apply is never compiled. */
#ifndef PKT_FAULT_INJECT_H
#define PKT_FAULT_INJECT_H

#ifdef PKT_FAULT_INJECTION
#include <math.h>

#include "core/program.h"

/* Platform hook: the PKT_FAULT_INJECT value, or NULL. */
const char* pkt_platform_fault_spec(void);

typedef struct pkt_fault {
  int index; /* instruction index, or -1 */
  int op;    /* op code, or -1 */
} pkt_fault;

static pkt_fault fault_parse(const pkt_program* p) {
  pkt_fault f = {-1, -1};
  const char* spec = pkt_platform_fault_spec();
  if (!spec || !*spec) return f;
  long index = 0;
  const char* c = spec;
  while (*c >= '0' && *c <= '9' && index < (1L << 30)) index = index * 10 + (*c++ - '0');
  if (!*c) {
    f.index = (int)index;
    return f;
  }
  for (int op = 1; op < PKT_OP_COUNT_; op++)
    if (pkt_op_names[op] && !strcmp(pkt_op_names[op], spec)) f.op = op;
  return f;
}

static int fault_armed(const pkt_fault* f) { return f->index >= 0 || f->op >= 0; }

/* Every element moves by a quarter of its size plus a quarter (floats), integers by one, booleans flip. */
static void fault_apply(const pkt_fault* f, int index, pkt_node* n) {
  if (index != f->index && (int)n->op != f->op) return;
  for (int k = 0; k < n->n_outputs; k++) {
    pkt_tensor* t = n->outputs[k];
    for (int64_t i = 0; i < t->numel; i++) {
      switch (t->dtype) {
        case PKT_F32: ((float*)t->data)[i] += 0.25f * (1.0f + fabsf(((float*)t->data)[i])); break;
        case PKT_I64: ((int64_t*)t->data)[i] += 1; break;
        case PKT_I32: ((int32_t*)t->data)[i] += 1; break;
        case PKT_I8: ((int8_t*)t->data)[i] += 1; break;
        case PKT_U8: ((uint8_t*)t->data)[i] += 1; break;
        case PKT_BOOL: ((uint8_t*)t->data)[i] ^= 1; break;
        default: break; /* float16: left as it is */
      }
    }
  }
}
#endif

#endif
