"""The console's contacts and inbox: consent to opt back in, inbound SMS handled or answered.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CONSENT = ("consent_at", "consent_by", "consent_how", "consent_note")
HANDLING = ("answer_id", "handled_by", "handled_at", "recall")


def upgrade():
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("consent_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("consent_by", sa.String(254)))
        batch.add_column(sa.Column("consent_how", sa.String(16)))
        batch.add_column(sa.Column("consent_note", sa.String(200)))
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("recall", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("handled_by", sa.String(254)))
        batch.add_column(sa.Column("answer_id", sa.Integer))
        batch.create_foreign_key("fk_inbound_messages_answer_id", "outbox", ["answer_id"], ["id"])
        batch.create_index("ix_inbound_messages_phone", ["phone"])
    # A contact's page and a deletion find its messages by phone.
    op.create_index("ix_outbox_phone", "outbox", ["phone"])
    # Digits texted back by a phone that was sent recall questions were answers, before this
    # release marked them: they stay out of the inbox.
    op.execute(
        "UPDATE inbound_messages SET recall = true WHERE keyword IS NULL"
        " AND trim(text) IN ('1', '2', '3', '4', '5')"
        " AND phone IN (SELECT contacts.phone FROM contacts JOIN recalls"
        " ON recalls.contact_id = contacts.id WHERE recalls.sms_at IS NOT NULL)"
    )


def downgrade():
    op.drop_index("ix_outbox_phone", "outbox")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_index("ix_inbound_messages_phone")
        batch.drop_constraint("fk_inbound_messages_answer_id", type_="foreignkey")
        for column in HANDLING:
            batch.drop_column(column)
    # Dropped in place: SQLite could not rebuild a table that others' rows point to.
    with op.batch_alter_table("contacts", recreate="never") as batch:
        for column in reversed(CONSENT):
            batch.drop_column(column)
