"""A caller's profile for the day in one statement: the same profile as the ORM's reads."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from app import training
from app.cases import focal_points
from app.infra.keyring import fernet
from app.infra.models import (
    Certificate,
    Contact,
    FocalArea,
    FocalPoint,
    ModuleProgress,
    QuizAnswer,
    Recall,
    day_of,
    utcnow,
)
from app.people import contacts, erasure, profile
from flows.training.common import POST, PRE, PRETEST, RECALL

from .conftest import Dial
from .helpers import seen_from_outside

PHONE = "+22370000777"
NOW = datetime(2026, 12, 5, 10, 17, 3, tzinfo=UTC)
TODAY = "2026-12-05"
COOLDOWN_S = 6 * 3600
# Times with microseconds: what the statement reads back as text must come back the same.
HOUR_AGO = NOW - timedelta(hours=1, microseconds=123_457)
DUE = NOW - timedelta(days=1, microseconds=5)


def person(db: Session, role="agent", **fields) -> Contact:
    """Add the caller as a contact, last seen yesterday unless told."""
    fields = {"language": "fr", "name": "Awa", "organisation": "CMDT",
              "created_at": NOW - timedelta(days=30), "first_seen": NOW - timedelta(days=30),
              "last_seen": NOW - timedelta(days=1), **fields}  # fmt: skip
    contact = Contact(phone=PHONE, role=role, **fields)
    db.add(contact)
    db.flush()
    return contact


def module(db: Session, contact: Contact, name: str, status: str, attempt: int, **fields) -> None:
    db.add(ModuleProgress(contact_id=contact.id, module=name, status=status, attempt=attempt,
                          started_at=NOW - timedelta(days=2), updated_at=HOUR_AGO,
                          **fields))  # fmt: skip


def answers(db: Session, contact: Contact, name: str, attempt: int, given) -> None:
    """Keep answers to questions of a module: given is [(question, correct)], in order."""
    for question, correct in given:
        db.add(QuizAnswer(contact_id=contact.id, module=name, question=question,
                          attempt=attempt, choice=1, correct=correct,
                          answered_at=HOUR_AGO))  # fmt: skip
        db.flush()  # one by one: the order they were given in is the order of their ids


def quiz(course, n: int) -> list[str]:
    return [q.id for q in course.modules[n].quiz]


def new_contact(db, course):
    """Never seen: the first hop creates the contact."""


def community_member(db, course):
    """Known, named, with a language: nothing of training."""
    person(db, role="community", organisation=None)


def agent_part_way(db, course):
    """A second attempt begun: its answers so far, and the first attempt's wrong ones."""
    agent = person(db)
    first, second = course.modules[0].id, course.modules[1].id
    q = quiz(course, 0)
    module(db, agent, first, "started", 2, position="q", best_score=2)
    # Given out of the questions' order: the missed questions keep the order they came in.
    answers(db, agent, first, 1, [(q[2], False), (q[0], True), (q[1], False), (q[3], True)])
    answers(db, agent, first, 2, [(q[1], True), (q[2], False)])
    module(db, agent, second, "started", 0, position="l2")


def certified(db, course):
    """Every module passed, the pre-test and post-test taken, the certificate issued."""
    agent = person(db)
    for n, item in enumerate(course.modules):
        module(db, agent, item.id, "passed", 1, position="", score=len(item.quiz),
               best_score=len(item.quiz), questions=len(item.quiz),
               finished_at=NOW - timedelta(days=10 - n))  # fmt: skip
        answers(db, agent, item.id, 1, [(q, True) for q in quiz(course, n)])
    answers(db, agent, PRETEST, PRE, [(q, n % 2 == 0) for n, q in enumerate(course.pretest)])
    answers(db, agent, PRETEST, POST, [(q, True) for q in course.pretest])
    db.add(Certificate(contact_id=agent.id, code="K7Q2M9", modules=len(course.modules),
                       score=20, questions=20, issued_at=NOW - timedelta(days=1)))  # fmt: skip


def retake_cooldown(db, course):
    """Failed an hour ago: the retake waits for the cooldown; a pre-test left half done."""
    agent = person(db)
    q = quiz(course, 0)
    module(db, agent, course.modules[0].id, "failed", 1, position="", score=1, best_score=1,
           questions=len(q), finished_at=HOUR_AGO)  # fmt: skip
    answers(db, agent, course.modules[0].id, 1, [(q[0], True), *((x, False) for x in q[1:])])
    answers(db, agent, PRETEST, PRE, [(course.pretest[0], True)])


