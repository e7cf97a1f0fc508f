"""Anonymous means anonymous: nothing kept links a report to a phone.

Drops the phone-derived hash from cases and the inputs and last screens of
USSD sessions, forgets the phone of every session that ended inside a report,
coarsens the times that could be matched (cases to the hour, contacts to the
day), and takes the phone out of receipt keys.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_events = sa.table(
    "ussd_events", sa.column("id"), sa.column("phone"), sa.column("last_node", sa.String)
)
_cases = sa.table("cases", sa.column("id"), sa.column("created_at", sa.DateTime(timezone=True)))
_case_events = sa.table(
    "case_events",
    sa.column("id"),
    sa.column("actor", sa.String),
    sa.column("at", sa.DateTime(timezone=True)),
)
_contacts = sa.table(
    "contacts",
    sa.column("id"),
    sa.column("first_seen", sa.DateTime(timezone=True)),
    sa.column("last_seen", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_outbox = sa.table("outbox", sa.column("id"), sa.column("key", sa.String), sa.column("kind"))


def _coarsen(bind, table, columns, unit):
    """Round each column of every row down to the hour or the day, in Python for both SQLs."""
    rows = bind.execute(sa.select(table.c.id, *(table.c[c] for c in columns))).all()
    for row in rows:
        values = {}
        for name, moment in zip(columns, row[1:], strict=True):
            if moment is None:
                continue
            rounded = moment.replace(minute=0, second=0, microsecond=0)
            if unit == "day":
                rounded = rounded.replace(hour=0)
            if rounded != moment:
                values[name] = rounded
        if values:
            bind.execute(sa.update(table).where(table.c.id == row[0]).values(**values))


def upgrade():
    bind = op.get_bind()
    report_nodes = sa.or_(_events.c.last_node.like("r.%"), _events.c.last_node == "report")
    bind.execute(sa.update(_events).where(report_nodes).values(phone=None))
    with op.batch_alter_table("ussd_events") as batch:
        batch.drop_column("input")
        batch.drop_column("last_response")
    op.drop_index("ix_cases_reporter_hash", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("reporter_hash")
    _coarsen(bind, _cases, ("created_at",), "hour")
    report_events = sa.select(_case_events.c.id, _case_events.c.at).where(
        _case_events.c.actor == "report"
    )
    for event_id, at in bind.execute(report_events).all():
        rounded = at.replace(minute=0, second=0, microsecond=0)
        if rounded != at:
            bind.execute(
                sa.update(_case_events).where(_case_events.c.id == event_id).values(at=rounded)
            )
    _coarsen(bind, _contacts, ("first_seen", "last_seen", "created_at"), "day")
    for message_id, key in bind.execute(
        sa.select(_outbox.c.id, _outbox.c.key).where(_outbox.c.kind == "receipt")
    ).all():
        bind.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == message_id)
            .values(key=":".join(key.split(":")[:2]))
        )


def downgrade():
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column("reporter_hash", sa.String(64), nullable=False, server_default="")
        )
    op.create_index("ix_cases_reporter_hash", "cases", ["reporter_hash"])
    with op.batch_alter_table("ussd_events") as batch:
        batch.add_column(sa.Column("input", sa.Text))
        batch.add_column(sa.Column("last_response", sa.Text))
