"""POST /ussd/events: the end-of-session notification."""

import pytest

from app.infra.models import UssdEvent

from .conftest import CODE, PHONE, Dial

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
