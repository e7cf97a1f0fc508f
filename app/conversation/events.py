"""End-of-session notifications: where and how USSD sessions ended."""

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.infra.models import UssdEvent, hour_of, utcnow
from app.training import funnel

LABELS = "hopsMetadata"  # each hop's screen label, "|"-joined
FIELDS = (
    "date",
    "sessionId",
    "serviceCode",
    "networkCode",
    "phoneNumber",
    "status",
    "cost",
    "durationInMillis",
    "hopsCount",
    LABELS,
    "input",
    "lastAppResponse",
    "errorMessage",
)


def _int(value: str) -> int | None:
    """Parse a count the gateway sent as text; None when it is not one."""
    value = value.strip()
    if value.isdigit() and value.isascii() and len(value) < 10:
        return int(value)
    return None


def record(db: Session, form: dict, phone: str | None, last_node: str | None) -> bool:
    """Store one notification; return False when this session was already recorded.

    The caller's inputs and our last screen are never kept: they hold a
    report's answers, its reference, or a desk PIN. A session kept without its
    phone (one that was in a report) keeps only how it ended, at the hour: its
    minute, length and network could be matched with the caller's other calls.
    One kept with its phone keeps the training screens it showed, and no other.
    """
    query = select(UssdEvent.id).where(UssdEvent.session_id == form["sessionId"])
    if db.scalars(query).first() is not None:
        return False
    event = UssdEvent(
        session_id=form["sessionId"],
        phone=phone,
        service_code=form["serviceCode"][:32] or None,
        status=form["status"].strip()[:32],
        last_node=last_node,
        received_at=hour_of(utcnow()),
    )
    if phone is not None:
        event.network_code = form["networkCode"][:16] or None
        event.cost = form["cost"][:32] or None
        event.duration_ms = _int(form["durationInMillis"])
        event.hops = _int(form["hopsCount"])
        event.error_message = form["errorMessage"] or None
        event.date = form["date"][:32] or None
        event.labels = funnel.kept(form.get(LABELS, ""))
        event.received_at = utcnow()
    db.add(event)
    try:
        db.commit()
    except IntegrityError:  # the same notification delivered twice at once
        db.rollback()
        return False
    return True


def dropoffs(db: Session) -> list[tuple[str, str, int]]:
    """Count ended sessions by last screen and status, most frequent first."""
    node = func.coalesce(UssdEvent.last_node, "?")
    rows = db.execute(
        select(node, UssdEvent.status, func.count())
        .group_by(node, UssdEvent.status)
        .order_by(func.count().desc(), node)
    )
    return [(n, status, count) for n, status, count in rows]
