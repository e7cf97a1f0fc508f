"""A site's name kept as reports about it are matched: lower case, without accents or extra
spaces, made in Python. The databases' lower() differ (SQLite's lowers A to Z only, and so
does PostgreSQL's under the C locale): "SÉGOU" and "Ségou" were two sites to SQLite.

The cases filed before get their key here, a batch a transaction: reports are filed
meanwhile, and wait for no lock held across the whole table. Those a release before this
one files while it still runs beside the new one (a rolling deploy) get theirs from the
tick (app/cases/filing.rekey), which the partial index keeps cheap.

Revision ID: 0025
Revises: 0024
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_cases = sa.table("cases", sa.column("id"), sa.column("place", sa.String),
                  sa.column("place_key", sa.String))  # fmt: skip
UNKEYED = sa.text("place_key IS NULL AND place IS NOT NULL")
BATCH = 1000


def _key(place: str) -> str:
    """app/cases/filing.site_key as of this revision ("" for a blank name, as rekey gives)."""
    bare = unicodedata.normalize("NFKD", place.replace("œ", "oe").replace("æ", "ae"))
    folded = "".join(c for c in bare if not unicodedata.combining(c)).lower()
    return " ".join(folded.split())[:120]


def upgrade():
    op.add_column("cases", sa.Column("place_key", sa.String(120)))
    # Outside the migration's transaction, as 0024's: nothing holds the table for long.
    with op.get_context().autocommit_block():
        # A build cut short (CONCURRENTLY, outside a transaction) leaves an invalid index.
        op.drop_index("ix_cases_unkeyed", table_name="cases", if_exists=True,
                      postgresql_concurrently=True)  # fmt: skip
        op.create_index("ix_cases_unkeyed", "cases", ["id"], postgresql_where=UNKEYED,
                        sqlite_where=UNKEYED, postgresql_concurrently=True)  # fmt: skip
        bind, last = op.get_bind(), 0
        unkeyed = sa.select(_cases.c.id, _cases.c.place).where(
            _cases.c.place_key.is_(None), _cases.c.place.is_not(None)
        )
        # One statement a batch: in autocommit, a transaction of its own.
        while rows := bind.execute(
            unkeyed.where(_cases.c.id > last).order_by(_cases.c.id).limit(BATCH)
        ).all():
            keys = {id_: _key(place) for id_, place in rows}
            bind.execute(
                sa.update(_cases)
                .where(_cases.c.id.in_(list(keys)))
                .values(place_key=sa.case(keys, value=_cases.c.id))
            )
            last = rows[-1][0]


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_cases_unkeyed", table_name="cases", postgresql_concurrently=True)
    op.drop_column("cases", "place_key")
