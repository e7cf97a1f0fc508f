"""A module's row counts its steps: the steps written behind (app/training/behind.py) are
ordered by that count, which the hops keep, and no longer by the web nodes' clocks.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("module_progress") as batch:
        batch.add_column(sa.Column("step", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("module_progress") as batch:
        batch.drop_column("step")