def recall_due(db, course):
    """A recall due and half answered; one done and one put off too often do not count."""
    agent = person(db)
    for n in range(3):
        module(db, agent, course.modules[n].id, "passed", 1, position="", best_score=4,
               finished_at=NOW - timedelta(days=20))  # fmt: skip
    db.add(Recall(contact_id=agent.id, module=course.modules[0].id, due_at=DUE, postponed=1))
    db.add(Recall(contact_id=agent.id, module=course.modules[1].id, due_at=DUE, postponed=0,
                  finished_at=NOW - timedelta(days=1), right=3, questions=3))  # fmt: skip
    db.add(Recall(contact_id=agent.id, module=course.modules[2].id, due_at=DUE, postponed=3))
    # The quiz passed before, then the recall: only the recall's answers are the recall's.
    answers(db, agent, course.modules[0].id, 1, [(q, True) for q in quiz(course, 0)])
    answers(db, agent, course.modules[0].id, RECALL, [(quiz(course, 0)[1], False)])
    answers(db, agent, course.modules[1].id, RECALL, [(quiz(course, 1)[0], True)])


def focal_point(db, course):
    """A supervisor, known as a contact too."""
    person(db, role="supervisor")
    focal_points.add(db, PHONE, "kadiolo", "supervisor", "4821")


def focal_point_only(db, course):
    """A field agent of the cases who never dialled: the first hop creates the contact."""
    focal_points.add(db, "+22370000778", "kadiolo", "agent", "4821")  # another: not read
    focal_points.add(db, PHONE, "all", "agent", "4821")


def erased(db, course):
    """A learner deleted with their data dials again: a stranger, with nothing of before."""
    agent_part_way(db, course)
    agent = db.scalars(select(Contact).where(Contact.phone == PHONE)).one()
    erasure.erase(db, agent, fernet(Fernet.generate_key().decode()), NOW, "/nonexistent")


def neighbour(db: Session, course, phone: str) -> None:
    """Another learner, whose training, tests and recall are not the caller's."""
    other = Contact(phone=phone, role="agent", created_at=NOW)
    db.add(other)
    db.flush()
    q = quiz(course, 0)
    module(db, other, course.modules[0].id, "failed", 1, finished_at=NOW, best_score=0)
    module(db, other, course.modules[1].id, "passed", 1, finished_at=NOW, best_score=4)
    answers(db, other, course.modules[0].id, 1, [(x, False) for x in q])
    answers(db, other, PRETEST, PRE, [(x, True) for x in course.pretest])
    db.add(Recall(contact_id=other.id, module=course.modules[1].id, due_at=NOW, postponed=0))
    answers(db, other, course.modules[1].id, RECALL, [(quiz(course, 1)[0], True)])


SCENARIOS = {f.__name__: f for f in (new_contact, community_member, agent_part_way, certified,
                                     retake_cooldown, recall_due, focal_point, focal_point_only,
                                     erased)}  # fmt: skip


def orm_profile(app) -> dict:
    """The profile as the first hop read it before: contacts, training and focal points."""
    engine, course = app.extensions["engine"], app.extensions["catalog"].course
    with app.extensions["db"]() as db:
        contact = contacts.seen(engine, PHONE, NOW) or contacts.touch(db, PHONE, NOW)
        return {
            **contacts.profile(contact, TODAY),
            "training": training.standing(db, contact.id, COOLDOWN_S),
            "tests": training.tests(db, course, contact.id),
            "recalls": training.recall.pending(db, contact.id),
            "focal": focal_points.role(db, PHONE),
        }


def contact_row(app) -> dict | None:
    with app.extensions["engine"].connect() as conn:
        row = conn.execute(select(Contact.__table__).where(Contact.phone == PHONE)).first()
    return None if row is None else dict(row._mapping)


def put_back(app, before: dict | None) -> None:
    """Undo the first way's write: the contact as it was, or none."""
    table = Contact.__table__
    with app.extensions["engine"].begin() as conn:
        if before is None:
            conn.execute(delete(table).where(table.c.phone == PHONE))
        else:
            conn.execute(update(table).where(table.c.phone == PHONE).values(**before))


