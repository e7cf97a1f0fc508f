"""Sending the outbox through the sandbox: batches, failures, unknowns, reports and the window."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from rq.timeouts import JobTimeoutException
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError

from app.infra import logs
from app.infra.gateway import SENT, GatewayError, Result
from app.infra.models import Campaign, Contact, Message
from app.messaging import delivery, outbox
from app.messaging.sender import Sender
from app.messaging.throttle import Throttle
from app.people import contacts

from .conftest import serve
from .helpers import routed_sender


class Clock:
    """A clock the test moves by hand, or that a sender moves by sleeping."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        """Return the time as time.time() would, for the throttles."""
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sender_for(app, db, rate=1000) -> Sender:
    prefix = app.config["REDIS_PREFIX"]
    throttle = Throttle(app.extensions["redis"], prefix + "throttle:test", rate)
    return Sender(db, app.extensions["routing"], lambda provider: throttle, app.config)


def queue(app, db, n, kind="receipt", text="Votre signalement est reçu.", **fields) -> list[str]:
    phones = [f"+2237000{i:04d}" for i in range(n)]
    for i, phone in enumerate(phones):
        outbox.add(db, current_app.config, kind, f"S{i}", phone, text, **fields)
    db.commit()
    return phones


def statuses(db) -> Counter:
    rows = db.execute(select(Message.status, func.count()).group_by(Message.status))
    return Counter({status: count for status, count in rows})


def test_same_text_goes_out_in_bulk_and_is_recorded(sms_app, sandbox):
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = queue(sms_app, db, 250)
        tally = sender_for(sms_app, db).run()
        assert tally.sent == 250
        rows = list(db.scalars(select(Message)))
    assert {m.status for m in rows} == {"sent"}
    assert all(m.provider_id and m.cost == "XOF 25.0000" and m.provider_parts == 1 for m in rows)
    received = sandbox.messages()
    assert sorted(m["to"] for m in received) == phones  # each exactly once
    # Folded before sending: "ç" is not GSM-7.
    assert received[0]["message"] == "Votre signalement est recu."


def test_under_30_percent_gateway_errors_everything_ends(sms_app, sandbox):
    sandbox.faults(error_rate=0.3, seed=7)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        sms_app.config["SMS_BATCH_SIZE"] = 20
        queue(sms_app, db, 300)
        sender = sender_for(sms_app, db)
        for _ in range(40):
            sender.run(now_fn=clock)
            outbox.reap(db, {**sms_app.config, "SMS_RECONCILE_S": 0}, clock())
            if not statuses(db)["queued"]:
                break
            clock.now += timedelta(hours=1)  # past any backoff
        final = statuses(db)
        failed = list(db.scalars(select(Message).where(Message.status == "failed")))
    assert set(final) <= {"sent", "failed"} and sum(final.values()) == 300
    assert all(m.reason for m in failed)
    assert len(sandbox.messages()) == final["sent"]


def test_permanent_and_transient_recipient_failures(sms_app, sandbox):
    sandbox.faults(recipient_status={"+22370000001": 406, "+22370000002": 405})
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 3)
        sender_for(sms_app, db).run(now_fn=clock)
        rows = {m.phone: m for m in db.scalars(select(Message))}
        assert rows["+22370000000"].status == "sent"
        assert (rows["+22370000001"].status, rows["+22370000001"].reason) == (
            "failed",
            "UserInBlacklist",
        )
        retried = rows["+22370000002"]
        assert retried.status == "queued" and retried.attempts == 1
        assert retried.not_before == clock.now + timedelta(seconds=30)


@pytest.mark.parametrize(("kind", "end"), [("campaign", "unknown"), ("receipt", "sent")])
def test_dropped_answers_follow_the_unknown_outcome_rule(sms_app, sandbox, make_app, kind, end):
    """Campaigns: at most once. Receipts: at least once. A delivery report settles both."""
    sandbox.faults(drop_rate=1.0)
    clock = Clock(datetime.now(UTC) + timedelta(seconds=1))
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign_id = None
        if kind == "campaign":
            db.add(Campaign(id=1, name="c", messages="{}", audience="{}", start_at=clock.now,
                            status="sending", created_at=clock.now))  # fmt: skip
            campaign_id = 1
        queue(sms_app, db, 2, kind=kind, campaign_id=campaign_id)
        tally = sender_for(sms_app, db).run(now_fn=clock)
        assert tally.unknown == 2 and statuses(db) == {"unknown": 2}
        sandbox.faults()
        clock.now += timedelta(seconds=sms_app.config["SMS_RECONCILE_S"] + 1)
        counts = outbox.reap(db, {**sms_app.config, "SMS_RECONCILE_S": 0}, clock())
        sender_for(sms_app, db).run(now_fn=clock)
        final = statuses(db)
    if kind == "campaign":
        assert counts["closed"] == 2 and final == {"unknown": 2}
        assert len(sandbox.messages()) == 2  # they did arrive once, never twice
    else:
        assert counts["resent"] == 2 and final == {"sent": 2}
        assert len(sandbox.messages()) == 4  # at least once: the resend duplicates
    assert end in final


def test_a_delivery_report_reconciles_an_unknown_outcome(sms_app, sandbox):
    sandbox.faults(drop_rate=1.0)
    with serve(sms_app) as kalan, sms_app.app_context(), sms_app.extensions["db"]() as db:
        sandbox.app.config["KALAN_URL"] = kalan
        queue(sms_app, db, 1, kind="campaign")
        sender_for(sms_app, db).run()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.expire_all()
            message = db.scalars(select(Message)).one()
            if message.status == "delivered":
                break
            time.sleep(0.05)
    assert message.status == "delivered" and message.provider_id.startswith("ATXid_")


class ReportsFirst:
    """The app's gateway to the sandbox, whose delivery reports come in (and are stored, as
    the webhook stores them) before the sender has recorded the answer; or, timed out, an
    answer that never came."""

    name = "africastalking"

    def __init__(self, app, timed_out=False):
        self.app, self.gateway = app, app.extensions["gateways"]["africastalking"]
        self.timed_out = timed_out

    def send(self, phones, text, sender=None):
        results = self.gateway.send(phones, text, sender=sender)
        with self.app.extensions["db"]() as webhook:
            for result in results:
                form = {"id": result.provider_id, "status": "Success", "phoneNumber": result.phone,
                        "networkCode": "", "failureReason": "", "retryCount": "0"}  # fmt: skip
                assert delivery.record(webhook, form, datetime.now(UTC), 5) == "unknown id"
        if self.timed_out:
            raise GatewayError("timeout: ReadTimeout", True)
        return results


@pytest.mark.parametrize("timed_out", [False, True])
def test_a_delivery_report_that_beats_the_send_result_is_applied_with_it(
    sms_app, sandbox, timed_out
):
    """Its message known by the provider's id, or, the answer lost, by its phone."""
    gateway = ReportsFirst(sms_app, timed_out)
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 3)
        tally = routed_sender(sms_app, db, gateways={"africastalking": gateway}).run()
        assert (tally.sent, tally.unknown) == ((0, 3) if timed_out else (3, 0))
        assert statuses(db) == {"delivered": 3}


