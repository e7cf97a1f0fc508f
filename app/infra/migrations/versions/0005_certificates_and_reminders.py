"""Training certificates, and reminder bookkeeping on module progress.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False, unique=True
        ),  # fmt: skip
        sa.Column("code", sa.String(12), nullable=False, unique=True),
        sa.Column("modules", sa.Integer, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("questions", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("module_progress") as batch:
        batch.add_column(sa.Column("reminders", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True)))


def downgrade():
    with op.batch_alter_table("module_progress") as batch:
        batch.drop_column("reminded_at")
        batch.drop_column("reminders")
    op.drop_table("certificates")
