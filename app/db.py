"""The SQL database: one engine per app, one session per request."""

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine tuned for short webhook transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            # WAL lets the web app read while the worker writes; foreign keys
            # are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith("postgres://"):  # the scheme some hosts still hand out
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # A short connect timeout makes a dead database answer fast, so a USSD hop
    # can still apologise before the gateway gives up.
    return create_engine(
        url,
        pool_pre_ping=True,
        # Room for every thread of a web process (gunicorn --threads) and a few more.
        pool_size=16,
        max_overflow=8,
        # Times come back in UTC whatever the server's time zone, so months and
        # days are counted the same in Python as in the SQL that filtered them.
        connect_args={"connect_timeout": 3, "options": "-c timezone=UTC"},
    )


def init_app(app: Flask) -> None:
    """Create the app's engine and close request sessions on teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["engine"] = engine
    app.extensions["db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_db)


def get_db() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db" not in g:
        g.db = current_app.extensions["db"]()
    return g.db


def close_db(_exc=None) -> None:
    """Close this request's database session, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


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
