"""A caller's profile for the day, read with the contact marked seen: one SQL statement.

The first hop of a caller's day needs the contact (app/people/contacts.profile), their
training standing, tests and recalls (app/training) and their focal role. On PostgreSQL
one statement marks the contact seen (or creates it) and reads the rest, on a connection
in autocommit: no ORM session, no BEGIN, no ROLLBACK. SQLite cannot return rows from a
write inside another statement: there it takes two, in one local transaction.
"""

from datetime import UTC, datetime

from sqlalchemy import JSON, Integer, String, bindparam, func, literal, select, union_all
from sqlalchemy import update as update_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from app.infra.db import NO_WAIT, soon
from app.infra.models import (
    Contact,
    FocalPoint,
    ModuleProgress,
    QuizAnswer,
    Recall,
    UTCDateTime,
    day_of,
)
from app.people import contacts
from app.training import standing_of, tests_of
from app.training.recall import MAX_POSTPONED, pending_of
from flows.training.common import PRETEST, RECALL

_CONTACTS, _PROGRESS, _ANSWERS = Contact.__table__, ModuleProgress.__table__, QuizAnswer.__table__
_RECALLS, _POINTS = Recall.__table__, FocalPoint.__table__
_KEPT = ("id", "language", "role", "name", "organisation")  # what contacts.profile() reads
_PHONE = bindparam("v_phone", type_=String())
_NOW = bindparam("v_now", type_=UTCDateTime())
# A contact created by a first hop, as contacts.touch() creates one.
_FIRST = {"phone": _PHONE, "role": literal("community"), "failed_streak": literal(0, Integer()),
          "first_seen": _NOW, "last_seen": _NOW, "created_at": _NOW}  # fmt: skip


def listed(postgres: bool, table, names: tuple[str, ...], *where):
    """Select a table's rows as one JSON array of arrays, in the order they were written."""
    columns = [table.c[name] for name in names]
    if postgres:
        rows = postgresql.aggregate_order_by(func.json_build_array(*columns), table.c.id)
        return select(func.json_agg(rows, type_=JSON)).where(*where).scalar_subquery()
    # SQLite before 3.44 has no ORDER BY inside an aggregate: it keeps a subquery's order.
    ordered = select(*columns).where(*where).order_by(table.c.id).subquery()
    grouped = func.json_group_array(func.json_array(*ordered.c), type_=JSON)
    return select(grouped).scalar_subquery()


def _reads(postgres: bool, contact_id):
    """Return what the profile reads beyond the contact, for the contact with contact_id."""
    return (
        listed(postgres, _PROGRESS, ("module", "status", "position", "attempt", "best_score",
                                      "step", "finished_at"), _PROGRESS.c.contact_id == contact_id),
        listed(postgres, _ANSWERS, ("module", "question", "correct", "attempt"),
                _ANSWERS.c.contact_id == contact_id),
        listed(postgres, _RECALLS, ("module", "due_at"), _RECALLS.c.contact_id == contact_id,
                _RECALLS.c.finished_at.is_(None), _RECALLS.c.postponed < MAX_POSTPONED),
        select(_POINTS.c.role).where(_POINTS.c.phone == _PHONE).scalar_subquery(),
    )  # fmt: skip


def _postgres():
    """Mark seen, or create, then read: the writes are CTEs whose rows the read takes."""
    kept = [_CONTACTS.c[name] for name in _KEPT]
    seen = (
        update_rows(_CONTACTS)
        .where(_CONTACTS.c.phone == _PHONE)
        .values(last_seen=_NOW)
        .returning(*kept)
        .cte("seen")
    )
    # Only when the phone has no contact: an upsert would spend an id of the sequence on
    # every known caller's first hop. Two first hops at once: the second one marks seen.
    made = postgresql.insert(_CONTACTS).from_select(
        list(_FIRST), select(*_FIRST.values()).where(~select(seen.c.id).exists()),
        include_defaults=False,
    )  # fmt: skip
    made = made.on_conflict_do_update(
        index_elements=["phone"], set_={"last_seen": made.excluded.last_seen}
    )
    who = union_all(select(seen), select(made.returning(*kept).cte("made"))).cte("who")
    # NO_WAIT: the first hop's write may be lost in a crash, as its session holds it.
    return select(*who.c, *_reads(True, who.c.id)).where(NO_WAIT)


def _sqlite():
    """Return the upsert that marks seen or creates, and the read after it."""
    upsert = sqlite.insert(_CONTACTS).values(_FIRST)
    upsert = upsert.on_conflict_do_update(
        index_elements=["phone"], set_={"last_seen": upsert.excluded.last_seen}
    )
    kept = [_CONTACTS.c[name] for name in _KEPT]
    return upsert.returning(*kept), select(*_reads(False, bindparam("v_id", type_=Integer())))


_LOAD_PG = _postgres()
_TOUCH_SQLITE, _READ_SQLITE = _sqlite()


def load(engine: Engine, course, phone: str, now: datetime, day: str, cooldown_s: int) -> dict:
    """Mark phone's contact seen today (creating it on first contact); return its profile.

    The profile is what a session keeps of its caller, stamped with day: the contact's
    fields, "training" (training.standing), "tests", "recalls" and "focal".
    """
    params = {"v_phone": phone, "v_now": day_of(now)}
    with soon(engine) as conn:
        if conn.dialect.name == "postgresql":
            contact = conn.execute(_LOAD_PG, params).one()
            progress, answers, recalls, focal = contact[len(_KEPT) :]
        else:
            contact = conn.execute(_TOUCH_SQLITE, params).one()
            params["v_id"] = contact.id
            progress, answers, recalls, focal = conn.execute(_READ_SQLITE, params).one()
    answers = [(m, q, bool(c), a) for m, q, c, a in answers or ()]  # SQLite's are 0 and 1
    progress = [(*values, _moment(finished)) for *values, finished in progress or ()]
    return {
        **contacts.profile(contact, day),
        "training": standing_of(progress, answers, cooldown_s),
        "tests": tests_of(course, [(a, c) for m, _, c, a in answers if m == PRETEST]),
        "recalls": pending_of(
            [(module, _moment(due)) for module, due in recalls or ()],
            [(m, q, c) for m, q, c, a in answers if a == RECALL],
        ),
        "focal": focal,
    }


def _moment(text: str | None) -> datetime | None:
    """Read a time from JSON: ISO with its offset from PostgreSQL, UTC without from SQLite."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
