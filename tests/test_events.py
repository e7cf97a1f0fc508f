"""POST /ussd/events: the end-of-session notification."""

import pytest

from app.models import UssdEvent

from .conftest import CODE, PHONE

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
    "input": "1*4",
    "lastAppResponse": "CON Mon compte / Aide",
    "errorMessage": "",
}


def events(app) -> list[UssdEvent]:
    with app.extensions["db"]() as db:
        return db.query(UssdEvent).all()


def test_event_is_recorded_with_the_screen_where_the_caller_left(app, client, dial):
    dial("1", "4")
    response = client.post("/ussd/events", data={**EVENT, "sessionId": dial.session_id})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "OK"
    (event,) = events(app)
    assert event.status == "Incomplete"
    assert event.last_node == "account"
    assert event.phone == PHONE
    assert (event.duration_ms, event.hops, event.input) == (12345, 3, "1*4")
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
