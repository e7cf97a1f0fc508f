"""One database session per request, opened on first use and closed on teardown; one more on
the read replica, for the pages that only read."""

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def init_app(app: Flask) -> None:
    """Close each request's database session when its context ends."""
    app.teardown_appcontext(close_db)


def get_db() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db" not in g:
        g.db = current_app.extensions["db"]()
    return g.db


def get_read_db() -> Session:
    """Return this request's session on the read replica (DATABASE_READ_URL), or its own
    session when there is none: for pages whose figures may be a moment old."""
    if current_app.extensions["read_db"] is current_app.extensions["db"]:
        return get_db()
    if "read_db" not in g:
        g.read_db = current_app.extensions["read_db"]()
    return g.read_db


def close_db(_exc=None) -> None:
    """Close this request's database sessions, if any were opened."""
    for name in ("db", "read_db"):
        db = g.pop(name, None)
        if db is not None:
            db.close()
