"""Send due outbox rows through the gateway: claim with a lease, batch, throttle, record."""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from . import delivery, window
from .gateway import FAILED, RETRY, SENT, UNKNOWN, Gateway, GatewayError
from .models import Campaign, Contact, Message, utcnow
from .outbox import BULK_KINDS, fail, retry, settle_unknown
from .throttle import Throttle


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
    gateway: Gateway
    throttle: Throttle
    config: dict
    campaign_throttle: callable = None  # (campaign_id, rate) -> Throttle
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def claim(self, now: datetime, limit: int) -> list[Message]:
        """Lease up to limit due rows to this sender; other workers skip them."""
        due = [Message.status == "queued", Message.not_before <= now]
        live = select(Campaign.id).where(Campaign.status.in_(("sending", "expanding")))
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
        return list(self.db.scalars(mine.order_by(Message.id)))

    def run(self, now_fn=utcnow, limit: int | None = None, budget_s: float = 30.0) -> Tally:
        """Send due rows until none are left or the time budget is spent."""
        tally = Tally()
        started = now_fn()
        batch = self.config["SMS_BATCH_SIZE"]
        while (now_fn() - started).total_seconds() < budget_s:
            claimed = self.claim(now_fn(), limit or batch * 5)
            if not claimed:
                break
            tally.add(self.send(claimed, now_fn))
        return tally

    def send(self, messages: list[Message], now_fn=utcnow) -> Tally:
        """Send claimed rows in bulk requests of one text each; record every outcome."""
        tally = Tally(claimed=len(messages))
        messages = self._drop_opted_out(messages, now_fn(), tally)
        for chunk in _chunks(messages, self.config["SMS_BATCH_SIZE"]):
            campaign_id = chunk[0].campaign_id
            self.throttle.acquire(len(chunk))
            if campaign_id and self.campaign_throttle:
                limiter = self.campaign_throttle(campaign_id)
                if limiter:
                    limiter.acquire(len(chunk))
            lease = now_fn() + timedelta(seconds=self.config["SMS_LEASE_S"])
            for message in chunk:
                message.status, message.lease_until = "sending", lease
            self.db.commit()  # from here on, a crash leaves an unknown outcome
            try:
                results = self.gateway.send([m.phone for m in chunk], chunk[0].body)
            except GatewayError as exc:
                self._whole(chunk, exc, now_fn(), tally)
            else:
                self._each(chunk, results, now_fn(), tally)
            self.db.commit()
            tally.campaigns.update(m.campaign_id for m in chunk if m.campaign_id)
        return tally

    def _drop_opted_out(self, messages, now, tally) -> list[Message]:
        """Cancel bulk messages to numbers that opted out or became unreachable."""
        bulk = {m.phone for m in messages if m.kind in BULK_KINDS}
        if not bulk:
            return messages
        blocked = set(
            self.db.scalars(
                select(Contact.phone).where(
                    Contact.phone.in_(bulk),
                    or_(Contact.opted_out_at.is_not(None), Contact.unreachable_at.is_not(None)),
                )
            )
        )
        kept = []
        for message in messages:
            if message.kind in BULK_KINDS and message.phone in blocked:
                message.status, message.reason, message.finished_at = "cancelled", "opted out", now
                message.lease_owner = message.lease_until = None
                tally.cancelled += 1
            else:
                kept.append(message)
        self.db.commit()
        return kept

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
            delivery.adopt_waiting(self.db, chunk, now)

    def _each(self, chunk, results, now, tally) -> None:
        """Record each recipient's outcome."""
        by_phone = {result.phone: result for result in results}
        for message in chunk:
            result = by_phone.get(message.phone)
            message.status_code = result.status_code if result else None
            message.provider_status = result.status if result else None
            if result is None or result.outcome == UNKNOWN:
                reason = "not in the provider's answer"
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
        delivery.apply_pending(self.db, [m.provider_id for m in chunk if m.provider_id], now)


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


def due_count(db: Session, now: datetime) -> int:
    """Count rows ready to be claimed now (ignoring the window and pauses)."""
    query = select(func.count()).where(Message.status == "queued", Message.not_before <= now)
    return db.scalar(query)
