"""The models and the migrations describe the same schema."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from app.infra.models import Base


def test_migrations_match_the_models(app):
    with app.extensions["engine"].connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_times_come_back_in_utc_whatever_the_servers_zone(app):
    """PostgreSQL sessions run in UTC, so a month counted in Python is the month SQL filtered."""

    engine = app.extensions["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores times as written; the setting is PostgreSQL's")
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW timezone")) == "UTC"
        moment = conn.scalar(text("SELECT TIMESTAMPTZ '2026-03-31 23:30:00+00'"))
    assert (moment.month, moment.utcoffset().total_seconds()) == (3, 0)
