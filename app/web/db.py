"""One database session per request, opened on first use and closed on teardown."""

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


def close_db(_exc=None) -> None:
    """Close this request's database session, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()
