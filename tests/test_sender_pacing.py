"""Pacing the outbox: the throttle, choices made by several workers, and each campaign's rate
beside alerts."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from app.infra.models import Campaign, Message
from app.messaging import claims, outbox
from app.messaging.throttle import Throttle
from workers import jobs

from .helpers import FirstAcquire, carriers, queue_text, routed_sender
from .test_sender import Around, Clock, campaign_row, queue, sender_for


def test_two_workers_together_respect_the_throttle(sms_app, sandbox):
    rate, count = 40, 160
    sms_app.config["SMS_BATCH_SIZE"] = 10
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, count)

    def work():
        with sms_app.app_context(), sms_app.extensions["db"]() as db:
            sender_for(sms_app, db, rate=rate).run()

    started = time.monotonic()
    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    assert len(sandbox.messages()) == count
    # A bucket holds one second's worth; the rest must wait for refills.
    assert elapsed >= (count - rate) / rate * 0.9


class WritesMeanwhile(Around):
    """The app's gateway to the sandbox, whose first request, once out a moment, waits for
    another connection's write to the outbox's last row (1 s at most for a lock)."""

    def __init__(self, app):
        super().__init__(app)
        self.app, self.wrote = app, None

    def send(self, phones, text, sender=None):
        self.requests += 1
        if self.requests == 1:
            time.sleep(0.3)  # the worker is waiting for this answer by now
            self.wrote = write_last_row(self.app)
        return self.gateway.send(phones, text, sender=sender)


def write_last_row(app) -> str:
    """Write to the outbox's last row from a connection of its own, waiting 1 s at most for
    a lock; return "written", or the error's name."""
    engine = app.extensions["engine"]
    with engine.connect() as conn:
        last = conn.scalar(select(Message.id).order_by(Message.id.desc()).limit(1))
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET lock_timeout = '1s'"))
        else:
            conn.exec_driver_sql("PRAGMA busy_timeout = 1000")
        try:
            conn.execute(update(Message).where(Message.id == last).values(reason="vu"))
            conn.commit()
        except OperationalError as exc:
            return type(exc.orig).__name__
    return "written"


class Counted:
    """A provider's throttle that notes how many tokens each take took; empty_once, it says
    the first time that the bucket is short (a hundredth of a second)."""

    def __init__(self, throttle, empty_once=False):
        self.throttle, self.burst, self.taken = throttle, throttle.burst, []
        self.empty_once = empty_once

    def try_acquire(self, n: int) -> float:
        if self.empty_once:
            self.empty_once = False
            return 0.01
        wait = self.throttle.try_acquire(n)
        if not wait:
            self.taken.append(n)
        return wait


def test_nothing_is_held_while_the_rate_makes_the_worker_wait(sms_app, sandbox):
    """The bucket short, the worker waits for the rate with the rows it chose let go: a
    write to one of them meanwhile waits for no one (sent afterwards all the same)."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 5)
        sender = sender_for(sms_app, db)
        throttle, wrote = Counted(sender.throttle("africastalking"), empty_once=True), []
        sender.throttle = lambda provider: throttle
        sender.sleep = lambda seconds: wrote.append(write_last_row(sms_app))
        assert sender.send().sent == 5
    assert wrote == ["written"] and throttle.taken == [5]


def test_workers_sharing_a_short_bucket_spend_it_only_on_rows_they_send(sms_app, sandbox):
    """Two workers, one provider's bucket at 10 a second: each takes the rate only while it
    holds the rows, so every token taken carries an SMS (none spent on rows the other
    started while this one waited)."""
    sms_app.config["SMS_BATCH_SIZE"] = 10
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 40)
    key = sms_app.config["REDIS_PREFIX"] + "throttle:shared"
    buckets, tallies = [], []

    def work():
        with sms_app.app_context(), sms_app.extensions["db"]() as db:
            sender = sender_for(sms_app, db)
            bucket = Counted(Throttle(sms_app.extensions["redis"], key, 10))
            buckets.append(bucket)
            sender.throttle = lambda provider: bucket
            tallies.append(sender.run())

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(t.sent for t in tallies) == 40 and len(sandbox.messages()) == 40
    assert sum(sum(bucket.taken) for bucket in buckets) == 40


@pytest.mark.parametrize("rate, sent", [(3, 3), (None, 10)])
def test_nothing_is_held_while_the_last_request_is_out(sms_app, sandbox, rate, sent):
    """Batches of 5: while a request is out, no row of the next batch is locked, nor any
    put-off by a campaign's rate of 3 a second left uncommitted (SQLite would lock the
    whole file): a console's cancel, a STOP or a report written meanwhile waits for no
    request."""
    sms_app.config["SMS_BATCH_SIZE"] = 5
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=rate)
        queue(sms_app, db, 10, kind="campaign", text="Lent", campaign_id=campaign)
        gateway = WritesMeanwhile(sms_app)
        sender = routed_sender(sms_app, db, gateways={"africastalking": gateway})
        # The campaign's bucket on a clock that stands still: 3 now, none refilled meanwhile.
        still = Clock(datetime.now(UTC)).seconds
        sender.campaign_throttle = jobs._sender(db, clock=still).campaign_throttle
        assert sender.send().sent == sent
    assert gateway.wrote == "written"


class Meanwhile(Around):
    """The app's gateway to the sandbox, whose first request waits for what another worker
    does meanwhile (done() runs in the request's thread)."""

    def __init__(self, app, done):
        super().__init__(app)
        self.done = done

    def send(self, phones, text, sender=None):
        if self.done:
            done, self.done = self.done, None
            done()
        return self.gateway.send(phones, text, sender=sender)


def test_a_batch_another_worker_sent_meanwhile_is_not_sent_twice(sms_app, sandbox):
    """Worker A chose two texts' rows and started the first; while that request is out, B
    chooses and sends the second's (a campaign, cancelled just after), which A no longer
    holds: A neither sends them again nor settles them as cancelled."""
    first, second = [f"+2237100{n:04d}" for n in range(5)], [f"+2237200{n:04d}" for n in range(5)]
    tallies = {}

    def other_worker():
        with sms_app.extensions["db"]() as other:
            tallies["b"] = sender_for(sms_app, other).send()
            other.get(Campaign, campaign).status = "cancelled"
            other.commit()

    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db)
        queue_text(sms_app, db, first, "Un")
        queue_text(sms_app, db, second, "Deux", kind="campaign", campaign_id=campaign)
        gateway = Meanwhile(sms_app, other_worker)
        sender = routed_sender(sms_app, db, gateways={"africastalking": gateway})
        throttle = Counted(sender.throttle("africastalking"))  # takes only
        sender.throttle = lambda provider: throttle
        tallies["a"] = sender.send()
        rows = Counter(m.status for m in db.scalars(select(Message)))
    assert (tallies["a"].sent, tallies["b"].sent, rows) == (5, 5, {"sent": 10})
    assert throttle.taken == [5]  # no rate spent on rows another worker had taken
    assert sorted(m["to"] for m in sandbox.messages()) == first + second  # each exactly once
    assert carriers(sandbox, "Un").keys() == set(first)


