"""Send due outbox rows through their providers: claim with a lease, route, batch, throttle,
record."""

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.infra.gateway import FAILED, NOT_TRIED, RETRY, SENT, UNKNOWN, GatewayError
from app.infra.models import Campaign, Contact, Message, utcnow
from app.messaging import delivery, window
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

LIVE = ("sending", "expanding")  # the campaign states whose rows may go out
# Rows held back by a campaign's rate come due a second apart: a dispatch with nothing
# else to do waits for them this long at most, and leaves later ones to the next tick.
HELD_WAIT = timedelta(seconds=5)
# A bucketful asked for this early (the worker woke a few milliseconds before the bucket
# was full again) is waited for, not cut short by one message.
TAKE_GRACE_S = 0.05
# A row no provider of its route may take now (every circuit open) waits at least this long.
SHUT_WAIT = timedelta(seconds=5)


@dataclass
class Tally:
    """What one dispatch run did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    cancelled: int = 0
    campaigns: set = field(default_factory=set)

    def add(self, other: "Tally") -> None:
        for name in ("claimed", "sent", "failed", "retried", "unknown", "cancelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.campaigns |= other.campaigns


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

    def claim(self, now: datetime, limit: int) -> list[Message]:
        """Lease up to limit due rows to this sender; other workers skip them."""
        due = [Message.status == "queued", Message.not_before <= now]
        live = select(Campaign.id).where(Campaign.status.in_(LIVE))
        due.append(or_(Message.campaign_id.is_(None), Message.campaign_id.in_(live)))
        if not window.is_open(self.config["SMS_SEND_WINDOW"], now, self.config["TZ"]):
            due.append(Message.kind.not_in(BULK_KINDS))
        ids = (
            select(Message.id)
            .where(*due)
            .order_by(Message.urgent.desc(), Message.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        lease = now + timedelta(seconds=self.config["SMS_LEASE_S"])
        # Two statements in one transaction: PostgreSQL may re-run a LIMIT
        # subquery inside an UPDATE and, with SKIP LOCKED, take more rows.
        # The locks hold until commit; on SQLite the status check guards.
        chosen = list(self.db.scalars(ids))
        if chosen:
            self.db.execute(
                update(Message)
                .where(Message.id.in_(chosen), Message.status == "queued")
                .values(status="claimed", lease_owner=self.owner, lease_until=lease)
                .execution_options(synchronize_session=False)
            )
        self.db.commit()
        mine = select(Message).where(Message.lease_owner == self.owner, Message.status == "claimed")
        # As the database has them now: this session may still hold a row as it was when it
        # went back to the queue, and putting it back again would then change nothing.
        mine = mine.order_by(Message.id).execution_options(populate_existing=True)
        return list(self.db.scalars(mine))

    def run(self, now_fn=utcnow, limit: int | None = None, budget_s: float = 30.0) -> Tally:
        """Send due rows until none are left or the time budget is spent."""
        tally = Tally()
        started = now_fn()
        batch, rate = self.config["SMS_BATCH_SIZE"], self.config["SMS_RATE"]
        # Claim no more than can be sent within half a lease at the shared rate:
        # rows whose lease ran out would be claimed again by another worker.
        limit = limit or min(batch * 5, max(batch, int(rate * self.config["SMS_LEASE_S"] / 2)))
        deadline = started + timedelta(seconds=budget_s)
        while now_fn() < deadline:
            claimed = self.claim(now_fn(), limit)
            if claimed:
                tally.add(self.send(claimed, now_fn))
                continue
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

    def send(self, messages: list[Message], now_fn=utcnow) -> Tally:
        """Send claimed rows in requests of one text and provider each; record every outcome."""
        tally = Tally(claimed=len(messages))
        for chunk in _chunks(messages, self.config["SMS_BATCH_SIZE"]):
            chunk = self._within_campaign_rate(chunk, now_fn())
            for provider, sender, part in self._routed(chunk, now_fn()):
                self.throttle(provider).acquire(len(part), sleep=self.sleep)
                part = self._start(part, provider, now_fn(), tally)
                if not part:
                    continue
                gateway, phones = self.routing.gateways[provider], [m.phone for m in part]
                started = time.perf_counter()
                try:
                    answer = gateway.send(phones, part[0].body, sender=sender)
                except GatewayError as exc:
                    answer = exc
                took = time.perf_counter() - started
                if isinstance(answer, GatewayError):
                    self._whole(self._ours(part), answer, now_fn(), tally)
                    self.db.commit()
                    self.routing.failed(provider)
                else:
                    self._each(self._ours(part), answer, now_fn(), tally)
                    # Kept before the circuit hears of it: Redis failing over now must
                    # not leave rows that went out as unknown outcomes.
                    self.db.commit()
                    self.routing.sent(provider, answer)
                if self.stats is not None:  # after the commit: what was recorded never waits
                    self.stats.count(provider, phones, answer, took)
                tally.campaigns.update(m.campaign_id for m in part if m.campaign_id)
        return tally

    def _routed(self, chunk: list[Message], now: datetime):
        """Yield (provider, sender, rows) for the rows a provider may take now.

        The rest wait, no attempt spent, until the first circuit of their route may
        be probed: a message is never handed to a provider whose circuit is open.
        """
        groups: dict[tuple, list[Message]] = defaultdict(list)
        shut = []
        for message in chunk:
            provider = self.routing.pick(message.phone, message.via)
            if provider is None:
                shut.append(message)
                continue
            sender = message.sender if provider == message.via else None
            groups[(provider, sender)].append(message)
        for message in shut:
            reopens = self.routing.reopens(message.phone, message.via)
            when = now + SHUT_WAIT
            if reopens is not None:
                when = max(when, datetime.fromtimestamp(reopens, now.tzinfo))
            self._give_back(message, when)
        if shut:
            self.db.commit()
        for (provider, sender), rows in groups.items():
            yield provider, sender, rows

    def _within_campaign_rate(self, chunk: list[Message], now: datetime) -> list[Message]:
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
            for message in chunk[allowed:]:
                self._give_back(message, self._slot(campaign_id, limiter, now))
            self.db.commit()
        return chunk[:allowed]

    def _slot(self, campaign_id: int, limiter: Throttle, now: datetime) -> datetime:
        """Return when a row held back by its campaign's rate is due again.

        Held rows fill the coming seconds in order, one bucketful each, so that each
        second's rows come due when the bucket has refilled for them: released all for
        the same moment, every one would be claimed again and all but a bucketful put
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
        self, chunk: list[Message], provider: str, now: datetime, tally: Tally
    ) -> list[Message]:
        """Move rows we still own from claimed to sending through provider, re-checking
        opt-outs and pauses.

        The conditional update is what makes a send safe: a row whose lease ran
        out, whose phone opted out, or whose campaign stopped since the claim
        is not sent.
        """
        lease = now + timedelta(seconds=self.config["SMS_LEASE_S"])
        blocked = select(Contact.phone).where(
            or_(Contact.opted_out_at.is_not(None), Contact.unreachable_at.is_not(None))
        )
        live = select(Campaign.id).where(Campaign.status.in_(LIVE))
        started = set(
            self.db.scalars(
                update(Message)
                .where(
                    Message.id.in_([m.id for m in chunk]),
                    Message.lease_owner == self.owner,
                    Message.status == "claimed",
                    or_(Message.kind.not_in(BULK_KINDS), Message.phone.not_in(blocked)),
                    or_(Message.campaign_id.is_(None), Message.campaign_id.in_(live)),
                )
                .values(status="sending", lease_until=lease, provider=provider)
                .returning(Message.id)
                .execution_options(synchronize_session=False)
            )
        )
        for message in chunk:
            if message.id in started:
                message.status, message.lease_until = "sending", lease
                message.provider = provider
            else:
                self.db.refresh(message)
                self._not_started(message, now, tally)
        self.db.commit()  # from here on, a crash leaves an unknown outcome
        return [m for m in chunk if m.id in started]

    def _give_back(self, message: Message, when: datetime) -> None:
        """Put a claimed row back in the queue for when, if it is still ours: a lease that ran
        out may have let another worker claim it since."""
        self.db.execute(
            update(Message)
            .where(Message.id == message.id, Message.lease_owner == self.owner,
                   Message.status == "claimed")
            .values(status="queued", not_before=when, lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        self.db.expire(message)

    def _ours(self, part: list[Message]) -> list[Message]:
        """Return the rows of a finished request that are still ours to record.

        A provider slower than the lease lets reap settle a row meanwhile (and another
        worker resend it): what we learnt then must not overwrite what it decided.
        """
        mine = set(
            self.db.scalars(
                select(Message.id)
                .where(Message.id.in_([m.id for m in part]), Message.lease_owner == self.owner,
                       Message.status == "sending")
                .with_for_update()
            )
        )  # fmt: skip
        for message in part:
            if message.id not in mine:
                self.db.expire(message)  # the row as the database has it, untouched by us
        return [m for m in part if m.id in mine]

    def _not_started(self, message: Message, now: datetime, tally: Tally) -> None:
        """Settle a claimed row that must not go out now, and say why."""
        if message.lease_owner != self.owner or message.status != "claimed":
            return  # our lease ran out and the row is someone else's now
        contact = self.db.scalars(select(Contact).where(Contact.phone == message.phone)).first()
        campaign = self.db.get(Campaign, message.campaign_id) if message.campaign_id else None
        bulk = message.kind in BULK_KINDS
        if bulk and contact is not None and contact.opted_out_at is not None:
            cancel(message, "opted out", now)
        elif bulk and contact is not None and contact.unreachable_at is not None:
            cancel(message, "unreachable", now)
        elif campaign is not None and campaign.status == "cancelled":
            cancel(message, "campaign cancelled", now)
        else:  # a paused campaign: back in the queue, to wait for resume
            release(message, now)
            return
        tally.cancelled += 1

    def _whole(self, chunk, exc: GatewayError, now, tally) -> None:
        """Record a failure of the whole request."""
        for message in chunk:
            if exc.unknown:
                settle_unknown(message, exc.reason, now, self.config["SMS_RECONCILE_S"])
                tally.unknown += 1
            else:
                retry(message, exc.reason, now, self.config["SMS_MAX_ATTEMPTS"])
                tally.retried += 1
        if exc.unknown:
            self.db.flush()
            delivery.adopt_waiting(self.db, chunk, now, self.config["SMS_UNREACHABLE_AFTER"])

    def _each(self, chunk, results, now, tally) -> None:
        """Record each recipient's outcome."""
        by_phone = {result.phone: result for result in results}
        stopped = any(r.outcome not in (SENT, FAILED) and r.status != NOT_TRIED for r in results)
        for message in chunk:
            result = by_phone.get(message.phone)
            message.status_code = result.status_code if result else None
            message.provider_status = result.status if result else None
            if result is not None and result.status == NOT_TRIED:
                # Never asked: no attempt spent. At once if the batch ran out of time; after
                # a while if the provider's answer to another said it is busy or down.
                release(message, retry_at(1, now) if stopped else now)
                message.provider = None
                continue
            if result is None or result.outcome == UNKNOWN:
                reason = result.status if result and result.status else "not in the answer"
                settle_unknown(message, reason, now, self.config["SMS_RECONCILE_S"])
                tally.unknown += 1
            elif result.outcome == SENT:
                message.status, message.sent_at = "sent", now
                message.provider_id, message.cost = result.provider_id, result.cost
                message.provider_parts = result.parts
                message.lease_owner = message.lease_until = None
                tally.sent += 1
            elif result.outcome == RETRY:
                retry(message, result.status or "retry", now, self.config["SMS_MAX_ATTEMPTS"])
                tally.retried += 1
            elif result.outcome == FAILED:
                fail(message, result.status or "failed", now)
                tally.failed += 1
        self.db.flush()
        # A delivery report may have come before we recorded the provider's id.
        delivery.apply_pending(
            self.db,
            [m.provider_id for m in chunk if m.provider_id],
            now,
            self.config["SMS_UNREACHABLE_AFTER"],
        )


def _chunks(messages: list[Message], size: int):
    """Yield lists of at most size rows sharing one text and campaign, one per phone."""
    groups: dict[tuple, list[list[Message]]] = defaultdict(list)
    for message in messages:
        lists = groups[(message.body, message.campaign_id)]
        # A phone appears once per request: the answer is keyed by phone.
        target = next(
            (c for c in lists if len(c) < size and all(m.phone != message.phone for m in c)), None
        )
        if target is None:
            target = []
            lists.append(target)
        target.append(message)
    for lists in groups.values():
        yield from lists
