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
    "ussd_events",
    sa.column("id"),
    sa.column("phone"),
    sa.column("last_node", sa.String),
    sa.column("network_code"),
    sa.column("cost"),
    sa.column("duration_ms"),
    sa.column("hops"),
    sa.column("error_message"),
    sa.column("date"),
    sa.column("received_at", sa.DateTime(timezone=True)),
)
_cases = sa.table("cases", sa.column("id"), sa.column("created_at", sa.DateTime(timezone=True)))
_case_events = sa.table(
    "case_events",
    sa.column("id"),
    sa.column("case_id"),
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


def _round(moment, unit: str):
    rounded = moment.replace(minute=0, second=0, microsecond=0)
    return rounded.replace(hour=0) if unit == "day" else rounded


def _coarsen(bind, table, columns, unit, where=None):
    """Round each column of the rows down to the hour or the day, in Python for both SQLs."""
    query = sa.select(table.c.id, *(table.c[c] for c in columns))
    for row in bind.execute(query if where is None else query.where(where)).all():
        moments = zip(columns, row[1:], strict=True)
        values = {name: _round(moment, unit) for name, moment in moments if moment is not None}
        if values:
            bind.execute(sa.update(table).where(table.c.id == row[0]).values(**values))


def _drop_columns(table: str, *columns: str) -> None:
    """Drop columns in place: rebuilding cases on SQLite would break the rows that point at it."""
    for column in columns:
        op.drop_column(table, column)


def upgrade():
    bind = op.get_bind()
    # A session that ended in a report, or whose last screen was not known (it had
    # expired, or Redis was down), keeps no number, nor anything to match it by.
    anonymous = sa.or_(
        _events.c.last_node.like("r.%"),
        _events.c.last_node == "report",
        _events.c.last_node.is_(None),
    )
    bind.execute(
        sa.update(_events)
        .where(anonymous)
        .values(
            phone=None,
            network_code=None,
            cost=None,
            duration_ms=None,
            hops=None,
            error_message=None,
            date=None,
        )  # fmt: skip
    )
    _coarsen(bind, _events, ("received_at",), "hour", _events.c.phone.is_(None))
    _drop_columns("ussd_events", "input", "last_response")
    op.drop_index("ix_cases_reporter_hash", table_name="cases")
    _drop_columns("cases", "reporter_hash")
    # What was written when a case opened (its first entries, its assignment) went
    # with it: to the hour too.
    opened = dict(bind.execute(sa.select(_cases.c.id, _cases.c.created_at)).all())
    for event_id, case_id, at in bind.execute(sa.select(*_case_events.c)).all():
        if at is not None and at == opened.get(case_id):
            bind.execute(
                sa.update(_case_events)
                .where(_case_events.c.id == event_id)
                .values(at=_round(at, "hour"))
            )
    _coarsen(bind, _cases, ("created_at",), "hour")
    _coarsen(bind, _contacts, ("first_seen", "last_seen", "created_at"), "day")
    receipts = sa.select(_outbox.c.id, _outbox.c.key).where(_outbox.c.kind == "receipt")
    for message_id, key in bind.execute(receipts).all():
        bind.execute(
            sa.update(_outbox)
            .where(_outbox.c.id == message_id)
            .values(key=":".join(key.split(":")[:2]))
        )


def downgrade():
    op.add_column("cases", sa.Column("reporter_hash", sa.String(64), nullable=False,
                                     server_default=""))  # fmt: skip
    op.create_index("ix_cases_reporter_hash", "cases", ["reporter_hash"])
    op.add_column("ussd_events", sa.Column("input", sa.Text))
    op.add_column("ussd_events", sa.Column("last_response", sa.Text))
