"""Contacts and USSD end-of-session events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(16), nullable=False, unique=True),
        sa.Column("name", sa.String(60)),
        sa.Column("language", sa.String(8)),
        sa.Column("role", sa.String(16), nullable=False, server_default="community"),
        sa.Column("organisation", sa.String(60)),
        sa.Column("cercle", sa.String(60)),
        sa.Column("first_seen", sa.DateTime(timezone=True)),
        sa.Column("last_seen", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_role", "contacts", ["role"])
    op.create_table(
        "ussd_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False, unique=True),
        sa.Column("phone", sa.String(16)),
        sa.Column("service_code", sa.String(32)),
        sa.Column("network_code", sa.String(16)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("cost", sa.String(32)),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("hops", sa.Integer),
        sa.Column("input", sa.Text),
        sa.Column("last_response", sa.Text),
        sa.Column("error_message", sa.Text),
        sa.Column("last_node", sa.String(64)),
        sa.Column("date", sa.String(32)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ussd_events_last_node", "ussd_events", ["status", "last_node"])


def downgrade():
    op.drop_table("ussd_events")
    op.drop_table("contacts")
