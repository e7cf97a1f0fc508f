"""A module's first step in one statement: the same rows and standing as the full path's."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, event, insert, select, update
from sqlalchemy.orm import Session

from app import training
from app.conversation.effects import apply_effects
from app.infra.db import LazySession
from app.infra.keyring import fernet
from app.infra.models import Certificate, Contact, Message, ModuleProgress, QuizAnswer, Recall
from app.people import erasure, profile
from app.training import behind
from flows.effects import RecordAnswer, SaveProgress

from .conftest import Dial
from .test_profile import (
    NOW,
    PHONE,
    TODAY,
    agent_part_way,
    answers,
    community_member,
    module,
    neighbour,
    person,
    quiz,
    recall_due,
    retake_cooldown,
)

LATER = NOW + timedelta(minutes=3, microseconds=250_001)  # the hop, after the first of the day
TABLES = (Contact, ModuleProgress, QuizAnswer, Recall, Certificate, Message)


def fresh_agent(db, course):
    """An agent who has never opened a module."""
    person(db)


def answers_without_a_row(db, course):
    """Answers to the module under attempt 0 with no row (left by hand): the new entry's."""
    agent = person(db)
    answers(db, agent, course.modules[0].id, 0, [(quiz(course, 0)[1], True)])


# (certified: every module passed, none to open.)
BUILT = (fresh_agent, community_member, agent_part_way, retake_cooldown, recall_due,
         answers_without_a_row)  # fmt: skip
SCENARIOS = {f.__name__: f for f in BUILT}


def nothing(app, course):
    """The module opened a few hops after the first of the day."""


def seen_yesterday_in_utc(app, course):
    """The first hop of the caller's day marked the UTC day before (a local day goes on)."""
    table = Contact.__table__
    with app.extensions["engine"].begin() as conn:
        conn.execute(update(table).where(table.c.phone == PHONE).values(
            last_seen=datetime(2026, 12, 4, tzinfo=UTC)))  # fmt: skip


def module_row_already_there(app, course):
    """The row was made after the profile was cached: the full path, as before."""
    with app.extensions["db"]() as db:
        agent = db.scalars(select(Contact).where(Contact.phone == PHONE)).one()
        held = {r.module for r in db.scalars(select(ModuleProgress).where(
            ModuleProgress.contact_id == agent.id))}  # fmt: skip
        opened = next(m.id for m in course.modules if m.id not in held)
        module(db, agent, opened, "failed", 1, position="", best_score=1,
               finished_at=NOW - timedelta(days=3))  # fmt: skip
        db.commit()


def erased_since(app, course):
    """Deleted with their data after the first hop: the full path makes the contact again."""
    with app.extensions["db"]() as db:
        agent = db.scalars(select(Contact).where(Contact.phone == PHONE)).one()
        erasure.erase(db, agent, fernet(Fernet.generate_key().decode()), NOW, "/nonexistent")
        db.commit()


# What may happen between the first hop of the day and the module's first step; the last
# two leave the row to the full path.
SINCE = {f.__name__: f for f in (nothing, seen_yesterday_in_utc, module_row_already_there,
                                 erased_since)}  # fmt: skip
FULL = (module_row_already_there, erased_since)


def rows(app) -> dict:
    """Every row the training and the contact keep, without the ids a sequence gave: a
    contact is named by its phone (a contact made again has an id of its own)."""
    found = {}
    with app.extensions["engine"].connect() as conn:
        table = Contact.__table__
        phones = dict(conn.execute(select(table.c.id, table.c.phone)).all())
        for model in TABLES:
            table = model.__table__
            listed = conn.execute(select(table).order_by(table.c.id)).mappings().all()
            found[table.name] = [
                {k: phones.get(v) if k == "contact_id" else v for k, v in row.items() if k != "id"}
                for row in listed
            ]
    return found


def snapshot(app) -> dict:
    with app.extensions["engine"].connect() as conn:
        return {m: conn.execute(select(m.__table__)).mappings().all() for m in TABLES}


def put_back(app, kept: dict) -> None:
    """Undo the first way's writes: every table as it was."""
    with app.extensions["engine"].begin() as conn:
        for model in reversed(TABLES):
            conn.execute(delete(model.__table__))
        for model in TABLES:
            if kept[model]:
                conn.execute(insert(model.__table__), [dict(r) for r in kept[model]])


def cached(app, course) -> dict:
    """The profile the first hop of the day cached; with a module part way, two steps since,
    still queued to be written behind."""
    cooldown_s = app.config["TRAINING_RETAKE_COOLDOWN_S"]  # the hops' own
    held = profile.load(app.extensions["engine"], course, PHONE, NOW, TODAY, cooldown_s)
    first = course.modules[0].id
    if held["training"].get(first, {}).get("status") == "started":
        steps = [SaveProgress(first, "q"), RecordAnswer(first, quiz(course, 0)[3], 2, 1, True)]
        standing, entries = training.steps(held, steps, NOW + timedelta(minutes=1))
        held = {**held, "training": standing, behind.FIELD: entries}
    return held


