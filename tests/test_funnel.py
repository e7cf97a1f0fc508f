"""Each module's funnel and median time, from the gateway's labels and the saved progress."""

import csv
import json
import uuid

import pytest
from sqlalchemy import select

from app.infra.models import Contact, ModuleProgress, UssdEvent, utcnow
from app.training import funnel

from .conftest import CODE, serve

AGENTS = ("+22370000711", "+22370000712", "+22370000713")
COMMUNITY = "+22376000714"


def course(app):
    return app.extensions["catalog"].course


def add_contact(db, phone: str, role: str = "agent", organisation: str = "CMDT") -> Contact:
    contact = Contact(phone=phone, role=role, organisation=organisation, language="fr",
                      created_at=utcnow())  # fmt: skip
    db.add(contact)
    db.flush()
    return contact


def progress(db, contact: Contact, module: str, status: str, position: str = "") -> None:
    db.add(ModuleProgress(contact_id=contact.id, module=module, status=status, position=position,
                          started_at=utcnow(), updated_at=utcnow()))  # fmt: skip


def session(db, phone: str, labels: str | None, duration_ms: int | None, hops: int | None):
    """Keep a session's end as events.record does for a caller outside any report."""
    db.add(UssdEvent(session_id="ATUid_" + uuid.uuid4().hex, phone=phone,
                     status="Incomplete", labels=labels, duration_ms=duration_ms,
                     hops=hops))  # fmt: skip


def counts(row: dict) -> list[int]:
    return [step["learners"] for step in row["steps"]]


def dropoffs(row: dict) -> list[int | None]:
    return [step["dropoff_percent"] for step in row["steps"]]


def right_key(app, call) -> str:
    """Return the key of the right option on the question a sandbox call shows."""
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    kept = json.loads(redis.get(f"{prefix}session:{call.session_id}"))
    quiz = kept["state"]["data"]["quiz"]
    question = course(app).question(quiz["order"][quiz["i"]])
    text = app.extensions["catalog"].get(f"course.{question.id}.o{question.right}")
    (key,) = [line.split(". ", 1)[0] for line in kept["reply"][4:].split("\n")
              if line.split(". ", 1)[-1] == text]  # fmt: skip
    return key


def test_the_funnel_follows_real_sessions_through_the_gateway(app):
    """Four callers over HTTP, each session's end notified with its labels, as AT does: one
    stops at lesson 1, one at lesson 3, one passes; a community member reads lesson 1 from
    the training menu, which saves no progress: only the labels count them."""
    from sandbox.ussd import UssdCall

    module = course(app).modules[0]
    with app.extensions["db"]() as db:
        for phone in AGENTS:
            add_contact(db, phone)
        db.commit()
    with serve(app) as kalan:

        def call(phone: str, *keys: str) -> UssdCall:
            call = UssdCall(f"{kalan}/ussd", f"{kalan}/ussd/events", phone, CODE)
            call.start()
            for key in keys:
                call.reply(key)
            return call

        # Formation: the pre-test offered first; Continuer sans le test: lesson 1.
        call(AGENTS[0], "1", "2").hangup()
        call(AGENTS[1], "1", "2", "1", "1").hangup()  # on to lesson 3
        passing = call(AGENTS[2], "1", "2", *["1"] * module.lessons)  # past the last lesson
        for _ in module.quiz:
            passing.reply(right_key(app, passing))
            last = passing.reply("1")  # the feedback's Suivant
        assert "Module réussi !" in last.screen
        passing.hangup()
        call(COMMUNITY, "1", "1").hangup()  # Formation, Continuer: lesson 1 of module 1
    with app.extensions["db"]() as db:
        member = db.scalars(select(Contact).where(Contact.phone == COMMUNITY)).one()
        saved = select(ModuleProgress).where(ModuleProgress.contact_id == member.id)
        assert db.scalars(saved).all() == []
        row = funnel.modules(db, course(app))[0]
    lessons = module.lessons
    assert row["module"] == module.id
    assert [step["step"] for step in row["steps"]] == [
        "started", *(f"l{n}" for n in range(1, lessons + 1)), "quiz", "passed"]  # fmt: skip
    assert counts(row) == [4, 4, 2, 2, *[1] * (lessons - 3), 1, 1]
    assert dropoffs(row) == [None, 0, 50, 0, 50, *[0] * (lessons - 4), 0, 0]
    assert row["timed"] == 1 and row["median_minutes"] is not None  # the one who passed


