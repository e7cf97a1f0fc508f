"""Recall quizzes: a passed module's questions asked again 7 days later.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("contact_id", sa.Integer, sa.ForeignKey("contacts.id"), nullable=False),
        sa.Column("module", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("postponed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("asking", sa.String(32)),
        sa.Column("sms_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("right", sa.Integer),
        sa.Column("questions", sa.Integer),
        sa.UniqueConstraint("contact_id", "module", name="uq_recall_contact_module"),
    )
    op.create_index("ix_recalls_due_at", "recalls", ["due_at"])


def downgrade():
    op.drop_index("ix_recalls_due_at", "recalls")
    op.drop_table("recalls")
