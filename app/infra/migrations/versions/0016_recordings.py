"""Voice recordings kept with cases: a report's site, said on a call, fetched by a worker.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer, primary_key=True),
        # A case's recordings go with its row, whoever deletes it.
        sa.Column(
            "case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("source_url", sa.String(1000)),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("not_before", sa.DateTime(timezone=True)),
        sa.Column("size", sa.Integer),
        sa.Column("content_type", sa.String(40)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True)),
        sa.Column("error", sa.String(200)),
    )
    op.create_index("ix_recordings_case_id", "recordings", ["case_id"])
    op.create_index("ix_recordings_due", "recordings", ["status", "not_before"])


def downgrade():
    # The files under RECORDINGS_DIR stay: delete them by hand if the table must go.
    op.drop_index("ix_recordings_due", "recordings")
    op.drop_index("ix_recordings_case_id", "recordings")
    op.drop_table("recordings")
