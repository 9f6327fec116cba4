"""Fold each dequantize -> float op -> quantize pattern of a lowered PT2E program into one int8 instruction.

After lowering (exporter/lowering/quant.py) and the float passes (a ReLU/ReLU6/clamp is fused into its producer's
`act`), a quantized conv reads `conv2d(dequantize(q_x), W, b) -> quantize`; this pass makes it `qconv2d(q_x, W8,
w_scale, b)`. What matches nothing stays float between the `quantize`/`dequantize` instructions left around it (a
float island). Returns per-layer notes for quant_report: which instructions became int8 and which stayed float.
"""
from __future__ import annotations

import math
import struct

import torch

from pockettorch.exporter.ir import Graph, Node, Tensor
from pockettorch.exporter.lowering.quant import int8_weights, weight_key
from pockettorch.exporter.passes.dce import eliminate_dead_code
from pockettorch.runtime.op_table import enum_value

ACT = {name: enum_value("ACT", name) for name in ("NONE", "RELU", "RELU6", "CLAMP")}
BINARY_OK = {enum_value("BINARY", "ADD"), enum_value("BINARY", "MUL")}
MEAN = enum_value("REDUCE", "MEAN")
# Unary kinds computed through a 256-entry table, with the torch function that makes the table.
LUT_FUNCS = {
    "SIGMOID": torch.sigmoid, "TANH": torch.tanh, "HARDSWISH": torch.nn.functional.hardswish,
    "GELU": torch.nn.functional.gelu, "GELU_TANH": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
    "HARDSIGMOID": torch.nn.functional.hardsigmoid, "SILU": torch.nn.functional.silu,
    "RELU": torch.relu,
}
LUT_KINDS = {enum_value("UNARY", k): f for k, f in LUT_FUNCS.items()}


def _quantize_value(v: float, scale: float, zp: int, qmin: int = -128, qmax: int = 127) -> int:
    """The reference's quantize of one float value (float32 arithmetic, round half to even)."""
    x = torch.tensor([v], dtype=torch.float32) * (1.0 / scale)
    return int(torch.clamp(torch.round(x) + zp, qmin, qmax)[0])


def _out_clamp(node: Node, out_scale: float, out_zp: int) -> tuple[int, int] | None:
    """The int8 clamp that computes the fused activation of `node`, or None when it is not a clamp."""
    act = node.params.get("act", ACT["NONE"])
    if act == ACT["NONE"]:
        return -128, 127
    if act == ACT["RELU"]:
        return max(-128, out_zp), 127
    if act == ACT["RELU6"]:
        return max(-128, out_zp), _quantize_value(6.0, out_scale, out_zp)
    if act == ACT["CLAMP"]:
        lo, hi = node.params["act_min"], node.params["act_max"]
        qlo = -128 if lo == -math.inf else _quantize_value(lo, out_scale, out_zp)
        qhi = 127 if hi == math.inf else _quantize_value(hi, out_scale, out_zp)
        return qlo, qhi
    return None


def double_bits(v: float) -> int:
    return struct.unpack("<q", struct.pack("<d", float(v)))[0]


