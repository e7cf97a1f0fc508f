"""Schema migrations with Alembic, driven from code rather than alembic.ini."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

SCRIPTS = Path(__file__).resolve().parent / "migrations"


def _config(connection) -> Config:
    """Build an Alembic config bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to revision, each migration in a transaction of its own.

    Not all of them in one: an index on a large table is built CONCURRENTLY on PostgreSQL,
    outside any transaction, so that writes go on meanwhile (env.py).
    """
    with engine.connect() as connection:
        command.upgrade(_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back to revision, each migration in a transaction of its own."""
    with engine.connect() as connection:
        command.downgrade(_config(connection), revision)


def current(engine: Engine) -> str | None:
    """Return the database's schema revision, or None before any migration."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
