"""The SQL database: the engine, and commits that need not wait for the disk."""

import contextlib
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Integer,
    Text,
    TypeDecorator,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from app.infra import folding


def make_engine(url: str) -> Engine:
    """Create an engine tuned for short webhook transactions, whose errors show no values."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 5}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            # WAL lets the web app read while the worker writes; foreign keys
            # are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Searches fold names in SQL (app.infra.folding): here, with Python's own fold.
            dbapi_connection.create_function(folding.SQL_NAME, 1, folding.fold, deterministic=True)
            cursor.close()

        return engine
    if url.startswith("postgres://"):  # the scheme some hosts still hand out
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(
        url,
        # A failed statement's error names its values only as placeholders: a report's
        # receipt phone rides with its case, and a traceback may go anywhere.
        hide_parameters=True,
        # Room for every thread of a web process (gunicorn --threads) and a few more.
        pool_size=16,
        max_overflow=8,
        connect_args={
            # A short connect timeout makes a dead database answer fast, so a USSD hop
            # can still apologise before the gateway gives up.
            "connect_timeout": 3,
            # No server-side prepared statements: behind PgBouncer in transaction pooling
            # the next transaction may run on another server connection, where psycopg's
            # _pg3_0 is missing or another's. They save nothing on the USSD journeys anyway:
            # the rollback that ends each request empties psycopg's cache before a statement
            # is prepared (bench/prepared.py). One way to connect, pooler or not.
            "prepare_threshold": None,
        },
    )
    _in_utc(engine)
    _ping_when_idle(engine)
    return engine


def _in_utc(engine: Engine) -> None:
    """Read and write times in UTC whatever the server's time zone, so months and days
    are counted the same in Python as in the SQL that filtered them."""

    @event.listens_for(engine, "connect")
    def _utc(dbapi_connection, _record):
        # Not the startup packet's options (-c timezone=UTC): PgBouncer refuses the
        # connection then. TimeZone is one of the settings PgBouncer keeps per client
        # and sets again on whichever server connection it lends, so this session-wide
        # SET holds in transaction pooling too.
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()


IDLE_PING_S = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use, but only if it sat idle for a while.

    A database restart or a dropped link kills idle connections; pinging each
    on every checkout (pool_pre_ping) would cost every hop a round trip. A
    connection used a moment ago is alive; one whose link broke while in use
    fails that request and SQLAlchemy then refreshes the whole pool.
    """

    @event.listens_for(engine.pool, "checkin")
    def _idle_from(_dbapi_connection, record):
        record.info["idle_from"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_connection, record, _proxy):
        idle_from = record.info.get("idle_from")
        if idle_from is not None and time.monotonic() - idle_from > IDLE_PING_S:
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:  # any failure: the pool connects afresh
                raise DisconnectionError("idle connection is dead") from exc
            if not alive:
                raise DisconnectionError("idle connection is dead")


def commit_soon(db: Session) -> None:
    """Commit without waiting for the disk, for what a database crash may lose.

    On PostgreSQL the commit returns before its WAL is flushed (at most about
    0.6 s of such commits can go in a crash; nothing is ever corrupted). For a
    caller's place in a lesson, a quiz answer or the last time a phone was seen:
    the USSD session holds them too. Reports, case moves and certificates use a
    plain commit.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SET LOCAL synchronous_commit TO OFF"))
    db.commit()


# A condition that holds, and makes the PostgreSQL statement it is in commit without
# waiting for the disk (set_config(..., true) is SET LOCAL as a function): for a
# statement run in soon(), which is a transaction of its own, no round trip of its own.
NO_WAIT = func.set_config("synchronous_commit", "off", True) == "off"


@contextlib.contextmanager
def soon(engine: Engine):
    """Yield a connection for the hot path's writes, which each commit on their own.

    On PostgreSQL every statement is its own transaction (autocommit): a lesson's
    place or an answer is one round trip, not four (BEGIN, SET, the write, COMMIT).
    Its statements turn off waiting for the disk with NO_WAIT. SQLite
    keeps one transaction, as its writes are cheap and local.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def one_of(column, words: tuple[str, ...]):
    """Return "column IN ('a', 'b')", the words written into the statement: an IN of
    constants made a parameter that SQLAlchemy expands at every run (40 µs a statement).
    The words are the code's own (statuses): never what a caller typed."""
    if not all(word.isidentifier() for word in words):
        raise ValueError(f"not a plain word among {words!r}")
    return column.in_([literal_column(f"'{word}'") for word in words])


def among(column, name: str, postgresql: bool):
    """Return "column IN the list passed as parameter name": on PostgreSQL one array
    (= ANY), as a claim's five hundred ids cost SQLAlchemy and psycopg milliseconds as
    five hundred parameters; elsewhere an expanding IN."""
    if postgresql:
        return column == any_(bindparam(name, type_=Listed(column.type)))
    return column.in_(bindparam(name, expanding=True))


class LazySession:
    """An ORM session opened on first use, and closed at the end of the with block if opened.

    Most hops read nothing from the database, and making and closing a Session
    for each cost a twentieth of a navigation hop. Everything else is the Session's.
    """

    def __init__(self, open_session: Callable[[], Session]):
        self._open = open_session
        self._session: Session | None = None

    def __getattr__(self, name: str):
        if self._session is None:
            self._session = self._open()
        return getattr(self._session, name)

    def __enter__(self) -> "LazySession":
        return self

    def __exit__(self, *_exc) -> None:
        if self._session is not None:
            self._session.close()


def holds_nul(*values: str) -> bool:
    """Tell whether any text holds a NUL: no text column takes it (PostgreSQL refuses it)."""
    return any("\x00" in value for value in values)


class Listed(TypeDecorator):
    """A list bound as one PostgreSQL array literal in text, cast to an array of item.

    psycopg dumps a list element by element in Python, a tenth of a send's CPU; the
    literal is one join. Elements are quoted and escaped as array_in reads them.
    """

    impl = Text
    cache_ok = True

    def __init__(self, item):
        super().__init__()
        self.item = item

    def bind_expression(self, bindvalue):
        return cast(bindvalue, ARRAY(self.item))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(self.item, Integer):
            return "{" + ",".join([str(int(v)) if v is not None else "NULL" for v in value]) + "}"
        if all(type(v) is str for v in value) and value:
            joined = '","'.join(value)
            # No element holds a quote or a backslash (the common case): nothing to escape.
            if "\\" not in joined and joined.count('"') == 2 * (len(value) - 1):
                return '{"' + joined + '"}'
        before = self.item.process_bind_param if isinstance(self.item, TypeDecorator) else None
        return "{" + ",".join([_element(before(v, dialect) if before else v) for v in value]) + "}"


def _element(value) -> str:
    """Return one element of an array literal: NULL, or the value double-quoted."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        value = "t" if value else "f"
    elif isinstance(value, int | Decimal):
        value = str(value)
    elif isinstance(value, date):  # a datetime too; an aware one keeps its offset
        value = value.isoformat()
    elif not isinstance(value, str):
        raise TypeError(f"no array literal for {type(value).__name__}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
