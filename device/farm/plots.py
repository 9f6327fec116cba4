"""Small inline SVG charts for the HTML report (no scripts, no CDN): latency distributions as box plots with
every sample drawn, bars for energy per inference, a line for a metric's history across runs."""
from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET

WIDTH = 720
LABEL_W = 230  # at least; wider when a label needs it (labels are never cut: they name configs)
PLOT_W = WIDTH - LABEL_W
ROW_H = 34
CHAR_W = 6.6  # a generous width of one 11 px character (13 px bold for titles: TITLE_CHAR_W)
TITLE_CHAR_W = 9.0
PALETTE = ("#3266a8", "#d0692a", "#3b9a52", "#b03a48", "#7652a8", "#8a6d3b")


def _label_width(labels) -> int:
    return max(LABEL_W, int(12 + CHAR_W * max((len(label) for label in labels), default=0)))


def _svg(height: int, title: str, width: int = WIDTH, **attrs: str) -> ET.Element:
    """The chart; wide enough for its title, and scaled down by the page's CSS when wider than the window."""
    width = max(width, int(8 + TITLE_CHAR_W * len(title)))
    svg = ET.Element("svg", {"xmlns": "http://www.w3.org/2000/svg", "width": str(width), "height": str(height),
                             "viewBox": f"0 0 {width} {height}", "role": "img", **attrs})
    ET.SubElement(svg, "title").text = title
    ET.SubElement(svg, "text", x="4", y="14", **{"font-size": "13", "font-weight": "bold"}).text = title
    return svg


def _text(parent, x, y, text, anchor="start", size=11) -> None:
    ET.SubElement(parent, "text", x=f"{x:.1f}", y=f"{y:.1f}", **{"font-size": str(size), "text-anchor": anchor}).text = text


def _axis(svg, x0: float, top: float, bottom: float, lo: float, hi: float, unit: str) -> callable:
    """A bottom axis with 5 ticks from x0 across PLOT_W; returns value -> x."""
    x1 = x0 + PLOT_W - 20
    span = (hi - lo) or 1.0

    def sx(v: float) -> float:
        return x0 + (v - lo) / span * (x1 - x0)
    ET.SubElement(svg, "line", x1=str(x0), y1=f"{bottom}", x2=str(x1), y2=f"{bottom}", stroke="#555")
    for i in range(5):
        v = lo + span * i / 4
        ET.SubElement(svg, "line", x1=f"{sx(v):.1f}", y1=f"{top}", x2=f"{sx(v):.1f}", y2=f"{bottom}", stroke="#e4e4e4")
        _text(svg, sx(v), bottom + 13, f"{v:.3g}", "middle", 10)
    _text(svg, x1, bottom + 26, unit, "end", 10)
    return sx


def latency_plot(title: str, series: list[tuple[str, list[float]]], **attrs: str) -> ET.Element:
    """One row per job: its samples as dots and a box (quartiles, median line, whiskers at min/max)."""
    rows = [(label, s) for label, s in series if s]
    height = 40 + ROW_H * max(len(rows), 1) + 30
    label_w = _label_width(label for label, _ in rows)
    svg = _svg(height, title, label_w + PLOT_W, **attrs)
    if not rows:
        _text(svg, label_w, 50, "no latency samples")
        return svg
    values = [v for _, s in rows for v in s]
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.05 or max(hi * 0.05, 1e-3)
    sx = _axis(svg, label_w, 26, 30 + ROW_H * len(rows), max(0.0, lo - pad), hi + pad, "ms per inference")
    for i, (label, s) in enumerate(rows):
        y = 30 + ROW_H * i + ROW_H / 2
        color = PALETTE[i % len(PALETTE)]
        _text(svg, label_w - 6, y + 4, label, "end")
        q1, med, q3 = statistics.quantiles(s, n=4) if len(s) > 1 else (s[0], s[0], s[0])
        g = ET.SubElement(svg, "g", {"class": "job", "data-label": label})
        ET.SubElement(g, "title").text = label
        ET.SubElement(g, "line", x1=f"{sx(min(s)):.1f}", y1=f"{y}", x2=f"{sx(max(s)):.1f}", y2=f"{y}", stroke=color)
        ET.SubElement(g, "rect", x=f"{sx(q1):.1f}", y=f"{y - 9}", width=f"{max(sx(q3) - sx(q1), 1):.1f}", height="18",
                      fill=color, **{"fill-opacity": "0.25", "stroke": color})
        ET.SubElement(g, "line", x1=f"{sx(med):.1f}", y1=f"{y - 11}", x2=f"{sx(med):.1f}", y2=f"{y + 11}", stroke=color,
                      **{"stroke-width": "2"})
        for j, v in enumerate(s):  # deterministic jitter so overlapping samples stay visible
            ET.SubElement(g, "circle", cx=f"{sx(v):.1f}", cy=f"{y - 6 + (j * 7919 % 13):.1f}", r="1.6", fill=color,
                          **{"fill-opacity": "0.6"})
    return svg


