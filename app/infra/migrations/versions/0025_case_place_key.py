"""A site's name kept as reports about it are matched: lower case, without accents or extra
spaces, made in Python. The databases' lower() differ (SQLite's lowers A to Z only, and so
does PostgreSQL's under the C locale): "SÉGOU" and "Ségou" were two sites to SQLite.

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
BATCH = 1000


def _key(place: str) -> str | None:
    """app/cases/filing.site_key as of this revision (app/infra/folding.fold, spaces collapsed)."""
    bare = unicodedata.normalize("NFKD", place.replace("œ", "oe").replace("æ", "ae"))
    folded = "".join(c for c in bare if not unicodedata.combining(c)).lower()
    return " ".join(folded.split())[:120] or None


def upgrade():
    op.add_column("cases", sa.Column("place_key", sa.String(120)))
    bind = op.get_bind()
    named = sa.select(_cases.c.id, _cases.c.place).where(_cases.c.place.is_not(None))
    keyed = (
        sa.update(_cases)
        .where(_cases.c.id == sa.bindparam("b_id"))
        .values(place_key=sa.bindparam("b_key"))
    )
    last = 0
    while rows := bind.execute(named.where(_cases.c.id > last).order_by(_cases.c.id)
                               .limit(BATCH)).all():  # fmt: skip
        bind.execute(keyed, [{"b_id": id_, "b_key": _key(place)} for id_, place in rows])
        last = rows[-1][0]


def downgrade():
    op.drop_column("cases", "place_key")
