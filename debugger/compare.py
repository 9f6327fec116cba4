"""Each instruction's outputs against eager: max absolute error, error relative to the largest eager magnitude,
and SQNR. An instruction's output is compared where the exporter recorded which eager node it holds; a fused
instruction's output holds the last op it covers, so fusions are compared at their boundary."""
from __future__ import annotations

import math

import numpy as np

from pockettorch.debugger.report import location
from pockettorch.runtime import error_catalogue as errors

DEFAULT_TOL = 1e-4  # the coverage suite's bar for outputs


def metrics(got: np.ndarray, want: np.ndarray) -> dict:
    """{"max_abs", "max_rel", "sqnr_db", "mismatch"}: NaN where eager has NaN and infinities equal count as equal;
    `mismatch` says when they are not (the errors are then infinite)."""
    want = np.asarray(want)
    got = np.asarray(got).reshape(want.shape)
    if want.dtype.kind not in "fc" and got.dtype.kind not in "fc":  # integers, booleans: exact
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        worst = float(diff.max()) if diff.size else 0.0
        scale = float(np.abs(want.astype(np.float64)).max()) if want.size else 0.0
        return {"max_abs": worst, "max_rel": worst / max(scale, 1.0), "sqnr_db": _sqnr(want, got),
                "mismatch": worst != 0.0}
    g, w = got.astype(np.float64), want.astype(np.float64)
    special = np.isnan(w) | np.isinf(w)
    if not (np.array_equal(np.isnan(g), np.isnan(w)) and np.array_equal(g[np.isinf(w)], w[np.isinf(w)])):
        return {"max_abs": math.inf, "max_rel": math.inf, "sqnr_db": -math.inf, "mismatch": True}
    finite = ~special
    if not finite.any():
        return {"max_abs": 0.0, "max_rel": 0.0, "sqnr_db": math.inf, "mismatch": False}
    diff = np.abs(g[finite] - w[finite])
    worst = float(diff.max())
    scale = float(np.abs(w[finite]).max())
    rel = worst / scale if scale > 0 else (0.0 if worst == 0 else math.inf)
    return {"max_abs": worst, "max_rel": rel, "sqnr_db": _sqnr(w[finite], g[finite]), "mismatch": False}


def _sqnr(want: np.ndarray, got: np.ndarray) -> float:
    """10 log10(signal power / error power), in dB; infinite when equal."""
    w = want.astype(np.float64).ravel()
    noise = float(np.sum((got.astype(np.float64).ravel() - w) ** 2))
    signal = float(np.sum(w ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def debug_info(metadata: dict, n_outputs: list[int]) -> list[dict]:
    """The exporter's per-instruction record (metadata "debug", exporter/api.py), checked against the program:
    a model file is untrusted, so anything malformed is a BadMetadataError."""
    info = metadata.get("debug")
    rows = info.get("instructions") if isinstance(info, dict) else None
    if not isinstance(rows, list):
        raise errors.BadMetadataError("the program has no debug record (metadata \"debug\"); export it again with "
                                      "this version of PocketTorch")
    if len(rows) != len(n_outputs):
        raise errors.BadMetadataError(f"metadata \"debug\" lists {len(rows)} instructions, the program has "
                                      f"{len(n_outputs)}")
    for i, (row, count) in enumerate(zip(rows, n_outputs)):
        ok = (isinstance(row, dict) and isinstance(row.get("covers"), list)
              and all(isinstance(c, str) for c in row["covers"]) and isinstance(row.get("outputs"), list)
              and len(row["outputs"]) == count and all(o is None or isinstance(o, str) for o in row["outputs"]))
        if not ok:
            raise errors.BadMetadataError(f"metadata \"debug\" entry {i} is malformed")
    return rows


def compare(instructions: list[tuple[str, str]], record: list[dict], values: list[list[np.ndarray]],
            eager: dict[str, np.ndarray], nodes: dict[str, dict], tol: float = DEFAULT_TOL) -> list[dict]:
    """One row per instruction: op, source, the eager ops it covers and each output's errors against eager.
    `instructions`: (op, source) per instruction; `nodes`: eager node name -> {"target", "source"}."""
    rows = []
    for i, ((op, source), entry, outs) in enumerate(zip(instructions, record, values)):
        outputs = []
        for k, (got, origin) in enumerate(zip(outs, entry["outputs"])):
            out = {"index": k, "eager": origin, "dtype": str(got.dtype), "shape": list(got.shape), "compared": False}
            want = eager.get(origin) if origin is not None else None
            if want is not None and want.size == got.size:
                out.update(metrics(got, want), compared=True)
                out["diverges"] = bool(out["mismatch"] or out["max_rel"] > tol)
            outputs.append(out)
        covers = [{"node": name, **nodes.get(name, {"target": "?", "source": ""})} for name in entry["covers"]]
        rows.append({"index": i, "op": op, "source": source, "location": location(source), "covers": covers, "fused": len(covers) > 1,
                     "outputs": outputs, "compared": any(o["compared"] for o in outputs),
                     "diverges": any(o.get("diverges") for o in outputs)})
    unchecked: list[int] = []  # instructions since the last compared one, whose results had no eager counterpart
    for row in rows:
        row["unchecked_before"] = list(unchecked) if row["diverges"] else []
        unchecked = [] if row["compared"] else [*unchecked, row["index"]]
    return rows
