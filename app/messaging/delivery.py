"""Delivery reports: applied once each, in any order, never undoing a final state."""

import re
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.infra.models import Contact, Message
from app.infra.sms_records import DeliveryReport

RETRY_COUNT = re.compile(r"[0-9]{1,6}")
DELIVERED = frozenset({"Success"})
UNDELIVERED = frozenset({"Failed", "Rejected", "AbsentSubscriber", "Expired"})
# How far along a status is; a report never moves a message backwards.
RANK = {"Sent": 1, "Submitted": 2, "Buffered": 3, **dict.fromkeys(DELIVERED | UNDELIVERED, 9)}


def record(db: Session, form: dict, now: datetime, unreachable_after: int) -> str:
    """Store one report and apply it; return what happened, for the log.

    unreachable_after: how many failed deliveries in a row mark a phone unreachable.
    """
    provider = form.get("provider") or "africastalking"
    report = DeliveryReport(
        provider_id=form["id"],
        provider=provider,
        status=form["status"],
        phone=form["phoneNumber"] or None,
        network_code=form["networkCode"] or None,
        failure_reason=form["failureReason"][:64] or None,
        retry_count=int(form["retryCount"]) if RETRY_COUNT.fullmatch(form["retryCount"]) else None,
        cost=form.get("cost") or None,
        received_at=now,
    )
    db.add(report)
    try:
        db.flush()
    except IntegrityError:  # the same provider's (id, status) again: already applied
        db.rollback()
        return "duplicate"
    message = _carried(db, report.provider, report.provider_id)
    if message is None:
        message = adopt(db, report)
    if message is None:
        db.commit()
        return "unknown id"  # kept: the send result may not be recorded yet
    if not message.phone:
        report.phone = None  # its number was forgotten (a receipt done with, a contact deleted)
    apply(db, message, report, now, unreachable_after)
    db.commit()
    return "applied"


def _carried(db: Session, provider: str | None, provider_id: str) -> Message | None:
    """Return the message a provider knows by provider_id: ids are the provider's own."""
    query = select(Message).where(Message.provider_id == provider_id)
    if provider:
        query = query.where(Message.provider == provider)
    return db.scalars(query).first()


def adopt(db: Session, report: DeliveryReport) -> Message | None:
    """Match a report to the one message to its phone whose send outcome is unknown."""
    if not report.phone:
        return None
    candidates = list(
        db.scalars(
            select(Message).where(
                Message.phone == report.phone,
                Message.status == "unknown",
                Message.provider_id.is_(None),
                # Only the provider the request went to can report on it.
                Message.provider == report.provider,
            )
        )
    )
    if len(candidates) != 1:
        return None  # ambiguous or none: better unknown than wrongly matched
    message = candidates[0]
    message.provider_id = report.provider_id
    message.status, message.reason, message.finished_at = "sent", None, None
    return message


def apply(
    db: Session, message: Message, report: DeliveryReport, now: datetime, unreachable_after: int
) -> None:
    """Move a message forward by one report, and keep the phone's failure streak."""
    report.applied = True
    if report.cost and message.cost is None:
        message.cost = report.cost  # a provider that prices a message only once it went
    current = RANK.get(message.delivery_status or "", 0)
    if RANK.get(report.status, 0) <= current and message.delivery_status is not None:
        return
    message.delivery_status = report.status
    if report.status in DELIVERED:
        message.status, message.finished_at = "delivered", now
        _streak(db, message.phone, False, now, unreachable_after)
    elif report.status in UNDELIVERED:
        message.status, message.finished_at = "failed", now
        message.reason = f"{report.status}: {report.failure_reason or 'no reason given'}"
        _streak(db, message.phone, True, now, unreachable_after)


def apply_pending(
    db: Session, provider_ids: list[str], now: datetime, unreachable_after: int
) -> None:
    """Apply reports that arrived before their message's provider id was known."""
    if not provider_ids:
        return
    waiting = db.scalars(
        select(DeliveryReport)
        .where(DeliveryReport.provider_id.in_(provider_ids), DeliveryReport.applied.is_(False))
        .order_by(DeliveryReport.id)
    )
    for report in list(waiting):
        message = _carried(db, report.provider, report.provider_id)
        if message is not None:
            apply(db, message, report, now, unreachable_after)


def _streak(db: Session, phone: str, failed: bool, now: datetime, unreachable_after: int) -> None:
    """Count consecutive failed deliveries; mark the phone unreachable past the limit."""
    contact = db.scalars(select(Contact).where(Contact.phone == phone)).first()
    if contact is None:
        return
    if not failed:
        contact.failed_streak = 0
        contact.unreachable_at = None
        return
    contact.failed_streak = (contact.failed_streak or 0) + 1
    if contact.failed_streak >= unreachable_after:
        contact.unreachable_at = contact.unreachable_at or now


def adopt_waiting(
    db: Session, messages: list[Message], now: datetime, unreachable_after: int
) -> int:
    """Give unknown messages the delivery report that came before they were unknown.

    A report can beat the worker: it arrives while the row is still "sending",
    finds no message with its id, and waits. When that row turns unknown, the
    one waiting report for its phone settles it. Returns how many were settled.
    """
    settled = 0
    for message in messages:
        if message.status != "unknown" or message.provider_id:
            continue
        orphans = db.scalars(
            select(DeliveryReport.provider_id)
            .where(
                DeliveryReport.phone == message.phone,
                DeliveryReport.provider == message.provider,
                DeliveryReport.applied.is_(False),
                ~exists().where(
                    Message.provider_id == DeliveryReport.provider_id,
                    Message.provider == DeliveryReport.provider,
                ),
            )
            .distinct()
        ).all()
        if len(orphans) != 1:
            continue  # none, or ambiguous: better unknown than wrongly matched
        message.provider_id = orphans[0]
        message.status, message.reason, message.finished_at = "sent", None, None
        db.flush()
        apply_pending(db, [message.provider_id], now, unreachable_after)
        settled += 1
    return settled


def sweep(db: Session, now: datetime, unreachable_after: int) -> int:
    """Apply waiting reports whose message is now known; return how many were applied.

    A report stored between a sender's flush and its commit would otherwise
    wait forever.
    """
    # EXISTS, not a join: SQLite walked the whole outbox through its partial index of
    # providers' ids (migration 0022) for the few reports waiting.
    known = exists().where(
        Message.provider_id == DeliveryReport.provider_id,
        Message.provider == DeliveryReport.provider,
    )
    ids = list(
        db.scalars(
            select(DeliveryReport.provider_id)
            .where(DeliveryReport.applied.is_(False), known)
            .distinct()
        )
    )
    apply_pending(db, ids, now, unreachable_after)
    db.commit()
    return len(ids)
