"""Delivery reports are looked up by the provider's id: the send's record asks, for each SMS,
whether a report came before it, and a report's arrival, whether its SMS is known. Since
0019 the only index led with the provider, which those lookups do not all name: each read
the whole table, a cost that grew with every report ever received.

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_delivery_reports_provider_id", "delivery_reports", ["provider_id"])


def downgrade():
    op.drop_index("ix_delivery_reports_provider_id", table_name="delivery_reports")