class _Rewriter:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.weights = int8_weights(graph)
        self.users = graph.consumers()
        self.outputs = {id(t) for t in graph.outputs}
        self.notes: list[dict] = []

    def dq(self, t: Tensor) -> Node | None:
        """The dequantize instruction that makes t, if any."""
        p = t.producer
        return p if p is not None and p.op == "dequantize" else None

    def single_use(self, t: Tensor) -> bool:
        return len(self.users.get(id(t), [])) == 1 and id(t) not in self.outputs

    def weight(self, t: Tensor):
        if not t.is_constant:
            return None
        return self.weights.get(weight_key(t.data))

    def commute_reshapes(self) -> None:
        """dequantize -> reshape becomes reshape (of the int8) -> dequantize, and reshape -> quantize becomes
        quantize -> reshape: both are elementwise, so the patterns around a linear on a 3-D input (view -> mm -> view)
        become dequantize -> linear -> quantize."""
        users = self.graph.consumers()
        outputs = {id(t) for t in self.graph.outputs}
        nodes = self.graph.nodes
        for r in list(nodes):
            if r.op != "reshape":
                continue
            src = r.inputs[0].producer
            if src is not None and src.op == "dequantize" and len(users.get(id(src.outputs[0]), [])) == 1 \
                    and id(src.outputs[0]) not in outputs:
                first, second = src, r
            else:
                (q,) = users.get(id(r.outputs[0]), [None]) if len(users.get(id(r.outputs[0]), [])) == 1 else (None,)
                if q is None or q.op != "quantize" or id(r.outputs[0]) in outputs:
                    continue
                first, second = r, q
            # first -> second becomes second' -> first': second's op now runs on first's input
            mid = self.graph.tensor(first.inputs[0].name + "_" + second.op, second.outputs[0].dtype
                                    if second.op == "quantize" else first.inputs[0].dtype,
                                    (first.inputs[0] if second.op == "quantize" else second.outputs[0]).shape)
            end = second.outputs[0]
            second.inputs, second.outputs = [first.inputs[0]], [mid]
            first.inputs, first.outputs = [mid], [end]
            mid.producer, end.producer = second, first
            i, j = nodes.index(first), nodes.index(second)
            nodes[i], nodes[j] = second, first
            users = self.graph.consumers()

    def run(self) -> int:
        self.commute_reshapes()
        self.users = self.graph.consumers()
        rewritten = 0
        for q in list(self.graph.nodes):
            if q.op != "quantize" or q.params["qmin"] != -128 or q.params["qmax"] != 127:
                continue
            op = q.inputs[0].producer
            if op is not None and op.op == "dequantize" and op.params == {k: q.params[k] for k in ("scale", "zp")}:
                self.graph.replace_uses(q.outputs[0], op.inputs[0])  # a requantization to the same params
                continue
            if op is None or not self.single_use(q.inputs[0]):
                continue
            fold = getattr(self, "fold_" + op.op, None)
            new = fold(op, q) if fold is not None else None
            if new is None:
                continue
            name, inputs, params = new
            node = Node(name, inputs, [q.outputs[0]], params, op.source, list(op.covers))
            node.absorb_covers(q)
            q.outputs[0].producer = node
            i = self.graph.nodes.index(op)
            self.graph.nodes[i] = node
            self.graph.nodes.remove(q)
            rewritten += 1
        eliminate_dead_code(self.graph)
        return rewritten

    # -- one method per float op: (int8 op, inputs, params) or None -------------------------------------------------
    def _gemm_common(self, op, q):
        x, w = op.inputs[0], op.inputs[1]
        d = self.dq(x)
        found = self.weight(w)
        if d is None or found is None:
            return None
        out_scale, out_zp = q.params["scale"], q.params["zp"]
        clamp = _out_clamp(op, out_scale, out_zp)
        if clamp is None:
            return None
        w8, w_scale = found
        consts = [self.graph.constant(w8, w.name + "_i8", "int8"), self.graph.constant(w_scale, w.name + "_scale")]
        params = dict(in_scale=d.params["scale"], in_zp=d.params["zp"], out_scale=out_scale, out_zp=out_zp,
                      out_min=clamp[0], out_max=clamp[1])
        return d.inputs[0], consts, params

    def fold_conv2d(self, op, q):
        if len(op.inputs) > 3:  # a fused residual: not with int8
            return None
        common = self._gemm_common(op, q)
        if common is None:
            return None
        x8, consts, params = common
        keys = ("stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w", "groups")
        return "qconv2d", [x8, *consts, *op.inputs[2:3]], {**{k: op.params[k] for k in keys}, **params}

    def fold_linear(self, op, q):
        common = self._gemm_common(op, q)
        if common is None:
            return None
        x8, consts, params = common
        return "qlinear", [x8, *consts, *op.inputs[2:3]], params

    def fold_binary(self, op, q):
        if op.params["kind"] not in BINARY_OK:
            return None
        da, db = self.dq(op.inputs[0]), self.dq(op.inputs[1])
        if da is None or db is None:
            return None
        clamp = _out_clamp(op, q.params["scale"], q.params["zp"])
        if clamp is None:
            return None
        return "qbinary", [da.inputs[0], db.inputs[0]], dict(
            kind=op.params["kind"], a_scale=da.params["scale"], a_zp=da.params["zp"], b_scale=db.params["scale"],
            b_zp=db.params["zp"], out_scale=q.params["scale"], out_zp=q.params["zp"], out_min=clamp[0],
            out_max=clamp[1])

    def fold_max_pool2d(self, op, q):
        d = self.dq(op.inputs[0])
        if d is None or (d.params["scale"], d.params["zp"]) != (q.params["scale"], q.params["zp"]):
            return None
        return "qmax_pool2d", [d.inputs[0]], dict(op.params)

    def _avg(self, d, q, kernel, stride, pad=(0, 0), count_include_pad=1, divisor=0):
        return "qavg_pool2d", [d.inputs[0]], dict(
            kernel_h=kernel[0], kernel_w=kernel[1], stride_h=stride[0], stride_w=stride[1], pad_h=pad[0],
            pad_w=pad[1], count_include_pad=count_include_pad, divisor=divisor, in_scale=d.params["scale"],
            in_zp=d.params["zp"], out_scale=q.params["scale"], out_zp=q.params["zp"])

    def fold_avg_pool2d(self, op, q):
        d = self.dq(op.inputs[0])
        if d is None:
            return None
        p = op.params
        return self._avg(d, q, (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"]),
                         (p["pad_h"], p["pad_w"]), p["count_include_pad"], p["divisor"])

    def fold_adaptive_pool2d(self, op, q):
        d, x, y = self.dq(op.inputs[0]), op.inputs[0], op.outputs[0]
        if d is None or op.params["is_max"] or len(x.shape) != 4 or x.shape[2] % y.shape[2] or x.shape[3] % y.shape[3]:
            return None
        k = (x.shape[2] // y.shape[2], x.shape[3] // y.shape[3])
        return self._avg(d, q, k, k)

    def fold_reduce(self, op, q):
        """A global average pool (mean over H and W of NCHW, keepdim) as its window."""
        d, x, y = self.dq(op.inputs[0]), op.inputs[0], op.outputs[0]
        if (d is None or op.params["kind"] != MEAN or len(x.shape) != 4 or list(op.params["axes"]) != [2, 3]
                or len(y.shape) != 4):
            return None
        return self._avg(d, q, x.shape[2:], x.shape[2:])

    def fold_concat(self, op, q):
        ds = [self.dq(t) for t in op.inputs]
        if any(d is None for d in ds):
            return None
        qparams = [v for d in ds for v in (double_bits(d.params["scale"]), d.params["zp"])]
        return "qconcat", [d.inputs[0] for d in ds], dict(axis=op.params["axis"], out_scale=q.params["scale"],
                                                          out_zp=q.params["zp"], qparams=qparams)

    def _same_params(self, op, q):
        d = self.dq(op.inputs[0])
        if d is None or (d.params["scale"], d.params["zp"]) != (q.params["scale"], q.params["zp"]):
            return None
        return op.op, [d.inputs[0]], dict(op.params)

    fold_reshape = fold_permute = _same_params

    def fold_unary(self, op, q):
        d = self.dq(op.inputs[0])
        f = LUT_KINDS.get(op.params["kind"])
        if d is None or f is None:
            return None
        levels = torch.arange(-128, 128, dtype=torch.float32)
        x = (levels - d.params["zp"]) * d.params["scale"]
        y = torch.clamp(torch.round(f(x) * (1.0 / q.params["scale"])) + q.params["zp"], -128, 127)
        table = self.graph.constant(y.to(torch.int8).numpy(), op.outputs[0].name + "_lut", "int8")
        return "qlut", [d.inputs[0], table], {}

    def fold_matmul(self, op, q):
        da, db = self.dq(op.inputs[0]), self.dq(op.inputs[1])
        if da is None or db is None or db.params["zp"] != 0:
            return None
        return "qmatmul", [da.inputs[0], db.inputs[0]], dict(
            transpose_b=op.params["transpose_b"], a_scale=da.params["scale"], a_zp=da.params["zp"],
            b_scale=db.params["scale"], out_scale=q.params["scale"], out_zp=q.params["zp"], out_min=-128,
            out_max=127)


def lower_int8(graph: Graph) -> int:
    """Rewrite the graph's quantized patterns into int8 instructions; returns how many."""
    return _Rewriter(graph).run()


__all__ = ["lower_int8", "double_bits"]
