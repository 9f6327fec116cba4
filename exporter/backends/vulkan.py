"""The Vulkan compute backend, exporter side: which IR nodes the shaders run, and the blob its runtime reads.

Every supported node lowers onto nine shaders (runtime/backends/vulkan/shaders/): a tiled GEMM (linear, matmul,
1x1 convs, the two GEMMs of SDPA), the same GEMM over an implicit im2col (other groups=1 convs), a direct conv
(depthwise and grouped), broadcasting elementwise, a strided copy (reshape, permute, slice, concat, expand),
pooling, reduction, softmax and layer norm. Fused nodes (conv_pw_dw, conv_dw_pw) become two dispatches with an
intermediate tensor. The blob layout is runtime/backends/vulkan/vk_blob.h's; the runtime re-validates all of it.

Limits (supports() says no, so the node stays on the CPU): float32 only, static shapes only (a dynamic dim would need
the command buffer re-recorded per shape), rank <= 6, fewer than 2^31 elements per tensor, SDPA without a mask and
with equal batch dims, matmul batch dims that are equal or all 1 on each side.
"""
from __future__ import annotations

import struct

import numpy as np

from pockettorch.exporter.backends.base import Backend, Subgraph
from pockettorch.exporter.ir import Node, Tensor
from pockettorch.runtime import op_table

MAGIC = b"PTVK"
VERSION = 1
MAX_RANK = 6
NP, NF = 28, 4
IDX_MAX = 2**31 - 1
# Blob op codes: runtime/backends/vulkan/vk_shaders.h's pkt_vk_shader enum.
GEMM, GEMM_IM2COL, CONV_DIRECT, BINARY, COPY, POOL, REDUCE, SOFTMAX, LAYER_NORM = range(9)
INTERMEDIATE, INPUT, OUTPUT, CONSTANT = range(4)
PRECISIONS = {"fp32": 0, "fp16": 1}

ACT = {name: i for i, name in enumerate(op_table.ENUMS["ACT"])}
SUPPORTED_ACTS = set(range(len(op_table.ENUMS["ACT"])))  # every ACT the shaders' act() implements
_B = {name: i for i, name in enumerate(op_table.ENUMS["BINARY"])}
BINARY_KINDS = {_B["ADD"]: 0, _B["SUB"]: 1, _B["MUL"]: 2, _B["DIV"]: 3, _B["MAX"]: 5, _B["MIN"]: 6}
_U = {name: i for i, name in enumerate(op_table.ENUMS["UNARY"])}
UNARY_ACTS = {_U["RELU"]: ACT["RELU"], _U["SIGMOID"]: ACT["SIGMOID"], _U["TANH"]: ACT["TANH"],
              _U["GELU"]: ACT["GELU"], _U["GELU_TANH"]: ACT["GELU_TANH"], _U["SILU"]: ACT["SILU"],
              _U["HARDSWISH"]: ACT["HARDSWISH"], _U["CLAMP"]: ACT["CLAMP"]}
_R = {name: i for i, name in enumerate(op_table.ENUMS["REDUCE"])}
UNARY_MATH = {_U["NEG"]: 101, _U["ABS"]: 102, _U["EXP"]: 103, _U["LOG"]: 104, _U["SQRT"]: 105, _U["RSQRT"]: 106,
              _U["RECIPROCAL"]: 107}  # binary.comp's one-operand kinds
REDUCE_KINDS = {_R["SUM"]: 0, _R["MEAN"]: 1, _R["MAX"]: 2, _R["MIN"]: 3}
OPS = ("conv2d", "conv_pw_dw", "conv_dw_pw", "linear", "matmul", "binary", "unary", "softmax", "layer_norm",
       "max_pool2d", "avg_pool2d", "adaptive_pool2d", "reduce", "sdpa", "concat", "slice", "permute", "reshape",
       "expand", "cast")


def strides(shape) -> list[int]:
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return out[::-1]


def _finite(*values) -> bool:
    return all(np.isfinite(float(v)) for v in values)


def _tensor_ok(t: Tensor) -> bool:
    return (t.dtype == "float32" and not t.sym and len(t.shape) <= MAX_RANK and all(d >= 1 for d in t.shape)
            and t.numel <= IDX_MAX)