def hop(app, effects, held: dict) -> tuple[dict, int]:
    """Apply a hop's effects as the webhook does; return the profile the session keeps after,
    and how many ORM sessions began."""
    services, begun = app.extensions["conversation"], []

    def count(*_):
        begun.append(1)

    event.listen(Session, "after_begin", count)
    try:
        with LazySession(services.open_db) as db:
            changes, wake, sent, later = apply_effects(
                services, db, effects, PHONE, None, held, LATER
            )
    finally:
        event.remove(Session, "after_begin", count)
    assert (wake, sent, later) == (False, None, ())
    return {**held, **changes}, len(begun)


@pytest.mark.parametrize("since", SINCE.values(), ids=SINCE.keys())
@pytest.mark.parametrize("position", ["l2", "q"])  # the next lesson; the quiz entered first
@pytest.mark.parametrize("build", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_a_first_step_keeps_the_rows_and_standing_the_full_path_kept(app, build, position, since):
    """Same rows after (once the steps queued are written), same standing, tests, recalls."""
    course = app.extensions["catalog"].course
    with app.extensions["db"]() as db:
        neighbour(db, course, "+22370000701")
        build(db, course)
        neighbour(db, course, "+22370000801")
        db.commit()
    held = cached(app, course)
    since(app, course)
    # The first module the learner has not opened.
    opened = next(m.id for m in course.modules if m.id not in held["training"])
    effects = [SaveProgress(opened, position)]
    kept = snapshot(app)
    # The full path, as before: a profile without the contact's id never takes another.
    old, _ = hop(app, effects, {k: v for k, v in held.items() if k != "id"})
    after_old = rows(app)
    put_back(app, kept)
    new, sessions = hop(app, effects, held)
    queued = new.get(behind.FIELD, [])
    with app.extensions["engine"].begin() as conn:  # what the clock writes of the queue
        behind.write(conn, queued)
    assert rows(app) == after_old
    assert new["training"] == old["training"]
    assert json.dumps(new["training"], sort_keys=True) == json.dumps(
        old["training"], sort_keys=True
    )
    assert (new["tests"], new["recalls"]) == (old["tests"], old["recalls"])
    if since in FULL:
        assert sessions > 0 and queued == []  # the ORM, as before
        return
    assert sessions == 0  # no ORM session: the one statement
    # The steps queued stay queued, and counted: the clock writes them.
    assert queued == held.get(behind.FIELD, [])
    with Session(app.extensions["engine"]) as db:
        cooldown_s = app.config["TRAINING_RETAKE_COOLDOWN_S"]
        assert new["training"] == training.standing(db, held["id"], cooldown_s)


def test_the_scenarios_cover_what_a_first_step_meets(app):
    """The table above is no table of one case: the entry differs from scenario to scenario."""
    course = app.extensions["catalog"].course
    first, shown = course.modules[0].id, {}
    for name in ("fresh_agent", "answers_without_a_row", "agent_part_way"):
        with app.extensions["db"]() as db:
            SCENARIOS[name](db, course)
            db.commit()
        held = cached(app, course)
        opened = next(m.id for m in course.modules if m.id not in held["training"])
        shown[name], _ = hop(app, [SaveProgress(opened, "l2")], held)
        put_back(app, {model: [] for model in TABLES})
    assert shown["fresh_agent"]["training"] == {first: {
        "status": "started", "position": "l2", "attempt": 0, "best": None, "answered": {},
        "missed": [], "retake_at": None, "step": 1}}  # fmt: skip
    assert shown["answers_without_a_row"]["training"][first]["answered"] == {
        quiz(course, 0)[1]: True}  # fmt: skip
    assert len(shown["agent_part_way"]["training"]) == 3  # two begun before
    assert len(shown["agent_part_way"][behind.FIELD]) == 2


def test_a_module_opened_on_the_webhook_takes_one_statement_and_no_orm_session(app, client):
    """One statement on PostgreSQL, committed as it runs; three on SQLite. No ORM session."""
    engine, statements, sessions = app.extensions["engine"], [], []
    with app.extensions["db"]() as db:
        person(db, role="community")
        db.commit()
    caller = Dial(client, phone=PHONE)
    caller()
    caller("1")  # Formation
    assert caller("1").startswith("CON 1/")  # Continuer: the first lesson, nothing saved

    def count(_conn, _cursor, statement, *_):
        statements.append(statement.split(None, 1)[0])

    def begun(*_):
        sessions.append(1)

    event.listen(engine, "before_cursor_execute", count)
    event.listen(Session, "after_begin", begun)
    try:
        assert caller("1").startswith("CON 2/")
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(Session, "after_begin", begun)
    postgres = engine.dialect.name == "postgresql"
    assert statements == (["WITH"] if postgres else ["UPDATE", "INSERT", "SELECT"])
    assert sessions == []
    with app.extensions["db"]() as db:
        row = db.scalars(select(ModuleProgress)).one()
    assert (row.module, row.status, row.position, row.attempt) == (
        app.extensions["catalog"].course.modules[0].id, "started", "l2", 0)  # fmt: skip
