"""Outbox rows chosen, started, recorded and put off in set-based SQL.

A chosen row is a plain tuple, not an ORM object: a campaign's send loads and writes
tens of thousands of rows, and the session's bookkeeping would cost more than the
HTTP requests that carry them. The statements are built once, their lists of ids one
array each on PostgreSQL.

Choosing writes nothing: on PostgreSQL the rows stay locked (SKIP LOCKED: other workers
pass them by) until the transaction that starts them commits, and a worker lost before
that leaves them queued, as they were. A row is written twice on its way out (sending,
then its outcome), where a lease written at the claim made it three times: each write of
the outbox is a heap version and five or six index entries, PostgreSQL's largest share of
a send. The start re-checks everything (still queued and due, not opted out, its campaign
still running), so rows let go between their choice and their start (locked again by id,
or not at all on SQLite) are sent only once, and never early.
Every later write names the owner and the status it expects, so a worker whose lease ran
out changes nothing another worker took since.

On PostgreSQL only start waits for the disk at commit (NO_WAIT elsewhere): a row must be
"sending" for good before its request leaves. An outcome lost in a database crash (at
most the last 0.6 s, and never past the worker's next start, whose flush takes the WAL
before it) leaves the row sending, as a worker lost at that moment would: reap applies
the unknown-outcome rule. Rows "claimed" by a worker of an earlier release (a lease, no
request) are still put back by reap.
"""

