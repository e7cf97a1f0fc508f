"""The USSD webhook, driven with Africa's Talking payloads."""

import threading

import pytest
import requests

from app.infra.config import ROOT
from flows.gsm import is_gsm7

from .conftest import CODE, PHONE, Dial, serve
from .helpers import NO_AUDIO

MENU = "CON Kalan - Menu principal"


def screen_ok(reply: str, limit: int = 160) -> bool:
    """Tell whether a reply is a well-formed screen within the limit, in GSM-7."""
    return reply[:4] in ("CON ", "END ") and len(reply) <= limit and is_gsm7(reply)


def test_first_contact_with_one_language_shows_the_menu_at_once(dial):
    assert dial().startswith(MENU)
    assert dial.response.mimetype == "text/plain"


def complete_copy(root, code: str, name: str, partial: bool) -> str:
    """Return a content folder with French and code: all French's files renamed, or one line."""
    import shutil

    # French, and the facts and glossary beside it.
    shutil.copytree(ROOT / "content", root, ignore=NO_AUDIO)
    if partial:
        (root / code).mkdir()
        (root / code / "ussd.yaml").write_text(f'lang:\n  name: "{name}"\n', "utf-8")
    else:
        shutil.copytree(ROOT / "content" / "fr", root / code, ignore=NO_AUDIO)
        ussd = root / code / "ussd.yaml"
        ussd.write_text(ussd.read_text("utf-8").replace('name: "Francais"', f'name: "{name}"'))
    return str(root)


@pytest.mark.parametrize(
    ("partial", "first", "then", "lang"),
    [
        (False, "CON Bienvenue sur Kalan.\nChoisissez votre langue :\n1. Francais\n2. Bamanankan",
         "2", "bm"),
        (True, MENU, "5", None),  # Bamanankan falls back to French: nothing to choose yet
    ],
)  # fmt: skip
def test_first_contact_asks_the_language_only_when_two_are_complete(
    make_app, tmp_path, partial, first, then, lang
):
    from app.infra.models import Contact

    app = make_app(CONTENT_DIR=complete_copy(tmp_path / "content", "bm", "Bamanankan", partial))
    caller = Dial(app.test_client(), phone="+22370000043")
    assert caller().startswith(first)
    caller(then)
    with app.extensions["db"]() as db:
        assert db.query(Contact).filter_by(phone="+22370000043").one().language == lang


def test_known_caller_goes_straight_to_menu(client):
    Dial(client)("5", "3", "1")  # Compte / Aide, Langue: French
    assert Dial(client)().startswith(MENU)


def test_contact_is_created_in_e164(app, client):
    from app.infra.models import Contact

    Dial(client, phone="70000042")()
    with app.extensions["db"]() as db:
        contact = db.query(Contact).filter_by(phone="+22370000042").one()
    assert contact.language is None  # never chosen: French, the one there is
    assert contact.role == "community"
    assert contact.first_seen is not None and contact.last_seen is not None


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (("1",), "CON Formation\n1. Continuer\n2. Les modules\n3. Mes résultats"),
        (("2",), "CON Où travaille l'enfant ?"),
        (("3",), "CON Appelez vite le 15 (santé), le 17 (police)"),
        (("4",), "CON Entrez la référence du signalement"),
        (("5",), "CON Mon compte / Aide"),
        (("5", "1"), "CON Numéro : +22370000099"),
        (("5", "3"), "CON Choisissez votre langue :\n1. Francais"),
        (("6",), "END Merci d'avoir utilisé Kalan. Au revoir !"),
        (("5", "3", "1"), "CON Mon compte / Aide"),
        (("5", "4"), "CON Kalan se lit écran par écran"),
        (("5", "5"), "CON Kalan veut dire apprendre en bambara"),
        (("1", "0"), MENU),
        (("5", "1", "0"), "CON Mon compte / Aide"),
        (("5", "1", "00"), MENU),
        (("9",), "CON Choix invalide.\nKalan - Menu principal"),
        (("abc",), "CON Choix invalide."),
        (("5", "0", ""), "CON Choix invalide."),
    ],
)
def test_menus(dial, inputs, expected):
    reply = dial(*inputs)
    assert reply.startswith(expected)
    assert screen_ok(reply)


