"""Bar charts as inline SVG, drawn on the server: no script, no CDN, readable offline."""

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, WIDTH = 22, 6, 300, 720
LABEL_MAX = 42  # characters of a label that fit in LABEL_W; the whole label is in the tooltip


def bars(rows: list[tuple[str, float]], unit: str = "", title: str = "") -> Markup:
    """Return a horizontal bar chart of (label, value) rows as an SVG element."""
    # Gains may be negative: bars show the size, and red says below zero.
    top = max((abs(value) for _, value in rows), default=0) or 1
    height = max(1, len(rows)) * (BAR_H + GAP) + GAP
    room = WIDTH - LABEL_W - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for n, (label, value) in enumerate(rows):
        y = GAP + n * (BAR_H + GAP)
        length = round(room * abs(value) / top)
        colour = "#c53030" if value < 0 else "#2b6cb0"
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end" font-size="13">'
            f"{escape(_cut(label))}</text>"
            f'<rect x="{LABEL_W}" y="{y}" width="{max(length, 1)}" height="{BAR_H}" '
            f'fill="{colour}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{LABEL_W + length + 6}" y="{y + 15}" font-size="13">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _cut(label: str) -> str:
    return label if len(label) <= LABEL_MAX else label[: LABEL_MAX - 1] + "…"
