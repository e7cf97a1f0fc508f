"""Case routing: linked reports, referral, follow-ups, reminders and focal points.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("linked_to", sa.Integer))
        batch.add_column(sa.Column("reports", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("referred_to", sa.String(24)))
        batch.add_column(sa.Column("referred_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("follow_ups", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("follow_up_by", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True)))
        batch.create_foreign_key("fk_cases_linked_to", "cases", ["linked_to"], ["id"])
        batch.create_index("ix_cases_linked_to", ["linked_to"])
        batch.create_index("ix_cases_place", ["cercle", "sector", "status"])
    op.create_table(
        "focal_points",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("phone", sa.String(16), nullable=False, unique=True),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("pin_hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "focal_areas",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("focal_point_id", sa.Integer, sa.ForeignKey("focal_points.id"), nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
        sa.UniqueConstraint("focal_point_id", "area", name="uq_focal_area"),
    )
    op.create_index("ix_focal_areas_focal_point_id", "focal_areas", ["focal_point_id"])
    op.create_index("ix_focal_areas_area", "focal_areas", ["area"])


def downgrade():
    op.drop_table("focal_areas")
    op.drop_table("focal_points")
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_place")
        batch.drop_index("ix_cases_linked_to")
        batch.drop_constraint("fk_cases_linked_to", type_="foreignkey")
        for column in ("escalated_at", "reminded_at", "follow_up_by", "follow_ups",
                       "referred_at", "referred_to", "reports", "linked_to"):  # fmt: skip
            batch.drop_column(column)
