"""POST /voice, around the journeys: missed calls rejected and called back, the last request
of a call recorded (without the number of one that made a report), a lesson call."""

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from app.infra.calls import Call as CallRow
from app.infra.calls import CallRequest
from app.infra.models import Contact, utcnow
from app.voice import dialer

from .conftest import AGENT, Call

OURS, CALLBACK = "+22320000000", "+22320000002"


@pytest.fixture
def app(make_app, sandbox, tmp_path):
    """Kalan on the sandbox, with a callback number beside its ordinary one."""
    return make_app(AT_API_BASE_URL=sandbox.url, VOICE_CALLBACK_NUMBERS=CALLBACK,
                    SMS_SEND_WINDOW="always", VOICE_SAY_MISSING=True,
                    AUDIO_DIR=str(tmp_path))  # fmt: skip


def rows(app, model):
    with app.extensions["db"]() as db:
        return list(db.scalars(select(model).order_by(model.id)))


def place(app, now) -> dict:
    """Run what the worker's tick runs for calls."""
    with app.extensions["db"]() as db:
        redis, gateway = app.extensions["redis"], app.extensions["voice_gateway"]
        return dialer.send_due(db, redis, app.config, gateway, now)


def ringing(sandbox, phone) -> list[dict]:
    url = sandbox.url + "/sandbox/voice/outbound"
    return requests.get(url, params={"phone": phone, "all": "1"}, timeout=5).json()


def test_a_missed_call_is_rejected_and_called_back_once(app, client, sandbox):
    missed = Call(client, number=CALLBACK)
    missed()
    assert [action.tag for action in missed.xml] == ["Reject"]
    missed.hang_up(seconds=0, amount="0")
    now = utcnow()
    assert place(app, now + timedelta(seconds=30)) == {"sent": 1}  # within the minute
    [back] = ringing(sandbox, missed.phone)
    assert (back["from"], back["to"]) == (CALLBACK, missed.phone)
    again = Call(client, number=CALLBACK)  # five minutes later: rejected, not called back
    again()
    assert [action.tag for action in again.xml] == ["Reject"]
    assert place(app, now + timedelta(minutes=5)) == {}
    assert len(ringing(sandbox, missed.phone)) == 1
    logged = rows(app, CallRow)
    assert [(c.reason, c.phone) for c in logged] == [("missed", None), ("missed", None)]
    assert logged[0].amount == 0 and logged[0].hangup_cause == "NORMAL_CLEARING"
    # The call back, answered: the journeys, as for any call.
    answered = Call(client, phone=missed.phone, number=CALLBACK, outbound=True)
    answered.session_id = back["sessionId"]
    answered.post("/voice")
    assert answered.words().startswith("Bienvenue sur Kalan")
    assert rows(app, CallRow)[-1].reason == "callback"


def test_a_call_to_our_ordinary_number_is_answered(client):
    call = Call(client, number=OURS)
    assert call().startswith("Bienvenue sur Kalan")


def test_the_last_request_records_length_and_price_with_the_number(app, client):
    call = Call(client)
    call("1", "5")  # French, Compte: no report
    call.hang_up(seconds=95, amount="47.5000")
    [row] = rows(app, CallRow)
    assert (row.phone, row.duration_s, row.currency, str(row.amount)) == (
        call.phone, 95, "XOF", "47.5000")  # fmt: skip
    assert (row.direction, row.reason, row.hangup_cause) == (
        "inbound",
        "inbound",
        "NORMAL_CLEARING",
    )


def test_a_call_that_made_a_report_keeps_no_number_and_times_to_the_hour(app, client):
    call = Call(client)
    call("1", "2", "1", "1", "2")  # French, Signaler, Orpaillage, Sikasso, Kadiolo
    call.record(None)
    call("2", "2", "1", "2", "3", "2", "1")  # … anonymous, Envoyer
    call.hang_up(seconds=180)
    [row] = rows(app, CallRow)
    assert row.phone is None and row.duration_s == 180
    assert row.started_at.minute == row.started_at.second == 0
    assert row.ended_at.minute == row.ended_at.second == 0


def test_a_report_made_on_a_call_back_unlinks_the_request_that_placed_it(app, client, sandbox):
    Call(client, number=CALLBACK)()
    place(app, utcnow() + timedelta(seconds=30))
    [back] = ringing(sandbox, "+22370000099")
    call = Call(client, number=CALLBACK, outbound=True)
    call.session_id = back["sessionId"]
    call.post("/voice")
    call("1", "2", "1", "1", "2")
    call.record(None)
    call("2", "2", "1", "2", "3", "2", "1")
    call.hang_up()
    [request] = rows(app, CallRequest)
    assert (request.phone, request.session_id) == ("", None)
    assert "+22370000099" not in request.key
    assert [c.phone for c in rows(app, CallRow)] == [None, None]


def test_a_lesson_call_opens_on_the_next_lesson(app, client, sandbox):
    with app.extensions["db"]() as db:
        db.add(Contact(phone=AGENT, role="agent", organisation="RMCR", language="fr",
                       name="Awa", created_at=utcnow()))  # fmt: skip
        assert dialer.queue(db, AGENT, "lesson", utcnow(), utcnow())
        db.commit()
    assert place(app, utcnow() + timedelta(seconds=1)) == {"sent": 1}
    [placed] = ringing(sandbox, AGENT)
    call = Call(client, phone=AGENT, number=CALLBACK, outbound=True)
    call.session_id = placed["sessionId"]
    call.post("/voice")
    words = call.words()
    assert not words.startswith("Kalan - Menu principal")
    assert words.startswith(("Avant de commencer", "Leçon un sur"))  # the pre-test comes first
    assert rows(app, CallRow)[-1].reason == "lesson"


@pytest.mark.parametrize("amount", ["abc", "-3", ""])
def test_a_last_request_with_a_bad_price_is_recorded_without_it(app, client, amount):
    call = Call(client)
    call("1")
    call.hang_up(seconds=12, amount=amount)
    [row] = rows(app, CallRow)
    assert row.amount is None and row.duration_s == 12


def test_a_call_back_that_files_a_report_is_untied_at_once_not_at_its_end(app, client, sandbox):
    Call(client, number=CALLBACK)()
    place(app, utcnow() + timedelta(seconds=30))
    [back] = ringing(sandbox, "+22370000099")
    call = Call(client, number=CALLBACK, outbound=True)
    call.session_id = back["sessionId"]
    call.post("/voice")
    call("1", "2", "1", "1", "2")
    call.record(None)
    call("2", "2", "1", "2", "3", "2", "1")  # sent: and the last request never comes
    [request] = rows(app, CallRequest)
    assert (request.phone, request.session_id) == ("", None)
    answered = rows(app, CallRow)[-1]
    assert answered.phone is None and answered.started_at.minute == 0
