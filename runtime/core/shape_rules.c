/* Shape rules: a program with dynamic dims recomputes every instruction's output shape before it runs, from its
 * inputs' current shapes, by its op's rule (op table `shape`, PKT_SHAPE_*). Where the file also declares an
 * output dim (SHAPES: torch.export's own expression), the two must agree, so a wrong rule or a lying file stops
 * with an error instead of running a kernel on a shape nobody checked. "declared" ops take the file's dims. */
#include "core/program.h"

typedef struct shape {
  int rank;
  int64_t d[PKT_MAX_RANK];
  int known[PKT_MAX_RANK]; /* 1 where the rule computed the dim */
} shape;

static void set_all(shape* s, const pkt_tensor* t) {
  for (int i = 0; i < s->rank && i < t->rank; i++) s->d[i] = t->dims[i], s->known[i] = 1;
}

/* NumPy broadcasting of every input, right-aligned, into s (rank as the output's). */
static int rule_broadcast(const pkt_node* n, shape* s) {
  for (int i = 0; i < s->rank; i++) s->d[i] = 1, s->known[i] = 1;
  for (int k = 0; k < n->n_inputs; k++) {
    const pkt_tensor* t = n->inputs[k];
    if (t->rank > s->rank) return 0;
    for (int i = 0; i < t->rank; i++) {
      int o = i + s->rank - t->rank;
      int64_t v = t->dims[i];
      if (v == s->d[o] || v == 1) continue;
      if (s->d[o] != 1) return 0;
      s->d[o] = v;
    }
  }
  return 1;
}

static int rule_matmul(const pkt_node* n, shape* s) {
  const pkt_tensor *a = n->inputs[0], *b = n->inputs[1];
  if (a->rank < 2 || b->rank < 2 || s->rank < 2) return 0;
  const int tb = pkt_param_i(n, PKT_MATMUL_TRANSPOSE_B) != 0;
  for (int i = 0; i < s->rank - 2; i++) {
    int ia = i - (s->rank - a->rank), ib = i - (s->rank - b->rank);
    int64_t ea = ia >= 0 ? a->dims[ia] : 1, eb = ib >= 0 ? b->dims[ib] : 1;
    if (ea != eb && ea != 1 && eb != 1) return 0;
    s->d[i] = ea == 1 ? eb : ea, s->known[i] = 1;
  }
  s->d[s->rank - 2] = a->dims[a->rank - 2], s->known[s->rank - 2] = 1;
  s->d[s->rank - 1] = b->dims[b->rank - (tb ? 2 : 1)], s->known[s->rank - 1] = 1;
  return 1;
}

static int rule_permute(const pkt_node* n, shape* s) {
  const pkt_tensor* x = n->inputs[0];
  if (n->n_params - PKT_PERMUTE_PERM != s->rank || x->rank != s->rank) return 0;
  for (int i = 0; i < s->rank; i++) {
    int64_t p = pkt_param_i(n, PKT_PERMUTE_PERM + i);
    if (p < 0 || p >= x->rank) return 0;
    s->d[i] = x->dims[p], s->known[i] = 1;
  }
  return 1;
}

static int rule_concat(const pkt_node* n, shape* s) {
  int64_t axis = pkt_param_i(n, PKT_CONCAT_AXIS);
  if (axis < 0) axis += s->rank;
  if (axis < 0 || axis >= s->rank || n->inputs[0]->rank != s->rank) return 0;
  set_all(s, n->inputs[0]);
  int64_t sum = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    if (n->inputs[k]->rank != s->rank) return 0;
    sum += n->inputs[k]->dims[axis];
  }
  s->d[axis] = sum;
  return 1;
}

