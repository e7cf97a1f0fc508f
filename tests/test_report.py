"""Training measurement: learners, questions, knowledge gain, and `kalan training report`."""

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.infra.models import Contact, ModuleProgress, QuizAnswer, utcnow
from app.training import report
from flows.training.common import RECALL


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


DAY = timedelta(days=1)


def started(db, contact, module="m1", **progress) -> None:
    """Start a module an hour ago, as the journey saves it."""
    db.add(ModuleProgress(contact_id=contact.id, module=module, status="started", position="l1",
                          started_at=utcnow() - HOUR, updated_at=utcnow(),
                          **progress))  # fmt: skip


def took_tests(db, contact, course, pre: int, post: int) -> None:
    """Answer the pre-test before the first module (pre right) and the post-test (post right)."""
    for n, qid in enumerate(course.pretest):
        right = course.question(qid).right
        answer(db, contact, qid, report.PRE, right, n < pre, module="pretest", at=utcnow() - DAY)
        answer(db, contact, qid, report.POST, right, n < post, module="pretest")


def test_gain_and_skippers_per_organisation(app):
    """Each organisation's mean gain covers its agents with both tests; skippers are counted
    apart, and community members, never offered the pre-test, in neither."""
    course = app.extensions["catalog"].course
    items = len(course.pretest)
    with app.extensions["db"]() as db:
        cmdt = [add_learner(db, f"+2237000052{n}", f"CMDT {n}") for n in range(3)]
        rmcr = add_learner(db, "+22370000525", "RMCR 1")
        rmcr.organisation = "RMCR"
        member = add_learner(db, "+22376000526", "Voisin", role="community")
        member.organisation = None
        for learner in (*cmdt, rmcr, member):
            started(db, learner)
        took_tests(db, cmdt[0], course, pre=0, post=items)  # +100
        took_tests(db, cmdt[1], course, pre=items, post=items)  # +0
        took_tests(db, rmcr, course, pre=1, post=1)  # +0
        db.commit()  # cmdt[2] skipped the pre-test
        rows = report.learners(db, course)
    assert report.organisations(rows) == [
        {"organisation": "", "learners": 1, "gain": None, "measured": 0, "skipped": 0},
        {"organisation": "CMDT", "learners": 3, "gain": 50, "measured": 2, "skipped": 1},
        {"organisation": "RMCR", "learners": 1, "gain": 0, "measured": 1, "skipped": 0},
    ]
    assert report.skippers(rows) == {"skipped": 1, "offered": 4, "percent": 25}
    assert report.skippers([]) == {"skipped": 0, "offered": 0, "percent": None}


def test_retention_is_the_share_right_at_recall_beside_the_quiz(app):
    """Recall answers (attempt 2000) per module, next to the same learners' best quiz score;
    where counts one area's learners only."""
    course = app.extensions["catalog"].course
    first, second = course.modules[0], course.modules[1]
    with app.extensions["db"]() as db:
        awa, moussa, other = (add_learner(db, f"+2237000053{n}", name)
                              for n, name in enumerate(("Awa", "Moussa", "Autre")))  # fmt: skip
        other.organisation = "RMCR"
        for learner, best in ((awa, 5), (moussa, 4), (other, 3)):
            started(db, learner, first.id, best_score=best, questions=5)
        started(db, awa, second.id, best_score=2, questions=5)  # no recall in this module
        for learner, rights in ((awa, (True, True, False)), (moussa, (True, False, False)),
                                (other, (False, False, False))):  # fmt: skip
            for question, correct in zip(first.quiz, rights, strict=False):
                answer(db, learner, question.id, RECALL, 1, correct, module=first.id)
        db.commit()
        everyone = report.retention(db, course)
        cmdt = report.retention(db, course, Contact.organisation == "CMDT")
    assert [row["module"] for row in everyone] == [m.id for m in course.modules]
    # 3 right of 9, beside 12 of 15 at the quiz.
    assert everyone[0] == {"module": first.id, "learners": 3, "right_percent": 33,
                           "quiz_percent": 80}  # fmt: skip
    assert cmdt[0] == {"module": first.id, "learners": 2, "right_percent": 50, "quiz_percent": 90}
    assert everyone[1] == {"module": second.id, "learners": 0, "right_percent": None,
                           "quiz_percent": None}  # fmt: skip