def test_a_phone_goes_once_in_a_request(sms_app, sandbox):
    """Two texts alike to one phone: two requests, as the answer is keyed by phone."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        for subject in ("S1", "S2"):
            outbox.add(db, current_app.config, "receipt", subject, "+22370000001", "Recu")
        db.commit()
        assert sender_for(sms_app, db).run().sent == 2
        ids = {m.provider_id for m in db.scalars(select(Message))}
    assert len(ids) == 2 and len(sandbox.messages()) == 2


def test_send_window_holds_bulk_messages_until_it_opens(sms_app, sandbox):
    sms_app.config["SMS_SEND_WINDOW"] = "08:00-20:00"
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    night = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 22, tzinfo=UTC)  # Bamako: UTC
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 2, kind="reminder", text="Rappel")
        queue(sms_app, db, 1, kind="alert", text="Alerte", urgent=True)
        sender_for(sms_app, db).run(now_fn=Clock(night))
        assert [m["message"] for m in sandbox.messages()] == ["Alerte"]
        morning = Clock(night + timedelta(hours=10))  # 08:00
        sender_for(sms_app, db).run(now_fn=morning)
        assert sorted(m["message"] for m in sandbox.messages()) == ["Alerte", "Rappel", "Rappel"]


def campaign_row(db, status="sending", rate=None) -> int:
    now = datetime.now(UTC)
    campaign = Campaign(name="c", messages="{}", audience="{}", start_at=now, status=status,
                        created_at=now, rate=rate)  # fmt: skip
    db.add(campaign)
    db.commit()
    return campaign.id


class RefusesWithAPage:
    """A provider that refuses the whole request with a page of text, as an error page is."""

    name = "africastalking"

    def send(self, phones, text, sender=None):
        raise GatewayError("provider refused: <html>" + "x" * 400, False)


@pytest.mark.parametrize("rows", [1, 3])
def test_a_refusal_longer_than_its_column_is_kept_cut_and_the_rows_wait_to_be_retried(
    sms_app, sandbox, rows
):
    """One row, or rows alike, wrote the reason as one value, which failed the whole record."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, rows)
        routed_sender(sms_app, db, gateways={"africastalking": RefusesWithAPage()}).run()
        db.expire_all()
        found = db.scalars(select(Message)).all()
        assert statuses(db) == {"queued": rows}
        assert {m.reason for m in found} == {("provider refused: <html>" + "x" * 400)[:200]}


