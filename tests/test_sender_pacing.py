"""Pacing the outbox: the throttle, claims and leases, and each campaign's rate beside alerts."""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra.models import Campaign, Message
from app.messaging import outbox
from app.messaging.throttle import Throttle
from workers import jobs

from .helpers import race
from .test_sender import Clock, campaign_row, queue, sender_for


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


def test_claims_never_overlap(sms_app, sandbox):
    """Two workers claim at the same moment: the second takes the rows the first has not
    locked, without waiting for its commit, and no row goes to both."""
    if sms_app.extensions["engine"].dialect.name != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite locks the whole file, not rows, so a second claim cannot "
            "run while the first holds its rows (the status check keeps them apart there)"
        )
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 50)
    engine = sms_app.extensions["engine"]
    first_holds, second_chose = threading.Event(), threading.Event()
    claimed, waited, chosen = {}, [], set()
    # The statement that leases what the claim chose: by then its rows are chosen and locked
    # (urgent ones, then the others, each chosen by a statement of its own).
    take = f"UPDATE {Message.__tablename__} SET status"

    def hold(_conn, _cursor, statement, *_):
        # The first claim keeps its rows locked, transaction open, until the second has chosen.
        name = threading.current_thread().name
        if not statement.startswith(take) or name in chosen:
            return  # only each claim's lease, once its rows are chosen and locked
        chosen.add(name)
        if name == "first":
            first_holds.set()
            waited.append(second_chose.wait(timeout=5))
        else:
            second_chose.set()

    def claim(name: str) -> None:
        if name == "second":
            first_holds.wait(timeout=5)
        with sms_app.extensions["db"]() as db:
            claimed[name] = sender_for(sms_app, db).claim(datetime.now(UTC), 30)

    race(engine, hold, claim, timeout=30)
    assert waited == [True], "the second claim waited for the first one's commit"
    first, second = ({m.id for m in claimed[n]} for n in ("first", "second"))
    assert (len(first), len(second)) == (30, 20)
    assert not first & second


def test_a_lease_that_ran_out_is_not_sent_twice(sms_app, sandbox):
    """Worker A is slow; its lease expires and B sends the rows; A must not send them too."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        queue(sms_app, db, 20)
        slow = sender_for(sms_app, db)
        stale = slow.claim(datetime.now(UTC), 20)
        later = datetime.now(UTC) + timedelta(seconds=sms_app.config["SMS_LEASE_S"] + 1)
        outbox.reap(db, sms_app.config, later)  # the lease is over: the rows are free again
        sender_for(sms_app, db).run()
        tally = slow.send(stale)
    assert tally.sent == 0
    assert Counter(m["to"] for m in sandbox.messages()).most_common(1)[0][1] == 1
    assert len(sandbox.messages()) == 20


def test_stop_and_cancel_after_the_claim_are_honoured(sms_app, sandbox):
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
        sender = sender_for(sms_app, db)
        claimed = sender.claim(datetime.now(UTC), 10)
        db.get(Campaign, stopped).status = "cancelled"
        db.scalars(select(Contact)).one().opted_out_at = datetime.now(UTC)  # texted STOP
        db.commit()
        sender.send(claimed)
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
        sender = jobs._sender(db)
        sender.send(sender.claim(datetime.now(UTC), 20))
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
    """Spread over the coming seconds, they are not all claimed again and put back each
    second: one claim a second takes what the bucket then allows."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 250, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Clock(datetime.now(UTC))
        sender = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep)
        sender.send(sender.claim(clock(), 250), clock)
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
    """A held row claimed again by the same worker, and held again because another worker
    spent the campaign's tokens, is queued again: not left claimed, to be sent at once."""
    with sms_app.app_context(), sms_app.extensions["db"]() as db:
        campaign = campaign_row(db, rate=10)
        queue(sms_app, db, 20, kind="campaign", text="Cadence", campaign_id=campaign)
        clock = Clock(datetime.now(UTC))
        sender = jobs._sender(db, clock=clock.seconds, sleep=clock.sleep)
        # Kept, as run() keeps its last claim while it claims the next: the session still
        # holds these rows, as they were when they went back to the queue.
        first = sender.claim(clock(), 20)
        sender.send(first, clock)  # 10 now, 10 held for a second
        clock.sleep(1)
        key = f"{sms_app.config['REDIS_PREFIX']}throttle:campaign:{campaign}"
        assert Throttle(sms_app.extensions["redis"], key, 10, clock=clock.seconds).take(5) == 5
        assert sender.send(sender.claim(clock(), 20), clock).sent == 5  # the other 5 held again
        held = db.execute(select(Message.status, Message.lease_owner).where(Message.id > 15))
        assert sender.claim(clock(), 20) == []  # none due before the next second
    assert [tuple(row) for row in held] == [("queued", None)] * 5
    assert len(sandbox.messages()) == 15
