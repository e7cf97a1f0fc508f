"""Calls as the gateway reports them: first and last requests, anonymous calls, and costs."""

import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.infra.calls import Call
from app.voice import calls, dialer

OURS, PHONE = "+22320000001", "+22370000001"
T = datetime(2026, 12, 7, 12, 17, 43, tzinfo=UTC)
END = T + timedelta(seconds=95)


def last(session_id="ATVId_1", **fields) -> dict:
    """The gateway's last request of an inbound call, as the endpoint reads it."""
    return {
        "isActive": "0", "sessionId": session_id, "direction": "Inbound", "callerNumber": PHONE,
        "destinationNumber": OURS, "durationInSeconds": "95", "currencyCode": "XOF",
        "amount": "150.5", "hangupCause": "NORMAL_CLEARING", **fields,
    }  # fmt: skip


def start(app, session_id="ATVId_1", direction="Inbound", phone=PHONE, **options) -> bool:
    with app.extensions["db"]() as db:
        return calls.record_start(db, session_id, direction, OURS, phone, T, **options)


def end(app, form, phone=PHONE, now=END) -> bool:
    with app.extensions["db"]() as db:
        return calls.record_end(db, form, phone, now)


def stored(app, session_id="ATVId_1") -> Call:
    with app.extensions["db"]() as db:
        return db.scalars(select(Call).where(Call.session_id == session_id)).one()


def test_a_call_from_first_to_last_request(app):
    assert start(app)
    assert not start(app)  # every request of the call may note it: the first counts
    assert end(app, last())
    call = stored(app)
    assert (call.direction, call.number, call.phone, call.reason) == (
        "inbound",
        OURS,
        PHONE,
        "inbound",
    )
    assert (call.started_at, call.ended_at, call.duration_s) == (T, END, 95)
    assert (call.currency, call.amount, call.hangup_cause) == (
        "XOF",
        Decimal("150.5000"),
        "NORMAL_CLEARING",
    )


def test_the_last_request_sent_again_changes_nothing(app):
    start(app)
    assert end(app, last())
    assert not end(app, last(amount="999", durationInSeconds="1"), now=END + timedelta(seconds=5))
    call = stored(app)
    assert (call.amount, call.duration_s, call.ended_at) == (Decimal("150.5000"), 95, END)


def test_a_call_that_made_a_report_keeps_no_number_and_its_hours_only(app):
    start(app)
    assert end(app, last(), phone=None)
    call = stored(app)
    assert call.phone is None
    assert call.started_at == call.ended_at == datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert (call.duration_s, call.amount) == (95, Decimal("150.5000"))  # its cost still counts


def test_a_resent_last_request_still_forgets_the_number(app):
    start(app)
    end(app, last())
    assert not end(app, last(), phone=None)
    assert stored(app).phone is None


def test_a_last_request_without_a_first_is_recorded_whole(app):
    assert end(app, last())
    call = stored(app)
    assert (call.phone, call.number, call.started_at, call.ended_at) == (PHONE, OURS, T, END)


def test_a_rejected_call_is_a_missed_one(app):
    start(app, rejected=True)
    end(app, last(durationInSeconds="0", amount="0"))
    assert (stored(app).reason, stored(app).amount) == ("missed", Decimal(0))


@pytest.mark.parametrize("reason", ["callback", "lesson"])
def test_an_outbound_call_takes_the_reason_of_its_request(app, reason):
    with app.extensions["db"]() as db:
        dialer.queue(db, PHONE, reason, T, T)
        db.commit()
        request = db.scalars(select(dialer.CallRequest)).one()
        request.session_id = "ATVId_out"
        db.commit()
    start(app, "ATVId_out", "Outbound")
    call = stored(app, "ATVId_out")
    assert (call.direction, call.reason) == ("outbound", reason)


@pytest.mark.parametrize(
    ("field", "value", "column"),
    [("durationInSeconds", "95.5", "duration_s"), ("durationInSeconds", "-3", "duration_s"),
     ("durationInSeconds", "٣", "duration_s"), ("currencyCode", "xof", "currency"),
     ("currencyCode", "FRANCS", "currency"), ("amount", "abc", "amount"),
     ("amount", "NaN", "amount"), ("amount", "-1", "amount"), ("amount", "1e12", "amount")],
)  # fmt: skip
def test_a_field_that_does_not_read_is_stored_as_none_and_logged(app, caplog, field, value, column):
    start(app)
    with caplog.at_level(logging.WARNING):
        assert end(app, last(**{field: value}))
    call = stored(app)
    assert getattr(call, column) is None
    assert call.hangup_cause == "NORMAL_CLEARING"  # the rest is kept
    assert f"a call's {field} is not" in caplog.text


def test_missing_fields_are_none_without_complaint(app, caplog):
    start(app)
    form = {"isActive": "0", "sessionId": "ATVId_1"}
    with caplog.at_level(logging.WARNING):
        assert end(app, form)
    call = stored(app)
    assert (call.duration_s, call.currency, call.amount, call.hangup_cause) == (None,) * 4
    assert caplog.text == ""


def test_spend_sums_calls_per_currency_over_a_period(app):
    for n, (amount, currency, seconds) in enumerate(
        [("150", "XOF", "95"), ("50.25", "XOF", "25"), ("1.5", "KES", "60"), ("", "", "30")]
    ):
        start(app, f"ATVId_{n}")
        end(app, last(f"ATVId_{n}", amount=amount, currencyCode=currency,
                      durationInSeconds=seconds))  # fmt: skip
    start(app, "ATVId_old")
    end(app, last("ATVId_old"), now=END - timedelta(days=40))
    start(app, "ATVId_live")  # not over yet
    with app.extensions["db"]() as db:
        spent = calls.spend(db, END - timedelta(days=30), END + timedelta(seconds=1))
    assert spent == [
        {"currency": "KES", "calls": 1, "seconds": 60, "amount": Decimal("1.5")},
        {"currency": "XOF", "calls": 2, "seconds": 120, "amount": Decimal("200.25")},
        {"currency": None, "calls": 1, "seconds": 30, "amount": Decimal(0)},
    ]


def test_two_copies_of_the_last_request_at_once_record_it_once(make_app):
    """Two web processes (their own connections) take the gateway's two copies together."""
    apps = [make_app() for _ in range(2)]
    start(apps[0])
    begin, results = threading.Barrier(2), []

    def take(app, amount):
        begin.wait()
        results.append((end(app, last(amount=amount)), amount))

    pairs = zip(apps, "12", strict=True)
    threads = [threading.Thread(target=take, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r for r, _ in results) == [False, True]
    kept = next(amount for recorded, amount in results if recorded)
    assert stored(apps[0]).amount == Decimal(kept)


def test_a_last_request_without_a_session_is_not_recorded(app, caplog):
    with caplog.at_level(logging.WARNING):
        assert not end(app, last(""))
    with app.extensions["db"]() as db:
        assert db.scalars(select(Call)).all() == []
    assert "named no session" in caplog.text