class SaysTooMuch:
    """A provider whose answer for each phone says more than the outbox's columns hold."""

    name = "africastalking"

    def send(self, phones, text, sender=None):
        return [Result(p, SENT, f"ATXid_{p}", 101, "Success" + "!" * 60, "XOF " + "9" * 40, 1)
                for p in phones]  # fmt: skip


@pytest.mark.parametrize("rows", [1, 3])
def test_an_answer_longer_than_its_columns_is_recorded_cut(sms_app, sandbox, rows):
    """A lone value, or one all rows share, is no array cast that would cut it: it failed."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, rows)
        assert routed_sender(sms_app, db, gateways={"africastalking": SaysTooMuch()}).run().sent
        db.expire_all()
        found = db.scalars(select(Message)).all()
        assert statuses(db) == {"sent": rows}
        assert {(m.provider_status, m.cost) for m in found} == {
            (("Success" + "!" * 60)[:40], ("XOF " + "9" * 40)[:32])}  # fmt: skip


class Around:
    """The app's gateway to the sandbox, as a test's own gateway wraps it, counting requests."""

    name = "africastalking"

    def __init__(self, app):
        self.gateway, self.requests = app.extensions["gateways"]["africastalking"], 0


class Noted(Around):
    """The app's gateway to the sandbox, each request's number of phones noted."""

    def __init__(self, app):
        super().__init__(app)
        self.sizes = []

    def send(self, phones, text, sender=None):
        self.sizes.append(len(phones))
        return self.gateway.send(phones, text, sender=sender)


def test_a_request_takes_at_most_a_seconds_worth_of_its_providers_rate(sms_app, sandbox):
    """At 5 a second, batches of 100 go out 5 at a time: a batch's rows, locked from their
    choice to their start, are never held through a long wait for the rate."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 20)
        clock = Clock(datetime.now(UTC))
        start, gateway = clock.now, Noted(sms_app)
        sender = routed_sender(sms_app, db, gateways={"africastalking": gateway})
        key = sms_app.config["REDIS_PREFIX"] + "throttle:slow"
        slow = Throttle(sms_app.extensions["redis"], key, 5, clock=clock.seconds)
        sender.throttle, sender.sleep = (lambda provider: slow), clock.sleep
        assert sender.run(now_fn=clock).sent == 20
    assert gateway.sizes == [5, 5, 5, 5]
    assert (clock.now - start).total_seconds() == pytest.approx(3, abs=0.01)  # a burst, then 5/s
    assert len(sandbox.messages()) == 20


class OutUntilTheFirstIsRecorded(Around):
    """The app's gateway to the sandbox, whose second request is out until the first
    request's outcomes are written (5 s at most)."""

    def __init__(self, app):
        super().__init__(app)
        self.second_out, self.first_recorded = threading.Event(), threading.Event()
        self.second_back = threading.Event()

    def send(self, phones, text, sender=None):
        self.requests += 1
        if self.requests != 2:
            return self.gateway.send(phones, text, sender=sender)
        self.second_out.set()
        self.first_recorded.wait(5)
        try:
            return self.gateway.send(phones, text, sender=sender)
        finally:
            self.second_back.set()


