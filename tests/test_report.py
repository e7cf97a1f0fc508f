"""Training measurement: learners, questions, knowledge gain, and `kalan training report`."""

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.infra.models import Contact, ModuleProgress, QuizAnswer, utcnow
from app.training import report


def add_learner(db, phone, name, role="agent") -> Contact:
    contact = Contact(
        phone=phone, name=name, role=role, language="fr", organisation="CMDT", created_at=utcnow()
    )
    db.add(contact)
    db.flush()
    return contact


def answer(db, contact, question, attempt, choice, correct, module="m1", at=None):
    db.add(
        QuizAnswer(
            contact_id=contact.id,
            module=module,
            question=question,
            attempt=attempt,
            choice=choice,
            correct=correct,
            answered_at=at or utcnow(),
        )
    )


def test_learners_and_questions(app):
    catalog = app.extensions["catalog"]
    course = catalog.course
    first = course.modules[0]
    q1, q2 = first.quiz[0], first.quiz[1]
    wrong1 = q1.right % len(q1.answers) + 1
    with app.extensions["db"]() as db:
        awa = add_learner(db, "+22370000501", "Awa")
        moussa = add_learner(db, "+22370000502", "Moussa")
        now = utcnow()
        db.add(
            ModuleProgress(
                contact_id=awa.id,
                module=first.id,
                status="passed",
                position="",
                attempt=2,
                score=4,
                best_score=4,
                questions=4,
                started_at=now,
                updated_at=now,
            )
        )
        db.add(
            ModuleProgress(
                contact_id=moussa.id,
                module=first.id,
                status="started",
                position="l2",
                attempt=0,
                started_at=now,
                updated_at=now,
            )
        )
        answer(db, awa, q1.id, 1, wrong1, False)
        answer(db, moussa, q1.id, 1, wrong1, False)
        answer(db, awa, q2.id, 1, q2.right, True)
        answer(db, awa, q1.id, 2, q1.right, True)  # a retake does not count as a first try
        db.commit()
        people = report.learners(db, course)
        items = {row["question"]: row for row in report.questions(db, course, catalog)}
    assert [(p["name"], p["started"], p["passed"], p["attempts"]) for p in people] == [
        ("Awa", 1, 1, 2),
        ("Moussa", 1, 0, 0),
    ]
    assert people[0]["score_percent"] == 100 and people[1]["score_percent"] == ""
    assert items[q1.id]["answered"] == 2 and items[q1.id]["first_try_percent"] == 0
    assert items[q1.id]["top_wrong"] == catalog.get(f"course.{q1.id}.o{wrong1}")
    assert items[q1.id]["top_wrong_count"] == 2
    assert items[q2.id]["first_try_percent"] == 100
    assert items[first.quiz[2].id]["answered"] == 0


def test_knowledge_gain_needs_both_tests(app):
    course = app.extensions["catalog"].course
    items = course.pretest
    with app.extensions["db"]() as db:
        awa = add_learner(db, "+22370000503", "Awa")
        db.add(
            ModuleProgress(
                contact_id=awa.id,
                module="m1",
                status="started",
                position="",
                attempt=0,
                started_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        for n, qid in enumerate(items):
            q = course.question(qid)
            # The pre-test an hour before the first module, as the journey offers it.
            answer(db, awa, qid, report.PRE, q.right, n == 0, at=utcnow() - HOUR)  # 1 right
            answer(db, awa, qid, report.POST, q.right, n < len(items) - 1)  # all but one after
        db.commit()
        (row,) = report.learners(db, course)
    assert row["gain"] == round(100 * (len(items) - 2) / len(items))


HOUR = timedelta(hours=1)
HALF = "half"  # the gain of half the items right before and all after: 50 for an even count
# Each agent's pre-test: every item, some, or none; answered before their first module or after.
PRETESTS = {
    "all items, before the modules": ("all", -HOUR, "agent", "taken", HALF),
    "all items, but after a lesson": ("all", HOUR, "agent", "skipped", ""),
    "some items, then the modules": ("some", -HOUR, "agent", "skipped", ""),
    "none: skipped": ("none", None, "agent", "skipped", ""),
    "a community member: never offered": ("none", None, "community", "", ""),
}  # fmt: skip


@pytest.mark.parametrize(("items", "when", "role", "pretest", "gain"), PRETESTS.values(),
                         ids=PRETESTS.keys())  # fmt: skip
def test_a_gain_needs_the_pre_test_before_the_first_module(app, items, when, role, pretest, gain):
    """Skippers (no pre-test, part of one, or one taken after a lesson) have no gain."""
    course = app.extensions["catalog"].course
    with app.extensions["db"]() as db:
        awa = add_learner(db, "+22370000505", "Awa", role=role)
        began = utcnow() - timedelta(days=1)
        for n, module in enumerate(("m2", "m1")):  # the first module started is the one counted
            db.add(ModuleProgress(contact_id=awa.id, module=module, status="started",
                                  started_at=began + n * 2 * HOUR))  # fmt: skip
        asked = {"all": course.pretest, "some": course.pretest[:2], "none": ()}[items]
        for n, qid in enumerate(asked):
            right = course.question(qid).right
            answer(db, awa, qid, report.PRE, right, n % 2 == 0, at=began + when)  # half right
        for qid in course.pretest:
            answer(db, awa, qid, report.POST, course.question(qid).right, True)  # all right
        db.commit()
        rows = report.learners(db, course)
    if gain == HALF:  # the odd items (index 1, 3...) were wrong before, right after
        gain = round(100 * (len(course.pretest) // 2) / len(course.pretest))
    assert [(row["pretest"], row["gain"]) for row in rows] == [(pretest, gain)]
    skipped = 1 if pretest == "skipped" else 0
    expected = {"gain": gain if gain != "" else None, "measured": 1 - (gain == ""),
                "skipped": skipped}  # fmt: skip
    assert report.gain_summary(rows) == expected


def test_cli_report_prints_and_writes_csv(app, runner, tmp_path):
    with app.extensions["db"]() as db:
        awa = add_learner(db, "+22370000504", "Awa")
        db.add(
            ModuleProgress(
                contact_id=awa.id,
                module="m1",
                status="started",
                position="l1",
                attempt=0,
                started_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        db.commit()
    result = runner.invoke(["training", "report", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "+22370000504" in result.output and "most chosen wrong answer" in result.output
    summary = "gain: - points on average over 0 learner(s); 1 agent(s) started without"
    assert summary in result.output
    with (tmp_path / "training-learners.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["phone"] == "+22370000504" and rows[0]["started"] == "1"
    assert rows[0]["pretest"] == "skipped"
    with (tmp_path / "training-questions.csv").open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == sum(
            len(m.quiz) for m in app.extensions["catalog"].course.modules
        )
    with app.extensions["db"]() as db:
        assert db.scalars(select(Contact)).one().name == "Awa"
