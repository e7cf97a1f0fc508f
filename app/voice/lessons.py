"""Lesson calls: an agent chooses an hour, Kalan calls then for the next lesson, and calls
instead of texting for the training reminders that follow."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import true, update
from sqlalchemy.orm import Session

from app.infra.calls import CallRequest
from app.infra.models import Contact
from app.voice import dialer

REASON = "lesson"


def next_at(hour: int, now: datetime, tz: str) -> datetime:
    """Return the next moment after now when the local clock reads hour:00."""
    local = now.astimezone(ZoneInfo(tz))
    at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if at <= local:
        at = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at.astimezone(now.tzinfo)


def choose(db: Session, config: Mapping, phone: str, hour: int | None, now: datetime) -> bool:
    """Set the hour the agent wants lesson calls at, and queue the next; None stops them.

    Stopping also drops the lesson calls still queued. Return whether a call was queued.
    Caller commits.
    """
    db.execute(update(Contact).where(Contact.phone == phone).values(call_hour=hour))
    due = next_at(hour, now, config["TZ"]) if hour is not None else None
    # Another hour, or none, replaces the lesson call still queued: one call, never two.
    db.execute(
        update(CallRequest)
        .where(
            CallRequest.phone == phone,
            CallRequest.reason == REASON,
            CallRequest.status == "queued",
            CallRequest.due_at != due if due is not None else true(),
        )
        .values(status="skipped", error="hour changed" if due else "lesson calls turned off")
    )
    if due is None:
        return False
    return dialer.queue(db, phone, REASON, due, now)


def remind(db: Session, config: Mapping, contact: Contact, now: datetime) -> bool:
    """Call an agent who chose lesson calls, at their hour, rather than text them a reminder.

    Return False when the agent takes reminders by SMS. Caller commits.
    """
    if contact.call_hour is None:
        return False
    dialer.queue(db, contact.phone, REASON, next_at(contact.call_hour, now, config["TZ"]), now)
    return True
