"""Charts drawn on the server as SVG: no script library, nothing fetched, readable without JavaScript. Each chart
scales to its box (viewBox) and carries a <title> per mark, which browsers show on hover."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

W, H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 40, 12, 12, 36


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label, None where there is nothing to draw
    css: str  # the class that colours it (app.css)


def _svg(body: list[str], label: str, height: int = H) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {W} {height}" role="img" aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">'
        + "".join(body)
        + "</svg>"
    )


def _y(value: float, top: float, height: int = H) -> float:
    return PAD_T + (height - PAD_T - PAD_B) * (1 - value / top)


def _grid(top: float, fmt: Callable[[float], str], steps: int = 4, height: int = H) -> list[str]:
    lines = []
    for i in range(steps + 1):
        v = top * i / steps
        y = _y(v, top, height)
        lines.append(f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>')
        lines.append(f'<text class="axis" x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(v))}</text>')
    return lines


def _x_labels(labels: Sequence[str], xs: Sequence[float], height: int = H) -> list[str]:
    every = max(1, len(labels) // 12)  # at most a dozen labels fit under the chart
    return [
        f'<text class="axis" x="{x:.1f}" y="{height - PAD_B + 16}" text-anchor="middle">{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0
    ]


def _legend(series: Sequence[Series], height: int = H) -> list[str]:
    out = []
    for i, s in enumerate(series):
        x = PAD_L + i * 160
        out.append(f'<rect class="{s.css}" x="{x}" y="{height - 12}" width="10" height="10"/>')
        out.append(f'<text class="legend" x="{x + 14}" y="{height - 3}">{escape(s.name)}</text>')
    return out


def line_chart(
    labels: Sequence[str], series: Sequence[Series], *, top: float, fmt: Callable[[float], str], empty: str
) -> Markup:
    """Lines over shared x labels on one 0..top axis; a gap where a value is None, a dot on every value."""
    if not labels or all(v is None for s in series for v in s.values):
        return _empty(empty)
    step = (W - PAD_L - PAD_R) / max(1, len(labels) - 1) if len(labels) > 1 else 0
    xs = [PAD_L + step * i if len(labels) > 1 else (W + PAD_L - PAD_R) / 2 for i in range(len(labels))]
    body = _grid(top, fmt) + _x_labels(labels, xs)
    for s in series:
        run: list[str] = []
        for x, v, label in zip(xs, s.values, labels, strict=True):
            if v is None:
                if len(run) > 1:
                    body.append(f'<polyline class="line {s.css}" points="{" ".join(run)}"/>')
                run = []
                continue
            y = _y(min(v, top), top)
            run.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="dot {s.css}" cx="{x:.1f}" cy="{y:.1f}" r="3"><title>{escape(s.name)} · '
                f"{escape(label)}: {escape(fmt(v))}</title></circle>"
            )
        if len(run) > 1:
            body.append(f'<polyline class="line {s.css}" points="{" ".join(run)}"/>')
    body += _legend(series)
    return _svg(body, " / ".join(s.name for s in series), H + 16)


def bar_chart(labels: Sequence[str], series: Sequence[Series], *, fmt: Callable[[float], str], empty: str) -> Markup:
    """Bars side by side per x label, on a 0..max axis."""
    values = [v or 0 for s in series for v in s.values]
    if not labels or not any(values):
        return _empty(empty)
    top = _nice_top(max(values))
    leading = round(top / 10 ** math.floor(math.log10(top)))
    steps = int(top) if top <= 2 else 4 if leading == 2 else 5  # whole-number grid lines for counts
    slot = (W - PAD_L - PAD_R) / len(labels)
    bar = slot * 0.8 / len(series)
    xs = [PAD_L + slot * (i + 0.5) for i in range(len(labels))]
    body = _grid(top, fmt, steps) + _x_labels(labels, xs)
    for j, s in enumerate(series):
        for i, (v, label) in enumerate(zip(s.values, labels, strict=True)):
            value = v or 0
            x = PAD_L + slot * i + slot * 0.1 + bar * j
            y = _y(value, top)
            body.append(
                f'<rect class="bar {s.css}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{_y(0, top) - y:.1f}">'
                f"<title>{escape(s.name)} · {escape(label)}: {escape(fmt(value))}</title></rect>"
            )
    if len(series) > 1:
        body += _legend(series)
    return _svg(body, " / ".join(s.name for s in series), H + 16)


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    x: float  # 0..100
    y: float  # 0..100
    thin: bool  # fewer responses than a verdict needs: drawn hollow


def scatter(
    points: Sequence[Point], *, x_name: str, y_name: str, good: float, fmt: Callable[[float], str], empty: str
) -> Markup:
    """Points on two 0..100 axes with the `good` line drawn on each: the four quarters read as liked and on
    script, liked but off script, disliked but on script, neither."""
    if not points:
        return _empty(empty)
    height = H + 40
    inner_w, inner_h = W - PAD_L - PAD_R, height - PAD_T - PAD_B

    def px(v: float) -> float:
        return PAD_L + inner_w * v / 100

    def py(v: float) -> float:
        return PAD_T + inner_h * (1 - v / 100)

    body = _grid(100, fmt, height=height)
    body += [
        f'<text class="axis" x="{px(v):.1f}" y="{height - PAD_B + 16}" text-anchor="middle">{escape(fmt(v))}</text>'
        for v in (0, 25, 50, 75, 100)
    ]
    body.append(f'<line class="good" x1="{px(good):.1f}" x2="{px(good):.1f}" y1="{PAD_T}" y2="{py(0):.1f}"/>')
    body.append(f'<line class="good" x1="{PAD_L}" x2="{W - PAD_R}" y1="{py(good):.1f}" y2="{py(good):.1f}"/>')
    body.append(f'<text class="legend" x="{W - PAD_R}" y="{height - 4}" text-anchor="end">{escape(x_name)} →</text>')
    body.append(f'<text class="legend" x="{PAD_L + 4}" y="{PAD_T + 10}">↑ {escape(y_name)}</text>')
    for p in points:
        css = "point thin" if p.thin else "point"
        body.append(
            f'<g class="{css}"><circle cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="5"/>'
            f'<text x="{px(p.x) + 7:.1f}" y="{py(p.y) + 4:.1f}">{escape(p.label)}</text>'
            f"<title>{escape(p.label)}: {escape(x_name)} {escape(fmt(p.x))}, {escape(y_name)} {escape(fmt(p.y))}"
            "</title></g>"
        )
    return _svg(body, f"{x_name} / {y_name}", height)


@dataclass(frozen=True, slots=True)
class Part:
    name: str  # shown on hover
    count: int
    css: str  # the class that colours it (app.css)


BAR_W = 1000


def progress_bar(parts: Sequence[Part], total: int, *, label: str, fmt: Callable[[float], str]) -> Markup:
    """One bar of `total`, filled by the parts in their order; what they leave is the track. It stretches to its
    box (the width is the CSS's), so a part of one in ten thousand is still drawn a hairline wide."""
    body = [f'<rect class="track" x="0" y="0" width="{BAR_W}" height="10"/>']
    x = 0.0
    for part in parts:
        if not part.count or not total:
            continue
        width = max(BAR_W * part.count / total, 1.0)
        body.append(
            f'<rect class="{part.css}" x="{x:.1f}" y="0" width="{width:.1f}" height="10">'
            f"<title>{escape(part.name)}: {escape(fmt(part.count))}</title></rect>"
        )
        x += width
    return Markup(
        f'<svg class="progress" viewBox="0 0 {BAR_W} 10" preserveAspectRatio="none" role="img" '
        f'aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _nice_top(value: float) -> float:
    """The axis top: the value rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for m in (1, 2, 5, 10):
        if value <= m * magnitude:
            return float(m * magnitude)
    return float(10 * magnitude)


def _empty(message: str) -> Markup:
    return Markup(f'<p class="empty">{escape(message)}</p>')
