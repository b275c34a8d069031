"""Bar and line charts as inline SVG, drawn on the server.

No JavaScript and no inline ``style`` attributes, so the strict CSP holds: geometry
and colour are SVG presentation attributes, the rest is in
``static/complaints/admin.css``.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 22
BAR_GAP = 6
LABEL_WIDTH = 270
CHART_WIDTH = 700


def bar_chart(items: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return mark_safe("")
    top = max(value for _label, value in items) or 1
    span = CHART_WIDTH - LABEL_WIDTH - 50
    height = len(items) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    parts = [
        f'<svg class="chart chart-bar" role="img" viewBox="0 0 {CHART_WIDTH} {height}" '
        f'width="{CHART_WIDTH}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = BAR_GAP + i * (BAR_HEIGHT + BAR_GAP)
        width = max(1, round(span * value / top)) if value else 0
        text_y = y + BAR_HEIGHT * 0.7
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{text_y:.1f}" text-anchor="end" '
            f'font-size="13" fill="#333">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" '
            f'fill="#417690" rx="2"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{text_y:.1f}" font-size="13" '
            f'fill="#333">{value}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line_chart(points: Sequence[tuple[str, int]], *, title: str) -> SafeString:
    """A line over time, one point per (label, value), with its axis labels."""
    if not points:
        return mark_safe("")
    width, height, pad_x, pad_top, pad_bottom = CHART_WIDTH, 240, 40, 16, 44
    top = max(value for _label, value in points) or 1
    inner_w = width - 2 * pad_x
    inner_h = height - pad_top - pad_bottom
    step = inner_w / max(1, len(points) - 1)
    coords = [
        (pad_x + i * step, pad_top + inner_h - inner_h * value / top)
        for i, (_label, value) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    base = pad_top + inner_h
    parts = [
        f'<svg class="chart chart-line" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad_x}" y1="{base}" x2="{width - pad_x}" y2="{base}" '
        f'stroke="#999" stroke-width="1"/>',
        f'<text x="{pad_x - 6}" y="{pad_top + 4}" text-anchor="end" font-size="12" '
        f'fill="#666">{top}</text>',
        f'<text x="{pad_x - 6}" y="{base}" text-anchor="end" font-size="12" '
        f'fill="#666">0</text>',
        f'<polyline points="{path}" fill="none" stroke="#417690" stroke-width="2.5"/>',
    ]
    every = max(1, len(points) // 8)
    for i, ((label, value), (x, y)) in enumerate(zip(points, coords, strict=True)):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#205067">'
            f"<title>{escape(label)}: {value}</title></circle>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle" '
                f'font-size="11" fill="#666">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))
