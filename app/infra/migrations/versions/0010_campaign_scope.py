"""Campaigns remember the area they were sent to and who sent them; longer case actors.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("scope", sa.String(40)))
        batch.add_column(sa.Column("created_by", sa.String(254)))
    # "console:" and an email of up to 254 characters must fit in a case's timeline.
    with op.batch_alter_table("case_events") as batch:
        batch.alter_column("actor", type_=sa.String(300), existing_type=sa.String(64))


def downgrade():
    with op.batch_alter_table("case_events") as batch:
        batch.alter_column("actor", type_=sa.String(64), existing_type=sa.String(300))
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("created_by")
        batch.drop_column("scope")
