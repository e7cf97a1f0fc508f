"""Deleting a contact with their data, and keeping what others' figures rest on.

What goes: the contact, their training (progress, answers, recalls, certificate), the SMS
they sent, their number wherever a row kept it (cases they held included, and calls), the
text of every SMS sent to them, and the calls still to be placed to them.
What stays: each SMS sent to them as a row with neither number nor text (its kind, campaign,
status and cost), and each call without its number, so that campaign counts, delivery
rates and spending stay true; the cases they reported (which never held their number, or
held it encrypted: that goes), but not the recordings of their voice in those that held it
(nothing ties an anonymous one).
"""

from datetime import datetime

from cryptography.fernet import InvalidToken, MultiFernet
from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.orm import Session

from app.cases import recordings
from app.infra.calls import Call, CallRequest
from app.infra.models import (
    AuditEntry,
    Case,
    CaseEvent,
    Certificate,
    Contact,
    FocalPoint,
    Message,
    ModuleProgress,
    QuizAnswer,
    Recall,
    UssdEvent,
)
from app.infra.sms_records import DeliveryReport, InboundMessage

UNSENT = ("queued", "claimed")
TRAINING = (QuizAnswer, Recall, ModuleProgress, Certificate)


class ErasureRefused(Exception):
    """A contact that cannot be deleted yet; the message is the console's code for why."""


def erase(
    db: Session, contact: Contact, cipher: MultiFernet, now: datetime, recordings_dir
) -> None:
    """Delete a contact with their data (see the module's docstring). Caller commits.

    cipher opens contactable reporters' numbers: one that is this contact's is dropped, with
    the recordings of that report (files under recordings_dir, deleted at once).
    Refused for a focal point: cases are routed to that number until it is removed.
    """
    phone = contact.phone
    if db.scalars(select(FocalPoint.id).where(FocalPoint.phone == phone)).first() is not None:
        raise ErasureRefused("focal_point")
    for model in TRAINING:
        db.execute(delete(model).where(model.contact_id == contact.id))
    mine = Message.phone == phone
    db.execute(
        update(Message)
        .where(mine, Message.status.in_(UNSENT))
        .values(status="cancelled", reason="contact deleted", finished_at=now,
                lease_owner=None, lease_until=None)
    )  # fmt: skip
    # An unknown outcome is never resent to a number that is gone.
    unknown = (Message.status == "unknown", Message.finished_at.is_(None))
    db.execute(update(Message).where(mine, *unknown).values(finished_at=now))
    # A key that names the phone becomes one of the row's own; a receipt's (by reference
    # alone) stays, so that its case never sends a second one.
    renamed = "erased:" + cast(Message.id, String)
    db.execute(update(Message).where(mine, Message.key.contains(phone)).values(key=renamed))
    db.execute(update(Message).where(mine).values(phone="", body=""))
    db.execute(update(DeliveryReport).where(DeliveryReport.phone == phone).values(phone=None))
    db.execute(delete(InboundMessage).where(InboundMessage.phone == phone))
    db.execute(update(UssdEvent).where(UssdEvent.phone == phone).values(phone=None))
    db.execute(update(AuditEntry).where(AuditEntry.target == phone).values(target=None))
    _forget_calls(db, phone)
    _forget_handler(db, phone, f"contact:{contact.id}")
    _forget_reporter(db, phone, cipher, recordings_dir)
    db.execute(delete(Contact).where(Contact.id == contact.id))
    db.expunge(contact)


def _forget_calls(db: Session, phone: str) -> None:
    """Place no more calls to the number, and keep none of it in the calls' records."""
    theirs = CallRequest.phone == phone
    db.execute(
        update(CallRequest)
        .where(theirs, CallRequest.status == "queued")
        .values(status="skipped", error="contact deleted")
    )
    renamed = "erased:" + cast(CallRequest.id, String)
    db.execute(update(CallRequest).where(theirs).values(phone="", key=renamed))
    db.execute(update(Call).where(Call.phone == phone).values(phone=None))


def _forget_handler(db: Session, phone: str, instead: str) -> None:
    """Take a field agent's number off the cases they held, and out of the cases' log.

    An agent given a case (kalan case assign) holds it by number: left so, reminders
    would go on queuing SMS to it. The case goes back to no one, for its area's
    supervisors to give again; the log names the agent by their former contact id.
    """
    db.execute(update(Case).where(Case.assignee == phone).values(assignee=None))
    db.execute(update(CaseEvent).where(CaseEvent.assignee == phone).values(assignee=instead))
    for column in (CaseEvent.actor, CaseEvent.note):
        db.execute(
            update(CaseEvent)
            .where(column.contains(phone, autoescape=True))
            .values({column: func.replace(column, phone, instead)})
        )


def _forget_reporter(db: Session, phone: str, cipher: MultiFernet, recordings_dir) -> None:
    """Drop this number, and the recordings of its voice, from the cases it reported as a
    contactable reporter.

    Nothing is said or logged of which, nor whether any: that would tie the number to a
    case. The case keeps its answers and stays marked contactable.
    """
    encrypted = Case.reporter_phone
    stored = db.execute(select(Case.id, encrypted).where(encrypted.is_not(None)))
    theirs = []
    for case_id, token in stored:
        try:
            if cipher.decrypt(token.encode()).decode() == phone:
                theirs.append(case_id)
        except InvalidToken:
            continue  # under a key no longer configured: not readable, so not matched
    if theirs:
        db.execute(update(Case).where(Case.id.in_(theirs)).values(reporter_phone=None))
        recordings.erase(db, recordings_dir, theirs)
