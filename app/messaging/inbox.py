"""The inbox: SMS texted to the service that are neither keywords nor recall answers.

They used to get only the automatic help. Supervisors read them, answer one through the
outbox (where its delivery status follows), or set it aside; either way it is handled.
"""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.infra.models import Contact, Message
from app.infra.segments import estimate, prepare
from app.infra.sms_records import InboundMessage
from app.messaging import outbox
from app.messaging.routing import reply_sender

PAGE = 50
MAX_PARTS = 3  # an answer, at most: a longer one belongs in a call
KIND = "answer"
# Keywords are answered by the service, and a recall answer by the quiz.
FOR_PEOPLE = (InboundMessage.keyword.is_(None), InboundMessage.recall.is_(False))


class AnswerRefused(Exception):
    """An answer that cannot be sent; the message is the console's code for why."""


def _query(place=None):
    """Select inbox rows with their contact (if known) and answer (if any), within place."""
    query = (
        select(InboundMessage, Contact, Message)
        .outerjoin(Contact, Contact.phone == InboundMessage.phone)
        .outerjoin(Message, Message.id == InboundMessage.answer_id)
        .where(*FOR_PEOPLE)
    )
    return query if place is None else query.where(place)


def listed(db: Session, handled: bool, place=None, page: int = 1) -> tuple[list, int, int]:
    """Return one page of messages waiting for a supervisor (or handled ones), newest first,
    as (message, contact, answer) rows, how many there are, and the page's number.

    place is a condition on the sender's contact: a scoped user sees their area's only.
    """
    handled_at = InboundMessage.handled_at
    query = _query(place).where(handled_at.is_not(None) if handled else handled_at.is_(None))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    page = min(max(1, page), max(1, -(-total // PAGE)))
    ordered = query.order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
    rows = db.execute(ordered.offset((page - 1) * PAGE).limit(PAGE)).all()
    return [tuple(row) for row in rows], total, page


def find(db: Session, message_id: int, place=None) -> tuple | None:
    """Return one inbox row (message, contact, answer) within place, or None."""
    row = db.execute(_query(place).where(InboundMessage.id == message_id)).first()
    return tuple(row) if row else None


def check(config: Mapping, text: str) -> str:
    """Return the answer's text as typed, trimmed; refuse one empty or over MAX_PARTS."""
    text = text.strip()
    if not text:
        raise AnswerRefused("empty")
    body = prepare(text, config["SMS_ASCII_FOLD"])
    if estimate(body, outbox.part_cost(config)).parts > MAX_PARTS:
        raise AnswerRefused("long")
    return text


def answer(
    db: Session, config: Mapping, message: InboundMessage, text: str, by: str, now: datetime
) -> Message:
    """Queue an answer to a message through the outbox, once, and mark the message handled.

    Caller commits; AnswerRefused if the text will not do or the message has an answer.
    """
    text = check(config, text)
    if message.answer_id is not None or not message.phone:
        raise AnswerRefused("answered")
    key = f"{KIND}:{message.id}:{message.phone}"  # as outbox.row names it
    # Back through the provider and to the number the person wrote to.
    back = {"via": message.provider, "sender": reply_sender(config, message.provider, message.to)}
    if not outbox.add(db, config, KIND, message.id, message.phone, text, **back):
        raise AnswerRefused("answered")  # another supervisor's, a moment ago
    sent = db.scalars(select(Message).where(Message.key == key)).one()
    # Who answered, even if someone had set it aside before.
    message.answer_id, message.handled_at, message.handled_by = sent.id, now, by
    return sent


def set_aside(message: InboundMessage, by: str, now: datetime) -> None:
    """Mark a message handled by someone, keeping who and when if it already was."""
    if message.handled_at is None:
        message.handled_at, message.handled_by = now, by
