"""app/messaging/claims.py: rows chosen without a write, started and recorded in bulk, each
only while still queued, or still ours."""

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import event, select, text, update

from app.infra.models import Message
from app.infra.sms_records import DeliveryReport
from app.messaging import claims, outbox

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=60)


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def started(db, count: int, owner: str = "worker-a") -> list[claims.Claimed]:
    """Queue count receipts, choose them and start them for owner: their requests are out."""
    queued(db, count)
    rows = claims.choose(db, NOW, count, bulk=True)
    ids = [r.id for r in rows]
    assert claims.start(db, owner, ids, "africastalking", NOW, LEASE) == set(ids)
    db.commit()
    return rows


def queued(db, count: int) -> None:
    """Queue count receipts, due now."""
    for n in range(count):
        outbox.add(db, current_app.config, "receipt", f"R{n}", f"+2237000{n:04d}", "Recu",
                   not_before=NOW)  # fmt: skip
    db.commit()


def mine_and_theirs(db):
    """Choose two rows as worker a; return them, the second started since by worker b."""
    queued(db, 2)
    mine, theirs = claims.choose(db, NOW, 2, bulk=True)
    db.commit()  # chosen, then let go (as another request's start lets a batch go)
    taken = {"status": "sending", "lease_owner": "worker-b", "provider": "orange"}
    db.execute(update(Message).where(Message.id == theirs.id).values(**taken))
    db.commit()
    return mine, theirs


def test_a_request_starts_only_rows_still_queued(db):
    """Chosen, let go, and started since by worker b: the row is b's, not sent twice."""
    mine, theirs = mine_and_theirs(db)
    ids = [mine.id, theirs.id]
    assert claims.start(db, "worker-a", ids, "africastalking", NOW, LEASE) == {mine.id}
    db.commit()
    rows = {m.id: m for m in db.scalars(select(Message))}
    assert (rows[mine.id].status, rows[mine.id].lease_owner) == ("sending", "worker-a")
    assert rows[mine.id].provider == "africastalking"
    assert (rows[theirs.id].status, rows[theirs.id].lease_owner) == ("sending", "worker-b")
    assert rows[theirs.id].provider == "orange"


def test_a_request_starts_no_row_put_off_since(db):
    """Another worker's campaign rate put a chosen row off: it waits for its time."""
    queued(db, 2)
    now, later = claims.choose(db, NOW, 2, bulk=True)
    db.commit()
    claims.put_off(db, [(later, NOW + timedelta(seconds=5))])
    db.commit()
    ids = [now.id, later.id]
    assert claims.start(db, "worker-a", ids, "africastalking", NOW, LEASE) == {now.id}


def test_a_choice_writes_nothing(db):
    """Choosing is a read (with row locks on PostgreSQL): the start is a row's first write."""
    queued(db, 3)
    with statements(db) as seen:
        assert len(claims.choose(db, NOW, 3, bulk=True)) == 3
    db.commit()
    assert seen and all(s.lstrip().upper().startswith("SELECT") for s in seen), seen
    rows = db.execute(select(Message.status, Message.lease_owner, Message.lease_until))
    assert [tuple(row) for row in rows] == [("queued", None, None)] * 3


def test_a_second_choice_passes_the_rows_a_first_holds_by(app):
    """Two workers choose at the same moment: the second takes the rows the first holds,
    uncommitted, without waiting for its commit, and no row goes to both."""
    if app.extensions["engine"].dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite locks the whole file, not rows")
    sessions = app.extensions["db"]
    with app.app_context(), sessions() as first, sessions() as second:
        queued(first, 50)
        mine = claims.choose(first, NOW, 30, bulk=True)  # its transaction open, rows locked
        # Waiting for the first one's commit would fail here, not hang.
        second.execute(text("SET LOCAL lock_timeout = '2s'"))
        theirs = claims.choose(second, NOW, 30, bulk=True)
        second.rollback()
        first.rollback()
    assert (len(mine), len(theirs)) == (30, 20)
    assert not {r.id for r in mine} & {r.id for r in theirs}


def sent(row: claims.Claimed, provider_id: str) -> claims.Change:
    change = claims.Change(row)
    change.values.update(status="sent", sent_at=NOW, provider_id=provider_id, cost="XOF 25",
                         lease_owner=None, lease_until=None)  # fmt: skip
    return change


@pytest.mark.parametrize(
    "taken",
    [
        {"lease_owner": "worker-b"},  # reaped, resent: another worker's request is out now
        {"status": "unknown", "lease_owner": None},  # reaped, its outcome left unknown
        {"status": "claimed"},  # ours again, but not the request this result is for
    ],
)
def test_a_result_is_written_only_to_rows_still_ours(db, taken):
    """The owner and status in the bulk write's WHERE are the recheck: no row of another's."""
    mine, lost = started(db, 2)
    db.execute(update(Message).where(Message.id == lost.id).values(**taken))
    db.commit()
    recorded = claims.record(db, "worker-a", "sending", [sent(mine, "ATX-1"), sent(lost, "ATX-2")])
    db.commit()
    rows = {m.id: m for m in db.scalars(select(Message))}
    assert [change.row.id for change in recorded.changes] == [mine.id]
    assert (rows[mine.id].status, rows[mine.id].provider_id) == ("sent", "ATX-1")
    expected = {"status": "sending", "lease_owner": "worker-a", **taken}
    assert {k: getattr(rows[lost.id], k) for k in expected} == expected
    assert rows[lost.id].provider_id is None


