"""Load and validate a farm file (YAML). Every error names the file, line and field:

    farm.yaml:7: devices[1].platform: must be one of host, android, ios, not 'androd'

```yaml
models:                       # files (.ptm), zoo names or builders, each with export options
  - zoo: mlp                  # or  file: model.ptm   or  builder: my_models.py:build
    name: mlp                 # default: the zoo name or file stem
    export: {reference: true} # verify needs the reference stored at export
devices:                      # serials, filters, or all
  - host
  - {platform: android, abi: arm64-v8a}
  - {serial: emulator-5554, server: "10.0.0.5:5037"}
configs:                      # each entry; a list value expands into one config per item
  - {threads: [1, 4], iters: 50, warmup: 5, power: false, verify: true}
retry: {retries: 2, backoff_s: 2, max_backoff_s: 30}
cooldown: {seconds: 0, until_temp_c: 40, max_wait_s: 120}
timeout_s: 600
limits: {max_jobs: 1000}      # models x devices x configs larger than this is refused (--max-jobs overrides)
```
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import os
import re
from typing import Any, Callable

import yaml

PLATFORMS = ("host", "android", "ios")
CONFIG_DEFAULTS = {"threads": 1, "iters": 50, "warmup": 5, "power": False, "verify": False, "profile_ops": False,
                   "cpus": None}
MAX_JOBS = 1000  # default size limit of the expanded matrix
MAX_SECONDS = 7 * 24 * 3600.0  # any duration longer than a week is a typo, not a plan
TEMP_RANGE_C = (0.0, 150.0)  # device temperatures a cool-down can wait for


class MatrixTooLarge(ValueError):
    """The farm expands to more jobs than its limit allows."""


class FarmFileError(ValueError):
    def __init__(self, path: str, node: yaml.Node | None, field: str, message: str):
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        super().__init__(f"{path}{line}: {field + ': ' if field else ''}{message}")
        self.line = node.start_mark.line + 1 if node is not None else None
        self.field = field


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # "zoo:mlp", "file:/abs/model.ptm", "builder:/abs/file.py:fn"
    export: dict


@dataclasses.dataclass(frozen=True)
class DeviceFilter:
    serial: str | None = None
    platform: str | None = None
    abi: str | None = None
    model: str | None = None  # substring of the device's model name
    server: str | None = None  # adb server host:port the device must be on
    all: bool = False


@dataclasses.dataclass
class FarmConfig:
    path: str
    models: list[ModelSpec]
    devices: list[DeviceFilter]
    configs: list[dict]
    retries: int = 2
    backoff_s: float = 2.0
    max_backoff_s: float = 30.0
    cooldown_s: float = 0.0
    until_temp_c: float | None = None
    max_wait_s: float = 120.0
    timeout_s: float = 600.0
    max_jobs: int = MAX_JOBS

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class _Reader:
    """Typed access to YAML nodes that reports the line and dotted field of whatever is wrong."""

    def __init__(self, path: str, loader: yaml.SafeLoader):
        self.path, self.loader = path, loader

    def fail(self, node, field, message):
        raise FarmFileError(self.path, node, field, message)

    def mapping(self, node, field, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, field, "must be a mapping")
        out, lines = {}, {}
        for k, v in node.value:
            key = self.loader.construct_object(k)
            name = f"{field}.{key}" if field else str(key)
            if key in out:
                self.fail(k, name, f"duplicate key (first given on line {lines[key]})")
            if key not in allowed:
                near = [a for a in allowed if str(key).lower() == a.lower()]
                self.fail(k, name, f"unknown field; {f'did you mean {near[0]}? ' if near else ''}"
                                   f"expected one of {', '.join(allowed)}")
            out[key], lines[key] = v, k.start_mark.line + 1
        return out

    def sequence(self, node, field) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.fail(node, field, "must be a non-empty list")
        return node.value

    def scalar(self, node, field, kind: type | tuple, check: Callable[[Any], bool] = lambda v: True, what: str = ""):
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, field, f"must be a {what or _kind_name(kind)}")
        value = self.loader.construct_object(node)
        if float in _tuple(kind) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _tuple(kind)) or not check(value):
            self.fail(node, field, f"must be {what or 'a ' + _kind_name(kind)}, not {value!r}")
        return value

    def seconds(self, node, field, positive: bool = False) -> float:
        """A finite duration up to a week: .inf, .nan or 1e300 would hang a run or overflow a timer."""
        return self.scalar(node, field, float, lambda v: (0 < v if positive else 0 <= v) and v <= MAX_SECONDS,
                           f"a number of seconds {'> 0' if positive else '>= 0'} and <= {MAX_SECONDS:g}")


def _tuple(kind):
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    return " or ".join({"str": "string", "int": "integer", "float": "number", "bool": "boolean (true/false)",
                        "NoneType": "null"}[k.__name__] for k in _tuple(kind))


def load_farm_file(path: str | os.PathLike, max_jobs: int | None = None) -> FarmConfig:
    path = os.fspath(path)
    with open(path) as f:
        text = f.read()
    return parse_farm(text, path, max_jobs)


def parse_farm(text: str, path: str = "farm.yaml", max_jobs: int | None = None) -> FarmConfig:
    """The farm file's configuration; `max_jobs` (from --max-jobs) overrides the file's limits.max_jobs."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise FarmFileError(path, None, "", f"not valid YAML{f' (line {mark.line + 1})' if mark else ''}: "
                                            f"{getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    if root is None:
        raise FarmFileError(path, None, "", "the file is empty; it needs models and devices")
    r = _Reader(path, loader)
    base = os.path.dirname(os.path.abspath(path))
    top = r.mapping(root, "", ("models", "devices", "configs", "retry", "cooldown", "timeout_s", "limits"))
    for required in ("models", "devices"):
        if required not in top:
            r.fail(root, required, "is required")
    if max_jobs is None and "limits" in top:
        lim = r.mapping(top["limits"], "limits", ("max_jobs",))
        if "max_jobs" in lim:
            max_jobs = r.scalar(lim["max_jobs"], "limits.max_jobs", int, lambda v: 1 <= v <= 10**6, "an integer 1..1000000")
    max_jobs = MAX_JOBS if max_jobs is None else max_jobs
    models = [_model(r, n, f"models[{i}]", base) for i, n in enumerate(r.sequence(top["models"], "models"))]
    seen: dict[str, int] = {}
    for i, (m, node) in enumerate(zip(models, top["models"].value)):
        folded = m.name.lower()  # model files and traces are named after it: Mlp and mlp clash on macOS
        if folded in seen:
            r.fail(node, f"models[{i}].name", f"'{m.name}' is already used by models[{seen[folded]}] "
                                              f"(names must differ in more than case); give one a name")
        seen[folded] = i
    devices = [_device(r, n, f"devices[{i}]") for i, n in enumerate(r.sequence(top["devices"], "devices"))]
    configs = [{}] if "configs" not in top else _all_configs(r, top["configs"], max_jobs)
    cfg = FarmConfig(path=path, models=models, devices=devices, configs=configs, max_jobs=max_jobs)
    if "retry" in top:
        m = r.mapping(top["retry"], "retry", ("retries", "backoff_s", "max_backoff_s"))
        cfg.retries = r.scalar(m["retries"], "retry.retries", int, lambda v: 0 <= v <= 20, "an integer 0..20") \
            if "retries" in m else cfg.retries
        for k in ("backoff_s", "max_backoff_s"):
            if k in m:
                setattr(cfg, k, r.seconds(m[k], f"retry.{k}"))
    if "cooldown" in top:
        m = r.mapping(top["cooldown"], "cooldown", ("seconds", "until_temp_c", "max_wait_s"))
        if "seconds" in m:
            cfg.cooldown_s = r.seconds(m["seconds"], "cooldown.seconds")
        if "until_temp_c" in m:
            lo, hi = TEMP_RANGE_C
            cfg.until_temp_c = r.scalar(m["until_temp_c"], "cooldown.until_temp_c", (float, type(None)),
                                        lambda v: v is None or lo <= v <= hi, f"a temperature {lo:g}..{hi:g} (C) or null")
        if "max_wait_s" in m:
            cfg.max_wait_s = r.seconds(m["max_wait_s"], "cooldown.max_wait_s")
    if "timeout_s" in top:
        cfg.timeout_s = r.seconds(top["timeout_s"], "timeout_s", positive=True)
    return cfg


