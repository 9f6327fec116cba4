"""The exporter's delegate backends, by name (base.py: what a backend is).

A backend shipped with PocketTorch is one line in BUILTIN: its name and the module that defines it (imported only
when an export asks for it, so a backend's dependencies cost nothing otherwise); the module's `BACKEND` is the
Backend subclass. A backend from elsewhere (a vendor's package, a test) calls register(cls). The partitioner
(exporter/partition.py) looks backends up here and knows none of them by name.
"""
from __future__ import annotations

import importlib

from pockettorch.exporter.backends.base import Backend, Subgraph
from pockettorch.runtime import error_catalogue as errors

BUILTIN: dict[str, str] = {"vulkan": "pockettorch.exporter.backends.vulkan"}
_registered: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Make backend `cls` available by its `name` (usable as a class decorator)."""
    if not isinstance(cls, type) or not issubclass(cls, Backend) or not cls.name:
        raise TypeError("register() takes a Backend subclass with a name")
    _registered[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _registered.pop(name, None)


def names() -> list[str]:
    return sorted({*BUILTIN, *_registered})


def get(name: str) -> Backend:
    """A new instance of backend `name`."""
    if name not in _registered and name in BUILTIN:
        register(importlib.import_module(BUILTIN[name]).BACKEND)
    if name not in _registered:
        raise errors.InvalidArgumentError(f"no delegate backend named {name!r} (known: {', '.join(names())})")
    return _registered[name]()


__all__ = ["Backend", "Subgraph", "get", "names", "register", "unregister"]
