"""SMS: outbox, campaigns, delivery reports, inbound messages; contact reachability.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("region", sa.String(60)))
        batch.add_column(sa.Column("commune", sa.String(60)))
        batch.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("unreachable_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("failed_streak", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("messages", sa.Text, nullable=False),
        sa.Column("audience", sa.Text, nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate", sa.Integer),
        sa.Column("budget", sa.Numeric(14, 4)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("cursor", sa.Integer, nullable=False, server_default="0"),
        sa.Column("recipients", sa.Integer, nullable=False, server_default="0"),
        sa.Column("estimated_cost", sa.Numeric(14, 4), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expanded_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("campaign_id", sa.Integer, sa.ForeignKey("campaigns.id")),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("estimated_cost", sa.Numeric(12, 4), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("lease_owner", sa.String(40)),
        sa.Column("provider_id", sa.String(64)),
        sa.Column("status_code", sa.Integer),
        sa.Column("provider_status", sa.String(40)),
        sa.Column("cost", sa.String(32)),
        sa.Column("provider_parts", sa.Integer),
        sa.Column("reason", sa.String(200)),
        sa.Column("delivery_status", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "not_before"])
    op.create_index("ix_outbox_campaign", "outbox", ["campaign_id", "status"])
    op.create_index("ix_outbox_provider_id", "outbox", ["provider_id"])
    op.create_table(
        "delivery_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("phone", sa.String(16)),
        sa.Column("network_code", sa.String(16)),
        sa.Column("failure_reason", sa.String(64)),
        sa.Column("retry_count", sa.Integer),
        sa.Column("applied", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("provider_id", "status", name="uq_delivery_reports_id_status"),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("provider_id", sa.String(64), nullable=False, unique=True),
        sa.Column("phone", sa.String(16)),
        sa.Column("to", sa.String(32)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("link_id", sa.String(64)),
        sa.Column("network_code", sa.String(16)),
        sa.Column("date", sa.String(40)),
        sa.Column("keyword", sa.String(16)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("inbound_messages")
    op.drop_table("delivery_reports")
    op.drop_table("outbox")
    op.drop_table("campaigns")
    with op.batch_alter_table("contacts") as batch:
        for column in ("failed_streak", "unreachable_at", "opted_out_at", "commune", "region"):
            batch.drop_column(column)
