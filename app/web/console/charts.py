"""Bar and line charts as inline SVG, drawn on the server: no script, no CDN, readable offline."""

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, WIDTH = 22, 6, 300, 720
LABEL_MAX = 42  # characters of a label that fit in LABEL_W; the whole label is in the tooltip


def bars(rows: list[tuple[str, float]], unit: str = "", title: str = "", empty: str = "") -> Markup:
    """Return a horizontal bar chart of (label, value) rows as an SVG element.

    empty is said in the chart when there are no rows.
    """
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
    if not rows and empty:
        parts.append(f'<text x="8" y="22" font-size="13" fill="#555">{escape(empty)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _cut(label: str, most: int = LABEL_MAX) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


# Okabe-Ito colours, told apart by most colour-blind readers; dashes tell them apart in grey.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "", "6 3", "2 3")
PLOT_L, PLOT_T, PLOT_H, LEGEND_W = 44, 12, 200, 170


def lines(
    columns: list[str],
    series: list[tuple[str, list[float]]],
    unit: str = "",
    title: str = "",
    empty: str = "",
) -> Markup:
    """Return a line chart of named series over columns (months) as an SVG element.

    empty is said in the chart when there are no series.
    """
    top = _round_up(max((v for _, values in series for v in values), default=0))
    plot_w = WIDTH - PLOT_L - LEGEND_W
    step = plot_w / max(1, len(columns) - 1)
    height = PLOT_T + PLOT_H + 34

    def y(value: float) -> float:
        return round(PLOT_T + PLOT_H - PLOT_H * value / top, 1)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, top / 2, top):
        parts.append(
            f'<line x1="{PLOT_L}" x2="{PLOT_L + plot_w}" y1="{y(tick)}" y2="{y(tick)}" '
            f'stroke="#ccc"/><text x="{PLOT_L - 6}" y="{y(tick) + 4}" text-anchor="end" '
            f'font-size="11">{tick:g}{escape(unit)}</text>'
        )
    for n, column in enumerate(columns):
        parts.append(
            f'<text x="{round(PLOT_L + n * step, 1)}" y="{PLOT_T + PLOT_H + 18}" '
            f'text-anchor="middle" font-size="11">{escape(column)}</text>'
        )
    for k, (name, values) in enumerate(series):
        colour, dash = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)]
        points = " ".join(f"{round(PLOT_L + n * step, 1)},{y(v)}" for n, v in enumerate(values))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dashed}/>'
        )
        for n, value in enumerate(values):
            parts.append(
                f'<circle cx="{round(PLOT_L + n * step, 1)}" cy="{y(value)}" r="3" '
                f'fill="{colour}"><title>{escape(name)}, {escape(columns[n])}: '
                f"{value:g}{escape(unit)}</title></circle>"
            )
        ly = PLOT_T + 8 + k * 20  # the legend
        lx = WIDTH - LEGEND_W + 10
        parts.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dashed}/><text x="{lx + 30}" y="{ly + 4}" font-size="12">'
            f"{escape(_cut(name, 20))}</text>"
        )
    if not series and empty:
        parts.append(
            f'<text x="{PLOT_L + plot_w / 2:g}" y="{PLOT_T + PLOT_H / 2:g}" text-anchor="middle" '
            f'font-size="13" fill="#555">{escape(empty)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _round_up(value: float) -> float:
    """Return a round top for an axis at or above value: 1, 2, 5, 10, 20, 50..."""
    top = 1
    while top < value:
        top = top * 5 // 2 if str(top)[0] == "2" else top * 2
    return top


def table(columns: list[str], series: list[tuple[str, list[float]]], summary: str) -> Markup:
    """Return a line chart's figures as a folded table, for screen readers and exact reading."""
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in columns)
    rows = "".join(
        f'<tr><th scope="row">{escape(name)}</th>'
        + "".join(f"<td>{value:g}</td>" for value in values)
        + "</tr>"
        for name, values in series
    )
    return Markup(
        f"<details><summary>{escape(summary)}</summary><table>"
        f"<thead><tr><td></td>{head}</tr></thead><tbody>{rows}</tbody></table></details>"
    )