@pytest.mark.parametrize("build", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_one_statement_reads_what_the_orm_read(app, build):
    """Same profile, same contact row after: for strangers, agents, focal points, the erased."""
    course = app.extensions["catalog"].course
    with app.extensions["db"]() as db:
        neighbour(db, course, "+22370000701")  # before the caller, and after
        build(db, course)
        neighbour(db, course, "+22370000801")
        db.commit()
    before = contact_row(app)
    old = orm_profile(app)
    after_old = contact_row(app)
    put_back(app, before)
    new = profile.load(app.extensions["engine"], course, PHONE, NOW, TODAY, COOLDOWN_S)
    after_new = contact_row(app)
    if before is None:  # each way created the contact, under an id of its own
        assert (old.pop("id"), new.pop("id")) == (after_old.pop("id"), after_new.pop("id"))
    assert new == old
    # As the session keeps it, in JSON: a 1 is no true there.
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)
    assert after_new == after_old
    assert after_new["last_seen"] == datetime(2026, 12, 5, tzinfo=UTC)


def test_the_scenarios_cover_what_a_profile_holds(app):
    """The table above is no table of empty profiles: each part shows in some scenario."""
    course, shown = app.extensions["catalog"].course, {}
    for name, build in SCENARIOS.items():
        with app.extensions["db"]() as db:
            build(db, course)
            db.commit()
        shown[name] = profile.load(app.extensions["engine"], course, PHONE, NOW, TODAY, 60)
        with app.extensions["engine"].begin() as conn:
            for model in (QuizAnswer, Recall, ModuleProgress, Certificate):
                conn.execute(delete(model))
            conn.execute(delete(Contact.__table__))
            conn.execute(delete(FocalArea))
            conn.execute(delete(FocalPoint))
    first = course.modules[0].id
    # The first attempt's wrong answers, in the order given.
    assert shown["agent_part_way"]["training"][first]["missed"] == [
        quiz(course, 0)[2], quiz(course, 0)[1]]  # fmt: skip
    assert shown["agent_part_way"]["training"][first]["answered"] == {
        quiz(course, 0)[1]: True, quiz(course, 0)[2]: False}  # fmt: skip
    assert shown["retake_cooldown"]["training"][first]["retake_at"] == (
        HOUR_AGO + timedelta(seconds=60)).isoformat()  # fmt: skip
    assert shown["certified"]["tests"] == {"pre": True, "post": True,
                                           "pre_right": (len(course.pretest) + 1) // 2}  # fmt: skip
    assert shown["recall_due"]["recalls"] == {
        first: {"due_at": DUE.isoformat(), "answered": {quiz(course, 0)[1]: False}}}  # fmt: skip
    assert (shown["focal_point"]["focal"], shown["focal_point_only"]["focal"]) == (
        "supervisor", "agent")  # fmt: skip
    assert shown["erased"]["training"] == {} and shown["erased"]["role"] == "community"
    assert shown["community_member"]["lang"] == "fr" and shown["new_contact"]["lang"] is None


def test_a_first_hop_reads_its_profile_in_one_statement_without_the_orm(app, client):
    """One statement on PostgreSQL, committed as it runs; two on SQLite. No ORM session."""
    engine, statements, sessions = app.extensions["engine"], [], []

    def count(_conn, _cursor, statement, *_):
        statements.append(statement.split(None, 1)[0])

    def begun(*_):
        sessions.append(1)

    with app.extensions["db"]() as db:
        person(db, role="community", last_seen=datetime(2020, 1, 1, tzinfo=UTC))
        db.commit()
    event.listen(engine, "before_cursor_execute", count)
    event.listen(Session, "after_begin", begun)
    today = day_of(utcnow()).date().isoformat()
    seen_today = f"SELECT count(*) FROM contacts WHERE last_seen >= '{today}'"
    try:
        with seen_from_outside(engine, seen_today) as seen:
            for phone in (PHONE, "+22370000779"):  # known, then a stranger
                assert Dial(client, phone=phone)().startswith("CON ")
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(Session, "after_begin", begun)
    postgres = engine.dialect.name == "postgresql"
    assert statements == (["WITH", "WITH"] if postgres else ["INSERT", "SELECT"] * 2)
    assert sessions == []
    with app.extensions["db"]() as db:  # a known caller's statement spends no id of a new one
        ids = db.scalars(select(Contact.id).order_by(Contact.id)).all()
    assert ids == [ids[0], ids[0] + 1]
    if postgres:  # each hop's write was in the database as soon as its statement ran
        assert seen == [1, 2]
