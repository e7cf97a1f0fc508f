"""A schematic map of the programme's cercles, one tile each with its count, drawn as inline SVG.

No boundaries: the open ones at hand (geoBoundaries' Mali ADM2, from OCHA's 2017 data) have
the 49 cercles of before 2023, without Kignan, Koumantou, Koury and the others this programme
names. Each tile sits roughly where its seat lies, beside its neighbours, and a thick line
goes round each region. No web request, no script: it works offline.
"""

import math
from collections.abc import Callable, Collection, Mapping

from markupsafe import Markup, escape

from flows.report import CERCLES

# (column, row) of each cercle, west to east and north to south, from its seat's place.
TILES = {
    "mpessoba": (6, 1), "kouniana": (7, 1),
    "konseguela": (6, 2), "koutiala": (7, 2), "yorosso": (8, 2),
    "zangasso": (6, 3), "molobala": (7, 3), "koury": (8, 3),
    "selingue": (1, 4), "ouelessebougou": (2, 4), "dogo": (3, 4),
    "kignan": (5, 4), "klela": (6, 4), "danderesso": (7, 4),
    "yanfolila": (1, 5), "bougouni": (2, 5), "koumantou": (3, 5),
    "niena": (4, 5), "lobougoula": (5, 5), "sikasso": (6, 5),
    "garalo": (2, 6), "kolondieba": (3, 6), "kadiana": (4, 6), "loulouni": (6, 6),
    "fakola": (3, 7), "kadiolo": (6, 7),
}  # fmt: skip
# Where each region's name is written, in the same units: beside its tiles, on none.
LABELS = {"koutiala": (6, 0.75), "bougouni": (1, 3.75), "sikasso": (7.1, 7.55)}
W, H, PAD = 112, 56, 12
# Light to dark, each with a text colour of at least 4.5:1 on it (WCAG AA).
LEVELS = (("#f1f3f5", "#1d2630"), ("#c6dbef", "#1d2630"), ("#6baed6", "#1d2630"),
          ("#2171b5", "#ffffff"), ("#08306b", "#ffffff"))  # fmt: skip
OUTSIDE = ("#ffffff", "#4a5560")  # a cercle of the region that the user does not see
EDGE, BORDER = "#6b7785", "#12355b"  # a tile's edge, a region's (3:1 and more on white)
LABEL_CHAR_W, CHAR_W = 7.5, 8  # a character's width at 13 and 12 px, at most: all in the frame


def level(count: int, top: int) -> int:
    """Return a count's shade: 0 for none, then 1 to 4 by quarters of the largest count."""
    return 0 if count <= 0 else min(len(LEVELS) - 1, math.ceil(4 * count / max(top, 1)))


def legend(top: int) -> list[tuple[int, str]]:
    """Return each shade that a count can take with the counts it stands for ("1", "2-3")."""
    ranges = [(0, "0")]
    for shade in range(1, len(LEVELS)):
        low, high = math.floor((shade - 1) * top / 4) + 1, math.floor(shade * top / 4)
        if low <= high:
            ranges.append((shade, str(low) if low == high else f"{low}–{high}"))
    return ranges


def draw(
    counts: Mapping[str, int],
    shown: Collection[str],
    t: Callable[..., str],
    href: Callable[[str], str],
) -> Markup:
    """Return the map of the regions holding the shown cercles, as an SVG element.

    counts: reports by cercle code; shown: the cercles the user sees (the others of
    their region are drawn blank, without a count); t: the console's copy; href: a
    cercle's link.
    """
    regions = {CERCLES[code] for code in shown if code in TILES}
    drawn = [code for code in TILES if CERCLES[code] in regions]
    top = max((counts.get(code, 0) for code in shown), default=0)
    labels = [(LABELS[r], t("console.cases.map.region", name=t(f"report.region.{r}")))
              for r in sorted(regions)]  # fmt: skip
    left = min([TILES[c][0] * W for c in drawn] + [x * W for (x, _), _ in labels])
    right = max([(TILES[c][0] + 1) * W for c in drawn]
                + [x * W + len(name) * LABEL_CHAR_W for (x, _), name in labels])  # fmt: skip
    right = max(right, left + _legend_width(top, t))
    high = min([TILES[c][1] * H for c in drawn] + [y * H - 14 for (_, y), _ in labels])
    low = max([(TILES[c][1] + 1) * H for c in drawn] + [y * H + 4 for (_, y), _ in labels])
    x0, y0 = left - PAD, high - PAD
    width, height = right - left + 2 * PAD, low - high + 2 * PAD + 34  # the legend below
    title = t("console.cases.map.title")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="group" width="{width:g}" '
        f'height="{height:g}" viewBox="{x0:g} {y0:g} {width:g} {height:g}" '
        f'aria-label="{escape(title)}" class="map"><title>{escape(title)}</title>'
    ]
    for code in drawn:
        parts.append(_tile(code, counts.get(code, 0), top, code in shown, t, href))
    parts.extend(_borders(drawn))
    for (x, y), name in labels:
        parts.append(f'<text x="{x * W:g}" y="{y * H:g}" font-size="13" font-weight="600" '
                     f'fill="{BORDER}">{escape(name)}</text>')  # fmt: skip
    parts.append(_legend(top, left, low + PAD, t))
    parts.append("</svg>")
    return Markup("".join(parts))