def test_without_labels_the_saved_progress_draws_the_funnel(app):
    """A gateway that sends no hopsMetadata: each learner's furthest step is what their
    progress says, and counts at every step before it."""
    module = course(app).modules[0]
    lessons = module.lessons
    with app.extensions["db"]() as db:
        places = (("passed", ""), ("failed", ""), ("started", "q"), ("started", "l2"),
                  ("started", ""))  # fmt: skip
        for n, (status, position) in enumerate(places):
            learner = add_contact(db, f"+2237000072{n}")
            progress(db, learner, module.id, status, position)
            session(db, learner.phone, None, 60000, 10)  # a session, but no labels
        db.commit()
        row = funnel.modules(db, course(app))[0]
    assert counts(row) == [5, 4, 4, *[3] * (lessons - 2), 3, 1]
    assert dropoffs(row) == [None, 20, 0, 25, *[0] * (lessons - 3), 0, 67]
    assert (row["median_minutes"], row["timed"]) == (None, 0)  # no labels, no time per module


def test_the_furthest_of_labels_and_progress_counts(app):
    """Labels beyond the saved place (a hop whose save was lost) move a learner on; labels
    short of a pass never move one back. Other menus, the pre-test and unknown modules
    are no module's steps."""
    first, second = course(app).modules[:2]
    with app.extensions["db"]() as db:
        ahead = add_contact(db, "+22370000731")
        progress(db, ahead, first.id, "started", "l1")
        labels = f"t.modules|t.{first.id}.l1|t.{first.id}.fb|t.pre|t.m99.l2|t.{first.id}"
        session(db, ahead.phone, labels, 1000, 6)
        behind = add_contact(db, "+22370000732")
        progress(db, behind, first.id, "passed")
        session(db, behind.phone, f"t.{first.id}.l1|t.{second.id}.l99", 1000, 2)
        db.commit()
        rows = funnel.modules(db, course(app))
    assert counts(rows[0])[-3:] == [2, 2, 1]  # last lesson, quiz, passed
    assert counts(rows[1]) == [1] * (second.lessons + 1) + [0, 0]  # l99: its last lesson


def test_the_median_time_shares_each_session_between_its_hops(app):
    """A session's time goes to each module in proportion to its hops there; the median is
    over those who passed the module and whose time is known."""
    first, second = (m.id for m in course(app).modules[:2])
    with app.extensions["db"]() as db:
        one, two, three, started, untimed = (add_contact(db, f"+2237000074{n}") for n in range(5))
        for learner in (one, two, three, untimed):
            progress(db, learner, first, "passed")
        progress(db, one, second, "passed")
        progress(db, started, first, "started", "l3")
        # 60 s over 10 hops, 5 in the first module, 2 in the second: 30 s and 12 s.
        session(db, one.phone, f"{'|'.join([f't.{first}.l1'] * 5)}|t.{second}.q|t.{second}.fb",
                60000, 10)  # fmt: skip
        # No hop count: the labels are the hops; then a session whose length is unknown.
        session(db, one.phone, f"t.{first}.q|t.{first}.fb|t.{first}.q|t.{first}.fb", 120000, None)
        session(db, one.phone, f"t.{first}.l1", None, 1)
        session(db, two.phone, "|".join([f"t.{first}.q"] * 8), 240000, 8)  # 4 min
        session(db, three.phone, f"t.{first}.l1|t.{first}.l2", 60000, 4)  # 30 s
        session(db, started.phone, f"t.{first}.l3", 600000, 1)  # not passed: left out
        session(db, untimed.phone, None, 300000, 5)  # no labels: time unknown, left out
        db.commit()
        rows = funnel.modules(db, course(app))
    # 2.5 min (30 s + 2 min), 4 min and 0.5 min.
    assert (rows[0]["median_minutes"], rows[0]["timed"]) == (2.5, 3)
    assert (rows[1]["median_minutes"], rows[1]["timed"]) == (0.2, 1)
    assert all(row["median_minutes"] is None for row in rows[2:])


