"""The provider's id is indexed only once the provider gave it: an SMS's row is written three
times as it goes out (claimed, sending, sent), each time a new entry in every index that
takes the row, and until the last one the id is empty.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

GIVEN = sa.text("provider_id IS NOT NULL")


def upgrade():
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    op.create_index(
        "ix_outbox_provider_id",
        "outbox",
        ["provider_id"],
        postgresql_where=GIVEN,
        sqlite_where=GIVEN,
    )


def downgrade():
    op.drop_index("ix_outbox_provider_id", table_name="outbox")
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])