def test_long_text_pages_forward_and_back(dial):
    first = dial("5", "5")
    assert "99.Suite" in first
    second = dial("99")
    assert second != first and screen_ok(second)
    assert dial("0") == first
    last = dial("99", "99")
    assert "99.Suite" not in last and "OIT" in last
    assert dial("99").startswith("CON Choix invalide.")  # no page after the last


def test_cumulative_text_with_star_inside_free_text(app, dial):
    from app.infra.models import Contact

    dial("5", "2")
    reply = dial("Awa*Traore")  # split on the last "*", the name would be "Traore"
    assert reply == "END Merci Awa Traore, votre nom est enregistré."
    with app.extensions["db"]() as db:
        assert db.query(Contact).filter_by(phone=PHONE).one().name == "Awa Traore"
    dial.drop()
    dial("5", "1")
    assert "Nom : Awa Traore" in dial.post("5*1")  # the profile cache was refreshed


def test_gateway_sending_only_the_latest_input(make_app):
    dial = Dial(make_app(USSD_RETRY_S=0).test_client())  # a person, however quick
    dial()
    for latest, expected in [("5", "CON Mon compte"), ("5", "CON Kalan veut")]:
        assert dial.post(latest).startswith(expected)
    assert dial.post("0").startswith("CON Mon compte")


@pytest.mark.parametrize(
    ("inputs", "copy", "expected", "then", "after"),
    [
        # the first input again: the gateway's kind is not known yet
        (["5"], "5", "CON Mon compte", "5*1", "CON Numéro"),
        (["5", "1"], "1", "CON Numéro", "0", "CON Mon compte"),  # a latest-only gateway
    ],
)
def test_a_copy_sent_right_after_its_hop_gets_the_same_screen(
    dial, inputs, copy, expected, then, after
):
    """Where the text cannot show a retry, the same input at once is the gateway's copy."""
    dial()
    for value in inputs:
        reply = dial.post(value)
    assert reply.startswith(expected)
    assert dial.post(copy) == reply
    assert dial.post(then).startswith(after)  # and the session reads the next hop as before


def test_a_copy_that_waited_for_its_hop_gets_the_same_screen(app, monkeypatch):
    """Two copies of a latest-only hop at once: one is answered, the other replays it.

    The hop's lock is given back once both copies have found it held, not after a sleep:
    on a loaded machine a copy that came later than the sleep was no copy any more.
    """
    app.config["USSD_RETRY_S"] = 0  # only the wait tells them apart
    store = app.extensions["sessions"]
    with serve(app) as url:
        caller = Dial(app.test_client())
        caller()
        assert caller.post("5").startswith("CON Mon compte")
        assert caller.post("0").startswith(MENU)  # now a latest-only gateway
        assert caller.post("5").startswith("CON Mon compte")
        form = {"sessionId": caller.session_id, "phoneNumber": PHONE, "serviceCode": CODE,
                "text": "2", "networkCode": "99999"}  # fmt: skip
        held, replies = store.load(caller.session_id, PHONE), []  # both copies must wait
        lock_and_read, refused, both_wait = store._lock_and_read, set(), threading.Event()

        def watched(*args):
            found = lock_and_read(*args)
            if found is None:  # the lock is held: this copy waits for it
                refused.add(threading.get_ident())
                if len(refused) == 2:
                    both_wait.set()
            return found

        monkeypatch.setattr(store, "_lock_and_read", watched)

        def send():
            replies.append(requests.post(url + "/ussd", data=form, timeout=10).text)

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert both_wait.wait(timeout=30), "both copies wait for the hop's lock"
        store.release(caller.session_id, held)
        for thread in threads:
            thread.join()
    assert replies[0] == replies[1] and replies[0].startswith("CON Entrez")


def test_an_opening_hop_with_a_dialled_string_keeps_it_masked(app, dial):
    """*123*6*4821# sends "6*4821" at once: a PIN, maybe; it is never kept in clear."""
    import json

    dial.session_id = "ATUid_opening"
    assert dial.post("6*4821").startswith(MENU)
    kept = json.loads(
        app.extensions["redis"].get(app.config["REDIS_PREFIX"] + "session:ATUid_opening")
    )
    assert kept["text"] == "######" and "4821" not in json.dumps(kept)
    assert dial.post("6*4821*5").startswith("CON Mon compte")  # read past it


def test_resent_hop_gets_the_same_screen_without_advancing(dial):
    reply = dial("5", "1")
    assert dial.post("5*1") == reply
    assert dial("0").startswith("CON Mon compte")


