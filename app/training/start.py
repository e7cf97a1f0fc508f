"""A module's first step: its row made, and what the session needs read back, in one statement.

The first lesson of a module (or its quiz, entered first) finds no row for it in the cached
standing. The full path (training.apply) touched the contact, looked for the row, inserted
it and read the standing, tests and recalls again, through an ORM session: nine statements
and several milliseconds. The first hop of the day already marked the contact seen and
cached the rest (app/people/profile.py), and a module's first step changes only its own
row. So on PostgreSQL one statement, in autocommit, marks the contact seen if it was not
today, inserts the row, and returns it with the module's answers: the new entry of the
cached standing, as training.standing() would read it. SQLite takes three. A row already
there, or a contact gone since the profile was cached: nothing is inserted, and the full
path does what it always did.
"""

from datetime import datetime

from sqlalchemy import Integer, String, and_, bindparam, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.infra.db import NO_WAIT, soon
from app.infra.models import Contact, ModuleProgress, QuizAnswer, UTCDateTime, day_of
from app.people.profile import listed
from app.training import standing_of
from flows.effects import SaveProgress
from flows.training.common import PRETEST

_CONTACTS, _PROGRESS = Contact.__table__, ModuleProgress.__table__
_ID, _MODULE = bindparam("v_id", type_=Integer()), bindparam("v_module", type_=String())
_NOW = bindparam("v_now", type_=UTCDateTime())
_DAY = bindparam("v_day", type_=UTCDateTime())
# The cached profile's contact, still this phone's: else the full path (contacts.touch).
_HIS = and_(_CONTACTS.c.id == _ID, _CONTACTS.c.phone == bindparam("v_phone", type_=String()))
# As contacts.touch() marks it, and only if the first hop of the day has not (a day
# counted in UTC may turn while the caller's local day goes on).
_SEEN = (
    update(_CONTACTS)
    .where(_HIS, _CONTACTS.c.last_seen.is_distinct_from(_DAY))
    .values(last_seen=_DAY)
)
# The row as training.apply() makes it for a first step: started, at the step's place.
_ROW = {"contact_id": _CONTACTS.c.id, "module": _MODULE, "status": literal("started"),
        "position": bindparam("v_position", type_=String()), "attempt": literal(0, Integer()),
        "started_at": _NOW, "updated_at": _NOW, "reminders": literal(0, Integer()),
        "step": literal(1, Integer())}  # fmt: skip  # the first step counted, as apply() does
# What training.standing() reads of a row, in its order.
_READ = ("module", "status", "position", "attempt", "best_score", "step", "finished_at")


def _made(dialect):
    """Insert the module's row unless it exists; return what standing() reads of it."""
    made = dialect.insert(_PROGRESS).from_select(
        list(_ROW), select(*_ROW.values()).where(_HIS), include_defaults=False
    )
    made = made.on_conflict_do_nothing(index_elements=["contact_id", "module"])
    return made.returning(*(_PROGRESS.c[name] for name in _READ))


def _answers(postgres: bool):
    """The module's answers so far, as standing() reads them, in the order given."""
    table = QuizAnswer.__table__
    names = ("module", "question", "correct", "attempt")
    return listed(postgres, table, names, table.c.contact_id == _ID, table.c.module == _MODULE)


def _postgres():
    """Mark seen and insert, as CTEs; read the row made and the module's answers."""
    made = _made(postgresql).cte("made")
    seen = _SEEN.returning(_CONTACTS.c.id).cte("seen")
    # NO_WAIT: a first step may be lost in a crash, as its session holds it.
    return select(*made.c, _answers(True)).add_cte(seen).where(NO_WAIT)


_START_PG = _postgres()
_MADE_SQLITE, _ANSWERS_SQLITE = _made(sqlite), select(_answers(False))


def start(engine: Engine, profile: dict, phone: str, effects, now: datetime, cooldown_s: int):
    """Open a module the cached standing lacks; return the standing with it, or None.

    None when the effects are not one module's first step, or when the row was not
    made (it exists, or the contact is gone): the full path (training.apply) then.
    """
    if "id" not in profile or len(effects) != 1 or not isinstance(effects[0], SaveProgress):
        return None
    effect, standing = effects[0], dict(profile.get("training") or {})
    if effect.module in standing or effect.module == PRETEST:
        return None
    params = {"v_id": profile["id"], "v_phone": phone, "v_module": effect.module,
              "v_position": effect.position, "v_now": now, "v_day": day_of(now)}  # fmt: skip
    try:
        with soon(engine) as conn:
            if conn.dialect.name == "postgresql":
                found = conn.execute(_START_PG, params).first()
            else:
                conn.execute(_SEEN, params)
                row = conn.execute(_MADE_SQLITE, params).first()
                found = (
                    None if row is None else (*row, conn.execute(_ANSWERS_SQLITE, params).scalar())
                )
    except IntegrityError:  # the contact deleted meanwhile: the full path makes it again
        return None
    if found is None:
        return None
    *row, answers = found
    every = [(m, q, bool(c), a) for m, q, c, a in answers or ()]  # SQLite's are 0 and 1
    standing.update(standing_of([row], every, cooldown_s))
    return standing