def check_matrix(cfg: FarmConfig, n_devices: int) -> None:
    """Refuse a run of more than cfg.max_jobs jobs, saying how the number came about."""
    total = len(cfg.models) * n_devices * len(cfg.configs)
    if total > cfg.max_jobs:
        raise MatrixTooLarge(f"{cfg.path}: the farm expands to {total} jobs ({len(cfg.models)} model(s) x {n_devices} "
                             f"device(s) x {len(cfg.configs)} config(s)), more than the limit of {cfg.max_jobs}; "
                             f"narrow the lists, or raise limits.max_jobs in the file or --max-jobs")


def _model(r: _Reader, node, field, base) -> ModelSpec:
    if isinstance(node, yaml.ScalarNode):  # shorthand: "zoo:mlp" or "model.ptm"
        text = r.scalar(node, field, str)
        m = {"zoo": text[4:]} if text.startswith("zoo:") else {"file": text}
        nodes = {}
    else:
        nodes = r.mapping(node, field, ("zoo", "file", "builder", "name", "export"))
        m = {k: r.scalar(v, f"{field}.{k}", str) for k, v in nodes.items() if k in ("zoo", "file", "builder", "name")}
    kinds = [k for k in ("zoo", "file", "builder") if k in m]
    if len(kinds) != 1:
        r.fail(node, field, "needs exactly one of zoo, file or builder")
    kind = kinds[0]
    value = m[kind]
    if kind == "zoo":
        from pockettorch.exporter.zoo import ZOO  # imports torch, which exporting the zoo model needs anyway

        if value not in ZOO:
            r.fail(nodes.get("zoo", node), f"{field}.zoo", f"unknown zoo model '{value}'; available: {', '.join(ZOO)}")
        source, default_name = f"zoo:{value}", value
    elif kind == "file":
        full = os.path.join(base, value)
        if not value.endswith(".ptm"):
            r.fail(nodes.get("file", node), f"{field}.file", f"'{value}' is not a .ptm program (use builder: for .py)")
        if not os.path.isfile(full):
            r.fail(nodes.get("file", node), f"{field}.file", f"no such file: {full}")
        source, default_name = f"file:{full}", os.path.splitext(os.path.basename(value))[0]
    else:
        file, sep, func = value.rpartition(":")
        if not sep or not file.endswith(".py") or not func:
            r.fail(nodes["builder"], f"{field}.builder", f"'{value}' is not FILE.py:FUNCTION")
        if not os.path.isfile(os.path.join(base, file)):
            r.fail(nodes["builder"], f"{field}.builder", f"no such file: {os.path.join(base, file)}")
        source, default_name = f"builder:{os.path.join(base, file)}:{func}", func
    export: dict = {}
    if "export" in nodes:
        if kind == "file":
            r.fail(nodes["export"], f"{field}.export", "a .ptm file is already exported; export options need zoo or builder")
        e = r.mapping(nodes["export"], f"{field}.export", ("reference", "seed"))
        if "reference" in e:
            export["reference"] = r.scalar(e["reference"], f"{field}.export.reference", bool)
        if "seed" in e:
            export["seed"] = r.scalar(e["seed"], f"{field}.export.seed", int)
    name = m.get("name") or default_name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        r.fail(nodes.get("name", node), f"{field}.name",
               f"'{name}' must start with a letter or digit and hold only letters, digits, '.', '_' and '-'")
    return ModelSpec(name=name, source=source, export=export)


