"""A delivery report is applied once per provider: ids are each provider's own, so the same
id and status from another provider is another report, not a repeat. A report keeps the
price a provider gives in it (Infobip), for a message whose send result comes after it.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("delivery_reports") as batch:
        batch.add_column(sa.Column("cost", sa.String(32)))
        batch.drop_constraint("uq_delivery_reports_id_status", type_="unique")
        batch.create_unique_constraint(
            "uq_delivery_reports_provider_id_status", ["provider", "provider_id", "status"]
        )


def downgrade():
    # The same id and status from two providers was one report before: the first is kept.
    op.execute(
        "DELETE FROM delivery_reports WHERE id NOT IN "
        "(SELECT min(id) FROM delivery_reports GROUP BY provider_id, status)"
    )
    with op.batch_alter_table("delivery_reports") as batch:
        batch.drop_constraint("uq_delivery_reports_provider_id_status", type_="unique")
        batch.create_unique_constraint("uq_delivery_reports_id_status", ["provider_id", "status"])
        batch.drop_column("cost")
