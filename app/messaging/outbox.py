"""The outbox: every SMS is a row first, written with the event that caused it.

Rows move queued → sending → sent → delivered, or end failed,
cancelled or unknown. "unknown" means the request may have reached the
provider and no answer came back; see `settle_unknown` for the rule. ("claimed"
rows come only from a worker of an earlier release: reap puts them back.)
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, and_, bindparam, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.infra.models import Message, utcnow
from app.infra.segments import Estimate, estimate, prepare
from app.infra.sms_records import DeliveryReport
from app.messaging import delivery

# Kinds held outside the send window, skipped for opted-out numbers, and sent
# at most once when the outcome is unknown. Everything else (receipts, alerts,
# keyword replies) is transactional: sent at any hour, at least once.
BULK_KINDS = frozenset({"campaign", "reminder", "recall"})
FINAL = frozenset({"delivered", "failed", "cancelled"})


def part_cost(config: Mapping) -> Decimal:
    """Return the configured price of one SMS part."""
    return Decimal(config["SMS_PART_COST"].split()[1])


def priced(config: Mapping, text: str) -> tuple[str, Estimate]:
    """Return text as it will be sent, with its encoding, parts and estimated cost."""
    body = prepare(text, config["SMS_ASCII_FOLD"])
    return body, estimate(body, part_cost(config))


def row(config: Mapping, kind: str, subject, phone: str, text: str, **fields) -> dict:
    """Build an outbox row: its idempotency key, final text and estimated cost."""
    body, guess = priced(config, text)
    return {
        "key": f"{kind}:{subject}:{phone}",
        "kind": kind,
        "phone": phone,
        "body": body,
        "encoding": guess.encoding,
        "parts": guess.parts,
        "estimated_cost": guess.cost,
        "status": "queued",
        "urgent": fields.pop("urgent", False),
        "not_before": fields.pop("not_before", None) or utcnow(),
        "attempts": 0,
        "created_at": utcnow(),
        **fields,
    }


_MESSAGES = Message.__table__
# Compiled once each: the rows go as parameters, and SQLAlchemy sends them in one statement
# (insertmanyvalues), where VALUES written out per call would be compiled every time.
_ADD = {
    name: dialect.insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_MESSAGES.c.key)  # rowcount is not reliable for batched inserts
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


# From this many rows, one INSERT ... SELECT from arrays costs less CPU than SQLAlchemy's
# VALUES list, which is compiled once but binds every value: 3 rows (a report's alerts and
# receipt) take 0.25 ms so against 0.85 ms, 50 rows 2.1 ms against 1.4 ms.
UNNESTED = 16


def insert(db: Session | Connection, rows: list[dict]) -> int:
    """Add rows, silently skipping keys already present; return how many were new.

    The caller commits, so rows land in the same transaction as their cause.
    """
    return len(insert_new(db, rows))


def insert_new(db: Session | Connection, rows: list[dict]) -> set[str]:
    """Add rows, silently skipping keys already present; return the keys added.

    Every row must have the same fields. The caller commits.
    """
    if not rows:
        return set()
    if not isinstance(db, Connection):  # a Session, or the hop's lazily opened one
        db.flush()  # what the caller added lands first, as the ORM's own statements do
        db = db.connection()
    if db.dialect.name == "postgresql" and len(rows) >= UNNESTED:
        statement = postgresql.insert(_MESSAGES).from_select(*_unnested(rows))
        statement = statement.on_conflict_do_nothing(index_elements=["key"])
        return set(db.execute(statement.returning(_MESSAGES.c.key)).scalars())
    return set(db.execute(_ADD[db.dialect.name], rows).scalars())


def _unnested(rows: list[dict]) -> tuple[list[str], Select]:
    """Return the columns of rows and a SELECT of them: what varies sent as arrays to unnest.

    A parameter per row and column would make a statement of megabytes to parse for a
    large batch; a value every row shares (the kind, the time) is sent once.
    """
    names = list(rows[0])
    table, varying, shared = Message.__table__, {}, {}
    for name in names:
        values = [row[name] for row in rows]
        kind = table.c[name].type
        if values.count(values[0]) == len(values):
            shared[name] = bindparam(f"shared_{name}", values[0], type_=kind)
        else:
            varying[name] = bindparam(f"array_{name}", values, type_=postgresql.ARRAY(kind))
    source = func.unnest(*varying.values()).table_valued(*varying).render_derived()
    # With nothing that varies (the same row over and over) that is one row, once.
    return names, select(*(shared[name] if name in shared else source.c[name] for name in names))


def add(db: Session, config: Mapping, kind: str, subject, phone: str, text: str, **fields) -> bool:
    """Queue one SMS in the caller's transaction; False if its key already exists."""
    return insert(db, [row(config, kind, subject, phone, text, **fields)]) == 1


def retry_at(attempts: int, now: datetime) -> datetime:
    """Return when to try again after attempts failures: 30 s doubling, at most 1 h."""
    return now + timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def retry(message: Message, reason: str, now: datetime, max_attempts: int) -> None:
    """Put a message back in the queue with backoff, or fail it at the cap."""
    message.attempts += 1
    message.lease_owner = message.lease_until = None
    if message.attempts >= max_attempts:
        fail(message, f"gave up after {message.attempts} attempts: {reason}", now)
        return
    message.status = "queued"
    message.reason = reason[:200]  # a provider's refusal can be a whole page
    message.not_before = retry_at(message.attempts, now)


