"""Opting out of campaigns and reminders, and back in with the contact's consent noted."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.infra.models import Contact, Message
from app.messaging.outbox import BULK_KINDS

# How a contact gave their consent to opt back in; "sms" is their own START.
WAYS = ("call", "visit", "written", "sms")
BY_SMS = "sms"  # consent_by when the contact texted START themselves
NOTE_MAX = 200


class ConsentError(ValueError):
    """An opt-in without a known way of consent; the message names the code."""


def _contact(db: Session, phone: str, now: datetime) -> Contact:
    """Return the contact with this phone, created if a stranger texts STOP or START."""
    contact = db.scalars(select(Contact).where(Contact.phone == phone)).first()
    if contact is None:
        contact = Contact(phone=phone, role="community", first_seen=now)
        db.add(contact)
    return contact


def opt_out(db: Session, phone: str, now: datetime) -> Contact:
    """Stop campaigns and reminders to a phone, those already queued too. Caller commits."""
    contact = _contact(db, phone, now)
    contact.opted_out_at = contact.opted_out_at or now
    db.execute(
        update(Message)
        .where(Message.phone == phone, Message.status == "queued", Message.kind.in_(BULK_KINDS))
        .values(status="cancelled", reason="opted out", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return contact


def opt_in(
    db: Session, phone: str, now: datetime, by: str, how: str, note: str | None = None
) -> Contact:
    """Let campaigns and reminders reach a phone again, noting whose consent, when and how.

    by is the console user who noted it, or BY_SMS. Caller commits.
    """
    if how not in WAYS:
        raise ConsentError(f"consent must be given by one of {', '.join(WAYS)}, not {how!r}")
    contact = _contact(db, phone, now)
    contact.opted_out_at = None
    contact.consent_at, contact.consent_by, contact.consent_how = now, by, how
    contact.consent_note = " ".join((note or "").split())[:NOTE_MAX] or None
    return contact
