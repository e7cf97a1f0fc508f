"""Repeating campaigns: an interval in days and the current occurrence.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("repeat_days", sa.Integer))
        batch.add_column(sa.Column("occurrence", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("occurrence")
        batch.drop_column("repeat_days")