def release(message: Message, when: datetime) -> None:
    """Give a started row back to the queue, to be tried at when; no attempt is spent."""
    message.status, message.not_before = "queued", when
    message.lease_owner = message.lease_until = None


def cancel(message: Message, reason: str, now: datetime) -> None:
    """End a message that must not be sent, with the reason."""
    message.status, message.reason, message.finished_at = "cancelled", reason, now
    message.lease_owner = message.lease_until = None


def fail(message: Message, reason: str, now: datetime) -> None:
    """End a message as failed, with its reason."""
    message.status = "failed"
    message.reason = reason[:200]
    message.lease_owner = message.lease_until = None
    message.finished_at = now


def settle_unknown(message: Message, reason: str, now: datetime, reconcile_s: int) -> None:
    """Park a message whose request may have left, to reconcile with delivery reports.

    A delivery report for its phone that names no known message adopts it
    (see `delivery.adopt`). If none comes within reconcile_s, `reap` applies
    the rule: campaigns and reminders are never resent (at most once); every
    other kind is resent (at least once).
    """
    message.status = "unknown"
    message.reason = reason[:200]
    message.lease_owner = message.lease_until = None
    message.not_before = now + timedelta(seconds=reconcile_s)


def reap(db: Session, config: Mapping, now: datetime) -> dict[str, int]:
    """Recover rows whose worker vanished and close unknowns past reconciliation."""
    max_attempts, reconcile_s = config["SMS_MAX_ATTEMPTS"], config["SMS_RECONCILE_S"]
    counts = {"requeued": 0, "unknown": 0, "resent": 0, "closed": 0}
    lost = []
    expired = select(Message).where(
        Message.status.in_(("claimed", "sending")), Message.lease_until < now
    )
    for message in db.scalars(expired.with_for_update(skip_locked=True)):
        if message.status == "claimed":  # the request never started: safe to resend
            message.status, message.lease_owner, message.lease_until = "queued", None, None
            counts["requeued"] += 1
        else:
            settle_unknown(message, "worker lost during the request", now, reconcile_s)
            lost.append(message)
            counts["unknown"] += 1
    db.flush()
    delivery.adopt_waiting(db, lost, now, config["SMS_UNREACHABLE_AFTER"])
    overdue = select(Message).where(
        Message.status == "unknown", Message.finished_at.is_(None), Message.not_before <= now
    )
    for message in db.scalars(overdue.with_for_update(skip_locked=True)):
        if message.kind in BULK_KINDS:
            message.finished_at = now  # at most once: stays unknown, never resent
            counts["closed"] += 1
        else:
            retry(message, f"resent after unknown outcome: {message.reason}", now, max_attempts)
            message.not_before = now
            counts["resent"] += 1
    db.commit()
    return counts


def spend(db: Session, start: datetime, end: datetime) -> dict[str, tuple[int, Decimal]]:
    """Return, per currency, the SMS sent in [start, end) and what the provider charged for them.

    Only what the provider priced counts: its cost per message, such as "XOF 25.0000".
    """
    rows = db.execute(
        select(Message.cost, func.count())
        .where(Message.sent_at >= start, Message.sent_at < end, Message.cost.is_not(None))
        .group_by(Message.cost)
    )
    totals: dict[str, tuple[int, Decimal]] = {}
    for cost, count in rows:
        currency, _, amount = cost.strip().partition(" ")
        try:
            price = Decimal(amount)
        except InvalidOperation:
            price = None
        if price is None or not price.is_finite() or len(currency) != 3:
            continue  # a cost the provider wrote otherwise: not a price we can add
        sent, charged = totals.get(currency, (0, Decimal(0)))
        totals[currency] = (sent + count, charged + price * count)
    return totals


def forget_receipts(db: Session, now: datetime, wait_s: int = 2 * 24 * 3600) -> int:
    """Blank the number and text of receipts that are done with; return how many.

    A receipt holds a reporter's number beside their case's reference: once it
    is delivered, failed or cancelled (or sent long ago with no report back),
    the number stays only encrypted, with the case. Commits.
    """
    # The status in a form no index answers: SQLite, without statistics, read every
    # delivered row of ix_outbox_due for it, where ix_outbox_receipts_kept holds only the
    # receipts still to forget (migration 0024).
    status = Message.status.concat(literal_column("''"))
    silent = and_(status == "sent", Message.sent_at < now - timedelta(seconds=wait_s))
    done = or_(status.in_(FINAL), silent)
    rows = db.execute(
        select(Message.id, Message.provider_id).where(
            Message.kind == "receipt", Message.phone != "", done
        )
    ).all()
    if not rows:
        return 0
    db.execute(
        update(Message).where(Message.id.in_([r.id for r in rows])).values(phone="", body="")
    )
    sent = [r.provider_id for r in rows if r.provider_id]
    if sent:
        db.execute(
            update(DeliveryReport).where(DeliveryReport.provider_id.in_(sent)).values(phone=None)
        )
    db.commit()
    return len(rows)