def test_a_report_that_came_first_is_named_by_the_write(db):
    """A delivery report stored before the send result: record says which ids to apply."""
    rows = started(db, 2)
    db.add(DeliveryReport(provider_id="ATX-early", provider="africastalking", status="Success",
                          received_at=NOW))  # fmt: skip
    db.commit()
    recorded = claims.record(
        db, "worker-a", "sending", [sent(rows[0], "ATX-early"), sent(rows[1], "ATX-none")]
    )
    assert "ATX-early" in recorded.reported
    if db.get_bind().dialect.name == "postgresql":  # read in the write itself: exactly those
        assert recorded.reported == ["ATX-early"]


def test_the_sessions_copy_of_a_row_written_in_bulk_is_not_read_stale(db):
    rows = started(db, 1)
    copy = db.get(Message, rows[0].id)
    assert copy.status == "sending"
    claims.record(db, "worker-a", "sending", [sent(rows[0], "ATX-1")])
    db.commit()
    assert (copy.status, copy.provider_id) == ("sent", "ATX-1")


def test_a_row_is_put_off_only_while_still_queued(db):
    mine, theirs = mine_and_theirs(db)
    later = NOW + timedelta(seconds=5)
    claims.put_off(db, [(mine, later), (theirs, later)])
    db.commit()
    rows = {m.id: m for m in db.scalars(select(Message))}
    assert (rows[mine.id].status, rows[mine.id].not_before) == ("queued", later)
    assert (rows[theirs.id].status, rows[theirs.id].lease_owner) == ("sending", "worker-b")
    assert rows[theirs.id].not_before == NOW


@pytest.mark.parametrize("limit", [1, 3, 5])
def test_a_choice_takes_urgent_rows_first_then_the_oldest(db, limit):
    """Alerts queued after a campaign's rows go out before them; the rest, oldest first."""
    for n, urgent in enumerate([False, False, True, False, True]):
        outbox.add(db, current_app.config, "alert" if urgent else "receipt", f"R{n}",
                   f"+2237000{n:04d}", "Recu", not_before=NOW, urgent=urgent)  # fmt: skip
    db.commit()
    rows = claims.choose(db, NOW, limit, bulk=True)
    expected = ["R2", "R4", "R0", "R1", "R3"][:limit]
    keys = db.scalars(select(Message.key).where(Message.id.in_([r.id for r in rows])))
    assert sorted(k.split(":")[1] for k in keys) == sorted(expected)


@contextlib.contextmanager
def statements(db):
    """Yield the list of the statements the session's engine runs meanwhile."""
    seen, engine = [], db.get_bind()

    def note(_conn, _cursor, statement, *_):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@contextlib.contextmanager
def plans(db):
    """Yield the list of the plans PostgreSQL makes meanwhile for the updates of the outbox."""
    seen, engine = [], db.get_bind()

    postgresql = engine.dialect.name == "postgresql"

    def explain(_conn, cursor, statement, parameters, _context, executemany):
        if statement.startswith("UPDATE outbox"):
            cursor.execute(("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + statement,
                           parameters[0] if executemany else parameters)  # fmt: skip
            seen.append("\n".join(str(row[-1]) for row in cursor.fetchall()))

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def test_a_start_and_a_record_take_their_rows_by_id(db):
    """Counted while every row was queued, claimed and sending rows look rare (SQLite counts
    nothing): the start and the record still take their rows by id, not by a walk of an index
    of every row's status or campaign, nor a scan."""
    postgresql = db.get_bind().dialect.name == "postgresql"
    config = current_app.config
    queued = [outbox.row(config, "receipt", f"R{n}", f"+2237{n:07d}", "Recu", not_before=NOW)
              for n in range(20000)]  # fmt: skip
    outbox.insert(db, queued)
    db.commit()
    if postgresql:
        db.execute(text("ANALYZE outbox"))  # as an expansion does
        # Random reads priced as a slow disk's: a scan of the outbox must still lose.
        db.execute(text("SET random_page_cost = 8"))
        db.commit()
    rows = claims.choose(db, NOW, 500, bulk=True)[:100]
    with plans(db) as seen:
        ids = [r.id for r in rows]
        assert len(claims.start(db, "worker-a", ids, "africastalking", NOW, LEASE)) == 100
        db.commit()
        changes = [sent(row, f"ATX-{row.id}") for row in rows]
        assert len(claims.record(db, "worker-a", "sending", changes).changes) == 100
        db.commit()
    if postgresql:
        db.execute(text("RESET random_page_cost"))
        db.commit()
    by_id = "outbox_pkey" if postgresql else "USING INTEGER PRIMARY KEY"
    assert len(seen) == 2
    for plan in seen:
        assert by_id in plan and "ix_outbox" not in plan and "Scan on outbox " not in plan, plan
