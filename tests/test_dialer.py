"""Placing queued calls through the sandbox: once each, and only when allowed."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select, update

from app.infra.calls import CallRequest
from app.infra.models import utcnow
from app.people import consent
from app.voice import budget, dialer
from workers import jobs

from .helpers import race

OURS, PHONE, OTHER = "+22320000001", "+22370000001", "+22370000002"
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # Bamako is on UTC all year
LATE = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)


@pytest.fixture
def app(make_app, sandbox):
    return make_app(
        AT_API_BASE_URL=sandbox.url, VOICE_CALLBACK_NUMBERS=OURS, SMS_SEND_WINDOW="08:00-20:00"
    )


def queue(app, phone=PHONE, reason="callback", due=NOON) -> None:
    with app.extensions["db"]() as db:
        assert dialer.queue(db, phone, reason, due, due)
        db.commit()


def send(app, now=NOON) -> dict:
    with app.extensions["db"]() as db:
        redis, gateway = app.extensions["redis"], app.extensions["voice_gateway"]
        return dialer.send_due(db, redis, app.config, gateway, now)


def rows(app) -> list[tuple]:
    with app.extensions["db"]() as db:
        found = db.scalars(select(CallRequest).order_by(CallRequest.id))
        return [(r.phone, r.status, r.attempts, r.error) for r in found]


def ringing(sandbox) -> list[dict]:
    url = sandbox.url + "/sandbox/voice/outbound"
    return requests.get(url, params={"all": "1"}, timeout=5).json()


def day_budget(app, now=NOON) -> tuple[int, int]:
    return budget.today(app.extensions["redis"], app.config["REDIS_PREFIX"], app.config, now)


def test_a_due_call_is_placed_once_from_our_number(app, sandbox):
    queue(app)
    assert send(app) == {"sent": 1}
    assert send(app, NOON + timedelta(minutes=1)) == {}
    [call] = ringing(sandbox)
    assert (call["from"], call["to"]) == (OURS, PHONE)
    with app.extensions["db"]() as db:
        placed = db.scalars(select(CallRequest)).one()
    assert (placed.status, placed.session_id, placed.sent_at) == ("sent", call["sessionId"], NOON)
    assert day_budget(app) == (1, 0)


def test_the_same_request_queued_twice_is_one_row(app):
    queue(app)
    with app.extensions["db"]() as db:
        assert not dialer.queue(db, PHONE, "callback", NOON, NOON)
    assert len(rows(app)) == 1


def test_a_call_not_yet_due_waits(app, sandbox):
    queue(app, due=NOON + timedelta(minutes=1))
    assert send(app) == {}
    assert send(app, NOON + timedelta(minutes=1)) == {"sent": 1}


def test_a_job_run_again_after_a_crash_never_calls_twice(app, sandbox):
    """A worker claimed the row and died (or its job is retried): the row is not placed again,
    and after a while it is closed as unknown."""
    queue(app)
    with app.extensions["db"]() as db:
        db.execute(update(CallRequest).values(status="sending", attempts=1, sent_at=NOON))
        db.commit()
    assert send(app, NOON + timedelta(minutes=1)) == {}
    assert send(app, NOON + timedelta(minutes=6)) == {"unknown": 1}
    assert rows(app) == [(PHONE, "unknown", 1, "worker lost during the request")]
    assert ringing(sandbox) == []


def test_two_workers_at_once_place_one_call(make_app, sandbox):
    apps = [make_app(AT_API_BASE_URL=sandbox.url, VOICE_CALLBACK_NUMBERS=OURS) for _ in range(2)]
    queue(apps[0])
    start, results = threading.Barrier(2), []

    def work(app):
        start.wait()
        results.append(send(app))

    threads = [threading.Thread(target=work, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r.get("sent", 0) for r in results) == [0, 1]
    assert len(ringing(sandbox)) == 1


def test_a_call_claimed_after_another_worker_read_it_is_not_placed_again(app, sandbox):
    """The second worker reads the row as queued while the first has claimed it but not yet
    committed: its own claim then finds the row taken, and places nothing."""
    if app.extensions["engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite locks the whole file, so no worker reads mid-claim")
    queue(app)
    first_claimed, second_read, waited, results = (threading.Event(), threading.Event(), [], {})

    claim, read = "UPDATE call_requests SET status", "SELECT call_requests.id, call_requests.key"

    def hold(_conn, _cursor, statement, *_):
        name = threading.current_thread().name
        if name == "first" and statement.startswith(claim) and "attempts" in statement:
            first_claimed.set()  # claimed, not committed: the second reads it queued
            waited.append(second_read.wait(timeout=5))
        elif name == "second" and statement.startswith(read):
            second_read.set()

    def work(name: str) -> None:
        if name == "second":
            first_claimed.wait(timeout=5)
        results[name] = send(app)

    race(app.extensions["engine"], hold, work, timeout=30)
    assert waited == [True]
    assert results == {"first": {"sent": 1}, "second": {"taken": 1}}
    assert len(ringing(sandbox)) == 1


def test_a_lost_answer_is_never_placed_again(app, sandbox):
    sandbox.faults(drop_rate=1.0)
    queue(app)
    assert send(app) == {"unknown": 1}
    sandbox.faults()
    assert send(app, NOON + timedelta(hours=1)) == {}
    assert len(ringing(sandbox)) == 1  # it did ring, once
    assert day_budget(app) == (1, 0)  # and counts against the day


def test_a_phone_that_opted_out_since_is_not_called(app, sandbox):
    queue(app)
    with app.extensions["db"]() as db:
        consent.opt_out(db, PHONE, NOON)
        db.commit()
    assert send(app) == {"skipped": 1}
    assert rows(app) == [(PHONE, "skipped", 0, "opted out")]
    assert ringing(sandbox) == []


def test_outside_the_window_a_call_waits_for_the_morning(app, sandbox):
    queue(app, due=LATE)
    assert send(app, LATE) == {"held": 1}
    assert ringing(sandbox) == []
    with app.extensions["db"]() as db:
        due = db.scalars(select(CallRequest.due_at)).one()
    assert due == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    assert send(app, due) == {"sent": 1}


def test_over_the_daily_budget_a_call_is_skipped_and_counted(make_app, sandbox):
    app = make_app(AT_API_BASE_URL=sandbox.url, VOICE_CALLBACK_NUMBERS=OURS, VOICE_DAILY_BUDGET="1")
    queue(app, PHONE)
    queue(app, OTHER)
    assert send(app) == {"sent": 1, "skipped": 1}
    assert rows(app)[1] == (OTHER, "skipped", 1, "over the daily budget")
    assert day_budget(app) == (1, 1)
    assert len(ringing(sandbox)) == 1


def test_a_budget_of_zero_places_no_call(make_app, sandbox):
    app = make_app(AT_API_BASE_URL=sandbox.url, VOICE_CALLBACK_NUMBERS=OURS, VOICE_DAILY_BUDGET="0")
    queue(app)
    assert send(app) == {"skipped": 1}
    assert ringing(sandbox) == []


def test_a_number_at_will_not_call_fails_and_costs_no_budget(app, sandbox):
    sandbox.faults(call_status={PHONE: "DestinationNotSupported"})
    queue(app)
    assert send(app) == {"failed": 1}
    assert rows(app) == [(PHONE, "failed", 1, "DestinationNotSupported")]
    assert day_budget(app) == (0, 0)


def test_a_transient_refusal_is_retried_a_few_times_then_given_up(app, sandbox):
    sandbox.faults(call_status={PHONE: "InsufficientCredit"})
    queue(app)
    assert send(app) == {"retried": 1}
    assert send(app, NOON + timedelta(seconds=29)) == {}  # 30 s later, not before
    assert send(app, NOON + timedelta(seconds=30)) == {"retried": 1}
    assert send(app, NOON + timedelta(seconds=90)) == {"failed": 1}
    assert rows(app) == [(PHONE, "failed", 3, "gave up after 3 attempts: InsufficientCredit")]
    assert day_budget(app) == (0, 0)


def test_a_refused_request_is_retried(app, sandbox):
    sandbox.faults(error_rate=1.0)
    queue(app)
    assert send(app) == {"retried": 1}
    sandbox.faults()
    assert send(app, NOON + timedelta(seconds=30)) == {"sent": 1}
    assert len(ringing(sandbox)) == 1


def test_a_second_callback_within_ten_minutes_is_skipped_but_a_lesson_call_is_not(app, sandbox):
    """The same phone's missed calls either side of midnight (two salts) still give one call."""
    queue(app)
    queue(app, due=NOON + timedelta(minutes=5))
    queue(app, reason="lesson", due=NOON + timedelta(minutes=5))
    assert send(app) == {"sent": 1}
    assert send(app, NOON + timedelta(minutes=5)) == {"skipped": 1, "sent": 1}
    assert rows(app)[1] == (PHONE, "skipped", 0, "called back recently")
    assert len(ringing(sandbox)) == 2


def test_without_a_number_to_call_from_nothing_is_placed(make_app, sandbox):
    app = make_app(AT_API_BASE_URL=sandbox.url)
    queue(app)
    assert send(app) == {"skipped": 1}
    assert "VOICE_CALLBACK_NUMBERS" in rows(app)[0][3]
    assert ringing(sandbox) == []


def test_the_tick_places_due_calls(make_app, sandbox):
    app = make_app(
        AT_API_BASE_URL=sandbox.url,
        VOICE_FROM_NUMBER=OURS,
        SMS_SEND_WINDOW="always",
        SMS_RATE=1000,
    )
    queue(app, due=utcnow())
    with app.app_context():
        assert jobs.tick()["calls"] == {"sent": 1}
        assert jobs.place_calls() == {}  # the job again: nothing more
    [call] = ringing(sandbox)
    assert call["from"] == OURS
