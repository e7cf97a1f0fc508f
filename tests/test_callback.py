"""Missed-call callback: one per number per 10 minutes, never to a phone that opted out,
within the daily budget and the send window."""

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.infra.calls import CallRequest
from app.people import consent
from app.voice import budget
from app.voice.callback import DELAY, is_callback_number, missed

OURS, OTHER, PHONE = "+22320000001", "+22320000002", "+22370000001"
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Bamako is on UTC all year
LATE = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)  # after the 08:00-20:00 window


@pytest.fixture
def app(make_app):
    return make_app(VOICE_CALLBACK_NUMBERS=f"{OURS},{OTHER}", SMS_SEND_WINDOW="08:00-20:00")


def miss(app, phone=PHONE, now=NOON) -> bool:
    with app.extensions["db"]() as db:
        return missed(db, app.extensions["redis"], app.config, phone, now)


def requests_made(app) -> list[tuple[str, str, datetime, str]]:
    with app.extensions["db"]() as db:
        rows = db.scalars(select(CallRequest).order_by(CallRequest.id))
        return [(r.phone, r.reason, r.due_at, r.status) for r in rows]


@pytest.mark.parametrize(
    ("destination", "expected"),
    [(OURS, True), (OTHER, True), ("0022320000001", True), ("+22320000009", False),
     ("", False), (None, False), ("abc", False)],
)  # fmt: skip
def test_is_callback_number(app, destination, expected):
    assert is_callback_number(app.config, destination) is expected


def test_a_missed_call_queues_one_callback_within_a_minute(app):
    assert miss(app, "70000001")  # as a Malian phone may send it
    assert requests_made(app) == [(PHONE, "callback", NOON + DELAY, "queued")]
    assert DELAY <= timedelta(seconds=45)  # the tick (10 s) and the call still fit in a minute


def test_a_second_missed_call_within_ten_minutes_is_not_called_back(app):
    assert miss(app)
    assert not miss(app, now=NOON + timedelta(minutes=9))
    assert miss(app, "+22370000002", now=NOON + timedelta(minutes=1))  # another phone
    assert len(requests_made(app)) == 2


def test_after_ten_minutes_a_missed_call_is_called_back_again(app):
    assert miss(app)
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    [gate] = list(redis.scan_iter(match=f"{prefix}voice:callback:*"))
    assert PHONE not in gate.decode()  # the phone under the day's salt, not in clear
    assert 595 <= redis.ttl(gate) <= 600  # VOICE_CALLBACK_EVERY_S
    redis.delete(gate)  # what ten minutes do
    assert miss(app, now=NOON + timedelta(minutes=10))
    assert len(requests_made(app)) == 2


def test_two_missed_calls_at_once_on_two_web_processes_give_one_callback(make_app):
    """Two apps (their own Redis and database connections) take the same instant's call."""
    apps = [make_app(VOICE_CALLBACK_NUMBERS=OURS) for _ in range(2)]
    start, results = threading.Barrier(2), []

    def take(app):
        start.wait()
        results.append(miss(app))

    threads = [threading.Thread(target=take, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True]
    assert len(requests_made(apps[0])) == 1


def test_a_phone_that_opted_out_is_never_called_back(app, caplog):
    with app.extensions["db"]() as db:
        consent.opt_out(db, PHONE, NOON)
        db.commit()
    with caplog.at_level(logging.INFO):
        assert not miss(app)
    assert requests_made(app) == []
    assert "opted out: not called back" in caplog.text
    with app.extensions["db"]() as db:  # STOP then START: called back again
        consent.opt_in(db, PHONE, NOON, "sms", "sms")
        db.commit()
    assert miss(app)


def test_over_the_daily_budget_no_callback_and_it_is_counted(make_app, caplog):
    app = make_app(VOICE_CALLBACK_NUMBERS=OURS, VOICE_DAILY_BUDGET="1")
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    assert budget.take(redis, prefix, app.config, NOON)  # the day's one call is placed
    with caplog.at_level(logging.WARNING):
        assert not miss(app)
    assert requests_made(app) == []
    assert budget.today(redis, prefix, app.config, NOON) == (1, 1)
    assert "VOICE_DAILY_BUDGET is spent" in caplog.text
    assert miss(app, now=NOON + timedelta(days=1))  # a new day, a new budget


def test_outside_the_window_the_callback_waits_for_its_opening(app):
    """Every missed call of a night is one call in the morning."""
    assert miss(app, now=LATE)
    morning = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    assert requests_made(app) == [(PHONE, "callback", morning, "queued")]
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    for gate in redis.scan_iter(match=f"{prefix}voice:callback:*"):
        redis.delete(gate)  # ten minutes later, and later again
    assert not miss(app, now=LATE + timedelta(minutes=11))  # the same morning call
    assert len(requests_made(app)) == 1


@pytest.mark.parametrize("phone", ["", "abc", "+1", None])
def test_a_number_that_is_not_a_phone_is_not_called_back(app, phone):
    assert not miss(app, phone)
    assert requests_made(app) == []
