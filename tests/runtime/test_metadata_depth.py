"""Metadata nested deeper than Python's recursion limit is a catalogue error (BadMetadataError at load,
BadModelArgsError at export), never a RecursionError; ordinary nesting still loads."""
from __future__ import annotations

import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.runtime import metadata_json
from support_ptm import KINDS, Ptm


@pytest.fixture(scope="module")
def valid() -> bytes:
    return pockettorch.export(torch.nn.Linear(3, 2).eval(), (torch.randn(1, 3),)).to_bytes()


def _with_metadata(data: bytes, text: str) -> bytes:
    p = Ptm.parse(data)
    p.bodies[KINDS["METADATA"]] = text.encode()
    return p.build()


@pytest.mark.parametrize("depth", [metadata_json.MAX_DEPTH + 1, 5000, 200_000])
@pytest.mark.parametrize("where", ["top", "output_structure", "user"])
def test_deep_metadata_is_bad_metadata(valid, depth, where):
    deep = "[" * depth + "]" * depth
    text = {"top": deep, "output_structure": '{"name": "m", "output_structure": %s}' % (
        '{"kind": "tuple", "items": [' * depth + '{"kind": "tensor", "index": 0}' + "]}" * depth),
            "user": '{"name": "m", "user": %s}' % deep}[where]
    with pytest.raises(errors.BadMetadataError, match="nested"):
        pockettorch.load(_with_metadata(valid, text))


def test_nesting_within_the_limit_loads(valid):
    user = {"a": 1}
    for _ in range(metadata_json.MAX_DEPTH - 3):
        user = {"a": user}
    module = pockettorch.load(pockettorch.export(torch.nn.Linear(3, 2).eval(), (torch.randn(1, 3),),
                                                 metadata=user).to_bytes())
    assert module(torch.randn(1, 3)).shape == (1, 2)


def test_brackets_inside_strings_do_not_count():
    text = '{"s": "' + "[" * 1000 + '", "t": "\\\\", "u": "\\"[["}'
    assert metadata_json.nesting_depth(text) == 1
    assert metadata_json.loads(text)["s"] == "[" * 1000


@pytest.mark.parametrize("depth", [metadata_json.MAX_DEPTH + 1, 100_000])
def test_deep_metadata_at_export_is_bad_model_args(depth):
    user: dict = {}
    for _ in range(depth):
        user = {"a": user}
    with pytest.raises(errors.BadModelArgsError, match="metadata"):
        pockettorch.export(torch.nn.Linear(3, 2).eval(), (torch.randn(1, 3),), metadata=user)
