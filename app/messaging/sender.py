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

        Each request's rows are locked (chosen, or locked again by id), then started, in a
        short transaction; the request goes out in a thread of its own, and the last one's
        outcomes are written while it is out.
        """
        tally = Tally()
        # At most a second's worth of the slowest provider's rate: a request never waits
        # for more than its bucket holds, and a choice leaves few requests for later.
        rates = (int(self.throttle(provider).burst) for provider in self.routing.gateways)
        size = max(1, min(self.config["SMS_BATCH_SIZE"], *rates))
        asked = None  # the request out, until recorded
        started = None  # rows moved to sending whose request has not left yet
        waiting = []  # the last choice's other requests (provider, sender, rows), unlocked
        passed = set()  # ids refused and left queued: not chosen again in this send
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kalan-send") as requests:
            try:
                while deadline is None or now_fn() < deadline:
                    # The last request answers before anything is chosen or started: no
                    # batch that never left is left sending by a worker killed meanwhile
                    # (an unknown outcome, which a campaign never resends), and no row
                    # stays locked through the wait.
                    if asked and not healthy(asked.future.result()[0]):
                        # Its circuit hears of it before anything else starts (and the
                        # choice's later requests are checked against it below).
                        last, asked = asked, None
                        self._recorded(last, now_fn, tally)
                    if waiting:
                        provider, sender, part = waiting.pop(0)
                        # Its circuit opened since (our last answer, or another worker's): its
                        # rows are chosen and routed again. One being probed is not shut.
                        if self.routing.shut(provider):
                            waiting = [request for request in waiting if request[0] != provider]
                            continue
                        ours = claims.lock(self.db, [m.id for m in part], now_fn())
                        part = [m for m in part if m.id in ours]
                    else:
                        chosen = self._chosen(now_fn(), size, passed)
                        if chosen is None:
                            break  # none due
                        if not chosen:
                            continue  # all put off: choose again
                        (provider, sender, part), *waiting = chosen
                    if not part:
                        continue
                    if not self._take_rate(provider, len(part)):
                        waiting = []  # let go while the rate made us wait: choose again
                        continue
                    part, refused = self._start(part, provider, now_fn())
                    started = part
                    if part:
                        # In the job's context: its log lines keep the request id.
                        here, phones = contextvars.copy_context(), [m.phone for m in part]
                        gateway = self.routing.gateways[provider]
                        future = requests.submit(here.run, ask, gateway, phones, part[0].body,
                                                 sender)  # fmt: skip
                        last, asked, started = asked, Asked(provider, part, future), None
                        tally.claimed += len(part)
                        if last:  # before anything else can fail: an answer is never lost
                            self._recorded(last, now_fn, tally)
                    self._settle(refused, now_fn(), tally, passed)
                if asked:
                    last, asked = asked, None
                    self._recorded(last, now_fn, tally)
                self.db.commit()  # what was put off, when nothing was started after it
            except BaseException:
                if asked:  # what went out is still written down, if the database lets us
                    self._after_error(lambda: self._recorded(asked, now_fn, tally))
                if started:  # and what never left goes back to the queue, not to reap
                    self._after_error(lambda: self._not_asked(started, now_fn()))
                raise
        return tally

    def _take_rate(self, provider: str, n: int) -> bool:
        """Take provider's rate for n rows while they are held; if the bucket is short, let
        every row and put-off go, wait for it, and say so: the caller chooses again."""
        wait = self.throttle(provider).try_acquire(n)
        if wait:
            # Nothing held while we wait (a console's cancel or a STOP waits for no one;
            # SQLite locks the whole file for a put-off), and no rate taken for rows that
            # another worker may start meanwhile.
            self.db.commit()
            self.sleep(wait)
            return False
        return True

    def _chosen(
        self, now: datetime, size: int, passed: set[int]
    ) -> list[tuple[str, str | None, list[Claimed]]] | None:
        """Choose due rows, locked, within their campaigns' rates; return them as requests,
        (provider, sender, rows), for the providers that may take them now (the others are
        put off), or None if none is due (but rows passed by already in this send).
        """
        bulk = window.is_open(self.config["SMS_SEND_WINDOW"], now, self.config["TZ"])
        # Past the rows passed by in this send, which are due still: choosing no more than
        # size would end the send while later rows wait.
        due = claims.choose(self.db, now, size + len(passed), bulk)
        chosen = [m for m in due if m.id not in passed][:size]
        if not chosen:
            return None
        requests = []
        for chunk in chunks(chosen, size):
            chunk = self._within_campaign_rate(chunk, now)
            if chunk:
                requests.extend(self._routed(chunk, now))
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

    def _routed(self, chunk: list[Claimed], now: datetime):
        """Yield (provider, sender, rows) for the rows a provider may take now.

        The rest wait, no attempt spent, until the first circuit of their route may
        be probed: a message is never handed to a provider whose circuit is open.
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
        if shut:
            back = []
            for message in shut:
                reopens = choices.reopens(message.phone, message.via)
                when = now + SHUT_WAIT
                if reopens is not None:
                    when = max(when, datetime.fromtimestamp(reopens, now.tzinfo))
                back.append((message, when))
            claims.put_off(self.db, back)
        for (provider, sender), rows in groups.items():
            yield provider, sender, rows

    def _within_campaign_rate(self, chunk: list[Claimed], now: datetime) -> list[Claimed]:
        """Keep what the campaign's own rate allows now; put the rest back for later.

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
            held = [(m, self._slot(campaign_id, limiter, now)) for m in chunk[allowed:]]
            claims.put_off(self.db, held)
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
    ) -> tuple[list[Claimed], list[int]]:
        """Move rows still queued and due from queued to sending through provider, re-checking
        opt-outs and pauses (see claims.start), and commit; return the rows started and the
        ids of the others."""
        lease = now + timedelta(seconds=self.config["SMS_LEASE_S"])
        ids = [m.id for m in part]
        found = claims.start(self.db, self.owner, ids, provider, now, lease)
        self.db.commit()  # from here on, a crash leaves an unknown outcome
        return [m for m in part if m.id in found], [i for i in ids if i not in found]

    def _settle(self, refused: list[int], now: datetime, tally: Tally, passed: set) -> None:
        """Settle the rows a start refused that must not go out; pass by the others."""
        for message_id in refused:
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
        (still queued: a paused campaign, or put off since) or GONE (another worker's)."""
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
        else:  # a paused campaign, or a row put off since: it waits in the queue
            return WAITS
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
