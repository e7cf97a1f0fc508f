"""The database engine: pooled connections that outlive a restart, and the hot path's writes."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import (
    Boolean,
    Integer,
    Numeric,
    String,
    bindparam,
    func,
    select,
    text,
    type_coerce,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from app.infra import db
from app.infra.models import UTCDateTime

from .helpers import seen_from_outside


@pytest.fixture
def postgres(app):
    """The app's engine, on PostgreSQL only: SQLite has no server to lose."""
    engine = app.extensions["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: an embedded SQLite file has no connection to lose")
    return engine


def _idle_connection_killed(engine) -> int:
    """Leave one connection idle in the pool, killed by the server; return its pid."""
    with engine.connect() as doomed, engine.connect() as killer:
        pid = doomed.scalar(text("SELECT pg_backend_pid()"))
        doomed.close()  # back to the pool, idle
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


def test_a_connection_killed_while_idle_is_replaced_before_use(postgres, monkeypatch):
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    pid = _idle_connection_killed(postgres)
    for _ in range(3):  # whichever pooled connection comes out, the query runs
        with postgres.connect() as conn:
            assert conn.scalar(text("SELECT pg_backend_pid()")) != pid


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres, monkeypatch):
    """The ping is skipped when the connection was just in use: a killed one then fails
    once, and the pool is refreshed for the next request."""
    monkeypatch.setattr(db, "IDLE_PING_S", 3600.0)
    pid = _idle_connection_killed(postgres)
    with pytest.raises(OperationalError):
        with postgres.connect() as conn:
            for _ in range(3):  # reach the killed connection, whichever comes out first
                conn.scalar(text("SELECT 1"))
                conn.close()
                conn = postgres.connect()
    with postgres.connect() as conn:
        assert conn.scalar(text("SELECT pg_backend_pid()")) != pid


ADD = text(
    "INSERT INTO contacts (phone, role, failed_streak, created_at) "
    "VALUES (:phone, 'community', 0, CURRENT_TIMESTAMP)"
)
COUNT = "SELECT count(*) FROM contacts"


def test_soon_commits_each_statement_on_its_own(app):
    """On PostgreSQL another connection sees each write as soon as it has run, before the next
    one starts: no transaction around them. SQLite keeps one transaction (cheap and local)."""
    engine = app.extensions["engine"]
    postgres = engine.dialect.name == "postgresql"
    with seen_from_outside(engine, COUNT) as seen, db.soon(engine) as conn:
        for phone in ("+22370000001", "+22370000002"):
            conn.execute(ADD, {"phone": phone})
    assert seen == ([1, 2] if postgres else [0, 0])
    with engine.connect() as other:  # committed at the end on either database
        assert other.scalar(text(COUNT)) == 2


def test_a_failing_statement_in_soon_leaves_the_ones_before_it(app):
    """On PostgreSQL what ran before a failure stays: each statement was its own transaction."""
    engine = app.extensions["engine"]
    postgres = engine.dialect.name == "postgresql"
    with pytest.raises(IntegrityError), db.soon(engine) as conn:
        conn.execute(ADD, {"phone": "+22370000001"})
        conn.execute(ADD, {"phone": "+22370000001"})  # the same phone twice: refused
    with engine.connect() as other:
        assert other.scalar(text(COUNT)) == (1 if postgres else 0)


def test_a_lazy_session_opens_on_first_use_and_closes_at_the_end(app):
    """A hop that reads nothing opens no session; one that does opens one, closed after."""
    opened = []

    def open_session():
        opened.append(app.extensions["db"]())
        return opened[-1]

    with db.LazySession(open_session):
        pass
    assert opened == []
    with db.LazySession(open_session) as lazy:
        assert lazy.execute(text("SELECT 1")).scalar() == 1
        assert lazy.scalar(text("SELECT 2")) == 2
        assert len(opened) == 1 and opened[0].in_transaction()
    assert not opened[0].in_transaction()  # closed: its transaction is over


@pytest.mark.parametrize(
    ("item", "values"),
    [
        (Integer(), [3, None, -7, 2**31 - 1]),
        (String(64), ['a"b', "back\\slash", "{,}", "NULL", None, " spaced ", "", "é\u2019"]),
        (UTCDateTime(), [datetime(2026, 12, 6, 1, 2, 3, 456789, tzinfo=UTC), None,
                         datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-3)))]),
        (Numeric(12, 4), [Decimal("25.0000"), Decimal("-0.5"), None]),
        (Boolean(), [True, False, None]),
    ],
)  # fmt: skip
def test_a_listed_array_comes_back_element_for_element(postgres, item, values):
    """Each element of the array literal reads back as the value bound: quotes, backslashes,
    commas, braces, the word NULL and an empty string stay text; None is NULL."""
    elements = func.unnest(bindparam("values", type_=db.Listed(item)))
    elements = elements.table_valued("v").render_derived()
    with postgres.connect() as conn:
        back = conn.execute(select(type_coerce(elements.c.v, item)), {"values": values})
        assert back.scalars().all() == values


def test_one_of_writes_the_codes_words_into_the_statement_and_nothing_else(app):
    """The statuses are in the SQL, no parameter; a word that could break out is refused."""
    from sqlalchemy import column, select

    from app.infra.db import one_of

    statement = select(column("id")).where(one_of(column("status"), ("new", "verifying")))
    compiled = statement.compile(app.extensions["engine"])
    assert "status IN ('new', 'verifying')" in str(compiled)
    assert compiled.params == {}
    with pytest.raises(ValueError, match="not a plain word"):
        one_of(column("status"), ("new", "x') OR ('1"))


def test_a_failed_statements_error_shows_no_values(app):
    """An error's text may reach a log, a traceback or a report: never the phone it carried."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    with app.extensions["engine"].connect() as conn, pytest.raises(SQLAlchemyError) as caught:
        conn.execute(text("SELECT * FROM no_such_table WHERE phone = :phone"),
                     {"phone": "+22376543210"})  # fmt: skip
    assert "+22376543210" not in str(caught.value) and "hidden" in str(caught.value)
