"""One Swift `Model` shared by many threads. There is no Swift compiler here, so this is checked in two halves:
Model.swift's syntax tree (tree-sitter-swift) shows run(_:) takes the model's NSLock, with a deferred unlock,
before its first C call on the session, and that no other member touches the session after init; and the
package's C target, driven by tests/sdk/ios/concurrent_driver.c (model_driver.c's stand-in for Model, whose
run holds a mutex in place of the NSLock), gives every one of 8 threads x 250 calls its own input's outputs at
1 and 2 runtime threads, without deadlock."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
from ios_support import SWIFT

from test_ios_c_target import c_target
from pockettorch.sdk_templates.ios import generator

HERE = pathlib.Path(__file__).parent
CALLERS, CALLS = 8, 250
# C calls that read or write a session's arena: only run(_:) may make them, under the lock
SESSION_CALLS = ("pkt_session_set_input", "pkt_session_bind_input", "pkt_session_run", "pkt_session_output_data",
                 "pkt_session_input_data", "pkt_session_enable_profiling")


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def _callee(call) -> str:
    return call.children[0].text.decode()


def _model_swift(package: pathlib.Path) -> bytes:
    (path,) = (package / "Sources").rglob("Model.swift")
    return path.read_bytes()


def test_swift_model_run_holds_its_lock_around_every_session_call(packages):
    tree = SWIFT.parse(_model_swift(packages["image"]))
    functions = [n for n in _walk(tree.root_node) if n.type in ("function_declaration", "init_declaration",
                                                                  "deinit_declaration")]
    users = {}
    for fn in functions:
        calls = [n for n in _walk(fn) if n.type == "call_expression" and _callee(n) in SESSION_CALLS]
        if calls:
            name = fn.child_by_field_name("name")
            users[name.text.decode() if name is not None else fn.type] = (fn, calls)
    assert list(users) == ["run"], f"members that touch the session: {list(users)}"
    run, calls = users["run"]
    locks = [n for n in _walk(run) if n.type == "call_expression" and _callee(n) == "lock.lock"]
    # tree-sitter-swift reads `defer { ... }` as a call of `defer` with a trailing closure
    defers = [n for n in _walk(run) if n.type == "call_expression" and _callee(n) == "defer" and b"lock.unlock()" in n.text]
    assert len(locks) == 1 and len(defers) == 1, "run(_:) takes the lock once and unlocks it in a defer"
    first = min(c.start_byte for c in calls)
    assert locks[0].start_byte < defers[0].start_byte < first
    # the lock is a stored constant of the class, so every call on one instance shares it
    assert re.search(rb"private let lock = NSLock\(\)", _model_swift(packages["image"]))


@pytest.fixture(scope="module")
def concurrent_driver(packages, tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc")
    root = c_target(packages["image"])
    includes = [f"-I{root / 'include'}", *(f"-I{root / p}" for p in generator.C_HEADER_SEARCH_PATHS), f"-I{HERE}"]
    binary = tmp_path_factory.mktemp("ios-threads") / "concurrent_driver"
    done = subprocess.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-DSWIFT_PACKAGE=1", *includes,
                           str(HERE / "concurrent_driver.c"), *sorted(map(str, root.rglob("*.c"))), "-o", str(binary),
                           "-lm", "-lpthread"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return binary


@pytest.mark.parametrize("threads", [1, 2])
def test_c_target_under_the_lock_gives_every_caller_its_outputs(concurrent_driver, packages, threads):
    (model,) = (packages["image"] / "Sources").rglob("Resources/model.ptm")
    try:
        done = subprocess.run([str(concurrent_driver), str(model), str(threads), str(CALLERS), str(CALLS)],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{CALLERS} callers on one model with {threads} runtime threads deadlocked")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.split() == ["wrong=0", f"ok={CALLERS * CALLS}"]