def test_stop_and_cancel_after_the_choice_are_honoured(sms_app, sandbox):
    from app.infra.models import Contact

    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        live = campaign_row(db)
        stopped = campaign_row(db)
        phones = queue(sms_app, db, 3, kind="campaign", text="Campagne", campaign_id=live)
        for n, phone in enumerate(phones[:2]):
            outbox.add(
                db,
                current_app.config,
                "campaign",
                f"other-{n}",
                phone,
                "Autre",
                campaign_id=stopped,
            )
        db.add(Contact(phone=phones[0], role="community", created_at=datetime.now(UTC)))
        db.commit()

        def meanwhile():  # another process: the console, and the inbox hearing STOP
            with sms_app.extensions["db"]() as other:
                other.get(Campaign, stopped).status = "cancelled"
                other.scalars(select(Contact)).one().opted_out_at = datetime.now(UTC)
                other.commit()

        sender = sender_for(sms_app, db)
        throttle = FirstAcquire(sender.throttle("africastalking"), meanwhile)
        sender.throttle = lambda provider: throttle
        sender.send()
        reasons = {(m.phone, m.body): m.reason for m in db.scalars(select(Message))}
    assert sorted(m["to"] for m in sandbox.messages()) == phones[1:]
    assert reasons[(phones[0], "Campagne")] == "opted out"
    assert reasons[(phones[1], "Autre")] == "campaign cancelled"
    assert reasons[(phones[0], "Autre")] == "opted out"  # both apply; opting out comes first


def test_a_slow_campaign_does_not_hold_up_an_alert(sms_app, sandbox):
    """The worker's own sender (workers.jobs), with the campaign's rate read from its row."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        slow = campaign_row(db, rate=2)
        queue(sms_app, db, 10, kind="campaign", text="Lent", campaign_id=slow)
        outbox.add(db, current_app.config, "alert", "A1", "+22379999999", "Alerte", urgent=True)
        db.commit()
        jobs._sender(db).send()
        waiting = list(db.scalars(select(Message).where(Message.status == "queued")))
    bodies = Counter(m["message"] for m in sandbox.messages())
    assert bodies["Alerte"] == 1 and bodies["Lent"] == 2  # the campaign's rate: 2 now
    # The rest went back to the queue for later, without spending an attempt.
    assert len(waiting) == 8 and all(m.attempts == 0 for m in waiting)


@pytest.mark.parametrize("rate", [None, 1, 5])
def test_each_campaign_gets_a_bucket_of_its_own_at_its_rate(sms_app, rate):
    """workers.jobs builds the throttle a campaign row asks for, in the shared Redis.

    On a clock that stands still: on Redis's, 0.2 s between the burst and the next take
    (a loaded machine, a campaign row read between them) refilled a token at 5 a second.
    """
    redis, prefix = sms_app.extensions["redis"], sms_app.config["REDIS_PREFIX"]
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign_id = campaign_row(db, rate=rate)
        other_id = campaign_row(db, rate=rate)
        sender = jobs._sender(db, clock=Clock(datetime.now(UTC)).seconds)
        limiter = sender.campaign_throttle(campaign_id)
        if rate is None:  # no rate of its own: only the shared one applies
            assert limiter is None
            return
        assert limiter.take(100) == rate  # a burst of one second's worth
        assert sender.campaign_throttle(campaign_id).take(1) == 0  # the same bucket, empty
        assert sender.campaign_throttle(other_id).take(1) == 1  # another campaign's is full
    key = f"{prefix}throttle:campaign:{campaign_id}"
    assert float(redis.hget(key, "tokens")) < 1 and 0 < redis.pttl(key) <= 60_000


def test_a_campaign_at_10_a_second_sends_100_in_about_10_seconds(sms_app, sandbox):
    """Dispatches on a clock the sender moves as it sleeps: the campaign's rate is per second,
    not one second's worth per tick (which took 100 s here, and 4 min 41 s for 301)."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 100, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Clock(datetime.now(UTC))
        start = clock.now
        first = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep)
        assert first.run(now_fn=clock, budget_s=4.5).sent == 50
        # The next dispatch (the tick that waited meanwhile) goes on where it stopped.
        rest = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep).run(now_fn=clock)
        sent = [m.sent_at for m in db.scalars(select(Message))]
    assert rest.sent == 50 and len(sandbox.messages()) == 100
    per_second = Counter(int((at - start).total_seconds()) for at in sent)
    assert per_second == {second: 10 for second in range(10)}  # 10 a second, from the start
    assert (clock.now - start).total_seconds() == pytest.approx(9, abs=0.1)


