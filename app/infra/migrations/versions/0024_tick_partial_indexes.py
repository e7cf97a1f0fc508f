"""What the tick looks for every ten seconds, indexed by itself: the delivery reports still
waiting for their SMS (the sweep), and the receipts whose number is not yet forgotten. Both
read the whole of their table before, a cost that grew with every SMS and report ever kept:
millions of rows a tick after a national campaign.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

# As each dialect writes applied.is_(False): a partial index is used only for a query
# whose terms imply its own.
WAITING = {"postgresql_where": sa.text("applied IS false"), "sqlite_where": sa.text("applied IS 0")}
KEPT = sa.text("kind = 'receipt' AND phone <> ''")


def upgrade():
    # CONCURRENTLY on PostgreSQL, outside the migration's transaction: a plain build would
    # hold the outbox's writes (every receipt, every send) for as long as it reads the table.
    with op.get_context().autocommit_block():
        # A build cut short (CONCURRENTLY, outside a transaction) leaves an invalid index
        # behind: a second try starts from none.
        for name, table in (("ix_delivery_reports_waiting", "delivery_reports"),
                            ("ix_outbox_receipts_kept", "outbox")):  # fmt: skip
            op.drop_index(name, table_name=table, if_exists=True, postgresql_concurrently=True)
        op.create_index(
            "ix_delivery_reports_waiting",
            "delivery_reports",
            ["provider_id", "provider"],
            postgresql_concurrently=True,
            **WAITING,
        )
        op.create_index(
            "ix_outbox_receipts_kept",
            "outbox",
            ["id"],
            postgresql_where=KEPT,
            sqlite_where=KEPT,
            postgresql_concurrently=True,
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_outbox_receipts_kept", table_name="outbox", postgresql_concurrently=True)
        op.drop_index(
            "ix_delivery_reports_waiting",
            table_name="delivery_reports",
            postgresql_concurrently=True,
        )