def test_a_request_is_out_while_the_last_is_recorded(sms_app, sandbox):
    """Batches of 100, 100 and 50: the first request's outcomes are written while the
    second is out (one at a time, they were written before it left); each phone still gets
    its SMS once."""
    gateway, recording = OutUntilTheFirstIsRecorded(sms_app), []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not recording and context.compiled_parameters[0].get("w_status") == "sending":
            # The first request's record: is the second out, and not yet back?
            recording.append(gateway.second_out.wait(5) and not gateway.second_back.is_set())

    def after(conn, cursor, statement, parameters, context, executemany):
        if recording:
            gateway.first_recorded.set()

    engine = sms_app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with sms_app.app_context(), sms_app.extensions["db"]() as db:
            phones = queue(sms_app, db, 250)
            sender = routed_sender(sms_app, db, gateways={"africastalking": gateway})
            assert sender.run().sent == 250
            assert statuses(db) == {"sent": 250}
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert recording == [True]
    assert sorted(m["to"] for m in sandbox.messages()) == phones


class Breaks(Around):
    """A gateway with a bug: one of its requests raises what no gateway should, before
    the provider has the request, or after."""

    def __init__(self, app, on=1, after_sending=False):
        super().__init__(app)
        self.on, self.after_sending = on, after_sending

    def send(self, phones, text, sender=None):
        self.requests += 1
        if self.requests != self.on:
            return self.gateway.send(phones, text, sender=sender)
        if self.after_sending:
            self.gateway.send(phones, text, sender=sender)
        raise RuntimeError("a bug in the gateway")


class GoneAtTheThird:
    """A provider's throttle whose Redis is gone at the third time it is asked for the rate."""

    def __init__(self, working, gone):
        self.working, self.burst, self.takes = working, working.burst, []
        self.gone = Throttle(gone, "gone", working.rate)

    def _bucket(self) -> Throttle:
        self.takes.append(len(self.takes) + 1)
        return self.gone if len(self.takes) == 3 else self.working

    def try_acquire(self, n: int) -> float:
        return self._bucket().try_acquire(n)


@pytest.mark.parametrize("broken", [False, True])
def test_a_request_out_when_the_run_fails_is_still_recorded(sms_app, sandbox, broken):
    """Redis gone as the third batch asks the rate: the run fails, and the second request,
    answered and not yet recorded, is recorded as sent, not left as an unknown outcome.
    Unless it raised after the provider had it: the run fails there, before the third batch
    is chosen, and its rows are an unknown outcome, never put back to be sent again. The
    next run sends the third batch alone."""
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisDown

    gateways = {"africastalking": Breaks(sms_app, on=2, after_sending=True)} if broken else None
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = queue(sms_app, db, 250)
        sender = routed_sender(sms_app, db, gateways=gateways)
        working = sender.throttle("africastalking")
        bucket = GoneAtTheThird(working, Redis(port=1, socket_timeout=1))
        sender.throttle = lambda provider: bucket
        with pytest.raises(RuntimeError if broken else RedisDown):
            sender.run()
        assert bucket.takes == ([1, 2] if broken else [1, 2, 3])
        left = {"sent": 100, "sending": 100} if broken else {"sent": 200}
        # The third batch, chosen but never started, is still queued: nothing was written.
        assert statuses(db) == {**left, "queued": 50}
        assert len(sandbox.messages()) == 200
        # Past every lease, the unknown outcomes wait; the third batch goes.
        outbox.reap(db, sms_app.config, datetime.now(UTC) + timedelta(hours=1))
        sender.throttle = lambda provider: working
        assert sender.run().sent == 50
    assert sorted(m["to"] for m in sandbox.messages()) == phones  # each exactly once


class StopAtTheSecond:
    """A provider's throttle, while which the second batch is chosen one of its phones
    texts STOP: the start then refuses that row, and the sender settles it."""

    def __init__(self, working, engine, phone):
        self.working, self.burst, self.engine, self.phone, self.takes = (
            working, working.burst, engine, phone, 0)  # fmt: skip

    def try_acquire(self, n: int) -> float:
        self.takes += 1
        if self.takes == 2:
            with self.engine.begin() as conn:
                conn.execute(update(Contact).where(Contact.phone == self.phone)
                             .values(opted_out_at=datetime.now(UTC)))  # fmt: skip
        return self.working.try_acquire(n)