def _tile(code: str, count: int, top: int, seen: bool, t, href) -> str:
    col, row = TILES[code]
    x, y = col * W, row * H
    name = t(f"report.cercle.{code}")
    fill, ink = LEVELS[level(count, top)] if seen else OUTSIDE
    dash = "" if seen else ' stroke-dasharray="4 3"'
    second = str(count) if seen else t("console.cases.map.outside")
    size = 17 if seen else 11
    said = t("console.cases.map.count_one" if count <= 1 else "console.cases.map.count",
             name=name, count=count) if seen else f"{name} : {second}"  # fmt: skip
    tile = (
        f'<rect x="{x}" y="{y}" width="{W}" height="{H}" fill="{fill}" stroke="{EDGE}"{dash}/>'
        f'<text x="{x + W / 2:g}" y="{y + 20}" text-anchor="middle" font-size="12" '
        f'fill="{ink}">{escape(name)}</text>'
        f'<text x="{x + W / 2:g}" y="{y + 42}" text-anchor="middle" font-size="{size}" '
        f'font-weight="700" fill="{ink}">{escape(second)}</text>'
    )
    if not seen:
        return f'<g data-cercle="{code}"><title>{escape(said)}</title>{tile}</g>'
    return (
        f'<a href="{escape(href(code))}" aria-label="{escape(said)}" data-cercle="{code}" '
        f'data-count="{count}"><title>{escape(said)}</title>{tile}</a>'
    )


def _borders(drawn: list[str]) -> list[str]:
    """Return a thick line along every tile side that faces another region, or nothing."""
    at = {TILES[code]: CERCLES[code] for code in drawn}
    lines = []
    for (col, row), region in at.items():
        x, y = col * W, row * H
        sides = (((0, -1), (x, y, x + W, y)), ((0, 1), (x, y + H, x + W, y + H)),
                 ((-1, 0), (x, y, x, y + H)), ((1, 0), (x + W, y, x + W, y + H)))  # fmt: skip
        for (dc, dr), (x1, y1, x2, y2) in sides:
            if at.get((col + dc, row + dr)) != region:
                lines.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{BORDER}" '
                             f'stroke-width="3" stroke-linecap="square"/>')  # fmt: skip
    return lines


def _legend(top: int, x: float, y: float, t) -> str:
    parts = [f'<text x="{x:g}" y="{y + 13:g}" font-size="12">'
             f'{escape(t("console.cases.map.legend"))}</text>']  # fmt: skip
    cursor = x + CHAR_W * len(t("console.cases.map.legend")) + 6
    for shade, text in legend(top):
        fill, _ = LEVELS[shade]
        parts.append(f'<rect x="{cursor:g}" y="{y + 2:g}" width="18" height="14" fill="{fill}" '
                     f'stroke="{EDGE}"/><text x="{cursor + 22:g}" y="{y + 13:g}" '
                     f'font-size="12">{escape(text)}</text>')  # fmt: skip
        cursor += 30 + CHAR_W * len(text)
    return "".join(parts)


def _legend_width(top: int, t) -> float:
    words = CHAR_W * len(t("console.cases.map.legend")) + 6
    return words + sum(30 + CHAR_W * len(text) for _, text in legend(top))
