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
```
"""
from __future__ import annotations

import dataclasses
import itertools
import os
from typing import Any, Callable

import yaml

PLATFORMS = ("host", "android", "ios")
CONFIG_DEFAULTS = {"threads": 1, "iters": 50, "warmup": 5, "power": False, "verify": False, "profile_ops": False,
                   "cpus": None}


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
        out = {}
        for k, v in node.value:
            key = self.loader.construct_object(k)
            if key not in allowed:
                self.fail(k, f"{field}.{key}" if field else str(key), f"unknown field; expected one of {', '.join(allowed)}")
            out[key] = v
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


def _tuple(kind):
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind) -> str:
    return " or ".join({"str": "string", "int": "integer", "float": "number", "bool": "boolean (true/false)",
                        "NoneType": "null"}[k.__name__] for k in _tuple(kind))


def load_farm_file(path: str | os.PathLike) -> FarmConfig:
    path = os.fspath(path)
    with open(path) as f:
        text = f.read()
    return parse_farm(text, path)


def parse_farm(text: str, path: str = "farm.yaml") -> FarmConfig:
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
    top = r.mapping(root, "", ("models", "devices", "configs", "retry", "cooldown", "timeout_s"))
    for required in ("models", "devices"):
        if required not in top:
            r.fail(root, required, "is required")
    models = [_model(r, n, f"models[{i}]", base) for i, n in enumerate(r.sequence(top["models"], "models"))]
    seen: dict[str, int] = {}
    for i, (m, node) in enumerate(zip(models, top["models"].value)):
        if m.name in seen:
            r.fail(node, f"models[{i}].name", f"'{m.name}' is already used by models[{seen[m.name]}]; give one a name")
        seen[m.name] = i
    devices = [_device(r, n, f"devices[{i}]") for i, n in enumerate(r.sequence(top["devices"], "devices"))]
    configs = [{}] if "configs" not in top else [
        c for i, n in enumerate(r.sequence(top["configs"], "configs")) for c in _configs(r, n, f"configs[{i}]")]
    cfg = FarmConfig(path=path, models=models, devices=devices, configs=configs)
    if "retry" in top:
        m = r.mapping(top["retry"], "retry", ("retries", "backoff_s", "max_backoff_s"))
        cfg.retries = r.scalar(m["retries"], "retry.retries", int, lambda v: 0 <= v <= 20, "an integer 0..20") \
            if "retries" in m else cfg.retries
        for k in ("backoff_s", "max_backoff_s"):
            if k in m:
                setattr(cfg, k, r.scalar(m[k], f"retry.{k}", float, lambda v: v >= 0, "a number >= 0"))
    if "cooldown" in top:
        m = r.mapping(top["cooldown"], "cooldown", ("seconds", "until_temp_c", "max_wait_s"))
        if "seconds" in m:
            cfg.cooldown_s = r.scalar(m["seconds"], "cooldown.seconds", float, lambda v: v >= 0, "a number >= 0")
        if "until_temp_c" in m:
            cfg.until_temp_c = r.scalar(m["until_temp_c"], "cooldown.until_temp_c", (float, type(None)))
        if "max_wait_s" in m:
            cfg.max_wait_s = r.scalar(m["max_wait_s"], "cooldown.max_wait_s", float, lambda v: v >= 0, "a number >= 0")
    if "timeout_s" in top:
        cfg.timeout_s = r.scalar(top["timeout_s"], "timeout_s", float, lambda v: v > 0, "a number > 0")
    return cfg


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
    if not name or any(c in name for c in "@#/ "):
        r.fail(nodes.get("name", node), f"{field}.name", f"'{name}' must be non-empty without '@', '#', '/' or spaces")
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


_CONFIG_TYPES = {"threads": (int, lambda v: v >= 0, "an integer >= 0"), "iters": (int, lambda v: v >= 1, "an integer >= 1"),
                 "warmup": (int, lambda v: v >= 0, "an integer >= 0"), "power": (bool, lambda v: True, ""),
                 "verify": (bool, lambda v: True, ""), "profile_ops": (bool, lambda v: True, ""),
                 "cpus": (str, lambda v: bool(v), "a CPU list such as 4-7")}


def _configs(r: _Reader, node, field) -> list[dict]:
    """One config entry; list values expand into the product (threads: [1, 4] -> two configs)."""
    m = r.mapping(node, field, tuple(_CONFIG_TYPES))
    choices = {}
    for key, value in m.items():
        kind, check, what = _CONFIG_TYPES[key]
        items = r.sequence(value, f"{field}.{key}") if isinstance(value, yaml.SequenceNode) else [value]
        choices[key] = [r.scalar(v, f"{field}.{key}", kind, check, what) for v in items]
    keys = list(choices)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(choices[k] for k in keys))]