import functools
from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import (
    Integer,
    bindparam,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.infra.db import NO_WAIT, Listed, among
from app.infra.models import Campaign, Contact, Message
from app.infra.sms_records import DeliveryReport
from app.messaging.outbox import BULK_KINDS

OUTBOX = Message.__table__
ROW = OUTBOX.c
LIVE = ("sending", "expanding")  # the campaign states whose rows may go out


class Claimed(NamedTuple):
    """What sending a chosen row needs to know of it."""

    id: int
    kind: str
    phone: str
    body: str
    campaign_id: int | None
    via: str | None
    sender: str | None
    attempts: int


class Change:
    """A chosen row's new values, set as outbox's functions set a Message's fields."""

    __slots__ = ("row", "values")

    def __init__(self, row: Claimed):
        object.__setattr__(self, "row", row)
        object.__setattr__(self, "values", {})

    def __getattr__(self, name: str):
        values = self.values
        return values[name] if name in values else getattr(self.row, name)

    def __setattr__(self, name: str, value) -> None:
        self.values[name] = value


class Recorded(NamedTuple):
    """What record wrote: the changes, and the provider ids a delivery report waits for."""

    changes: list[Change]
    reported: list[str]


# The status of a row taken by its id, in a form no index answers: PostgreSQL, which counts
# claimed and sending rows as rare, walked every claimed row of ix_outbox_due (or the whole
# of ix_outbox_campaign) for the hundred rows it can take by their ids, a seventh of its CPU
# per SMS sent (bench/send_split.py).
STATUS = ROW.status.concat(literal_column("''"))


def _postgresql(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


@functools.cache
def _statements(postgresql: bool) -> dict:
    """Build the choice's, start's and recheck's statements once per dialect."""
    campaigns = Campaign.__table__.c
    running = select(campaigns.id).where(campaigns.status.in_(LIVE))
    live = or_(ROW.campaign_id.is_(None), ROW.campaign_id.in_(running))
    # The same, for rows taken by id, in a form no index answers: SQLite, without
    # statistics, walked ix_outbox_campaign for it (every row of a running campaign).
    by_id = ROW.campaign_id + literal_column("0")
    live_by_id = or_(by_id.is_(None), by_id.in_(running))
    ids = among(ROW.id, "ids", postgresql)
    due = [ROW.status == "queued", ROW.not_before <= bindparam("now"), live]
    contacts = Contact.__table__.c
    blocked = exists().where(
        contacts.phone == ROW.phone,
        or_(contacts.opted_out_at.is_not(None), contacts.unreachable_at.is_not(None)),
    )
    # Urgent rows first, then the others, each oldest first: a range of ix_outbox_queued
    # (urgent, id) each, where ORDER BY urgent DESC, id would read and sort every queued
    # row. A range, not urgent = x, which would leave the order to the primary key, and a
    # choice late in a campaign walking every row sent before.
    fields = (ROW[name] for name in Claimed._fields)
    choose = select(*fields).order_by(ROW.urgent, ROW.id).limit(bindparam("limit"))
    choosing = {}
    ranges = ((True, ROW.urgent >= literal(True)), (False, ROW.urgent <= literal(False)))
    for urgent, these in ranges:
        # Locked until the start commits; only the outbox's rows, not the campaigns read.
        lock = {"skip_locked": True, "of": OUTBOX}
        choosing[("due", urgent)] = choose.where(*due, these).with_for_update(**lock)
        # Outside the send window only what is not bulk: alerts, receipts, replies.
        choosing[("due, not bulk", urgent)] = choose.where(
            *due, these, ROW.kind.not_in(BULK_KINDS)
        ).with_for_update(**lock)
    return {
        **choosing,
        "start": update(OUTBOX)
        .where(
            ids,
            STATUS == "queued",
            ROW.not_before <= bindparam("now"),
            or_(ROW.kind.not_in(BULK_KINDS), ~blocked),
            live_by_id,
        )
        .values(status="sending", lease_owner=bindparam("owner"), lease_until=bindparam("lease"),
                provider=bindparam("to"))
        .returning(ROW.id),
        # A choice's later request: its rows locked again, if still queued, due and free.
        "lock": select(ROW.id)
        .where(ids, STATUS == "queued", ROW.not_before <= bindparam("now"))
        .with_for_update(skip_locked=True),
        "put off": update(OUTBOX)
        .where(ROW.id == bindparam("p_id"), STATUS == "queued")
        .values(not_before=bindparam("p_when")),
        "ours": select(ROW.id)
        .where(ids, ROW.lease_owner == bindparam("owner"), STATUS == bindparam("expected"))
        .with_for_update(),
    }  # fmt: skip


def choose(db: Session, now: datetime, limit: int, bulk: bool) -> list[Claimed]:
    """Return up to limit due rows, bulk kinds only if bulk, urgent first, then by id.

    Nothing is written. On PostgreSQL the rows stay locked until the caller's transaction
    ends, and other workers pass them by (SKIP LOCKED) rather than wait for them.
    """
    statements = _statements(_postgresql(db))
    due = "due" if bulk else "due, not bulk"
    params = {"now": now, "limit": limit}
    rows = [Claimed(*row) for row in db.execute(statements[(due, True)], params).all()]
    if len(rows) < limit:
        params["limit"] = limit - len(rows)
        rows += [Claimed(*row) for row in db.execute(statements[(due, False)], params).all()]
    return rows


def start(
    db: Session, owner: str, ids: list[int], provider: str, now: datetime, lease_until: datetime
) -> set[int]:
    """Move rows still queued and due from queued to sending through provider, for owner;
    return their ids.

    The conditional update is what makes a send safe: a row another worker started, or
    put off, since it was chosen, or whose phone opted out (or is unreachable), or whose
    campaign stopped, is not sent. The caller commits.
    """
    params = {"ids": ids, "owner": owner, "now": now, "lease": lease_until, "to": provider}
    found = set(db.execute(_statements(_postgresql(db))["start"], params).scalars().all())
    forget(db, ids)
    return found


def lock(db: Session, ids: list[int], now: datetime) -> set[int]:
    """Lock again, until the caller's transaction ends, the rows among ids still queued and
    due that no other worker holds; return their ids. Nothing is written."""
    return set(db.execute(_statements(_postgresql(db))["lock"], {"ids": ids, "now": now}).scalars())


def put_off(db: Session, rows: list[tuple[Claimed, datetime]]) -> None:
    """Make queued rows due later, each at its time; a row no longer queued is left as it
    is (another worker sent it meanwhile). The caller commits."""
    if not rows:
        return
    params = [{"p_id": row.id, "p_when": when} for row, when in rows]
    db.execute(_statements(_postgresql(db))["put off"], params)
    forget(db, [row.id for row, _ in rows])


def record(db: Session, owner: str, status: str, changes: list[Change]) -> Recorded:
    """Write each change to its row if the row is still ours and in status; return those
    written, and the provider ids among them for which a delivery report may wait (on
    PostgreSQL, exactly those). Call it in a transaction of its own: the caller commits.

    A request slower than the lease lets reap settle a row meanwhile (and another worker
    resend it): what we learnt then must not overwrite what it decided.
    """
    if not changes:
        return Recorded([], [])
    if _postgresql(db):
        written = _write_returning(db, owner, status, changes)
        mine = [change for change in changes if change.row.id in written]
        return Recorded(mine, [c.values["provider_id"] for c in mine if written[c.row.id]])
    if _write(db, owner, status, changes) != len(changes):
        # Some were not ours any more: undo, and write only to those that are, locked first.
        db.rollback()
        ids = [change.row.id for change in changes]
        params = {"ids": ids, "owner": owner, "expected": status}
        ours = set(db.execute(_statements(False)["ours"], params).scalars().all())
        changes = [change for change in changes if change.row.id in ours]
        _write(db, owner, status, changes)
    # Each provider id written: apply_pending looks for the reports that came before it.
    return Recorded(
        changes, [c.values["provider_id"] for c in changes if c.values.get("provider_id")]
    )


# The UPDATE for each set of columns (and, on PostgreSQL, of those the rows share), built once.
_WRITES: dict[tuple, object] = {}
# The outbox's text columns and their widths: what a provider said (a refusal can be a whole
# HTML page) is cut to fit, as an array's cast would cut it, where a lone value would fail.
_WIDTHS = {c.name: c.type.length for c in OUTBOX.columns if getattr(c.type, "length", None)}


def _fitted(name: str, values: list) -> list:
    """Return a column's values, any text cut to the column's width."""
    width = _WIDTHS.get(name)
    if width is None:
        return values
    return [v[:width] if isinstance(v, str) and len(v) > width else v for v in values]


def _write(db: Session, owner: str, status: str, changes: list[Change]) -> int:
    """Write changes with one executemany per set of columns; return the rows changed."""
    groups = defaultdict(list)
    for change in changes:
        groups[tuple(change.values)].append(change)
    written = 0
    for names, group in groups.items():
        statement = _WRITES.get(names)
        if statement is None:
            statement = _WRITES[names] = (
                update(OUTBOX)
                .where(ROW.id == bindparam("w_id"), ROW.lease_owner == bindparam("w_owner"),
                       STATUS == bindparam("w_status"))
                .values({name: bindparam("v_" + name) for name in names})
            )  # fmt: skip
        columns = {name: _fitted(name, [c.values[name] for c in group]) for name in names}
        params = []
        for n, change in enumerate(group):
            values = {"v_" + name: column[n] for name, column in columns.items()}
            values.update(w_id=change.row.id, w_owner=owner, w_status=status)
            params.append(values)
        written += db.execute(statement, params).rowcount
    forget(db, [change.row.id for change in changes])
    return written


def _write_returning(
    db: Session, owner: str, status: str, changes: list[Change]
) -> dict[int, bool]:
    """Write changes with one UPDATE per set of columns, the rows' values as arrays (a
    value they all share as one parameter); return, for each row changed, whether a
    delivery report waits for its provider id."""
    groups = defaultdict(list)
    for change in changes:
        groups[tuple(change.values)].append(change)
    written = {}
    for names, group in groups.items():
        columns = {name: _fitted(name, [c.values[name] for c in group]) for name in names}
        shared = tuple(n for n, values in columns.items() if values.count(values[0]) == len(values))
        statement = _WRITES.get((names, shared))
        if statement is None:
            statement = _WRITES[(names, shared)] = _unnested(names, shared)
        params = {"a_id": [c.row.id for c in group], "w_owner": owner, "w_status": status}
        for name, values in columns.items():
            if name in shared:
                params["v_" + name] = values[0]
            else:
                params["a_" + name] = values
        written.update(db.execute(statement, params).all())
    forget(db, [change.row.id for change in changes])
    return written


def _unnested(names: tuple, shared: tuple):
    """Return UPDATE ... FROM unnest(ids, arrays) for columns names, shared ones scalars."""
    each = [name for name in names if name not in shared]
    arrays = [bindparam("a_" + name, type_=Listed(ROW[name].type)) for name in each]
    ids = bindparam("a_id", type_=Listed(Integer))
    rows = func.unnest(ids, *arrays)
    rows = rows.table_valued("id", *each).render_derived()
    values = {name: bindparam("v_" + name, type_=ROW[name].type) for name in shared}
    values.update({name: rows.c[name] for name in each})
    reports = DeliveryReport.__table__.c
    # Read in the same statement, on the row as written: saves a round trip per request.
    reported = exists().where(
        reports.provider_id == ROW.provider_id,
        reports.applied.is_(False),
        or_(reports.provider == ROW.provider, reports.provider.is_(None)),
    )
    return (
        update(OUTBOX)
        # The ids once more, as an array the primary key answers: joined to unnest's rows
        # alone, the planner may guess a scan of the outbox cheaper (a few thousand rows).
        .where(ROW.id == rows.c.id, ROW.id == func.any(ids),
               ROW.lease_owner == bindparam("w_owner"), STATUS == bindparam("w_status"), NO_WAIT)
        .values(values)
        .returning(ROW.id, reported)
    )  # fmt: skip


def forget(db: Session, ids: list[int]) -> None:
    """Expire the session's copies of rows just written in SQL, so that none is read stale."""
    if not db.identity_map:
        return
    ids = set(ids)
    for key, instance in list(db.identity_map.items()):
        if key[0] is Message and key[1][0] in ids:
            db.expire(instance)
