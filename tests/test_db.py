"""The database engine: pooled connections that outlive a restart, and the hot path's writes."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.infra import db


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


def test_soon_commits_each_statement_on_its_own(app):
    engine = app.extensions["engine"]
    with db.soon(engine) as conn:
        conn.execute(
            text("INSERT INTO contacts (phone, role, failed_streak, created_at) "
                 "VALUES ('+22370000001', 'community', 0, CURRENT_TIMESTAMP)")
        )  # fmt: skip
    with engine.connect() as other:  # committed: another connection sees it
        assert other.scalar(text("SELECT count(*) FROM contacts")) == 1
