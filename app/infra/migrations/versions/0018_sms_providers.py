"""SMS through several providers: who carried each message, replies pinned to the provider
and number the person wrote to, and the provider of each delivery report and inbound SMS.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("provider", sa.String(24)))
        batch.add_column(sa.Column("via", sa.String(24)))
        batch.add_column(sa.Column("sender", sa.String(32)))
    with op.batch_alter_table("delivery_reports") as batch:
        batch.add_column(sa.Column("provider", sa.String(24)))
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("provider", sa.String(24)))
    # Everything before went through Africa's Talking, the only provider there was: what it
    # took, and what may have reached it (a report may yet settle those).
    op.execute(
        "UPDATE outbox SET provider = 'africastalking' "
        "WHERE provider_id IS NOT NULL OR status IN ('sending', 'unknown')"
    )
    op.execute("UPDATE delivery_reports SET provider = 'africastalking'")
    op.execute("UPDATE inbound_messages SET provider = 'africastalking'")


def downgrade():
    # Dropped in place: SQLite could not rebuild a table that others' rows point to.
    for table in ("inbound_messages", "delivery_reports"):
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("provider")
    with op.batch_alter_table("outbox", recreate="never") as batch:
        batch.drop_column("sender")
        batch.drop_column("via")
        batch.drop_column("provider")