RESUME_OFFER = "CON Vous n'aviez pas terminé. Reprendre là où vous étiez ?"


def test_resume_after_a_drop_returns_to_the_exact_screen(dial):
    prompt = dial("5", "2")
    dial.drop()
    assert dial() == RESUME_OFFER + "\n1. Reprendre\n2. Recommencer"
    assert dial("1") == prompt
    assert dial("0").startswith("CON Mon compte")  # the trail back survived too
    assert dial("0").startswith(MENU)


def test_an_information_screen_is_not_a_resume_point(dial):
    dial("5", "5", "99")
    dial.drop()
    assert dial().startswith(MENU)


def test_restart_instead_of_resume(dial):
    dial("5", "2")
    dial.drop()
    dial()
    assert dial("2").startswith(MENU)
    dial.drop()
    assert dial().startswith(MENU)  # the resume point is gone


def test_resume_offer_survives_a_second_drop(dial):
    dial("5", "2")
    dial.drop()
    dial()
    dial.drop()
    assert dial().startswith(RESUME_OFFER)


def test_quitting_ends_the_session_without_a_resume_point(dial):
    assert dial("5", "2", "00", "6").startswith("END Merci d'avoir utilisé Kalan.")
    dial.drop()
    assert dial().startswith(MENU)


def test_no_resume_offer_after_reaching_the_menu(dial):
    dial("5", "5", "00")
    dial.drop()
    assert dial().startswith(MENU)


def test_unknown_session_with_history_starts_cleanly(dial):
    dial()
    dial.session_id = "ATUid_lost"
    assert dial.post("1*5*1").startswith(MENU)  # Redis lost it: a clean first screen
    assert dial.post("1*5*1*5").startswith("CON Mon compte")


def test_each_hop_labels_its_screen_for_the_gateway(dial):
    dial("5", "1")
    assert dial.response.headers["at-ussd-hop-metadata"] == "account.profile"
    dial.post("5*1")  # a resent hop carries the same label
    assert dial.response.headers["at-ussd-hop-metadata"] == "account.profile"


@pytest.mark.parametrize(
    ("consumed", "text", "mode", "expected"),
    [
        ("", "", "unsure", (None, "unsure")),  # the opening hop resent
        ("", "1", "unsure", ("1", "unsure")),
        ("1", "1*4", "unsure", ("4", "cumulative")),
        ("1", "1", "unsure", ("1", "latest")),  # the same key twice, latest-only gateway
        ("1", "4", "unsure", ("4", "latest")),
        ("1*4", "1*4", "cumulative", (None, "cumulative")),  # a retry
        ("1*4*5", "1*4", "cumulative", (None, "cumulative")),  # a late duplicate
        ("1*4*5", "", "cumulative", (None, "cumulative")),
        ("1*4", "1*4*Awa*Traore", "cumulative", ("Awa*Traore", "cumulative")),
        ("1*4", "1*4*", "cumulative", ("", "cumulative")),  # an empty answer
        ("4", "4", "latest", ("4", "latest")),
        ("4", "4*5", "latest", ("4*5", "latest")),
    ],
)
def test_derive_input(consumed, text, mode, expected):
    from app.web.hop_text import derive_input

    assert derive_input(consumed, text, mode) == expected


def test_latest_only_gateway_repeating_a_key(make_app):
    """A person pressing the same key again, after reading (no retry window here)."""
    caller = Dial(make_app(USSD_RETRY_S=0).test_client(), phone="+22370000321")
    caller()
    assert caller.post("1").startswith("CON Formation\n1. Continuer")
    assert caller.post("1").startswith("CON 1/")  # the same key again: Continuer, a lesson
    assert caller.post("0").startswith("CON Formation\n1. Continuer")
    assert caller.post("0").startswith(MENU)
    assert caller.post("5").startswith("CON Mon compte")
    assert caller.post("4").startswith("CON Kalan se lit")


def test_a_late_duplicate_hop_changes_nothing(dial):
    dial("5", "5")
    page = dial.post("5*5")
    assert dial.post("5") == page  # arrives late: the current screen again
    dial.inputs = ["5", "5"]
    assert dial("99").startswith("CON artisanales")
    assert dial("0") == page


def raw_post(url: str, head: str, body: bytes) -> tuple[int, bytes]:
    """Send a hand-made HTTP request; return the status and body."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


CHUNKED = "POST /ussd HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
FORM_TYPE = "Content-Type: application/x-www-form-urlencoded"
