"""Export one architecture, run it on the C runtime and compare with eager: what both the suite and the report do."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch.utils import _pytree as pytree

import pockettorch

REL_TOL = 1e-4


@dataclass
class Outcome:
    name: str
    group: str
    passed: bool = False
    stage: str = ""  # where it stopped: build, export, load, run, compare
    error: str = ""
    ops: dict[str, int] = field(default_factory=dict)  # PocketTorch op histogram of the program
    rel_err: float = math.nan


def relative_error(expected, got) -> float:
    """Max |got - eager| over max |eager|, across every float output; NaN/inf must sit where eager has them."""
    worst = 0.0
    exp_leaves, got_leaves = pytree.tree_leaves(expected), pytree.tree_leaves(got)
    if len(exp_leaves) != len(got_leaves):
        raise AssertionError(f"{len(got_leaves)} outputs, eager has {len(exp_leaves)}")
    for i, (e, g) in enumerate(zip(exp_leaves, got_leaves)):
        if tuple(e.shape) != tuple(g.shape):
            raise AssertionError(f"output {i}: shape {tuple(g.shape)} != eager {tuple(e.shape)}")
        if not e.dtype.is_floating_point:
            if not torch.equal(e, g):
                return math.inf
            continue
        e, g = e.double(), g.double()
        finite = torch.isfinite(e)
        if not torch.equal(finite, torch.isfinite(g)) or not torch.equal(e[~finite].nan_to_num(),
                                                                          g[~finite].nan_to_num()):
            raise AssertionError(f"output {i}: NaN/inf positions differ from eager")
        if finite.any():
            scale = max(float(e[finite].abs().max()), 1e-6)
            worst = max(worst, float((g[finite] - e[finite]).abs().max()) / scale)
    return worst


def _check_not_vacuous(expected) -> None:
    """Every float output of eager must carry signal: all ~0 or all one value would pass any comparison."""
    for i, e in enumerate(pytree.tree_leaves(expected)):
        if e.dtype.is_floating_point and e.numel() > 1:
            finite = e[torch.isfinite(e)].double()
            if finite.numel() and (finite.abs().max() < 1e-4 or finite.std() < 1e-6):
                raise AssertionError(f"eager output {i} is constant or ~0 (max |x| {float(finite.abs().max()):.2g}); "
                                     f"the architecture's config makes the comparison vacuous")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def check(name: str, group: str, build) -> Outcome:
    """Build, export, load, run and compare; never raises (the outcome says where and why it stopped)."""
    out = Outcome(name, group)
    stage = "build"
    try:
        module, inputs = build()
        module.eval()
        with torch.no_grad():
            expected = module(*inputs)
        _check_not_vacuous(expected)
        stage = "export"
        program = pockettorch.export(module, inputs, name=name)
        out.ops = dict(sorted(program.graph.op_histogram().items()))
        stage = "load"
        with pockettorch.load(program.to_bytes(), num_threads=1) as runtime:
            stage = "run"
            got = runtime(*inputs)
        stage = "compare"
        if isinstance(expected, torch.Tensor):
            expected = (expected,)
            got = (got,)
        out.rel_err = relative_error(expected, got)
        if not out.rel_err <= REL_TOL:
            raise AssertionError(f"relative error {out.rel_err:.3g} > {REL_TOL}")
        out.passed = True
    except Exception as exc:  # the outcome records any failure with the stage it happened in
        out.stage, out.error = stage, first_line(exc)
    return out
