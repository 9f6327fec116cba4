"""The Vulkan blob is untrusted: truncated, corrupted and fuzzed blobs are refused with a clear message (or, when a
mutation happens to stay valid, run without crashing); the backend reports no device instead of crashing."""
from __future__ import annotations

import os
import random
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import pockettorch
from pockettorch.exporter.backends.vulkan import VulkanBackend
from vkharness import whole_graph

BAD_PARAMS, BAD_IO, UNKNOWN_OP, BAD_SHAPE, BAD_OFFSET, TRUNCATED, BAD_MAGIC, BAD_VERSION = 27, 29, 25, 23, 20, 18, 16, 17


@pytest.fixture(scope="module")
def small():
    """A small program's graph and its compiled blob: conv (im2col GEMM), depthwise conv, pooling, linear."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, groups=4), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(4, 3)).eval()
    x = torch.randn(1, 2, 7, 7)
    prog = pockettorch.export(m, (x,))
    sg = whole_graph(prog.graph)
    return m, x, sg, VulkanBackend().compile(sg)


def run(vk, small, blob):
    m, x, sg, _ = small
    return vk.run(blob, [x.numpy()], [tuple(t.shape) for t in sg.outputs])


def test_valid_blob_runs(vk, small):
    m, x, _, blob = small
    st, msg, [y] = run(vk, small, blob)
    assert st == 0, msg
    np.testing.assert_allclose(y, m(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    assert "llvmpipe" in vk.device


def test_truncated_blob_refused(vk, small):
    blob = small[3]
    for n in (0, 3, 63, 64, 100, len(blob) // 2, len(blob) - 1):
        st, msg = vk.parse(blob[:n])
        assert st != 0 and "vulkan blob" in msg, (n, msg)


def _op_offset(blob: bytes, i: int) -> int:
    return struct.unpack_from("<Q", blob, 40)[0] + 160 * i


def test_corrupted_fields_refused(vk, small):
    blob = small[3]

    def patched(fmt, off, *vals):
        b = bytearray(blob)
        struct.pack_into(fmt, b, off, *vals)
        return bytes(b)

    n_tensors = struct.unpack_from("<I", blob, 8)[0]
    cases = [
        (patched("<4s", 0, b"XXXX"), BAD_MAGIC, "magic"),
        (patched("<I", 4, 99), BAD_VERSION, "version"),
        (patched("<I", 8, 10**6), BAD_PARAMS, "tensors"),
        (patched("<Q", 32, 2**62), TRUNCATED, "past"),
        (patched("<I", 64 + 4, 9), BAD_SHAPE, "rank"),                      # tensor 0's rank
        (patched("<I", 64 + 8, 2**31 - 1), BAD_SHAPE, "shape"),             # tensor 0's first dim
        (patched("<I", _op_offset(blob, 0), 77), UNKNOWN_OP, "unknown"),
        (patched("<i", _op_offset(blob, 0) + 4, n_tensors), BAD_PARAMS, "binding"),
        (patched("<i", _op_offset(blob, 0) + 24 + 4 * 1, 10**6), BAD_PARAMS, "needs"),  # op 0's M: out of bounds
        (patched("<f", _op_offset(blob, 0) + 136, float("nan")), BAD_PARAMS, "non-finite"),
    ]
    for data, status, words in cases:
        st, msg = vk.parse(data)
        assert (st, words in msg) == (status, True), (words, st, msg)
    # a constant whose data runs past the end of the blob
    const = next(i for i in range(n_tensors) if struct.unpack_from("<I", blob, 64 + 48 * i)[0] == 3)
    st, msg = vk.parse(patched("<Q", 64 + 48 * const + 32, len(blob)))
    assert st == BAD_OFFSET and "constant" in msg


def test_fuzzed_blobs_never_crash(vk, small):
    """Random bytes over the header, tensor, io and op tables: refused, or valid and run to completion."""
    blob = small[3]
    tables_end = struct.unpack_from("<Q", blob, 40)[0] + 160 * struct.unpack_from("<I", blob, 12)[0]
    rng = random.Random(1234)
    ran = 0
    for _ in range(400):
        b = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(tables_end)
            b[pos] = rng.choice((0, 1, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        st, msg = vk.parse(bytes(b))
        if st == 0:
            if ran < 10:  # a valid mutation executes: its bounds were checked, so it cannot touch memory outside
                st2, msg2, _ = run(vk, small, bytes(b))
                assert st2 in (0, 29, 49), msg2  # ok, or its io no longer matches the delegate's
                ran += 1
        else:
            assert msg.startswith("vulkan blob:"), msg


def test_io_mismatch_refused(vk, small):
    m, x, sg, blob = small
    st, msg, _ = vk.run(blob, [np.zeros((1, 2, 8, 7), np.float32)], [tuple(t.shape) for t in sg.outputs])
    assert st == 49 and "shape" in msg


def _available_in_child(lib: str, env_extra: dict) -> str:
    """is_available() in a fresh process (it is probed once per process)."""
    code = "import sys, vkharness, pathlib; print(vkharness.Harness(pathlib.Path(sys.argv[1])).available())"
    env = {**os.environ, **env_extra, "PYTHONPATH": os.path.dirname(__file__)}
    return subprocess.run([sys.executable, "-c", code, lib], env=env, capture_output=True, text=True,
                          timeout=120).stdout.strip()


def test_unavailable_without_driver_or_loader(vk):
    lib = vk.lib._name
    assert _available_in_child(lib, {}) == "True"
    # no ICD: the loader finds no driver
    assert _available_in_child(lib, {"VK_DRIVER_FILES": "/nonexistent/icd.json",
                                     "VK_ICD_FILENAMES": "/nonexistent/icd.json"}) == "False"
    # no loader library at all (dlopen fails)
    assert _available_in_child(lib, {"PKT_VK_LOADER_LIB": "/nonexistent/libvulkan.so.1"}) == "False"


def test_constants_from_inputs_are_not_stored_twice(vk, small):
    """As the partitioner makes them: the program's constants are delegate inputs, passed at init, not in the blob."""
    from pockettorch.exporter.backends.base import Subgraph
    m, x, sg, embedded = small
    consts = list({id(t): t for n in sg.nodes for t in n.inputs if t.is_constant}.values())
    sub = Subgraph(sg.nodes, [*sg.inputs, *consts], sg.outputs)
    blob = VulkanBackend().compile(sub)
    assert len(blob) < len(embedded) - sum(t.nbytes for t in consts) + 64 * len(consts)
    st, msg, [y] = vk.run(blob, [x.numpy(), *(t.data for t in consts)], [tuple(t.shape) for t in sg.outputs])
    assert st == 0, msg
    np.testing.assert_allclose(y, m(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    # without its input entry, a constant with no data is refused
    b = bytearray(blob)
    io_off = struct.unpack_from("<Q", blob, 48)[0]
    struct.pack_into("<I", b, 16, 1)  # n_inputs: only the graph input is listed now
    struct.pack_into("<I", b, io_off + 4, struct.unpack_from("<I", blob, io_off + 4 * len(sub.inputs))[0])
    st, msg = vk.parse(bytes(b))
    assert st == BAD_IO and "neither data nor an input" in msg, msg
