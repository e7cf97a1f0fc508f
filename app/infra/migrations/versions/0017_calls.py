"""Voice calls: each call as the gateway reported it (length, price, hang-up), calls to make,
and the hour an agent wants lesson calls at.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False, unique=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("number", sa.String(20)),
        sa.Column("phone", sa.String(16)),
        sa.Column("reason", sa.String(12), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("duration_s", sa.Integer),
        sa.Column("currency", sa.String(3)),
        sa.Column("amount", sa.Numeric(12, 4)),
        sa.Column("hangup_cause", sa.String(64)),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_table(
        "call_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("session_id", sa.String(64), unique=True),
        sa.Column("error", sa.String(200)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_call_requests_due", "call_requests", ["status", "due_at"])
    op.create_index("ix_call_requests_phone", "call_requests", ["phone", "reason"])
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("call_hour", sa.Integer))


def downgrade():
    # Dropped in place: SQLite could not rebuild a table that others' rows point to.
    with op.batch_alter_table("contacts", recreate="never") as batch:
        batch.drop_column("call_hour")
    op.drop_index("ix_call_requests_phone", "call_requests")
    op.drop_index("ix_call_requests_due", "call_requests")
    op.drop_table("call_requests")
    op.drop_index("ix_calls_started_at", "calls")
    op.drop_table("calls")