/* numpy.take: x.shape[:axis] + idx.shape + x.shape[axis+1:]. */
static int rule_take(const pkt_node* n, shape* s) {
  const pkt_tensor *x = n->inputs[0], *idx = n->inputs[1];
  int64_t axis = pkt_param_i(n, PKT_TAKE_AXIS);
  if (axis < 0 || axis >= x->rank || s->rank != x->rank - 1 + idx->rank) return 0;
  int o = 0;
  for (int i = 0; i < axis; i++) s->d[o] = x->dims[i], s->known[o++] = 1;
  for (int i = 0; i < idx->rank; i++) s->d[o] = idx->dims[i], s->known[o++] = 1;
  for (int i = (int)axis + 1; i < x->rank; i++) s->d[o] = x->dims[i], s->known[o++] = 1;
  return 1;
}

/* reduce / arg_reduce: the reduced axes become 1 (keepdim: the output keeps the input's rank) or go. */
static int rule_reduce(const pkt_node* n, shape* s) {
  const pkt_tensor* x = n->inputs[0];
  int reduced[PKT_MAX_RANK] = {0}, count = 0;
  if (n->op == PKT_OP_ARG_REDUCE) {
    int64_t a = pkt_param_i(n, PKT_ARG_REDUCE_AXIS);
    if (a < 0 || a >= x->rank) return 0;
    reduced[a] = 1;
  } else if (n->n_params == PKT_REDUCE_AXES) {
    for (int i = 0; i < x->rank; i++) reduced[i] = 1;
  } else {
    for (int k = PKT_REDUCE_AXES; k < n->n_params; k++) {
      int64_t a = pkt_param_i(n, k);
      if (a < 0 || a >= x->rank) return 0;
      reduced[a] = 1;
    }
  }
  for (int i = 0; i < x->rank; i++) count += reduced[i];
  const int keep = s->rank == x->rank;
  if (!keep && s->rank != x->rank - count) return 0;
  int o = 0;
  for (int i = 0; i < x->rank; i++) {
    if (reduced[i] && !keep) continue;
    s->d[o] = reduced[i] ? 1 : x->dims[i], s->known[o++] = 1;
  }
  return 1;
}

/* conv2d and the fused conv pairs: batch from the input, channels as planned, the spatial dims by the window
 * formula over the stride, padding and dilation parameters (consecutive in each op) and the kernel's size. */
static int rule_window(const pkt_node* n, shape* s) {
  int first, kernel_input;
  switch (n->op) {
    case PKT_OP_CONV2D: first = PKT_CONV2D_STRIDE_H, kernel_input = 1; break;
    case PKT_OP_CONV_PW_DW: first = PKT_CONV_PW_DW_STRIDE_H, kernel_input = 3; break;
    default: first = PKT_CONV_DW_PW_STRIDE_H, kernel_input = 1; break;
  }
  const pkt_tensor *x = n->inputs[0], *w = n->inputs[kernel_input];
  if (x->rank != 4 || w->rank != 4 || s->rank != 4 || n->n_params < first + 6) return 0;
  s->d[0] = x->dims[0], s->known[0] = 1;
  for (int a = 0; a < 2; a++) {
    int64_t st = pkt_param_i(n, first + a), pad = pkt_param_i(n, first + 2 + a), dil = pkt_param_i(n, first + 4 + a);
    int64_t k = w->dims[2 + a], in = x->dims[2 + a];
    if (st < 1 || pad < 0 || dil < 1 || pad > ((int64_t)1 << 31) || dil > ((int64_t)1 << 31)) return 0;
    int64_t span = in + 2 * pad - dil * (k - 1) - 1;
    s->d[2 + a] = span < 0 ? 0 : span / st + 1, s->known[2 + a] = 1;
  }
  return 1;
}

