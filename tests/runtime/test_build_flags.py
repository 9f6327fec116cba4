"""Every build of the runtime (Python binding, CMake, direct and cross builds) is optimized the same way."""
import pathlib
import re

from pockettorch.runtime import build

ROOT = pathlib.Path(build.RUNTIME_DIR).parent


def test_optimization_flags_agree():
    cmake = (build.RUNTIME_DIR / "CMakeLists.txt").read_text()
    cmake_flags = re.search(r"set\(PKT_COMPILE_OPTIONS ([^)]*)\)", cmake).group(1).split()
    setup_flags = re.search(r"extra_compile_args=\[([^\]]*)\]", (ROOT / "setup.py").read_text()).group(1)
    for flag in build.OPT_FLAGS:
        assert flag in cmake_flags, f"CMakeLists.txt lacks {flag}"
        assert f'"{flag}"' in setup_flags, f"setup.py lacks {flag}"
    _, flags = build.direct_build(None)  # also what cross.py compiles with
    assert all(f in flags for f in build.OPT_FLAGS)
