"""The exporter: torch.export -> core ATen -> PocketTorch ops -> passes -> memory plan -> .ptm."""
from pockettorch.exporter.api import Program, export

__all__ = ["Program", "export"]
