"""Small inline SVG charts for reports: no JavaScript, no network, readable in a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#1f5f8b", "#d98b1f", "#3c8d40", "#a33c3c", "#6b4c9a", "#4a4a4a", "#c7a41c")


def _fmt(value: float) -> str:
    return f"{int(value):,}".replace(",", ".")


def bar_chart(
    items: Sequence[tuple[str, float]], *, title: str, width: int = 560, bar_height: int = 16
) -> Markup:
    """Horizontal bars, one per (label, value), values written at the bar's end."""
    if not items:
        return Markup(  # noqa: S704 - every text inside is escaped above
            f'<p class="catatan">{escape(title)}: tidak ada data.</p>'
        )
    top = max(v for _, v in items) or 1
    label_w, gap, head = 190, 5, 22
    plot_w = width - label_w - 70
    height = head + len(items) * (bar_height + gap) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" font-size="11" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = head + i * (bar_height + gap)
        w = max(1.0, plot_w * value / top) if value else 0
        short = label if len(label) <= 32 else label[:31] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_height - 4}" font-size="9" '
            f'text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height}" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_height - 4}" font-size="9">'
            f"{_fmt(value)}</text>"
        )
    parts.append("</svg>")
    return Markup(  # noqa: S704 - every text inside is escaped above
        "".join(parts)
    )


def column_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 560,
    height: int = 220,
) -> Markup:
    """Stacked columns: one column per label (e.g. month), one colour per series."""
    if not labels or not series:
        return Markup(  # noqa: S704 - every text inside is escaped above
            f'<p class="catatan">{escape(title)}: tidak ada data.</p>'
        )
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))]
    top = max(totals) or 1
    left, bottom, head, legend_h = 60, 30, 22, 14 * ((len(series) + 2) // 3)
    plot_h = height - head - bottom - legend_h
    step = (width - left - 10) / len(labels)
    col_w = step * 0.6
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="0" y="14" font-size="11" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{head + plot_h}" x2="{width - 10}" y2="{head + plot_h}" '
        'stroke="#444" stroke-width="0.8"/>',
        f'<text x="{left - 4}" y="{head + 8}" font-size="8" text-anchor="end">{_fmt(top)}</text>',
        f'<text x="{left - 4}" y="{head + plot_h}" font-size="8" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x = left + i * step + (step - col_w) / 2
        y = float(head + plot_h)
        for k, (_, values) in enumerate(series):
            h = plot_h * values[i] / top
            y -= h
            if h > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"/>'
                )
        parts.append(
            f'<text x="{x + col_w / 2:.1f}" y="{head + plot_h + 12}" font-size="8" '
            f'text-anchor="middle">{escape(label)}</text>'
            f'<text x="{x + col_w / 2:.1f}" y="{y - 2:.1f}" font-size="7" '
            f'text-anchor="middle">{_fmt(totals[i])}</text>'
        )
    for k, (name, _) in enumerate(series):
        lx = left + (k % 3) * ((width - left) / 3)
        ly = height - legend_h + 10 + (k // 3) * 14
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly - 8}" width="9" height="9" '
            f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            f'<text x="{lx + 13:.1f}" y="{ly}" font-size="8">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup(  # noqa: S704 - every text inside is escaped above
        "".join(parts)
    )
