"""`from pockettorch import quant`: quant.int8(calibration), quant.int8_dynamic(), quant.weight_only(bits, group_size)."""
from pockettorch.exporter.quant.config import Int8Dynamic, Int8Static, WeightOnly, int8, int8_dynamic, weight_only

__all__ = ["Int8Static", "Int8Dynamic", "WeightOnly", "int8", "int8_dynamic", "weight_only"]