def test_where_keeps_one_areas_learners(app):
    module = course(app).modules[0].id
    with app.extensions["db"]() as db:
        for n, organisation in enumerate(("CMDT", "RMCR")):
            learner = add_contact(db, f"+2237000075{n}", organisation=organisation)
            progress(db, learner, module, "started", "l2")
            session(db, learner.phone, f"t.{module}.q", 1000, 1)
        db.commit()
        everyone = funnel.modules(db, course(app))[0]
        cmdt = funnel.modules(db, course(app), Contact.organisation == "CMDT")[0]
    assert counts(everyone)[0] == 2 and counts(everyone)[-2] == 2
    assert counts(cmdt)[0] == 1 and counts(cmdt)[-2] == 1


@pytest.mark.parametrize(
    ("metadata", "kept"),
    [
        ("menu|training|t.m1.l1|account.profile|t.m1.q|r.sector", "t.m1.l1|t.m1.q"),
        ("t.modules|t.pre| t.m1.l2 ", "t.modules|t.pre|t.m1.l2"),
        ("", None),
        ("|||", None),
        ("menu|report|r.done", None),
        ("t.|t..l1|t.m1.l1.x|t.m1.<b>|T.m1.l1|t.m1.l1\x00|t.m1-l1|tm1.l1", None),
        ("t." + "a" * 25, None),
        ("|".join(["t.m1.l1"] * 400), "|".join(["t.m1.l1"] * funnel.MOST_LABELS)),
    ],
)
def test_only_training_labels_are_kept(metadata, kept):
    assert funnel.kept(metadata) == kept


def test_cli_prints_the_funnel_and_writes_csv(app, runner, tmp_path):
    module = course(app).modules[0]
    with app.extensions["db"]() as db:
        for n, status in enumerate(("passed", "started")):
            learner = add_contact(db, f"+2237000076{n}", organisation="RMCR")
            progress(db, learner, module.id, status, "l1")
            session(db, learner.phone, f"t.{module.id}.l1", 90000, 1)
        db.commit()
    result = runner.invoke(["training", "funnel", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["module", "step", "learners", "drop-off"]
    assert lines[1].split() == [module.id, "started", "2"]
    assert lines[2].split() == [module.id, "l1", "2", "0%"]
    assert [module.id, "passed", "1", "0%"] in [line.split() for line in lines]
    assert ["m2", "started", "0"] not in [line.split() for line in lines]  # only in the CSV
    assert [module.id, "2", "1", "1.5", "(1)", "-", "-"] in [line.split() for line in lines]
    assert "pre-test: 2 of 2 agent(s) skipped it (100%)" in result.output
    assert ["RMCR", "2", "-", "0", "2"] in [line.split() for line in lines]
    with (tmp_path / "training-funnel.csv").open(encoding="utf-8") as handle:
        steps = list(csv.DictReader(handle))
    assert len(steps) == sum(m.lessons + 3 for m in course(app).modules)
    assert steps[module.lessons + 2] == {"module": module.id, "step": "passed", "learners": "1",
                                         "dropoff_percent": "0"}  # fmt: skip
    with (tmp_path / "training-modules.csv").open(encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    assert (first["median_minutes"], first["timed"], first["recall_learners"]) == ("1.5", "1", "0")
    with (tmp_path / "training-organisations.csv").open(encoding="utf-8") as handle:
        (rmcr,) = csv.DictReader(handle)
    assert (rmcr["organisation"], rmcr["learners"], rmcr["skipped"]) == ("RMCR", "2", "2")
