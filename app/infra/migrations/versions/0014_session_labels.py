"""USSD sessions keep the training screens they showed, for each module's funnel.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    # Older sessions have none: the funnel falls back on each learner's saved progress.
    op.add_column("ussd_events", sa.Column("labels", sa.Text))


def downgrade():
    op.drop_column("ussd_events", "labels")
