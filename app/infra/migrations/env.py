"""Alembic environment: migrate the database the caller hands over."""

from alembic import context

from app.infra import (
    calls,  # noqa: F401  (its tables join Base.metadata)
    media,  # noqa: F401  (its tables join the same metadata)
)
from app.infra.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
    # A migration may step out of its transaction (op.get_context().autocommit_block()) to
    # build an index CONCURRENTLY: the ones before it must be committed by then.
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
