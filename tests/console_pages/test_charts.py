"""The dashboard's SVG charts: bars (charts.bars) and lines (charts.lines)."""

import html
import re

import pytest

from app.web.console import charts

from .conftest import plotted


def drawn(svg: str) -> list[dict]:
    """Return each bar of a chart: its shown label, tooltip and width."""
    bars = re.findall(
        r'<text [^>]*text-anchor="end"[^>]*>([^<]*)</text>'
        r'<rect [^>]*width="(\d+)"[^>]*><title>([^<]*)</title></rect>',
        svg,
    )
    return [{"label": label, "width": int(width), "title": title} for label, width, title in bars]


@pytest.mark.parametrize(
    ("rows", "widths"),
    [
        ([("a", 10), ("b", 5), ("c", 2.5)], [360, 180, 90]),
        ([("a", 3), ("b", 1)], [360, 120]),
        ([("a", 4), ("b", 0)], [360, 1]),  # a zero still shows a sliver
        ([("a", 0), ("b", 0)], [1, 1]),  # all zero: no division by zero
        ([("seul", 7)], [360]),
    ],
)
def test_bar_lengths_are_proportional_to_the_values(rows, widths):
    """The longest bar fills the room (720 - 300 label - 60 value = 360 px); others scale."""
    svg = str(charts.bars(rows))
    assert [bar["width"] for bar in drawn(svg)] == widths
    assert svg.count("<rect") == len(rows)
    assert f'height="{len(rows) * 28 + 6}"' in svg


def test_bar_values_are_shown_with_their_unit():
    """Each bar is followed by its value and unit, also in the tooltip."""
    svg = str(charts.bars([("Module 1", 75), ("Module 2", 12.5)], unit=" %"))
    assert ">75 %</text>" in svg and ">12.5 %</text>" in svg
    assert [bar["title"] for bar in drawn(svg)] == ["Module 1: 75 %", "Module 2: 12.5 %"]


def test_an_empty_chart_is_a_titled_svg_without_bars():
    """No rows draws an empty SVG of one row's height, with its title."""
    svg = str(charts.bars([], title="Signalements par cercle"))
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<rect" not in svg and "<text" not in svg
    assert 'height="34"' in svg and "<title>Signalements par cercle</title>" in svg


@pytest.mark.parametrize(
    "label",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Tom & Jerry <b>"],
)
def test_labels_and_titles_are_escaped(label):
    """A label or title with markup is shown as text: nothing of it runs or breaks the SVG."""
    svg = str(charts.bars([(label, 1)], unit="<u>", title=label))
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg and "<u>" not in svg
    (bar,) = drawn(svg)
    assert html.unescape(bar["label"]) == label
    assert html.unescape(bar["title"]) == f"{label}: 1<u>"
    assert html.unescape(re.search(r'aria-label="([^"<>]*)"', svg).group(1)) == label
    assert html.unescape(re.search(r"<svg [^>]*><title>([^<]*)</title>", svg).group(1)) == label


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("x" * 42, "x" * 42),  # exactly what fits: kept whole
        ("x" * 43, "x" * 41 + "…"),
        ("Les dangers du coton et des champs, des pesticides",
         "Les dangers du coton et des champs, des p…"),
    ],
)  # fmt: skip
def test_long_labels_are_cut_but_whole_in_the_tooltip(label, shown):
    """A label longer than 42 characters is cut with …; the tooltip keeps all of it."""
    (bar,) = drawn(str(charts.bars([(label, 3)])))
    assert bar["label"] == shown and len(bar["label"]) <= 42
    assert bar["title"] == f"{label}: 3"


def test_a_line_chart_has_one_line_per_series_and_a_point_per_month():
    """Each series is a line with a tooltip per month, and a legend entry."""
    months = ["01/26", "02/26", "03/26"]
    svg = str(charts.lines(months, [("RMCR", [1, 2, 3]), ("CMDT", [0, 0, 1])], title="Agents"))
    assert plotted(svg) == {"RMCR": ["01/26: 1", "02/26: 2", "03/26: 3"],
                            "CMDT": ["01/26: 0", "02/26: 0", "03/26: 1"]}  # fmt: skip
    assert ">RMCR</text>" in svg and ">CMDT</text>" in svg  # the legend
    assert all(f">{m}</text>" in svg for m in months)  # the axis
    assert 'stroke-dasharray="6 3"' in svg  # the second line is dashed: not told by colour only
    assert "<title>Agents</title>" in svg and 'aria-label="Agents"' in svg


def test_the_highest_point_reaches_a_round_top_of_the_axis():
    """The axis ends at 1, 2 or 5 times a power of ten; the value 3 sits at 3/5 of the height."""
    svg = str(charts.lines(["a", "b"], [("x", [0, 3])]))
    assert ">5</text>" in svg and ">2.5</text>" in svg and ">0</text>" in svg
    ys = [float(y) for y in re.findall(r'<circle [^>]*cy="([\d.]+)"', svg)]
    bottom, height = charts.PLOT_T + charts.PLOT_H, charts.PLOT_H
    assert ys == [bottom, pytest.approx(bottom - height * 3 / 5, abs=0.1)]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (1, 1), (1.5, 2), (3, 5), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (999, 1000)],
)
def test_round_up(value, top):
    assert charts._round_up(value) == top


def test_an_empty_line_chart_is_a_titled_svg_without_lines():
    """No series draws the axes and the title, and no line."""
    svg = str(charts.lines(["01/26"], [], title="Vide"))
    assert "<polyline" not in svg and "<title>Vide</title>" in svg


@pytest.mark.parametrize(
    "draw", [lambda e: charts.bars([], empty=e), lambda e: charts.lines(["01/26"], [], empty=e)]
)
def test_a_chart_without_data_says_so(draw):
    """Given the words, an empty chart says there is nothing yet rather than stay blank."""
    svg = str(draw("Pas encore de données & <rien>"))
    assert ">Pas encore de données &amp; &lt;rien&gt;</text>" in svg


def test_line_names_are_escaped():
    """A series named with markup is shown as text."""
    svg = str(charts.lines(["m"], [("<script>x</script>", [1])], unit="<u>"))
    assert "<script" not in svg and "<u>" not in svg
    assert plotted(svg) == {"<script>x</script>": ["m: 1<u>"]}


def test_negative_values_draw_red_bars_within_the_chart():
    """A negative gain is drawn by its size, in red, and never past the chart's edge."""
    svg = str(charts.bars([("A", -5), ("B", 10)]))
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    fills = re.findall(r'fill="(#[0-9a-f]{6})"', svg)
    assert widths[1] == 2 * widths[0] and max(widths) + charts.LABEL_W <= charts.WIDTH
    assert fills == ["#c53030", "#2b6cb0"] and ">-5<" in svg
