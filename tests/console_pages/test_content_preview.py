"""The content preview: every screen and SMS as a phone gets it."""

import html
import re

import pytest

from flows.engine import Route

from ..conftest import Dial
from ..helpers import assert_french, page, visible

FOCAL_SUPERVISOR = "+22366000003"  # a demo focal point: its main menu has the case desk


def screens_of(response) -> list[str]:
    """Return the phone screens a content page shows."""
    found = re.findall(r"<pre [^>]*>(.*?)</pre>", response.get_data(as_text=True), re.S)
    return [html.unescape(s) for s in found]


def test_the_content_page_opens_on_the_main_menu(app, client, sign_in):
    """/console/content shows the main menu's screens, with lengths and the journeys."""
    sign_in("viewer")
    response = client.get("/console/content")
    assert response.status_code == 200
    assert_french(response)
    screens = screens_of(response)
    assert screens and screens[0].startswith(
        "CON Kalan - Menu principal\n1. Formation\n2. Signaler un enfant\n"
    )
    assert all(len(s) <= 160 for s in screens)
    text = page(response)
    assert "[Menu principal]" in text  # the journey shown
    assert re.search(r"menu — \d+/160 caractères", text)
    assert "Écrans trop longs" not in text


def test_the_main_menu_preview_is_the_screen_a_phone_gets(app, client, sign_in, seeded):
    """The previewed main menu is exactly the USSD reply (a focal supervisor's: desk shown)."""
    sign_in("viewer")
    dialled = Dial(client, phone=FOCAL_SUPERVISOR)()
    assert dialled.startswith("CON Kalan - Menu principal\n") and "6. Mes dossiers" in dialled
    assert dialled in screens_of(client.get("/console/content"))


def test_the_sms_group_lists_every_sms_with_parts_and_encoding(app, client, sign_in):
    """?group=sms lists each sms.* text as sent, its length, parts and encoding."""
    sign_in("viewer")
    response = client.get("/console/content?group=sms")
    assert response.status_code == 200
    assert_french(response)
    rows = re.findall(
        r"<tr><td>(sms\.[^<]+)</td><td>([^<]*)</td><td>(\d+)</td>"
        r"\s*<td[^>]*>(\d+) \(([^)]+)\)</td>",
        response.get_data(as_text=True),
    )
    keys = sorted(k for k in app.extensions["catalog"].texts["fr"] if k.startswith("sms."))
    assert keys and [row[0] for row in rows] == keys
    for key, text, length, parts, encoding in rows:
        text = html.unescape(text)
        assert int(length) == len(text), key
        assert encoding == "GSM-7", key  # folded for SMS: no accent makes it UCS-2
        assert int(parts) == (1 if len(text) <= 160 else -(-len(text) // 153)), key
    assert screens_of(response) == []  # SMS are not screens


def test_sms_are_shown_filled_and_their_parts_counted_on_the_result(app, client, sign_in):
    """An SMS shows sample values, not $placeholders: its length and parts are those sent."""
    sign_in("viewer")
    response = client.get("/console/content?group=sms")
    rows = dict(
        (key, (html.unescape(text), int(parts)))
        for key, text, parts in re.findall(
            r"<tr><td>(sms\.[^<]+)</td><td>([^<]*)</td><td>\d+</td>\s*<td[^>]*>(\d+) ",
            response.get_data(as_text=True),
        )
    )
    assert rows and [key for key, (text, _) in rows.items() if "$" in text] == []
    text, parts = rows["sms.receipt"]
    assert re.fullmatch(r"Kalan : code \d{6}\. Gardez-le\. Suivi : \*123#, choix 4\.", text)
    text, parts = rows["sms.case_alert_urgent"]
    assert "Ouéléssébougou, Site d'orpaillage" in text and "$place" not in text
    assert len(text) > 160 and parts == 2  # the template alone is 149 characters: 1 part
    screen = [s for s in screens_of(client.get("/console/content?group=r")) if "Référence" in s]
    assert screen == ["END Merci. Référence : 444444. Notez-la. Suivi : *123#, choix 4."]
    tracked = screens_of(client.get("/console/content?group=track"))
    assert "CON Signalement 444444 : enregistré.\n0.Retour 00.Menu" in tracked


def test_the_desk_group_renders_the_focal_points_screens(app, client, sign_in):
    """?group=desk shows the case desk's screens, filled with sample cases."""
    sign_in("admin")
    response = client.get("/console/content?group=desk")
    assert response.status_code == 200
    assert "[Mes dossiers (points focaux)]" in page(response)
    screens = screens_of(response)
    assert len(screens) > 3
    assert all(s.startswith(("CON ", "END ")) for s in screens)
    captions = re.findall(r"<figcaption>([\w.]+) — ", response.get_data(as_text=True))
    assert len(captions) == len(screens)
    assert {c.split(".")[0] for c in captions} == {"desk"}
    assert "desk.list" in captions


def test_no_screen_of_any_journey_is_too_long(app, client, sign_in):
    """Every journey linked from the page renders, and none is flagged "trop long"."""
    sign_in("admin")
    first = client.get("/console/content")
    links = re.findall(r'href="/console/content\?group=([^"]+)"', first.get_data(as_text=True))

    flow = app.extensions["flow"]
    # Every journey with a screen is linked; routes alone have nothing to show.
    journeys = {key.split(".")[0] for key, node in flow.items() if not isinstance(node, Route)}
    assert set(links) == journeys | {"sms"} and "start" not in links
    shown = 0
    for group in links:
        response = client.get("/console/content", query_string={"group": group})
        assert response.status_code == 200, group
        text = page(response)
        assert re.search(rf'group={re.escape(group)}">\[[^\]]+\]</a>', text), group
        assert "trop long" not in visible(response), group
        assert "Écrans trop longs" not in text, group
        screens = screens_of(response)
        assert screens or group == "sms", group
        assert all(len(s) <= 160 for s in screens), group
        # A journey whose nodes are all routes (report: where a report starts) has no screen.
        nodes = [n for key, n in flow.items() if key.split(".")[0] == group]
        assert bool(screens) is any(not isinstance(n, Route) for n in nodes), group
        shown += len(screens)
    assert shown > 50


@pytest.mark.parametrize("group", ["nope", "<script>", "SMS", ""])
def test_an_unknown_group_shows_no_screen(app, client, sign_in, group):
    """An unknown journey is still a French page, with the links and no screen."""
    sign_in("viewer")
    response = client.get("/console/content", query_string={"group": group})
    assert response.status_code == 200
    assert_french(response)
    assert screens_of(response) == [] and "<table>" not in page(response)
    assert 'href="/console/content?group=menu"' in page(response)
    assert "<script>" not in response.get_data(as_text=True).split('<main id="main">')[1]
