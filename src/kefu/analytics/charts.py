"""Server-side inline SVG charts (no JavaScript, no chart library): horizontal bars and columns."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

ACCENT = "#d35400"
MUTED = "#5b6575"
GRID = "#dde1e7"


def _fmt(v: float) -> str:
    return f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"


def _text_width(s: str) -> float:
    return sum(13.0 if ord(ch) > 0x2E80 else 7.0 for ch in s)


def hbar(
    items: Sequence[tuple[str, float]], title: str, *, fmt: Callable[[float], str] = _fmt, width: int = 520
) -> Markup:
    """Horizontal bars, one per item (labels can be long Chinese category names)."""
    row, pad = 26, 6
    label_w = min(200.0, max((_text_width(label) for label, _ in items), default=40.0) + 10)
    height = max(1, len(items)) * row + pad * 2
    top = max((v for _, v in items), default=0) or 1
    plot = width - label_w - 70
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    if not items:
        parts.append(f'<text x="8" y="{row}" fill="{MUTED}" font-size="13">—</text>')
    for i, (label, v) in enumerate(items):
        y = pad + i * row
        w = max(0.0, plot * float(v) / top)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13" fill="#1d2430">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{ACCENT}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" font-size="12" fill="{MUTED}">{escape(fmt(float(v)))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated string above is escaped


def columns(
    items: Sequence[tuple[str, float]],
    title: str,
    *,
    fmt: Callable[[float], str] = _fmt,
    width: int = 520,
    height: int = 180,
    label_every: int = 1,
) -> Markup:
    """Vertical columns with a baseline and value labels (daily volume, distributions)."""
    left, bottom, top_pad = 8, 24, 18
    n = max(1, len(items))
    slot = (width - left * 2) / n
    bar = max(2.0, slot * 0.7)
    peak = max((v for _, v in items), default=0) or 1
    plot_h = height - bottom - top_pad
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}" stroke="{GRID}"/>',
    ]
    for i, (label, v) in enumerate(items):
        h = plot_h * float(v) / peak
        x = left + i * slot + (slot - bar) / 2
        y = height - bottom - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2" fill="{ACCENT}">'
            f"<title>{escape(label)}: {escape(fmt(float(v)))}</title></rect>"
        )
        if n <= 16 and v:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" fill="{MUTED}">'
                f"{escape(fmt(float(v)))}</text>"
            )
        if i % label_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle" font-size="11" fill="{MUTED}">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated string above is escaped


def gauge(
    value: float | None, title: str, *, target: float | None = None, target_title: str = "", width: int = 160
) -> Markup:
    """A half-ring showing a 0–1 rate with an optional target tick (`target_title`: its tooltip, page locale)."""
    import math

    r, cx, cy = 60, width / 2, 72
    v = min(1.0, max(0.0, value or 0.0))

    def point(frac: float) -> tuple[float, float]:
        a = math.pi * (1 - frac)
        return cx + r * math.cos(a), cy - r * math.sin(a)

    x0, y0 = point(0)
    x1, y1 = point(v)
    x2, y2 = point(1)
    label = "—" if value is None else f"{value * 100:.1f}%"
    parts = [
        f'<svg class="chart gauge" viewBox="0 0 {width} 90" width="{width}" role="img" aria-label="{escape(title)} '
        f'{escape(label)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<path d="M{x0:.1f},{y0:.1f} A{r},{r} 0 0 1 {x2:.1f},{y2:.1f}" fill="none" stroke="{GRID}" '
        'stroke-width="12"/>',
    ]
    if v > 0:
        parts.append(
            f'<path d="M{x0:.1f},{y0:.1f} A{r},{r} 0 0 1 {x1:.1f},{y1:.1f}" fill="none" stroke="{ACCENT}" '
            'stroke-width="12"/>'
        )
    if target is not None:
        tx, ty = point(min(1.0, max(0.0, target)))
        parts.append(
            f'<circle cx="{tx:.1f}" cy="{ty:.1f}" r="4" fill="#16794c"><title>{escape(target_title)}</title></circle>'
        )
    parts.append(
        f'<text x="{cx}" y="{cy - 4}" text-anchor="middle" font-size="18" font-weight="700" fill="#1d2430">'
        f"{escape(label)}</text></svg>"
    )
    return Markup("".join(parts))  # noqa: S704 - every interpolated string above is escaped
