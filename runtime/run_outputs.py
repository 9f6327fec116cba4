"""`pockettorch run`'s outputs: a short printout per output and one .npy file per output.

Output names come from the model file, which is untrusted: file names keep only safe characters (no path
separators, no leading dots), and printed names show control characters escaped.
"""
from __future__ import annotations

import os
import re

import numpy as np

UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_STEM = 100
SHOWN_VALUES = 6
# names Windows reserves for devices, whatever the extension
WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def printable(text: str) -> str:
    """`text` with control and other unprintable characters escaped, so a name cannot drive the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def file_names(names: list[str]) -> list[str]:
    """One distinct, safe `.npy` file name per output name (distinct ignoring case, for macOS and Windows)."""
    out: list[str] = []
    taken: set[str] = set()
    for i, name in enumerate(names):
        stem = UNSAFE.sub("_", name).strip("._-")[:MAX_STEM].rstrip("._-") or f"output_{i}"
        if stem.split(".")[0].lower() in WINDOWS_DEVICES:
            stem = "_" + stem
        candidate, k = stem, 1
        while candidate.lower() in taken:
            candidate, k = f"{stem}_{k}", k + 1
        taken.add(candidate.lower())
        out.append(candidate + ".npy")
    return out


def save(directory: str, outputs: list[tuple[str, np.ndarray]]) -> list[str]:
    """Write each (name, array) output as DIRECTORY/<safe name>.npy (the directory is created); returns the paths."""
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f) for f in file_names([name for name, _ in outputs])]
    for path, (_, array) in zip(paths, outputs):
        np.save(path, array, allow_pickle=False)
    return paths


def summary(name: str, array: np.ndarray) -> str:
    """'name  float32[2, 4]  min .. max .. mean ..  [first values, ...]' (NaNs counted apart)."""
    line = f"{printable(name)}  {array.dtype.name}{list(array.shape)}"
    flat = array.reshape(-1)
    if flat.size == 0:
        return line + "  (empty)"
    values = flat.astype(np.float64)
    nans = int(np.isnan(values).sum())
    values = values[~np.isnan(values)]
    if values.size:
        with np.errstate(invalid="ignore", over="ignore"):
            line += f"  min {values.min():.6g}  max {values.max():.6g}  mean {values.mean():.6g}"
    if nans:
        line += f"  nan {nans}"
    shown = np.array2string(flat[:SHOWN_VALUES], precision=4, separator=", ", threshold=SHOWN_VALUES)
    return line + f"  {shown[:-1]}{', ...]' if flat.size > SHOWN_VALUES else ']'}"