def test_a_failure_while_a_refused_row_is_settled_loses_and_doubles_nothing(sms_app, sandbox):
    """The database fails as the sender settles a row its start refused (a STOP came
    between the choice and the start): the run fails, the request already out is recorded
    as sent, and the refused row stays queued; the next run cancels it and sends the rest."""
    engine = sms_app.extensions["engine"]
    failing = {"on": True}

    def settle_fails(conn, cursor, statement, parameters, context, executemany):
        # The settle's read of the refused row, by its id (Session.get), and nothing else.
        if failing["on"] and statement.startswith("SELECT") and "WHERE outbox.id = " in statement:
            raise OperationalError(statement, parameters, Exception("the database went away"))

    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        phones = queue(sms_app, db, 250, kind="reminder")
        stopped = phones[150]  # in the second batch of 100
        contacts.touch(db, stopped, datetime.now(UTC))
        db.commit()
        sender = routed_sender(sms_app, db)
        bucket = StopAtTheSecond(sender.throttle("africastalking"), engine, stopped)
        sender.throttle = lambda provider: bucket
        event.listen(engine, "before_cursor_execute", settle_fails)
        try:
            with pytest.raises(OperationalError, match="went away"):
                sender.run()
        finally:
            event.remove(engine, "before_cursor_execute", settle_fails)
        # The first two requests went out and are recorded; the refused row and the third
        # batch wait in the queue, none of them started.
        assert statuses(db) == {"sent": 199, "queued": 51}
        assert len(sandbox.messages()) == 199
        failing["on"] = False
        assert sender.run().sent == 50
        assert statuses(db) == {"sent": 249, "cancelled": 1}
        assert db.scalars(select(Message.reason).where(Message.phone == stopped)).one() == (
            "opted out"
        )
    assert sorted(m["to"] for m in sandbox.messages()) == sorted(set(phones) - {stopped})


def test_a_request_that_raises_leaves_the_next_batch_unstarted(sms_app, sandbox):
    """The first request raises what no gateway should: it stays an unknown outcome (it may
    have left), and the second batch, chosen but never started, is still queued."""
    gateway = Breaks(sms_app)
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 200)
        sender = routed_sender(sms_app, db, gateways={"africastalking": gateway})
        with pytest.raises(RuntimeError):
            sender.run()
        rows = Counter((m.status, m.attempts) for m in db.scalars(select(Message)))
        assert rows == {("sending", 0): 100, ("queued", 0): 100}
        outbox.reap(db, sms_app.config, datetime.now(UTC) + timedelta(hours=1))
        assert sender.run().sent == 100
    assert len(sandbox.messages()) == 100


class TimesOutAtTheSecond(dict):
    """The app's gateways, where the job's time runs out as the second request is about to
    leave, its rows started (RQ raises its timeout wherever the job stands)."""

    def __init__(self, gateways):
        super().__init__(gateways)
        self.asked = 0

    def __getitem__(self, name):
        self.asked += 1
        if self.asked == 2:
            raise JobTimeoutException("the job's time is up")
        return super().__getitem__(name)


def test_a_batch_started_but_never_sent_when_the_job_times_out_goes_back_to_the_queue(
    sms_app, sandbox
):
    """The first request, out, is still recorded; the second batch, started but never
    sent, goes back to the queue unasked, no attempt spent, not to reap as an unknown."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 200)
        gateways = TimesOutAtTheSecond(sms_app.extensions["gateways"])
        sender = routed_sender(sms_app, db, gateways=gateways)
        with pytest.raises(JobTimeoutException):
            sender.run()
        rows = Counter((m.status, m.attempts) for m in db.scalars(select(Message)))
        assert rows == {("sent", 0): 100, ("queued", 0): 100}
        assert sender.run().sent == 100
    assert len(set(m["to"] for m in sandbox.messages())) == 200


class Notes(Around):
    """The app's gateway to the sandbox, noting the request id its log lines would carry."""

    def __init__(self, app):
        super().__init__(app)
        self.ids = []

    def send(self, phones, text, sender=None):
        self.ids.append(logs.REQUEST_ID.get())
        return self.gateway.send(phones, text, sender=sender)


def test_a_request_sent_from_its_thread_logs_with_the_jobs_request_id(sms_app, sandbox):
    gateway = Notes(sms_app)
    token = logs.REQUEST_ID.set("req-7f3a")
    try:
        with sms_app.app_context(), sms_app.extensions["db"]() as db:
            queue(sms_app, db, 150)
            assert routed_sender(sms_app, db, gateways={"africastalking": gateway}).run().sent
    finally:
        logs.REQUEST_ID.reset(token)
    assert gateway.ids == ["req-7f3a", "req-7f3a"]