class VulkanBackend(Backend):
    name = "vulkan"
    min_partition_nodes = 1

    def supports(self, node: Node) -> bool:
        if node.op not in OPS or not all(_tensor_ok(t) for t in (*node.inputs, *node.outputs)):
            return False
        p = node.params
        if any(k in p and p[k] not in SUPPORTED_ACTS for k in ("act", "act1")):
            return False
        if not _finite(*(v for k, v in p.items() if k.startswith("act") and k.endswith(("_min", "_max")))):
            return False
        check = getattr(self, f"_supports_{node.op}", None)
        return True if check is None else bool(check(node))

    # ---- per-op support beyond dtype/shape/act ----
    @staticmethod
    def _supports_conv2d(node: Node) -> bool:
        return len(node.inputs[0].shape) == 4 and len(node.inputs) >= 2

    @staticmethod
    def _supports_matmul(node: Node) -> bool:
        a, b = node.inputs
        if len(a.shape) < 2 or len(b.shape) < 2:
            return False
        return _matmul_batch(a.shape[:-2], b.shape[:-2], node.outputs[0].shape[:-2]) is not None

    @staticmethod
    def _supports_binary(node: Node) -> bool:
        return node.params["kind"] in BINARY_KINDS

    @staticmethod
    def _supports_unary(node: Node) -> bool:
        p = node.params
        if p["kind"] in UNARY_MATH:
            return True
        return p["kind"] in UNARY_ACTS and (p["kind"] != _U["CLAMP"] or _finite(p["alpha"], p["beta"]))

    @staticmethod
    def _supports_reduce(node: Node) -> bool:
        x = node.inputs[0]
        axes = sorted(a % max(len(x.shape), 1) for a in node.params["axes"]) if x.shape else []
        return (node.params["kind"] in REDUCE_KINDS and bool(axes)
                and axes == list(range(axes[0], axes[-1] + 1)))

    @staticmethod
    def _supports_sdpa(node: Node) -> bool:
        q, k, v = node.inputs[:3]
        return (len(node.inputs) == 3 and len(q.shape) >= 2 and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
                and q.shape[-1] == k.shape[-1] and k.shape[-2] == v.shape[-2] and _finite(node.params["scale"]))

    @staticmethod
    def _supports_slice(node: Node) -> bool:
        p = node.params
        x, y = node.inputs[0], node.outputs[0]
        axis = p["axis"] % len(x.shape)
        return p["step"] >= 1 and 0 <= p["start"] and p["start"] + (y.shape[axis] - 1) * p["step"] < x.shape[axis]

    @staticmethod
    def _supports_expand(node: Node) -> bool:
        x, y = node.inputs[0], node.outputs[0]
        return node.params["tile"] == 0 and len(x.shape) <= len(y.shape)

    @staticmethod
    def _supports_pool(node: Node) -> bool:
        return len(node.inputs[0].shape) == 4

    _supports_max_pool2d = _supports_avg_pool2d = _supports_adaptive_pool2d = _supports_pool

    @staticmethod
    def _supports_layer_norm(node: Node) -> bool:
        return 1 <= node.params["axes"] <= len(node.inputs[0].shape)

    def compile(self, subgraph: Subgraph) -> bytes:
        precision = subgraph.options.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise ValueError(f"vulkan: precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
        blob = _Blob(subgraph)
        for node in subgraph.nodes:
            if not self.supports(node):
                raise ValueError(f"vulkan: node {node.op} ({node.source or 'no source'}) is not supported")
            getattr(blob, f"op_{node.op}")(node)
        return blob.to_bytes(PRECISIONS[precision])


def _matmul_batch(ab, bb, ob):
    """Per side, the batch stride multiplier: 1 when its batch dims equal the output's, 0 when they are all 1
    (broadcast); None for any other broadcast (not supported)."""
    out = []
    for side in (ab, bb):
        side = tuple(side)
        if tuple([1] * (len(ob) - len(side)) + list(side)) == tuple(ob):
            out.append(1)
        elif all(d == 1 for d in side):
            out.append(0)
        else:
            return None
    return out


class _Blob:
    """The blob under construction: tensors (by identity), ops with their push constants, constant data."""

    def __init__(self, sg: Subgraph):
        self.tensors: list[tuple[int, tuple[int, ...], np.ndarray | None]] = []
        self.index: dict[int, int] = {}
        self.ops: list[tuple[int, list[int], list[int], list[float]]] = []
        # A constant input is the program's: the runtime passes it at init, so the blob does not store it again.
        self.inputs = [self._add(t, CONSTANT if t.is_constant else INPUT, embed=False) for t in sg.inputs]
        self.outputs = [self._add(t, OUTPUT) for t in sg.outputs]

    def _add(self, t: Tensor, kind: int, embed: bool = True) -> int:
        if id(t) in self.index:
            return self.index[id(t)]
        shape = tuple(t.shape) or (1,)
        data = np.ascontiguousarray(t.data, dtype=np.float32).reshape(-1) if kind == CONSTANT and embed else None
        self.tensors.append((kind, shape, data))
        self.index[id(t)] = len(self.tensors) - 1
        return self.index[id(t)]

    def t(self, t: Tensor) -> int:
        """The index of a tensor a node reads or writes (constants embedded, others intermediate)."""
        return self._add(t, CONSTANT if t.is_constant else INTERMEDIATE)

    def scratch(self, shape) -> int:
        self.tensors.append((INTERMEDIATE, tuple(shape), None))
        return len(self.tensors) - 1

    def emit(self, op: int, bind: dict[int, int], p: dict[int, int], f: dict[int, float] | None = None) -> None:
        b = [-1] * 5
        for slot, t in bind.items():
            b[slot] = t
        pv = [0] * NP
        for i, v in p.items():
            pv[i] = int(v)
        fv = [0.0] * NF
        for i, v in (f or {}).items():
            fv[i] = float(v)
        self.ops.append((op, b, pv, fv))

    # ---- GEMM-based ----
    def gemm(self, a, b, c, batch, m, n, k, sa, sb, sc, bias=None, bias_mode=0, res=None, act=0, lo=0.0, hi=0.0,
             alpha=1.0, offs=(0, 0, 0)):
        """C[bi, m, n] = act(alpha * sum_k A[bi, m, k] B[bi, k, n] + bias + res); s* = (batch, row, col) strides."""
        bind = {0: a, 1: b, 4: c}
        if bias is not None:
            bind[2] = bias
        if res is not None:
            bind[3] = res
        p = {0: batch, 1: m, 2: n, 3: k, 4: offs[0], 5: sa[0], 6: sa[1], 7: sa[2], 8: offs[1], 9: sb[0], 10: sb[1],
             11: sb[2], 12: offs[2], 13: sc[0], 14: sc[1], 15: sc[2], 16: bias_mode if bias is not None else 0,
             17: int(res is not None), 18: act}
        self.emit(GEMM, bind, p, {0: alpha, 1: lo, 2: hi})

    def conv(self, x: Tensor | int, xs, w: Tensor, bias, res, y: int, ys, stride, pad, dil, groups, act, lo, hi):
        """One conv2d: 1x1/stride 1/no pad as GEMM, other groups=1 as im2col GEMM, grouped/depthwise direct."""
        n, c, h, wd = xs
        o, _, kh, kw = w.shape
        _, _, oh, ow = ys
        xi = x if isinstance(x, int) else self.t(x)
        wi = self.t(w)
        bi = None if bias is None else self.t(bias)
        ri = None if res is None else self.t(res)
        if groups == 1 and kh == kw == 1 and stride == (1, 1) and pad == (0, 0):
            hw = h * wd
            self.gemm(wi, xi, y, n, o, hw, c, (0, c, 1), (c * hw, hw, 1), (o * hw, hw, 1), bi, 1, ri, act, lo, hi)
            return
        bind = {0: xi if groups != 1 else wi, 1: wi if groups != 1 else xi, 4: y}
        if bi is not None:
            bind[2] = bi
        if ri is not None:
            bind[3] = ri
        tail = {16: int(bi is not None), 17: int(ri is not None), 18: act}
        if groups == 1:
            p = {0: n, 1: o, 2: oh * ow, 3: c * kh * kw, 5: c, 6: h, 7: wd, 8: kh, 9: kw, 10: stride[0], 11: stride[1],
                 12: pad[0], 13: pad[1], 14: dil[0], 15: dil[1], 19: ow, **tail}
            self.emit(GEMM_IM2COL, bind, p, {0: 1.0, 1: lo, 2: hi})
        else:
            p = {0: n, 1: c, 2: h, 3: wd, 4: o, 5: oh, 6: ow, 7: kh, 8: kw, 9: stride[0], 10: stride[1], 11: pad[0],
                 12: pad[1], 13: dil[0], 14: dil[1], 15: groups, **tail}
            self.emit(CONV_DIRECT, bind, p, {1: lo, 2: hi})

    def op_conv2d(self, node: Node):
        p, x, y = node.params, node.inputs[0], node.outputs[0]
        bias = node.inputs[2] if len(node.inputs) >= 3 else None
        res = node.inputs[3] if len(node.inputs) == 4 else None
        self.conv(x, x.shape, node.inputs[1], bias, res, self.t(y), y.shape, (p["stride_h"], p["stride_w"]),
                  (p["pad_h"], p["pad_w"]), (p["dil_h"], p["dil_w"]), p["groups"], p["act"], p["act_min"],
                  p["act_max"])

    def op_conv_pw_dw(self, node: Node):
        p, (x, w1, b1, w2, b2), y = node.params, node.inputs, node.outputs[0]
        n, _, h, wd = x.shape
        mid_shape = (n, w1.shape[0], h, wd)
        mid = self.scratch(mid_shape)
        self.conv(x, x.shape, w1, b1, None, mid, mid_shape, (1, 1), (0, 0), (1, 1), 1, p["act1"], p["act1_min"],
                  p["act1_max"])
        self.conv(mid, mid_shape, w2, b2, None, self.t(y), y.shape, (p["stride_h"], p["stride_w"]),
                  (p["pad_h"], p["pad_w"]), (p["dil_h"], p["dil_w"]), w1.shape[0], p["act"], p["act_min"],
                  p["act_max"])

    def op_conv_dw_pw(self, node: Node):
        p, x, y = node.params, node.inputs[0], node.outputs[0]
        w1, b1, w2, b2 = node.inputs[1:5]
        res = node.inputs[5] if len(node.inputs) == 6 else None
        mid_shape = (x.shape[0], x.shape[1], y.shape[2], y.shape[3])
        mid = self.scratch(mid_shape)
        self.conv(x, x.shape, w1, b1, None, mid, mid_shape, (p["stride_h"], p["stride_w"]), (p["pad_h"], p["pad_w"]),
                  (p["dil_h"], p["dil_w"]), x.shape[1], p["act1"], p["act1_min"], p["act1_max"])
        self.conv(mid, mid_shape, w2, b2, res, self.t(y), y.shape, (1, 1), (0, 0), (1, 1), 1, p["act"],
                  p["act_min"], p["act_max"])

    def op_linear(self, node: Node):
        x, w, y = node.inputs[0], node.inputs[1], node.outputs[0]
        bias = self.t(node.inputs[2]) if len(node.inputs) == 3 else None
        k, n = x.shape[-1], w.shape[0]
        m = x.numel // k
        p = node.params
        self.gemm(self.t(x), self.t(w), self.t(y), 1, m, n, k, (0, k, 1), (0, 1, k), (0, n, 1), bias, 2, None,
                  p["act"], p["act_min"], p["act_max"])

    def op_matmul(self, node: Node):
        a, b = node.inputs
        y = node.outputs[0]
        tb = node.params.get("transpose_b", 0)
        m, k = a.shape[-2:]
        n = b.shape[-2] if tb else b.shape[-1]
        batch = y.numel // (m * n)
        ma, mb = _matmul_batch(a.shape[:-2], b.shape[:-2], y.shape[:-2])
        sb = (mb * k * n, 1, k) if tb else (mb * k * n, n, 1)
        self.gemm(self.t(a), self.t(b), self.t(y), batch, m, n, k, (ma * m * k, k, 1), sb, (m * n, n, 1))

    def op_sdpa(self, node: Node):
        q, k, v = node.inputs
        y = node.outputs[0]
        L, E = q.shape[-2:]
        S, Ev = v.shape[-2:]
        batch = q.numel // (L * E)
        scores = self.scratch((batch, L, S))
        probs = self.scratch((batch, L, S))
        self.gemm(self.t(q), self.t(k), scores, batch, L, S, E, (L * E, E, 1), (S * E, 1, E), (L * S, S, 1),
                  alpha=node.params["scale"])
        self.emit(SOFTMAX, {0: scores, 4: probs}, {0: batch * L, 1: S, 2: 1, 3: 0,
                                                   4: L if node.params["is_causal"] else 0}, {0: 1.0})
        self.gemm(probs, self.t(v), self.t(y), batch, L, Ev, S, (L * S, S, 1), (S * Ev, Ev, 1), (L * Ev, Ev, 1))

    # ---- elementwise and data movement ----
    def op_binary(self, node: Node):
        a, b = node.inputs
        y = node.outputs[0]
        p = node.params
        self._elementwise(self.t(a), a.shape, self.t(b), b.shape, y, BINARY_KINDS[p["kind"]], p["act"], p["act_min"],
                          p["act_max"])

    def op_unary(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        p = node.params
        kind, act = UNARY_MATH.get(p["kind"], 100), UNARY_ACTS.get(p["kind"], ACT["NONE"])
        lo, hi = (p["alpha"], p["beta"]) if act == ACT["CLAMP"] else (0.0, 0.0)
        xi = self.t(x)
        self._elementwise(xi, x.shape, xi, x.shape, y, kind, act, lo, hi)

    def _elementwise(self, a, ashape, b, bshape, y: Tensor, kind, act, lo, hi):
        shape = tuple(y.shape) or (1,)
        sa, sb = _broadcast_strides(ashape, shape), _broadcast_strides(bshape, shape)
        p = {0: int(np.prod(shape)), 1: len(shape), 20: kind, 21: act}
        for i, d in enumerate(shape):
            p[2 + i], p[8 + i], p[14 + i] = d, sa[i], sb[i]
        self.emit(BINARY, {0: a, 1: b, 4: self.t(y)}, p, {1: lo, 2: hi})

    def copy(self, x: int, y: int, dims, in_strides, out_strides, in_base=0, out_base=0):
        dims = tuple(dims) or (1,)
        p = {0: int(np.prod(dims)), 1: len(dims), 20: in_base, 21: out_base}
        for i, d in enumerate(dims):
            p[2 + i] = d
            p[8 + i] = in_strides[i] if in_strides else 0
            p[14 + i] = out_strides[i] if out_strides else 0
        self.emit(COPY, {0: x, 4: y}, p)

    def _flat_copy(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        self.copy(self.t(x), self.t(y), (y.numel,), (1,), (1,))

    op_reshape = op_cast = _flat_copy

    def op_permute(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        perm = [a % len(x.shape) for a in node.params["perm"]]
        xs = strides(x.shape)
        self.copy(self.t(x), self.t(y), y.shape, [xs[a] for a in perm], strides(y.shape))

    def op_slice(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        axis = node.params["axis"] % len(x.shape)
        xs = strides(x.shape)
        ins = list(xs)
        ins[axis] *= node.params["step"]
        self.copy(self.t(x), self.t(y), y.shape, ins, strides(y.shape), in_base=node.params["start"] * xs[axis])

    def op_concat(self, node: Node):
        y = node.outputs[0]
        axis = node.params["axis"] % len(y.shape)
        ys = strides(y.shape)
        at = 0
        for x in node.inputs:
            self.copy(self.t(x), self.t(y), x.shape, strides(x.shape), ys, out_base=at * ys[axis])
            at += x.shape[axis]

    def op_expand(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        self.copy(self.t(x), self.t(y), y.shape, _broadcast_strides(x.shape, y.shape), strides(y.shape))

    # ---- reductions and windows ----
    def op_softmax(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        shape = tuple(x.shape) or (1,)
        axis = node.params["axis"] % len(shape)
        outer, L, inner = int(np.prod(shape[:axis])), shape[axis], int(np.prod(shape[axis + 1:]))
        self.emit(SOFTMAX, {0: self.t(x), 4: self.t(y)}, {0: outer * inner, 1: L, 2: inner, 3: node.params["log"]},
                  {0: 1.0})

    def op_layer_norm(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        p = node.params
        d = int(np.prod(x.shape[len(x.shape) - p["axes"]:]))
        bind = {0: self.t(x), 4: self.t(y)}
        if p["has_weight"]:
            bind[1] = self.t(node.inputs[1])
        if p["has_bias"]:
            bind[2] = self.t(node.inputs[1 + p["has_weight"]])
        self.emit(LAYER_NORM, bind, {0: x.numel // d, 1: d, 2: p["has_weight"], 3: p["has_bias"]}, {0: p["eps"]})

    def op_reduce(self, node: Node):
        x, y = node.inputs[0], node.outputs[0]
        axes = sorted(a % len(x.shape) for a in node.params["axes"])
        outer = int(np.prod(x.shape[:axes[0]]))
        r = int(np.prod(x.shape[axes[0]:axes[-1] + 1]))
        inner = int(np.prod(x.shape[axes[-1] + 1:]))
        self.emit(REDUCE, {0: self.t(x), 4: self.t(y)}, {0: outer, 1: r, 2: inner, 3: REDUCE_KINDS[node.params["kind"]]})

    def _pool(self, node: Node, mode: int, window: dict):
        x, y = node.inputs[0], node.outputs[0]
        n, c, h, w = x.shape
        p = {0: n * c, 1: h, 2: w, 3: y.shape[2], 4: y.shape[3], 13: mode, **window}
        self.emit(POOL, {0: self.t(x), 4: self.t(y)}, p)

    def op_max_pool2d(self, node: Node):
        p = node.params
        self._pool(node, 0, {5: p["kernel_h"], 6: p["kernel_w"], 7: p["stride_h"], 8: p["stride_w"], 9: p["pad_h"],
                             10: p["pad_w"], 11: p["dil_h"], 12: p["dil_w"]})

    def op_avg_pool2d(self, node: Node):
        p = node.params
        self._pool(node, 1, {5: p["kernel_h"], 6: p["kernel_w"], 7: p["stride_h"], 8: p["stride_w"], 9: p["pad_h"],
                             10: p["pad_w"], 11: 1, 12: 1, 14: p["count_include_pad"], 15: p["divisor"]})

    def op_adaptive_pool2d(self, node: Node):
        self._pool(node, 3 if node.params["is_max"] else 2, {})

    # ---- serialization ----
    def to_bytes(self, precision: int) -> bytes:
        n_t, n_o = len(self.tensors), len(self.ops)
        header_size = 64
        t_off = header_size
        io_off = t_off + 48 * n_t
        o_off = io_off + 4 * (len(self.inputs) + len(self.outputs))
        o_off = (o_off + 15) // 16 * 16
        data_off = (o_off + 160 * n_o + 15) // 16 * 16
        trecs, chunks, at = [], [], data_off
        for kind, shape, data in self.tensors:
            dims = list(shape) + [0] * (MAX_RANK - len(shape))
            if data is not None:
                raw = data.tobytes()
                trecs.append(struct.pack("<II6IQQ", kind, len(shape), *dims, at, len(raw)))
                pad = (-len(raw)) % 16
                chunks.append(raw + b"\0" * pad)
                at += len(raw) + pad
            else:
                trecs.append(struct.pack("<II6IQQ", kind, len(shape), *dims, 0, 0))
        header = struct.pack("<4s7IQQQQ", MAGIC, VERSION, n_t, n_o, len(self.inputs), len(self.outputs), precision, 0,
                             t_off, o_off, io_off, 0)
        io = struct.pack(f"<{len(self.inputs) + len(self.outputs)}I", *self.inputs, *self.outputs)
        ops = b"".join(struct.pack("<I5i28i4f2I", op, *b, *p, *f, 0, 0) for op, b, p, f in self.ops)
        head = header + b"".join(trecs) + io
        head += b"\0" * (o_off - len(head))
        body = head + ops
        body += b"\0" * (data_off - len(body))
        return body + b"".join(chunks)


def _broadcast_strides(shape, out_shape) -> list[int]:
    """Strides of `shape` read at every index of `out_shape` (NumPy broadcasting: 0 on broadcast dims)."""
    shape = tuple(shape)
    full = (1,) * (len(out_shape) - len(shape)) + shape
    st = strides(full)
    return [0 if d == 1 and o != 1 else s for d, o, s in zip(full, out_shape, st)]

BACKEND = VulkanBackend
