"""Voice calls as the gateway reports them: their start, their last request (length, price,
hang-up cause), and what they cost over a period.

What the voice endpoint calls: is_callback_number and missed (app/voice/callback.py),
record_start on a call's first request, record_end on its last (isActive=0).
"""

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.infra.calls import Call, CallRequest
from app.infra.models import hour_of
from app.voice.callback import is_callback_number, missed

__all__ = [
    "forget", "is_callback_number", "missed", "reason_of", "record_end", "record_start", "spend",
]  # fmt: skip

CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal(10) ** 8  # Numeric(12, 4) holds less than this
MAX_SECONDS = 10**6  # eleven days: no call lasts that long

log = logging.getLogger(__name__)


def record_start(
    db: Session,
    session_id: str,
    direction: str,
    number: str | None,
    phone: str | None,
    now: datetime,
    *,
    rejected: bool = False,
) -> bool:
    """Note a call's first request; return False if the call was already noted. Commits.

    direction is the gateway's Inbound or Outbound; number is ours (the
    destinationNumber of an inbound call, the callerNumber of an outbound one);
    phone the person's, in E.164, or None. rejected: an inbound call answered <Reject/>.
    An outbound call takes its reason (callback, lesson) from the request that placed it.
    """
    outbound = (direction or "").strip().lower() == "outbound"
    row = {
        "session_id": session_id[:64],
        "direction": "outbound" if outbound else "inbound",
        "number": (number or "")[:20] or None,
        "phone": phone,
        "reason": _reason(db, session_id, outbound, rejected),
        "started_at": now,
    }
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Call)
        .values(row)
        .on_conflict_do_nothing(index_elements=["session_id"])
        .returning(Call.id)
    )
    new = db.execute(statement).first() is not None
    db.commit()
    return new


def record_end(db: Session, form: Mapping, phone: str | None, now: datetime) -> bool:
    """Record a call's last request (isActive=0); return False if it was recorded already.

    form holds the gateway's fields as sent (sessionId, direction, callerNumber,
    destinationNumber, durationInSeconds, currencyCode, amount, hangupCause). A
    field that does not read as what it should be is stored as None, and logged.
    phone None forgets the person's number, as for a call in which a report was
    made, and keeps its times to the hour only. The gateway may send the last
    request again: the first one counts. Commits.
    """
    session_id = (form.get("sessionId") or "")[:64]
    if not session_id:
        log.warning("a call's last request named no session: not recorded")
        return False
    seconds = _seconds(form.get("durationInSeconds"))
    call = _find(db, session_id)
    if call is None:  # its first request was not noted: it began when its length says
        outbound = (form.get("direction") or "").strip().lower() == "outbound"
        ours = form.get("callerNumber" if outbound else "destinationNumber")
        began = now - timedelta(seconds=seconds or 0)
        record_start(db, session_id, form.get("direction") or "", ours, phone, began)
        call = _find(db, session_id)
    ended = {
        "ended_at": now,
        "duration_s": seconds,
        "currency": _currency(form.get("currencyCode")),
        "amount": _amount(form.get("amount")),
        "hangup_cause": (form.get("hangupCause") or "").strip()[:64] or None,
        # A clock that went back: a call never ends before it starts.
        "started_at": min(call.started_at, now),
    }
    if phone is None:
        ended.update(_forgotten(ended["started_at"], now))
        _unlink_request(db, session_id)
    else:  # a call's number is kept only once it is known to have made no report
        ended["phone"] = phone
    # Only while not ended: of two copies of the last request at once, one is recorded.
    recorded = db.execute(
        update(Call).where(Call.id == call.id, Call.ended_at.is_(None)).values(**ended)
    ).rowcount
    if not recorded and phone is None:  # a copy that says what the first did not: forget
        call = _find(db, session_id)
        db.execute(
            update(Call)
            .where(Call.id == call.id, Call.phone.is_not(None))
            .values(**_forgotten(call.started_at, call.ended_at))
        )
    db.commit()
    return bool(recorded)


def spend(db: Session, start: datetime, end: datetime) -> list[dict]:
    """Return, per currency, the calls that ended in [start, end): their count, seconds and price.

    Calls with no price (their last request never came, or carried none) come
    under the currency None.
    """
    rows = db.execute(
        select(
            Call.currency,
            func.count(),
            func.coalesce(func.sum(Call.duration_s), 0),
            func.coalesce(func.sum(Call.amount), 0),
        )
        .where(Call.ended_at >= start, Call.ended_at < end)
        .group_by(Call.currency)
    )
    found = [
        {"currency": currency, "calls": calls, "seconds": int(seconds), "amount": Decimal(amount)}
        for currency, calls, seconds, amount in rows
    ]
    return sorted(found, key=lambda row: (row["currency"] is None, row["currency"] or ""))


def _reason(db: Session, session_id: str, outbound: bool, rejected: bool) -> str:
    """Return why a call happened; an outbound one takes the reason of its request."""
    if not outbound:
        return "missed" if rejected else "inbound"
    query = select(CallRequest.reason).where(CallRequest.session_id == session_id)
    return db.scalars(query).first() or "callback"


def forget(db: Session, session_id: str) -> None:
    """Untie a call from its caller as soon as it files a report, not at its end. Commits.

    The last request may never come: its start goes to the hour now, and the request
    that placed it (a callback, a lesson call) loses its number.
    """
    call = _find(db, session_id[:64])
    if call is not None:
        call.phone, call.started_at = None, hour_of(call.started_at)
    _unlink_request(db, session_id[:64])
    db.commit()


def reason_of(db: Session, session_id: str) -> str | None:
    """Return why a call noted by record_start happened (inbound, missed, callback, lesson)."""
    return db.scalars(select(Call.reason).where(Call.session_id == session_id[:64])).first()


def _unlink_request(db: Session, session_id: str) -> None:
    """Forget which request placed a call that made a report: its row names the phone called."""
    request = db.scalars(select(CallRequest).where(CallRequest.session_id == session_id)).first()
    if request is not None:
        # Its key names the phone too: renamed as an erased contact's are.
        request.session_id, request.phone, request.key = None, "", f"anonymous:{request.id}"
        for name in ("due_at", "sent_at", "created_at"):
            if getattr(request, name, None) is not None:
                setattr(request, name, hour_of(getattr(request, name)))


def _find(db: Session, session_id: str) -> Call | None:
    query = select(Call).where(Call.session_id == session_id)
    return db.scalars(query.execution_options(populate_existing=True)).first()


def _forgotten(started: datetime, ended: datetime | None) -> dict:
    """Return what a call keeps without its number: times to the hour, as a minute could be
    matched to the caller's other calls."""
    return {
        "phone": None,
        "started_at": hour_of(started),
        "ended_at": hour_of(ended) if ended is not None else None,
    }


def _seconds(value) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit() and int(text) < MAX_SECONDS:
        return int(text)
    log.warning("a call's durationInSeconds is not a number of seconds: stored as none")
    return None


def _currency(value) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if CURRENCY.match(text):
        return text
    log.warning("a call's currencyCode is not a currency code: stored as none")
    return None


def _amount(value) -> Decimal | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is not None and amount.is_finite() and 0 <= amount < MAX_AMOUNT:
        return amount.quantize(Decimal("0.0001"))
    log.warning("a call's amount is not a price: stored as none")
    return None