def bar_plot(title: str, bars: list[tuple[str, float]], unit: str, **attrs: str) -> ET.Element:
    height = 40 + ROW_H * max(len(bars), 1) + 30
    label_w = _label_width(label for label, _ in bars)
    svg = _svg(height, title, label_w + PLOT_W, **attrs)
    if not bars:
        _text(svg, label_w, 50, "nothing measured")
        return svg
    sx = _axis(svg, label_w, 26, 30 + ROW_H * len(bars), 0.0, max(v for _, v in bars) * 1.1 or 1.0, unit)
    for i, (label, v) in enumerate(bars):
        y = 30 + ROW_H * i
        _text(svg, label_w - 6, y + ROW_H / 2 + 4, label, "end")
        ET.SubElement(svg, "rect", {"class": "bar", "x": str(label_w), "y": f"{y + 7}", "width": f"{sx(v) - label_w:.1f}",
                                    "height": str(ROW_H - 14), "fill": PALETTE[i % len(PALETTE)]})
        _text(svg, sx(v) + 4, y + ROW_H / 2 + 4, f"{v:.3g}")
    return svg


def line_plot(title: str, points: list[tuple[str, float]], unit: str, **attrs: str) -> ET.Element:
    """Values in run order; x labels are the run ids."""
    height = 190
    svg = _svg(height, title, **attrs)
    if not points:
        _text(svg, 20, 50, "no history")
        return svg
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    pad = (hi - lo) * 0.1 or max(hi * 0.1, 1e-3)
    lo, hi = max(0.0, lo - pad), hi + pad
    x0, x1, top, bottom = 60, WIDTH - 30, 30, height - 40

    def sx(i):
        return x0 + (x1 - x0) * (i / (len(points) - 1) if len(points) > 1 else 0.5)

    def sy(v):
        return bottom - (v - lo) / (hi - lo) * (bottom - top)
    ET.SubElement(svg, "line", x1=str(x0), y1=str(bottom), x2=str(x1), y2=str(bottom), stroke="#555")
    for v in (lo, (lo + hi) / 2, hi):
        _text(svg, x0 - 4, sy(v) + 4, f"{v:.3g}", "end", 10)
    _text(svg, 4, top - 4, unit, "start", 10)
    ET.SubElement(svg, "polyline", fill="none", stroke=PALETTE[0], **{"stroke-width": "2", "points": " ".join(
        f"{sx(i):.1f},{sy(v):.1f}" for i, (_, v) in enumerate(points))})
    for i, (label, v) in enumerate(points):
        ET.SubElement(svg, "circle", {"class": "point", "cx": f"{sx(i):.1f}", "cy": f"{sy(v):.1f}", "r": "3.5",
                                      "fill": PALETTE[0]})
        _text(svg, sx(i), bottom + 14, label[-13:], "middle", 9)
    return svg