def _device(r: _Reader, node, field) -> DeviceFilter:
    if isinstance(node, yaml.ScalarNode):
        text = str(r.scalar(node, field, (str, int)))
        return DeviceFilter(all=True) if text == "all" else DeviceFilter(serial=text)
    m = r.mapping(node, field, ("serial", "platform", "abi", "model", "server"))
    if not m:
        r.fail(node, field, "an empty filter; write `all` to mean every device")
    values = {k: str(r.scalar(v, f"{field}.{k}", (str, int))) for k, v in m.items()}
    if "platform" in values and values["platform"] not in PLATFORMS:
        r.fail(m["platform"], f"{field}.platform", f"must be one of {', '.join(PLATFORMS)}, not '{values['platform']}'")
    if "server" in values:
        host, _, port = values["server"].removeprefix("tcp:").rpartition(":")
        if not host or not port.isdigit():
            r.fail(m["server"], f"{field}.server", f"'{values['server']}' is not host:port")
    return DeviceFilter(**values)


_CONFIG_TYPES = {"threads": (int, lambda v: 0 <= v <= 1024, "an integer 0..1024"),
                 "iters": (int, lambda v: 1 <= v <= 10**9, "an integer 1..1000000000"),
                 "warmup": (int, lambda v: 0 <= v <= 10**9, "an integer 0..1000000000"), "power": (bool, lambda v: True, ""),
                 "verify": (bool, lambda v: True, ""), "profile_ops": (bool, lambda v: True, ""),
                 "cpus": (str, lambda v: bool(v), "a CPU list such as 4-7")}


