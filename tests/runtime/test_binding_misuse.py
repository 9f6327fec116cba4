"""The private binding (pockettorch.runtime._native) misused: every case must raise a Python exception, never
crash the interpreter. Each case runs in its own subprocess, so a segfault fails its test (exit by signal)
instead of killing the test worker."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

import pockettorch

PRELUDE = """
import gc, sys
import numpy as np
from pockettorch.runtime import _native
PATH = sys.argv[1]
x = np.ones((2, 8), np.float32)
out = np.empty((2, 4), np.float32)

def raises(fn, *args, kind=Exception):
    try:
        fn(*args)
    except kind as exc:
        print("raised", type(exc).__name__, exc)
        return
    raise AssertionError(f"{fn} did not raise")
"""

CASES = {
    "program_init_again_on_live_program": """
        p = _native.Program(PATH)
        s = _native.Session(p)
        raises(p.__init__, PATH)
        raises(p.__init__, b"not a program")
        s.run([x], [out])
        assert len(p.inputs()) == 1
    """,
    "program_new_without_init": """
        p = _native.Program.__new__(_native.Program)
        for method in (p.inputs, p.outputs, p.metadata, p.arena_bytes, p.instructions):
            raises(method)
        raises(_native.Session, p)
    """,
    "session_new_without_init": """
        s = _native.Session.__new__(_native.Session)
        raises(s.run, [x], [out])
        for method in (s.isa, s.num_threads, s.packed_bytes, s.profile_ns):
            raises(method)
        raises(s.set_profiling, True)
    """,
    "session_init_again": """
        p = _native.Program(PATH)
        s = _native.Session(p)
        raises(s.__init__, p)
        s.run([x], [out])
    """,
    "session_outlives_its_program_reference": """
        s = _native.Session(_native.Program(PATH))
        gc.collect()
        s.run([x], [out])
        assert s.num_threads() == 1
    """,
    "wrong_argument_types": """
        p = _native.Program(PATH)
        s = _native.Session(p)
        raises(_native.Program, 123)
        raises(_native.Session, "program")
        raises(_native.Session, p, "two")
        raises(_native.Session, p, 2 ** 70)
        raises(s.run, 1, 2)
        raises(s.run, [object()], [out])
        raises(s.run, [x], [b"0" * out.nbytes])            # read-only output
        raises(s.run, [x], [np.empty(3, np.float32)])      # wrong output size
        raises(s.run, [x[:, ::2].copy()], [out])            # wrong input size
        raises(s.run, [x[:, ::2]], [out])                   # not contiguous
        raises(s.run, [np.ones(8, np.float64)], [out])      # same bytes, other element size
        raises(s.run, [x], [np.empty(4, np.float64)])
        raises(s.run, [x, x], [out])
        raises(s.run, [], [])
        class Bad:
            def __bool__(self):
                raise RuntimeError("no truth")
        raises(s.set_profiling, Bad())
        raises(_native.status_info, "x")
        raises(_native.status_info, 2 ** 70)
        raises(_native.embedded_sizes, 1)
        raises(_native.embedded_sizes, b"garbage")
        s.run([x], [out])
    """,
    "indices_out_of_range": """
        for code in (-1, 9999, 2 ** 31 - 1, -(2 ** 31)):
            name, message, hint = _native.status_info(code)
            assert isinstance(name, str)
        raises(_native.status_info, 2 ** 40)
    """,
    "calls_after_close": """
        p = _native.Program(PATH)
        s = _native.Session(p, 2)
        s.run([x], [out])
        s.close()
        s.close()
        raises(s.run, [x], [out])
        for method in (s.isa, s.num_threads, s.packed_bytes, s.profile_ns):
            raises(method)
        raises(s.set_profiling, True)
        raises(s.__init__, p)
    """,
}


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return torch.relu(self.fc(x))


@pytest.fixture(scope="module")
def program_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("misuse") / "small.ptm"
    pockettorch.export(Small().eval(), (torch.ones(2, 8),)).save(path)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_misuse_raises_and_never_crashes(program_path, case):
    script = PRELUDE + textwrap.dedent(CASES[case])
    done = subprocess.run([sys.executable, "-c", script, str(program_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode >= 0, f"{case} killed the interpreter by signal {-done.returncode}\n{done.stdout}"
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
