"""Quantization: the user's schemes (config.py) and how the exporter applies them."""
from pockettorch.exporter.quant.config import Int8Dynamic, Int8Static, WeightOnly, int8, int8_dynamic, weight_only

__all__ = ["Int8Static", "Int8Dynamic", "WeightOnly", "int8", "int8_dynamic", "weight_only"]
