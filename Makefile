# Set-up and the two jobs the README names. Everything installs into .venv from this repository's files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The binding's C inputs, as the runtime's source manifest lists them (setup.py compiles the same list).
C_SOURCES := $(shell $(PYTHON) runtime/manifest.py)
OUT ?= out
MODEL ?= mobilenet_v2

.PHONY: install qemu proxy-tools chromium farm-servers vulkan demo test clean

install: qemu proxy-tools chromium farm-servers vulkan $(STAMP) node_modules/.package-lock.json

# The Kotlin compiler (npm kotlin-compiler, pinned in package-lock.json) compiles the generated Android SDK in tests.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# qemu-user-static runs the cross-built ARM runners in tests/runtime/test_cross.py (Debian/Ubuntu; sudo only
# when not root and sudo exists; elsewhere install qemu-user yourself, the tests skip without it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || ! command -v sudo >/dev/null 2>&1 || echo sudo)
qemu:
	command -v qemu-aarch64-static >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-user-static)

# The arm64 instruction-count proxy (bench/arm64_proxy.py, tests/bench/test_arm64_proxy.py) disassembles with
# aarch64-linux-gnu-objdump and counts the AVX2 path with valgrind's callgrind (the tests skip without them).
proxy-tools:
	command -v aarch64-linux-gnu-objdump >/dev/null && command -v valgrind >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends binutils-aarch64-linux-gnu valgrind)

# Headless chromium renders the farm's HTML report to a screenshot in tests/device/farm/test_report.py (the test
# skips without it).
chromium:
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

# The farm across hosts (device/farm/celery_app.py, store_sql.py): the tests start a private Redis broker and a private
# PostgreSQL (initdb + pg_ctl from /usr/lib/postgresql/*/bin) per session on loopback; they skip without them.
farm-servers:
	command -v redis-server >/dev/null && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server postgresql)

# The Vulkan backend (runtime/backends/vulkan) builds against libvulkan, compiles its GLSL shaders with
# glslangValidator, and runs in tests on Mesa's lavapipe (a software Vulkan driver: no GPU needed).
vulkan:
	command -v glslangValidator >/dev/null && test -e /usr/include/vulkan/vulkan.h && ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan-dev glslang-tools)

# torch is pinned to the CPU build that lies on this machine's disk; a looser pin would fetch a CUDA build.
$(STAMP): pyproject.toml setup.py runtime/manifest.py runtime/op_table.py $(C_SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test]'
	touch $@

# The main job on the default target (the host): export a zoo model, inspect it, run it on the C runtime.
demo: $(STAMP)
	$(VENV)/bin/pockettorch export zoo:$(MODEL) --out $(OUT)/$(MODEL).ptm
	$(VENV)/bin/pockettorch inspect $(OUT)/$(MODEL).ptm
	$(VENV)/bin/pockettorch run $(OUT)/$(MODEL).ptm --iters 20 --warmup 3 --json $(OUT)/$(MODEL).run.json

# The 20 slowest tests are listed at the end of every run, so a slow new test shows up in CI's log.
test: install
	$(PY) -m pytest -n auto --durations=20

clean:
	rm -rf $(VENV) build $(OUT) runtime/*.so node_modules