static int apply_rule(const pkt_node* n, shape* s) {
  switch (pkt_op_shape_rule[n->op]) {
    case PKT_SHAPE_SAME:
      if (n->inputs[0]->rank != s->rank) return 0;
      set_all(s, n->inputs[0]);
      return 1;
    case PKT_SHAPE_BROADCAST: return rule_broadcast(n, s);
    case PKT_SHAPE_LINEAR:
      if (n->inputs[0]->rank != s->rank) return 0;
      set_all(s, n->inputs[0]);
      s->known[s->rank - 1] = 0; /* the features: as planned */
      return 1;
    case PKT_SHAPE_MATMUL: return rule_matmul(n, s);
    case PKT_SHAPE_PERMUTE: return rule_permute(n, s);
    case PKT_SHAPE_CONCAT: return rule_concat(n, s);
    case PKT_SHAPE_TAKE: return rule_take(n, s);
    case PKT_SHAPE_SDPA:
      if (n->inputs[0]->rank != s->rank || n->inputs[2]->rank < 1) return 0;
      set_all(s, n->inputs[0]);
      s->d[s->rank - 1] = n->inputs[2]->dims[n->inputs[2]->rank - 1];
      return 1;
    case PKT_SHAPE_REDUCE: return rule_reduce(n, s);
    case PKT_SHAPE_WINDOW: return rule_window(n, s);
    default: return 1; /* PKT_SHAPE_DECLARED: nothing computed */
  }
}

pkt_status pkt_infer_output_shapes(const pkt_program* p, const pkt_instruction* ins, pkt_node* node,
                                   const int64_t* symbols, pkt_err* err) {
  for (int k = 0; k < node->n_outputs; k++) {
    uint32_t idx;
    memcpy(&idx, ins->operands + ins->n_inputs + k, sizeof idx);
    const pkt_tensor_desc* desc = &p->tensors[idx];
    pkt_tensor* out = node->outputs[k];
    shape s;
    memset(&s, 0, sizeof s);
    s.rank = desc->rank;
    if (k == 0 && !apply_rule(node, &s))
      return pkt_fail(err, PKT_BAD_SHAPE, "%s (%s): the inputs' shapes do not give an output shape", pkt_op_names[node->op],
                      desc->name);
    uint64_t numel = 1;
    for (int d = 0; d < s.rank; d++) {
      int64_t v = desc->dims[d];
      if (desc->dim_expr[d] >= 0) {
        int64_t declared;
        if (pkt_eval_dim(&p->exprs[desc->dim_expr[d]], symbols, &declared))
          return pkt_fail(err, PKT_BAD_SHAPE, "%s: dim %d cannot be computed from the symbols", desc->name, d);
        if (s.known[d] && s.d[d] != declared)
          return pkt_fail(err, PKT_BAD_SHAPE, "%s (%s): dim %d is %lld by the op's shape rule but %lld in the file",
                          pkt_op_names[node->op], desc->name, d, (long long)s.d[d], (long long)declared);
        v = declared;
      } else if (s.known[d]) {
        v = s.d[d];
      }
      if (v < 0 || v > ((int64_t)1 << 31) || (v && numel > ((uint64_t)1 << 40) / (uint64_t)v))
        return pkt_fail(err, PKT_BAD_SHAPE, "%s: dim %d is %lld", desc->name, d, (long long)v);
      /* kernels plan scratch at the bounds for every smaller shape (kernel.h), so no dim may pass its bound */
      if (v > desc->dims[d])
        return pkt_fail(err, PKT_BAD_SHAPE, "%s: dim %d is %lld at this shape, past the %lld the plan holds", desc->name,
                        d, (long long)v, (long long)desc->dims[d]);
      out->dims[d] = v;
      numel *= (uint64_t)v;
    }
    const uint64_t nbytes = numel * pkt_dtype_size(desc->dtype);
    if (nbytes > desc->nbytes)
      return pkt_fail(err, PKT_BAD_SHAPE, "%s: %llu bytes at this shape exceed the %llu its plan holds", desc->name,
                      (unsigned long long)nbytes, (unsigned long long)desc->nbytes);
    out->numel = (int64_t)numel;
    out->nbytes = (size_t)nbytes;
  }
  return PKT_OK;
}
