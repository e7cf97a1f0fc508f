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

from app.infra.gateway import FAILED, NOT_TRIED, RETRY, SENT, UNKNOWN, GatewayError
from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import claims, delivery, window
from app.messaging.batches import Asked, Tally, ask, chunks, healthy
from app.messaging.claims import LIVE, Change, Claimed
from app.messaging.outbox import (
    BULK_KINDS,
    cancel,
    fail,
    release,
    retry,
    retry_at,
    settle_unknown,
)
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
        """Send what is due now, a batch at a time, until none is left or deadline passes;
        record every outcome.

        A batch is chosen (locked, not written), routed and started in one transaction, and
        asked in a thread of its own: the last request's outcomes are written, and the next
        batch chosen, while it is out.
        """
        tally = Tally()
        asked = None  # the request out, until recorded
        started = None  # rows moved to sending whose request has not left yet
        waiting = []  # (provider, sender, rows) routed and not started yet
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kalan-send") as requests:
            try:
                while deadline is None or now_fn() < deadline:
                    if not waiting:
                        waiting = self._chosen(now_fn())
                        if waiting is None:
                            break  # none due
                        continue  # perhaps all put off: choose again
                    provider, sender, part = waiting.pop(0)
                    throttle = self.throttle(provider)
                    # No more than a second's worth at the provider's rate: the batch's rows
                    # stay locked while the worker waits for it.
                    step = max(1, int(throttle.burst))
                    if len(part) > step:
                        part, rest = part[:step], part[step:]
                        waiting.insert(0, (provider, sender, rest))
                    throttle.acquire(len(part), sleep=self.sleep)
                    # The last request answers before the next batch is started: a worker
                    # killed while it waits leaves no batch that never left sending (an
                    # unknown outcome, which a campaign never resends).
                    if asked and not healthy(asked.future.result()[0]):
                        # Its circuit hears of a failure before the next batch starts, and
                        # what was routed to a circuit that opened is routed again.
                        last, asked = asked, None
                        self._recorded(last, now_fn, tally)
                        if self.routing.shut(provider):
                            waiting = []
                            continue
                    part = started = self._start(part, provider, now_fn(), tally)
                    if not part:
                        continue  # the last request, if any, is recorded later
                    # In the job's context: its log lines keep the request id.
                    here, phones = contextvars.copy_context(), [m.phone for m in part]
                    gateway = self.routing.gateways[provider]
                    future = requests.submit(here.run, ask, gateway, phones, part[0].body, sender)
                    last, asked, started = asked, Asked(provider, part, future), None
                    if last:
                        self._recorded(last, now_fn, tally)
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

    def _chosen(self, now: datetime) -> list[tuple[str, str | None, list[Claimed]]] | None:
        """Choose a batch of due rows, within their campaigns' rates; return them as
        requests, (provider, sender, rows), for the providers that may take them now (the
        others are put off), or None if none is due.

        On PostgreSQL they stay locked until the first of them starts: the others are
        then started later only if still queued and due (claims.start).
        """
        bulk = window.is_open(self.config["SMS_SEND_WINDOW"], now, self.config["TZ"])
        size = self.config["SMS_BATCH_SIZE"]
        chosen = claims.choose(self.db, now, size, bulk)
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
        changes = [Change(message) for message in part]
        for change in changes:
            release(change, now)
            change.provider = None
        self._autocommit()
        claims.record(self.db, self.owner, "sending", changes)
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
        self, chunk: list[Claimed], provider: str, now: datetime, tally: Tally
    ) -> list[Claimed]:
        """Move rows still queued and due from queued to sending through provider, re-checking
        opt-outs and pauses (see claims.start); settle those that must not go out."""
        lease = now + timedelta(seconds=self.config["SMS_LEASE_S"])
        ids = [m.id for m in chunk]
        started = claims.start(self.db, self.owner, ids, provider, now, lease)
        self.db.commit()  # from here on, a crash leaves an unknown outcome
        tally.claimed += len(chunk)
        refused = [message_id for message_id in ids if message_id not in started]
        for message_id in refused:
            self._not_started(message_id, now, tally)
        if refused:
            self.db.commit()
        return [m for m in chunk if m.id in started]

    def _autocommit(self) -> None:
        """Commit, then on PostgreSQL have each statement until the next commit commit on
        its own: one round trip, not three (BEGIN, the statement, COMMIT)."""
        self.db.commit()
        if self.db.get_bind().dialect.name == "postgresql":
            self.db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    def _not_started(self, message_id: int, now: datetime, tally: Tally) -> None:
        """Settle a chosen row that must not go out now, and say why."""
        # Skipped if another worker holds it: then it is that worker's to start or settle.
        lock = {"skip_locked": True}
        message = self.db.get(Message, message_id, populate_existing=True, with_for_update=lock)
        if message is None or message.status != "queued":
            return  # another worker started or settled it since we chose it
        contact = self.db.scalars(select(Contact).where(Contact.phone == message.phone)).first()
        campaign = self.db.get(Campaign, message.campaign_id) if message.campaign_id else None
        bulk = message.kind in BULK_KINDS
        if bulk and contact is not None and contact.opted_out_at is not None:
            cancel(message, "opted out", now)
        elif bulk and contact is not None and contact.unreachable_at is not None:
            cancel(message, "unreachable", now)
        elif campaign is not None and campaign.status == "cancelled":
            cancel(message, "campaign cancelled", now)
        else:  # a paused campaign, or a row put off since: it waits in the queue
            return
        tally.cancelled += 1

    def _whole(self, part: list[Claimed], exc: GatewayError, now: datetime, tally: Tally) -> None:
        """Record a failure of the whole request on the rows still ours."""
        changes = [Change(message) for message in part]
        for change in changes:
            if exc.unknown:
                settle_unknown(change, exc.reason, now, self.config["SMS_RECONCILE_S"])
            else:
                retry(change, exc.reason, now, self.config["SMS_MAX_ATTEMPTS"])
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
        by_phone = {result.phone: result for result in results}
        stopped = any(r.outcome not in (SENT, FAILED) and r.status != NOT_TRIED for r in results)
        changes, counted = [], {}
        for message in part:
            result = by_phone.get(message.phone)
            change = Change(message)
            changes.append(change)
            if result is not None and result.outcome == SENT:  # the common case, set at once
                change.values.update(
                    status="sent", sent_at=now, provider_id=result.provider_id, cost=result.cost,
                    provider_parts=result.parts, lease_owner=None, lease_until=None,
                    status_code=result.status_code, provider_status=result.status,
                )  # fmt: skip
                counted[message.id] = "sent"
                continue
            change.status_code = result.status_code if result else None
            change.provider_status = result.status if result else None
            if result is not None and result.status == NOT_TRIED:
                # Never asked: no attempt spent. At once if the batch ran out of time; after
                # a while if the provider's answer to another said it is busy or down.
                release(change, retry_at(1, now) if stopped else now)
                change.provider = None
            elif result is None or result.outcome == UNKNOWN:
                reason = result.status if result and result.status else "not in the answer"
                settle_unknown(change, reason, now, self.config["SMS_RECONCILE_S"])
                counted[message.id] = "unknown"
            elif result.outcome == RETRY:
                retry(change, result.status or "retry", now, self.config["SMS_MAX_ATTEMPTS"])
                counted[message.id] = "retried"
            elif result.outcome == FAILED:
                fail(change, result.status or "failed", now)
                counted[message.id] = "failed"
        self._autocommit()
        recorded, reported = claims.record(self.db, self.owner, "sending", changes)
        self.db.commit()
        # A delivery report may have come before we recorded the provider's id.
        delivery.apply_pending(self.db, reported, now, self.config["SMS_UNREACHABLE_AFTER"])
        for change in recorded:
            kind = counted.get(change.row.id)
            if kind:
                setattr(tally, kind, getattr(tally, kind) + 1)
