"""Calls Kalan places: queued once by key, then placed at most once through the voice gateway.

A row goes queued → sending (committed before the gateway is asked) → sent, failed
or unknown; or queued → skipped. A worker that dies mid-request, or an RQ retry of
its job, finds the row "sending", never "queued": it is not called again, and
after LOST_AFTER it is closed as unknown. A phone rung twice is worse than a
callback missed.
"""

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import exists, false, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.infra.calls import CallRequest
from app.infra.gateway import FAILED, RETRY, UNKNOWN, GatewayError
from app.infra.models import Contact
from app.infra.voice_gateway import QUEUED, CallResult, VoiceGateway
from app.messaging import window
from app.voice import budget

MAX_ATTEMPTS = 3  # a callback an hour late is no callback: few tries, soon
LOST_AFTER = timedelta(minutes=5)  # far past the SDK's 12 s: the worker is gone
BATCH = 20

log = logging.getLogger(__name__)


def queue(db: Session, phone: str, reason: str, due: datetime, now: datetime) -> bool:
    """Queue a call to phone at due, in the caller's transaction; False if its key exists.

    The key is reason, phone and due time: the same request made twice is one row.
    """
    row = {
        "key": f"{reason}:{phone}:{due:%Y%m%dT%H%M%S}",
        "phone": phone,
        "reason": reason,
        "due_at": due,
        "status": "queued",
        "attempts": 0,
        "created_at": now,
    }
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(CallRequest)
        .values(row)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(CallRequest.id)
    )
    return db.execute(statement).first() is not None


def opted_out(db: Session, phone: str) -> bool:
    """Tell whether the phone asked to hear from us no more (STOP)."""
    query = select(Contact.id).where(Contact.phone == phone, Contact.opted_out_at.is_not(None))
    return db.scalars(query).first() is not None


def called_back_since(
    db: Session, phone: str, since: datetime, other_than: int | None = None
) -> bool:
    """Tell whether a callback to phone was placed (or may have been) since then, by a request
    other than other_than."""
    query = select(CallRequest.id).where(
        CallRequest.phone == phone,
        CallRequest.reason == "callback",
        CallRequest.status.in_(("sending", "sent", "unknown")),
        CallRequest.sent_at >= since,
    )
    if other_than is not None:
        query = query.where(CallRequest.id != other_than)
    return db.scalars(query).first() is not None


def send_due(
    db: Session, redis: Redis, config: Mapping, gateway: VoiceGateway, now: datetime
) -> dict[str, int]:
    """Place the calls due now, each at most once; return how many ended how. Commits."""
    counts = Counter(unknown=reap(db, now))
    due = select(CallRequest.id).where(CallRequest.status == "queued", CallRequest.due_at <= now)
    ids = list(db.scalars(due.order_by(CallRequest.due_at, CallRequest.id).limit(BATCH)))
    db.commit()
    for request_id in ids:
        counts[place(db, redis, config, gateway, request_id, now)] += 1
    return {name: n for name, n in counts.items() if n}


def place(
    db: Session, redis: Redis, config: Mapping, gateway: VoiceGateway, request_id: int, now
) -> str:
    """Check, claim and place one queued call; return what became of it. Commits."""
    request = db.get(CallRequest, request_id, populate_existing=True)
    if request is None or request.status != "queued":
        return "taken"
    reason = _refusal(db, config, request, now)
    if reason == "window":
        opening = window.next_open(config["SMS_SEND_WINDOW"], now, config["TZ"])
        return "held" if _while_queued(db, request, due_at=opening) else "taken"
    if reason:
        if not _while_queued(db, request, status="skipped", error=reason):
            return "taken"
        log.info("call %s skipped: %s", request.id, reason)
        return "skipped"
    if not _while_queued(db, request, status="sending", attempts=request.attempts + 1, sent_at=now):
        return "taken"
    prefix = config["REDIS_PREFIX"]
    if not budget.take(redis, prefix, config, now):
        log.warning("call %s not placed: the day's VOICE_DAILY_BUDGET is spent", request.id)
        return _end(db, request, "skipped", "over the daily budget")
    try:
        result = gateway.call(config["VOICE_FROM_NUMBER"], request.phone, request.key)
    except GatewayError as exc:
        outcome = UNKNOWN if exc.unknown else RETRY
        result = CallResult(request.phone, outcome, status=exc.reason)
    if result.outcome not in (QUEUED, UNKNOWN):
        budget.give_back(redis, prefix, config, now)
    return _settle(db, request, result, now)


def _refusal(db: Session, config: Mapping, request: CallRequest, now: datetime) -> str | None:
    """Return why the call must not be placed now ("window": not yet), or None."""
    if opted_out(db, request.phone):
        return "opted out"
    if not config["VOICE_FROM_NUMBER"]:
        return "no VOICE_FROM_NUMBER nor VOICE_CALLBACK_NUMBERS to call from"
    if not window.is_open(config["SMS_SEND_WINDOW"], now, config["TZ"]):
        return "window"
    since = now - timedelta(seconds=config["VOICE_CALLBACK_EVERY_S"])
    if request.reason == "callback" and called_back_since(db, request.phone, since, request.id):
        return "called back recently"
    return None


def _while_queued(db: Session, request: CallRequest, **values) -> bool:
    """Change the row only if it is still queued: another worker may have claimed it since
    it was read. Commits: once "sending", a crash never places it twice. Return whether."""
    stopped = exists().where(Contact.phone == request.phone, Contact.opted_out_at.is_not(None))
    if values.get("status") != "sending":
        stopped = false()  # only a claim is refused for an opt-out since the check
    changed = db.execute(
        update(CallRequest)
        .where(CallRequest.id == request.id, CallRequest.status == "queued", ~stopped)
        .values(**values)
        .returning(CallRequest.id)
        .execution_options(synchronize_session=False)
    ).first()
    db.commit()
    db.refresh(request)
    return changed is not None


def _settle(db: Session, request: CallRequest, result: CallResult, now: datetime) -> str:
    """Record the gateway's answer for a claimed row."""
    if result.outcome == QUEUED:
        request.status, request.session_id, request.error = "sent", result.session_id, None
        db.commit()
        return "sent"
    if result.outcome == FAILED:
        return _end(db, request, "failed", result.status or "failed")
    if result.outcome == RETRY and request.attempts < MAX_ATTEMPTS:
        request.status, request.error = "queued", (result.status or "retry")[:200]
        request.due_at = now + timedelta(seconds=30 * 2 ** (request.attempts - 1))
        db.commit()
        return "retried"
    if result.outcome == RETRY:
        reason = f"gave up after {request.attempts} attempts: {result.status or 'retry'}"
        return _end(db, request, "failed", reason)
    log.warning("call %s may or may not have been placed: %s", request.id, result.status)
    return _end(db, request, "unknown", result.status or "no answer")


def _end(db: Session, request: CallRequest, status: str, reason: str) -> str:
    """End a row this worker claimed, with its status and why; return the status."""
    request.status, request.error = status, reason[:200]
    db.commit()
    return status


def reap(db: Session, now: datetime) -> int:
    """Close as unknown the rows a lost worker left sending; return how many. Caller commits."""
    lost = db.execute(
        update(CallRequest)
        .where(CallRequest.status == "sending", CallRequest.sent_at < now - LOST_AFTER)
        .values(status="unknown", error="worker lost during the request")
        .execution_options(synchronize_session=False)
    )
    return lost.rowcount or 0
