"""The map of reports per cercle on the cases page: drawn on the server, within the scope."""

import html
import re

import pytest

from app.web.console import cercle_map
from flows.report import CERCLES, REGIONS

from ..helpers import file_reports, page

# Reports by cercle: two regions, and one report that named no cercle.
FILED = {"kadiolo": 3, "sikasso": 1, "koutiala": 2, "kolondieba": 4, "unknown": 1}


def tiles(response) -> dict[str, str | None]:
    """Return the map's tiles, cercle: count (None for a tile drawn without one)."""
    svg = re.search(r'<svg[^>]*class="map".*?</svg>', response.get_data(as_text=True), re.S)
    assert svg, "no map"
    found = {}
    for tag in re.findall(r'<(?:a|g) [^>]*data-cercle="[a-z]+"[^>]*>', svg.group(0)):
        code = re.search(r'data-cercle="([a-z]+)"', tag).group(1)
        count = re.search(r'data-count="(\d+)"', tag)
        found[code] = count.group(1) if count else None
    return found


def figures(response) -> dict[str, str]:
    """Return the map's table of figures, row name: count."""
    table = re.search(r'<table id="map-figures">.*?</table>', page(response), re.S).group(0)
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>[^<]*</td><td>(\d+)</td></tr>", table)
    return {re.sub(r"<[^>]+>", "", name): count for name, count in rows}


@pytest.fixture
def reports(app):
    """File FILED's reports."""
    first = 700000
    for cercle, count in FILED.items():
        region = CERCLES.get(cercle, "sikasso")
        file_reports(app, count, first=first, cercle=cercle, region=region)
        first += 100


def test_an_admin_sees_every_cercle_with_its_count(app, client, sign_in, reports):
    sign_in("admin")
    response = client.get("/console/cases")
    shown = tiles(response)
    assert set(shown) == set(CERCLES)
    assert {code: n for code, n in shown.items() if n != "0"} == {
        code: str(n) for code, n in FILED.items() if code != "unknown"
    }
    text = page(response)
    assert '<a href="/console/cases?cercle=kolondieba" aria-label="Kolondiéba : 4 signalements"' \
        in text  # fmt: skip
    assert 'aria-label="Sikasso : 1 signalement"' in text
    assert "Plan schématique" in text
    table = figures(response)
    assert len(table) == 26 + 2  # each cercle, those with none, and the total
    assert (table["Kadiolo"], table["Cercle non précisé"], table["Total"]) == ("3", "1", "11")
    for region in ("Sikasso", "Bougouni", "Koutiala"):
        assert f">Région de {region}</text>" in text


def test_a_tile_leads_to_its_cercles_cases(app, client, sign_in, reports):
    sign_in("admin")
    response = client.get("/console/cases?cercle=kolondieba")
    assert len(re.findall(r'href="/console/cases/\d{6}"', response.get_data(as_text=True))) == 4


def test_a_cercle_supervisor_sees_its_region_but_only_its_own_count(app, client, sign_in, reports):
    """The other cercles of the region are drawn without a count; other regions not at all."""
    sign_in("scoped")  # cercle=kadiolo
    response = client.get("/console/cases")
    shown = tiles(response)
    assert set(shown) == set(REGIONS["sikasso"])
    assert shown["kadiolo"] == "3"
    assert all(count is None for code, count in shown.items() if code != "kadiolo")
    assert figures(response) == {"Kadiolo": "3", "Total": "3"}
    text = page(response)
    assert "Sikasso : 1 signalement" not in text and "Région de Bougouni" not in text
    assert text.count(">hors zone</text>") == len(REGIONS["sikasso"]) - 1
    assert 'aria-label="Kadiolo : 3 signalements"' in text


def test_a_region_viewer_sees_its_regions_cercles(app, client, sign_in, reports):
    sign_in("viewer")  # region=koutiala
    response = client.get("/console/cases")
    shown = tiles(response)
    assert set(shown) == set(REGIONS["koutiala"])
    assert {code: n for code, n in shown.items() if n != "0"} == {"koutiala": "2"}
    assert figures(response)["Total"] == "2"


def test_with_no_report_the_map_is_drawn_empty(app, client, sign_in):
    sign_in("admin")
    response = client.get("/console/cases")
    assert set(tiles(response).values()) == {"0"}
    assert figures(response)["Total"] == "0"


def test_every_cercle_has_a_tile_of_its_own_next_to_its_region():
    """26 cercles, 26 places; each region's tiles touch one another, as its cercles do."""
    assert set(cercle_map.TILES) == set(CERCLES)
    assert len(set(cercle_map.TILES.values())) == len(cercle_map.TILES)
    assert set(cercle_map.LABELS) == set(REGIONS)
    for region, cercles in REGIONS.items():
        places = {cercle_map.TILES[c] for c in cercles}
        reached, todo = set(), [next(iter(places))]
        while todo:
            col, row = todo.pop()
            if (col, row) in reached:
                continue
            reached.add((col, row))
            near = {(col + 1, row), (col - 1, row), (col, row + 1), (col, row - 1)}
            todo.extend(near & places)
        assert reached == places, region


def luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_colours_can_be_read():
    """Names and counts on every shade at 4.5:1 at least (WCAG AA); edges at 3:1 on white."""
    for fill, ink in (*cercle_map.LEVELS, cercle_map.OUTSIDE):
        assert contrast(fill, ink) >= 4.5, (fill, ink)
    for line in (cercle_map.EDGE, cercle_map.BORDER):
        assert contrast(line, "#ffffff") >= 3
    fills = [fill for fill, _ in cercle_map.LEVELS]
    assert [luminance(f) for f in fills] == sorted((luminance(f) for f in fills), reverse=True)


@pytest.mark.parametrize("top", [1, 2, 3, 4, 5, 7, 13, 100])
def test_the_legend_says_which_counts_each_shade_stands_for(top):
    ranges = dict(cercle_map.legend(top))
    for count in range(top + 1):
        shown = ranges[cercle_map.level(count, top)]
        low, _, high = shown.partition("–")
        assert int(low) <= count <= int(high or low), (count, shown)
    assert cercle_map.level(top, top) == len(cercle_map.LEVELS) - 1


def test_names_are_escaped():
    """Copy reaches the SVG as text, never as markup."""
    drawn = cercle_map.draw({"kadiolo": 1}, ["kadiolo"], lambda key, **_: "<b>&", str)
    assert "<b>" not in str(drawn) and html.escape("<b>&") in str(drawn)
