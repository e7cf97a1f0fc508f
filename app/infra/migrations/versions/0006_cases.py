"""Cases opened from community reports.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(8), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False),
        sa.Column("sector", sa.String(16)),
        sa.Column("region", sa.String(32)),
        sa.Column("cercle", sa.String(32)),
        sa.Column("place", sa.String(60)),
        sa.Column("children", sa.String(8)),
        sa.Column("age", sa.String(8)),
        sa.Column("sex", sa.String(8)),
        sa.Column("school", sa.String(8)),
        sa.Column("hazard", sa.String(16)),
        sa.Column("contactable", sa.Boolean, nullable=False),
        sa.Column("reporter_hash", sa.String(64), nullable=False),
        sa.Column("reporter_phone", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cases_reporter_hash", "cases", ["reporter_hash"])


def downgrade():
    op.drop_table("cases")
