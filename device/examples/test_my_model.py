"""What an app team writes to keep its model fast and small on the phones it ships to.

    pip install pockettorch                     # the plugin comes with it
    pytest test_my_model.py --pkt-device host --pkt-device R58M123 --pkt-device 00008110-000A1B2C3D4E5F60
    pytest test_my_model.py --pkt-device all --pkt-db results.db   # keep every result for `pockettorch farm` reports

Each test that takes `pkt_device` runs once per device named; `pkt_bench` benchmarks on that device and
returns the pockettorch.bench/1 result (latency_ms, load_ms, peak_rss_kb, power, device, ...).
"""
import pytest

MODEL = "mlp"  # a .ptm path in a real project, e.g. "build/classifier.ptm"; "mlp" is a built-in zoo model


def test_latency_budget(pkt_device, pkt_bench):
    r = pkt_bench(MODEL, iterations=30, warmup=3, threads=1)
    assert r["device"]["serial"] == pkt_device.serial
    assert r["latency_ms"]["p90"] < 250, f"p90 {r['latency_ms']['p90']:.2f} ms on {pkt_device.serial}"


def test_memory_budget(pkt_device, pkt_bench):
    r = pkt_bench(MODEL, iterations=5, warmup=1)
    assert r["arena_bytes"] < 1 * 2**20  # planned activation memory; r["peak_rss_kb"] is the whole process


@pytest.mark.pkt_platform("android")
def test_power_on_android(pkt_device, pkt_bench):
    r = pkt_bench(MODEL, iterations=200, warmup=10, power=True)
    if r["power"]["available"]:
        assert r["power"]["energy_per_inference_mj"] < 50