def config_label(config: dict) -> str:
    """A full config (defaults filled in) as it appears in job keys: threads, iters and power always; other
    settings only when they differ from the defaults."""
    parts = [f"threads={config['threads']}", f"iters={config['iters']}", f"power={'on' if config['power'] else 'off'}"]
    for k in ("warmup", "cpus", "profile_ops", "verify"):
        if config.get(k) != CONFIG_DEFAULTS[k]:
            v = config[k]
            parts.append(f"{k}={('on' if v else 'off') if isinstance(v, bool) else v}")
    return ",".join(parts)


def _all_configs(r: _Reader, node, max_jobs: int) -> list[dict]:
    """Every config entry expanded; two that give the same settings (the same job keys) are an error."""
    configs, first = [], {}
    for i, n in enumerate(r.sequence(node, "configs")):
        for c in _configs(r, n, f"configs[{i}]", max_jobs - len(configs)):
            label = config_label({**CONFIG_DEFAULTS, **c})
            if label in first:
                r.fail(n, f"configs[{i}]", f"gives {label} again (as configs[{first[label]}] does): every job key "
                                           f"must be unique; drop the repeated value")
            first[label] = i
            configs.append(c)
    return configs


def _configs(r: _Reader, node, field, room: int) -> list[dict]:
    """One config entry; list values expand into the product (threads: [1, 4] -> two configs). The size is
    checked before expanding: `room` is how many configs the job limit leaves."""
    m = r.mapping(node, field, tuple(_CONFIG_TYPES))
    choices = {}
    for key, value in m.items():
        kind, check, what = _CONFIG_TYPES[key]
        items = r.sequence(value, f"{field}.{key}") if isinstance(value, yaml.SequenceNode) else [value]
        choices[key] = [r.scalar(v, f"{field}.{key}", kind, check, what) for v in items]
    size = math.prod(len(v) for v in choices.values())
    if size > room:
        how = " x ".join(f"{len(v)} {k}" for k, v in choices.items() if len(v) > 1)
        r.fail(node, field, f"expands to {size} configs ({how}), more than the {room} the job limit leaves; "
                            f"narrow the lists, or raise limits.max_jobs in the file or --max-jobs")
    keys = list(choices)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(choices[k] for k in keys))]
