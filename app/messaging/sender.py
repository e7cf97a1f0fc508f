"""Send due outbox rows through their providers: choose, route, batch, throttle, start,
record."""

import contextvars
import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.infra.gateway import GatewayError
from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import claims, delivery, outcomes, window
from app.messaging.batches import Asked, Tally, ask, chunks, healthy
from app.messaging.claims import LIVE, Claimed
from app.messaging.outbox import BULK_KINDS, cancel
from app.messaging.routing import Routing
from app.messaging.send_stats import SendStats
from app.messaging.throttle import Throttle

log = logging.getLogger(__name__)

# Rows held back by a campaign's rate come due a second apart: a dispatch with nothing
# else to do waits for them this long at most, and leaves later ones to the next tick.
HELD_WAIT = timedelta(seconds=5)
# A bucketful asked for this early (the worker woke a few milliseconds before the bucket
# was full again) is waited for, not cut short by one message.
TAKE_GRACE_S = 0.05
# A row no provider of its route may take now (every circuit open) waits at least this long.
SHUT_WAIT = timedelta(seconds=5)
# What became of a row a start refused (Sender._not_started).
SETTLED, WAITS, GONE = "settled", "waits", "gone"


@dataclass
class Sender:
    """Everything a dispatch run needs, passed in rather than looked up."""

    db: Session
    routing: Routing
    throttle: callable  # provider -> its Throttle: each provider has its own rate
    config: dict
    campaign_throttle: callable = None  # (campaign_id, rate) -> Throttle
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    sleep: callable = time.sleep
    stats: SendStats | None = None  # where each request's results and duration are counted
    # For each campaign whose rate held rows back in this run: the moment its next held
    # row goes back in the queue for, and how many rows that moment holds already.
    _slots: dict = field(default_factory=dict, init=False, repr=False)

    def run(self, now_fn=utcnow, budget_s: float = 30.0) -> Tally:
        """Send due rows until none are left or the time budget is spent."""
        tally = Tally()
        deadline = now_fn() + timedelta(seconds=budget_s)
        while now_fn() < deadline:
            tally.add(self.send(now_fn, deadline))
            # Rows a campaign's rate held back come due second by second: wait for them
            # here, or the campaign would send one second's worth per tick (SMS_TICK_S).
            now = now_fn()
            due = self._next_held(now)
            if due is None or due > deadline:
                break
            self.sleep((due - now).total_seconds())
        return tally

    def _next_held(self, now: datetime) -> datetime | None:
        """Return when the next row held back by its campaign's rate comes due, if soon."""
        if not window.is_open(self.config["SMS_SEND_WINDOW"], now, self.config["TZ"]):
            return None
        paced = select(Campaign.id).where(Campaign.rate.is_not(None), Campaign.status.in_(LIVE))
        due = self.db.scalar(
            select(func.min(Message.not_before)).where(
                Message.status == "queued",
                Message.campaign_id.in_(paced),
                Message.not_before > now,
            )
        )
        self.db.commit()  # no transaction left open while the worker waits
        return due if due is not None and due - now <= HELD_WAIT else None

    def send(self, now_fn=utcnow, deadline: datetime | None = None) -> Tally:
        """Send what is due now, a request at a time, until none is left or deadline
        passes; record every outcome.

        While a request is out, the next is chosen, without a lock: nothing is held while a
        provider takes its time. Once it has answered, the next request's rows are locked,
        started and its rate taken in one short transaction; it goes out in a thread of its
        own, and the last one's outcomes are written while it is out.
        """
        tally = Tally()
        # At most a second's worth of the slowest provider's rate: a request never waits
        # for more than its bucket holds, and a choice leaves few requests for later.
        rates = (int(self.throttle(provider).burst) for provider in self.routing.gateways)
        size = max(1, min(self.config["SMS_BATCH_SIZE"], *rates))
        asked = None  # the request out, until recorded
        started = None  # rows moved to sending whose request has not left yet
        waiting = []  # the last choice's requests (provider, sender, rows) not started yet
        passed = set()  # ids refused and left queued: not chosen again in this send
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kalan-send") as requests:
            try:
                while deadline is None or now_fn() < deadline:
                    if not waiting:
                        # Rows are locked at their choice only by a worker with no request
                        # out, until its start moments later; otherwise by the start itself.
                        out = asked is not None and not asked.future.done()
                        waiting = self._chosen(now_fn(), size, passed, lock=not out)
                        if waiting is None:
                            break  # none due
                        continue  # chosen, or all put off: choose again
                    # The last request answers before anything is started: no batch that
                    # never left is left sending by a worker killed meanwhile (an unknown
                    # outcome, which a campaign never resends).
                    if asked and not healthy(asked.future.result()[0]):
                        # Its circuit hears of it before anything else starts.
                        last, asked = asked, None
                        self._recorded(last, now_fn, tally)
                    provider, sender, part = waiting.pop(0)
                    # Its circuit opened since (our last answer, or another worker's): its
                    # rows are chosen and routed again. One being probed is not shut.
                    if self.routing.shut(provider):
                        waiting = [request for request in waiting if request[0] != provider]
                        continue
                    begun = self._start(part, provider, now_fn())
                    if begun is None:
                        waiting = []  # let go while the rate made us wait: choose again
                        continue
                    started, refused = begun
                    if started:
                        # In the job's context: its log lines keep the request id.
                        here, phones = contextvars.copy_context(), [m.phone for m in started]
                        gateway = self.routing.gateways[provider]
                        future = requests.submit(here.run, ask, gateway, phones,
                                                 started[0].body, sender)  # fmt: skip
                        last, asked = asked, Asked(provider, started, future)
                        started = None
                        tally.claimed += len(asked.part)
                        if last:  # before anything else can fail: an answer is never lost
                            self._recorded(last, now_fn, tally)
                    self._settle(refused, now_fn(), tally, passed)
                if asked:
                    last, asked = asked, None
                    self._recorded(last, now_fn, tally)
                self.db.commit()
            except BaseException:
                if asked:  # what went out is still written down, if the database lets us
                    self._after_error(lambda: self._recorded(asked, now_fn, tally))
                if started:  # and what never left goes back to the queue, not to reap
                    self._after_error(lambda: self._not_asked(started, now_fn()))
                raise
        return tally

    def _chosen(
        self, now: datetime, size: int, passed: set[int], lock: bool
    ) -> list[tuple[str, str | None, list[Claimed]]] | None:
        """Choose due rows within their campaigns' rates; return them as requests,
        (provider, sender, rows), for the providers that may take them now (the others are
        put off, and that committed), or None if none is due (but rows passed by already in
        this send). With lock, the rows chosen stay locked until the next commit.
        """
        if not lock:
            self._autocommit()  # no transaction left open while the request is out
        bulk = window.is_open(self.config["SMS_SEND_WINDOW"], now, self.config["TZ"])
        # Past the rows passed by in this send, which are due still: choosing no more than
        # size would end the send while later rows wait.
        due = claims.choose(self.db, now, size + len(passed), bulk, lock=lock)
        chosen = [m for m in due if m.id not in passed][:size]
        if not chosen:
            self.db.commit()
            return None
        requests, put_off = [], []
        for chunk in chunks(chosen, size):
            chunk = self._within_campaign_rate(chunk, now, put_off)
            if chunk:
                requests.extend(self._routed(chunk, now, put_off))
        if put_off or not lock:
            # Kept before any wait: SQLite locks the whole file for a put-off. The rows
            # chosen are let go too, and their start locks them again.
            claims.put_off(self.db, put_off)
            self.db.commit()
        return requests

    def _not_asked(self, part: list[Claimed], now: datetime) -> None:
        """Put started rows back in the queue, never asked: no attempt spent."""
        self._autocommit()
        claims.record(self.db, self.owner, "sending", outcomes.never_asked(part, now))
        self.db.commit()

    def _after_error(self, write) -> None:
        """Write what a failed run leaves to write, on a session rolled back first; if that
        fails too, reap settles the rows (a request out stays an unknown outcome)."""
        try:
            self.db.rollback()
            write()
        except Exception:
            log.exception("what a failed send left could not be written")

    def _recorded(self, asked: "Asked", now_fn, tally: Tally) -> None:
        """Record one request's outcomes, then tell its provider's circuit and the stats."""
        provider, part = asked.provider, asked.part
        answer, took = asked.future.result()
        if isinstance(answer, GatewayError):
            self._whole(part, answer, now_fn(), tally)
            self.db.commit()
            self.routing.failed(provider)
        else:
            self._each(part, answer, now_fn(), tally)
            # Kept before the circuit hears of it: Redis failing over now must
            # not leave rows that went out as unknown outcomes.
            self.db.commit()
            self.routing.sent(provider, answer)
        if self.stats is not None:  # after the commit: what was recorded never waits
            self.stats.count(provider, [m.phone for m in part], answer, took)
        tally.campaigns.update(m.campaign_id for m in part if m.campaign_id)

    def _routed(self, chunk: list[Claimed], now: datetime, put_off: list):
        """Yield (provider, sender, rows) for the rows a provider may take now.

        The rest wait, no attempt spent, until the first circuit of their route may
        be probed (added to put_off): a message is never handed to a provider whose
        circuit is open.
        """
        groups: dict[tuple, list[Claimed]] = defaultdict(list)
        shut = []
        choices = self.routing.choices()
        for message in chunk:
            provider = choices.pick(message.phone, message.via)
            if provider is None:
                shut.append(message)
                continue
            sender = message.sender if provider == message.via else None
            groups[(provider, sender)].append(message)
        for message in shut:
            reopens = choices.reopens(message.phone, message.via)
            when = now + SHUT_WAIT
            if reopens is not None:
                when = max(when, datetime.fromtimestamp(reopens, now.tzinfo))
            put_off.append((message, when))
        for (provider, sender), rows in groups.items():
            yield provider, sender, rows

    def _within_campaign_rate(
        self, chunk: list[Claimed], now: datetime, put_off: list
    ) -> list[Claimed]:
        """Keep what the campaign's own rate allows now; add the rest to put_off, each
        with its time.

        Never waits: a slow campaign must not hold up alerts and replies.
        """
        campaign_id = chunk[0].campaign_id
        limiter = None
        if campaign_id and self.campaign_throttle:
            limiter = self.campaign_throttle(campaign_id)
        if limiter is None:
            return chunk
        allowed = limiter.take(len(chunk), grace_s=TAKE_GRACE_S, sleep=self.sleep)
        if allowed < len(chunk):
            put_off.extend((m, self._slot(campaign_id, limiter, now)) for m in chunk[allowed:])
        return chunk[:allowed]

    def _slot(self, campaign_id: int, limiter: Throttle, now: datetime) -> datetime:
        """Return when a row held back by its campaign's rate is due again.

        Held rows fill the coming seconds in order, one bucketful each, so that each
        second's rows come due when the bucket has refilled for them: released all for
        the same moment, every one would be chosen again and all but a bucketful put
        back, each second.
        """
        step = timedelta(seconds=limiter.burst / limiter.rate)
        at, used = self._slots.get(campaign_id, (now, 0))
        if at <= now:  # the slots this run gave are all reached: start again after a refill
            at, used = now + step, 0
        elif used >= limiter.burst:
            at, used = at + step, 0
        self._slots[campaign_id] = (at, used + 1)
        return at

    def _start(
        self, part: list[Claimed], provider: str, now: datetime
    ) -> tuple[list[Claimed], list[int]] | None:
        """Move rows still queued and due from queued to sending through provider, re-checking
        opt-outs and pauses (see claims.start), take its rate for them while they are locked,
        and commit; return the rows started and the ids of the others.

        If the provider's bucket is short, nothing is started: the rows are let go, and
        None returned once the bucket holds them. No rate is taken for rows another worker
        starts meanwhile, and nothing is held while the worker waits.
        """
        lease = now + timedelta(seconds=self.config["SMS_LEASE_S"])
        ids = [m.id for m in part]
        found = claims.start(self.db, self.owner, ids, provider, now, lease)
        wait = found and self.throttle(provider).try_acquire(len(found))
        if wait:
            self.db.rollback()
            self.sleep(wait)
            return None
        self.db.commit()  # from here on, a crash leaves an unknown outcome
        return [m for m in part if m.id in found], [i for i in ids if i not in found]

    def _settle(self, refused: list[int], now: datetime, tally: Tally, passed: set) -> None:
        """Settle the rows a start refused that must not go out; pass by the others."""
        # Most were started by another worker: one read finds those still queued.
        for message_id in claims.still_queued(self.db, refused):
            if self._not_started(message_id, now, tally) == WAITS:
                passed.add(message_id)
        if refused:
            self.db.commit()

    def _autocommit(self) -> None:
        """Commit, then on PostgreSQL have each statement until the next commit commit on
        its own: one round trip, not three (BEGIN, the statement, COMMIT)."""
        self.db.commit()
        if self.db.get_bind().dialect.name == "postgresql":
            self.db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def _not_started(self, message_id: int, now: datetime, tally: Tally) -> str:
        """Settle a chosen row that must not go out now, and say why; return SETTLED, WAITS
        (still queued: a paused campaign, or put off since) or GONE (another worker's, or
        held by one when the start came)."""
        # Skipped if another worker holds it: then it is that worker's to start or settle.
        lock, fresh = {"skip_locked": True}, {"populate_existing": True}
        message = self.db.get(Message, message_id, with_for_update=lock, **fresh)
        if message is None or message.status != "queued":
            return GONE  # another worker holds, started or settled it since we chose it
        # Read afresh: the session keeps what it loaded before (expire_on_commit is off).
        phone = select(Contact).where(Contact.phone == message.phone)
        contact = self.db.scalars(phone.execution_options(**fresh)).first()
        campaign = message.campaign_id and self.db.get(Campaign, message.campaign_id, **fresh)
        bulk = message.kind in BULK_KINDS
        if bulk and contact is not None and contact.opted_out_at is not None:
            cancel(message, "opted out", now)
        elif bulk and contact is not None and contact.unreachable_at is not None:
            cancel(message, "unreachable", now)
        elif campaign is not None and campaign.status == "cancelled":
            cancel(message, "campaign cancelled", now)
        elif message.not_before > now or (campaign is not None and campaign.status not in LIVE):
            return WAITS  # put off since, or its campaign paused: it waits in the queue
        else:  # startable: another worker held it a moment, and lets it go (chosen again)
            return GONE
        tally.cancelled += 1
        return SETTLED

    def _whole(self, part: list[Claimed], exc: GatewayError, now: datetime, tally: Tally) -> None:
        """Record a failure of the whole request on the rows still ours."""
        changes = outcomes.of_failure(part, exc, now, self.config)
        self._autocommit()
        recorded = claims.record(self.db, self.owner, "sending", changes).changes
        self.db.commit()
        if not exc.unknown:
            tally.retried += len(recorded)
            return
        tally.unknown += len(recorded)
        ids = [change.row.id for change in recorded]
        unknown = self.db.scalars(select(Message).where(Message.id.in_(ids))).all()
        delivery.adopt_waiting(self.db, unknown, now, self.config["SMS_UNREACHABLE_AFTER"])

    def _each(self, part: list[Claimed], results, now: datetime, tally: Tally) -> None:
        """Record each recipient's outcome on the rows still ours."""
        changes, counted = outcomes.of_answer(part, results, now, self.config)
        self._autocommit()
        recorded, reported = claims.record(self.db, self.owner, "sending", changes)
        self.db.commit()
        # A delivery report may have come before we recorded the provider's id.
        delivery.apply_pending(self.db, reported, now, self.config["SMS_UNREACHABLE_AFTER"])
        for change in recorded:
            kind = counted.get(change.row.id)
            if kind:
                setattr(tally, kind, getattr(tally, kind) + 1)