def test_rows_held_back_by_a_campaigns_rate_come_due_a_bucketful_a_second(sms_app, sandbox):
    """Spread over the coming seconds, they are not all chosen again and put off each
    second: one choice a second takes what the bucket then allows."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 250, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Clock(datetime.now(UTC))
        sender = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep)
        sender.send(clock)
        held = [m.not_before for m in db.scalars(select(Message).where(Message.status == "queued"))]
    assert len(sandbox.messages()) == 10
    due = Counter(round((at - clock.now).total_seconds(), 3) for at in held)
    assert due == {float(second): 10 for second in range(1, 25)}


def test_an_alert_goes_at_once_while_a_campaign_is_paced(sms_app, sandbox):
    """The dispatch that waits for a paced campaign's next second claims what came meanwhile."""

    class Busy(Clock):
        def sleep(self, seconds: float) -> None:
            super().sleep(seconds)
            if self.now - start > timedelta(seconds=3) and not alerted:
                outbox.add(db, current_app.config, "alert", "A1", "+22379999999", "Alerte",
                           urgent=True, not_before=self.now)  # fmt: skip
                db.commit()
                alerted.append(self.now)

    alerted = []
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 100, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Busy(datetime.now(UTC))
        start = clock.now
        jobs._sender(db, clock=clock.seconds, sleep=clock.sleep).run(now_fn=clock)
        alert = db.scalars(select(Message).where(Message.kind == "alert")).one()
    assert alert.status == "sent" and alert.sent_at == alerted[0]  # sent as it came


def test_a_row_held_back_twice_goes_back_to_the_queue_both_times(sms_app, sandbox):
    """A held row chosen again by the same worker, and held again because another worker
    spent the campaign's tokens, is put off again: queued, not sent at once."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 20, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Clock(datetime.now(UTC))
        sender = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep)
        assert sender.send(clock).sent == 10  # 10 now, 10 held for a second
        clock.sleep(1)
        key = f"{sms_app.config['REDIS_PREFIX']}throttle:campaign:{campaign}"
        assert Throttle(sms_app.extensions["redis"], key, 10, clock=clock.seconds).take(5) == 5
        assert sender.send(clock).sent == 5  # the other 5 held again
        held = db.execute(select(Message.status, Message.lease_owner).where(Message.id > 15))
        assert claims.choose(db, clock(), 20, bulk=True) == []  # none due before the next second
        db.rollback()
    assert [tuple(row) for row in held] == [("queued", None)] * 5
    assert len(sandbox.messages()) == 15


def test_a_stop_heard_after_the_session_read_the_contact_is_honoured(sms_app, sandbox):
    """The worker's session read the contact before the STOP came (its copies outlive a
    commit): the start refuses the row, which is then cancelled as opted out, not left
    queued to be chosen again and again."""
    from app.infra.models import Contact

    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db)
        (phone,) = queue(sms_app, db, 1, kind="campaign", text="Campagne", campaign_id=campaign)
        db.add(Contact(phone=phone, role="community", created_at=datetime.now(UTC)))
        db.commit()
        kept = db.scalars(select(Contact)).one()  # held: the session keeps its copy
        assert kept.opted_out_at is None
        with sms_app.extensions["db"]() as other:  # the inbox hears STOP
            other.scalars(select(Contact)).one().opted_out_at = datetime.now(UTC)
            other.commit()
        tally = sender_for(sms_app, db).send(deadline=datetime.now(UTC) + timedelta(seconds=5))
        row = db.scalars(select(Message)).one()
    assert (tally.sent, tally.cancelled, row.status, row.reason) == (
        0, 1, "cancelled", "opted out")  # fmt: skip
    assert sandbox.messages() == []
