"""The exporter: torch.export -> core ATen -> PocketTorch ops -> passes -> memory plan -> .ptm."""
__all__ = ["Program", "export"]


def __getattr__(name: str):
    # torch is imported on first use, not by `import pockettorch.exporter.cli` (so `pockettorch --help` stays fast)
    if name in __all__:
        from pockettorch.exporter import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
