"""POST /ussd/events: the end-of-session notification."""

import pytest

from app.infra.models import UssdEvent

from .conftest import CODE, PHONE, Dial
from .helpers import ANONYMOUS, body

EVENT = {
    "date": "2026-11-29 12:00:00",
    "sessionId": "ATUid_5d3b4c2bc589f4811820a7184eed4df5",
    "serviceCode": CODE,
    "networkCode": "99999",
    "phoneNumber": PHONE,
    "status": "Incomplete",
    "cost": "XOF 0.0000",
    "durationInMillis": "12345",
    "hopsCount": "3",
    "input": "1*5",
    "lastAppResponse": "CON Mon compte / Aide",
    "errorMessage": "",
}


def events(app) -> list[UssdEvent]:
    with app.extensions["db"]() as db:
        return db.query(UssdEvent).all()


def test_event_is_recorded_with_the_screen_where_the_caller_left(app, client, dial):
    dial("5")
    response = client.post("/ussd/events", data={**EVENT, "sessionId": dial.session_id})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "OK"
    (event,) = events(app)
    assert event.status == "Incomplete"
    assert event.last_node == "account"
    assert event.phone == PHONE
    assert (event.duration_ms, event.hops) == (12345, 3)
    assert event.error_message is None


def test_duplicate_event_is_recorded_once(app, client):
    for _ in range(3):
        assert client.post("/ussd/events", data=EVENT).status_code == 200
    assert len(events(app)) == 1


def test_event_with_only_the_essential_fields(app, client):
    form = {"sessionId": "ATUid_min", "status": "Failed"}
    assert client.post("/ussd/events", data=form).status_code == 200
    (event,) = events(app)
    assert event.status == "Failed" and event.last_node is None and event.hops is None


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({k: v for k, v in EVENT.items() if k != "sessionId"}, 400),
        ({k: v for k, v in EVENT.items() if k != "status"}, 400),
        ({**EVENT, "status": "  "}, 400),
        ({**EVENT, "input": "9" * 2000}, 400),
        ({**EVENT, "hopsCount": "lots", "durationInMillis": "99999999999999"}, 200),
    ],
)
def test_bad_events(app, client, form, status):
    response = client.post("/ussd/events", data=form)
    assert response.status_code == status
    assert "Traceback" not in response.get_data(as_text=True)
    if status == 200:
        (event,) = events(app)
        assert event.hops is None and event.duration_ms is None


def test_events_need_the_token(make_app):
    client = make_app(WEBHOOK_TOKEN="tok").test_client()
    assert client.post("/ussd/events", data=EVENT).status_code == 403
    assert client.post("/ussd/events?token=tok", data=EVENT).status_code == 200


def test_dropoffs_show_where_sessions_end(client, runner):
    assert "no session has ended yet" in runner.invoke(["ussd", "dropoffs"]).output
    for n, inputs in enumerate((("5",), ("5",), ())):
        caller = Dial(client, phone=f"+2237000050{n}")
        caller(*inputs)
        client.post("/ussd/events", data={**EVENT, "sessionId": caller.session_id})
    client.post("/ussd/events", data={**EVENT, "sessionId": "ATUid_gone", "status": "Failed"})
    result = runner.invoke(["ussd", "dropoffs"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["screen", "status", "sessions"]
    assert lines[1].split() == ["account", "Incomplete", "2"]
    assert sorted(line.split() for line in lines[2:]) == [
        ["?", "Failed", "1"],
        ["menu", "Incomplete", "1"],
    ]


def walk(dial: Dial, *inputs: str) -> list[str]:
    """Dial each input in turn; return the label of every screen shown, as AT collects them."""
    dial()
    labels = [dial.response.headers["at-ussd-hop-metadata"]]
    for value in inputs:
        dial(value)
        labels.append(dial.response.headers["at-ussd-hop-metadata"])
    return labels


def test_a_session_keeps_its_training_labels_and_no_other(app, client, dial):
    # Formation, Continuer: lessons 1 and 2 of module 1; then the main menu, Compte / Aide.
    shown = walk(dial, "1", "1", "1", "00", "5")
    assert shown == ["menu", "training", "t.m1.l1", "t.m1.l2", "menu", "account"]
    form = {**EVENT, "sessionId": dial.session_id, "hopsMetadata": "|".join(shown)}
    assert client.post("/ussd/events", data=form).status_code == 200
    (event,) = events(app)
    assert (event.phone, event.labels) == (PHONE, "t.m1.l1|t.m1.l2")


def test_a_session_that_was_in_a_report_keeps_no_labels(app, client):
    """A lesson, then a report in the same call: the session is anonymous, labels and all."""
    caller = Dial(client, phone="+22376000561")
    shown = walk(caller, "1", "1", "00", "2", *body(), ANONYMOUS)
    assert "t.m1.l1" in shown and caller("1").startswith("END Merci. Référence")
    shown.append(caller.response.headers["at-ussd-hop-metadata"])
    form = {**EVENT, "sessionId": caller.session_id, "phoneNumber": caller.phone,
            "status": "Success", "hopsMetadata": "|".join(shown)}  # fmt: skip
    assert client.post("/ussd/events", data=form).status_code == 200
    (event,) = events(app)
    assert (event.phone, event.labels, event.last_node) == (None, None, "r.done")


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        ("", None),
        ("menu|account", None),
        ("t.m1.l1|<script>|t.m1.l2\x00|" + "é" * 300, "t.m1.l1"),
        ("|".join(["t.m1.q", "t.m1.fb"] * 150), "|".join(["t.m1.q", "t.m1.fb"] * 150)),
        ("x" * 7000, None),
    ],
)
def test_labels_of_any_shape_never_refuse_the_notification(app, client, dial, metadata, kept):
    """Longer than a field's 1,024 bytes, with NUL or markup: taken, only training labels kept."""
    dial("5")
    form = {**EVENT, "sessionId": dial.session_id, "hopsMetadata": metadata}
    response = client.post("/ussd/events", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    (event,) = events(app)
    assert event.phone == PHONE and event.labels == kept
