"""The training quiz: scores, retakes and their cool-down, the pass mark, the standing behind."""

import pytest
from sqlalchemy import select

from app.infra.models import Contact, QuizAnswer, utcnow

from .conftest import AGENT, Dial
from .helpers import write_behind
from .test_training import (
    answer_all,
    at_the_quiz,
    choose,
    course,
    current_question,
    open_module,
    progress,
    read_lessons,
    reopen_module,
)


def test_failing_then_retaking_with_the_missed_questions_first(make_app, client):
    app = make_app(TRAINING_RETAKE_COOLDOWN_S=0)
    client = app.test_client()
    with app.extensions["db"]() as db:
        db.add(Contact(phone=AGENT, role="agent", language="fr", created_at=utcnow()))
        db.commit()
    module = course(app).modules[0]
    caller = Dial(client, phone=AGENT)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    score = answer_all(caller, app, module, right=False)
    assert "Score : 0/" in score and "Pas encore réussi." in score
    assert progress(app).status == "failed"
    caller.drop()
    caller()
    summary = open_module(caller)
    assert "Pas encore réussi. Meilleur score : 0/" in summary
    caller("2")  # Refaire le quiz
    assert current_question(app, caller) == module.quiz[0].id  # all were missed: in order
    answer_all(caller, app, module)
    row = progress(app)
    assert (row.status, row.attempt, row.best_score) == ("passed", 2, len(module.quiz))


def test_a_retake_waits_for_the_cool_down(app, client, agent):
    caller, module = at_the_quiz(app, client, agent)
    answer_all(caller, app, module, right=False)
    reopen_module(caller)
    assert caller("2").startswith("CON Vous pourrez refaire le quiz dans 10 min.")


@pytest.mark.parametrize(("mark", "status"), [(80, "failed"), (60, "passed")])
def test_the_pass_mark_decides(make_app, mark, status):
    app = make_app(TRAINING_PASS_MARK=mark)
    client = app.test_client()
    with app.extensions["db"]() as db:
        db.add(Contact(phone=AGENT, role="agent", language="fr", created_at=utcnow()))
        db.commit()
    module = course(app).modules[0]
    assert len(module.quiz) == 5  # 3 right of 5 is 60 %
    caller = Dial(client, phone=AGENT)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    answer_all(caller, app, module, right=False, count=2)
    score = answer_all(caller, app, module, count=3)
    assert "Score : 3/5." in score
    assert progress(app).status == status


def test_going_back_from_feedback_shows_the_answer_that_counts(app, client, agent):
    """The first answer counts: back from its feedback, the question shows it, takes no other."""
    caller, module = at_the_quiz(app, client, agent)
    question = course(app).question(current_question(app, caller))
    catalog = app.extensions["catalog"]
    wrong = question.right % len(question.answers) + 1
    feedback = caller(choose(app, caller, right=False))
    assert feedback.startswith("CON " + catalog.get(f"course.{question.id}.f{wrong}"))
    locked = caller("0")
    given = catalog.get(f"course.{question.id}.o{wrong}")
    assert f"\nVotre réponse : {given}\n1. Suite\n" in locked
    assert caller("2").startswith("CON Choix invalide.")
    assert caller("1") == feedback  # Suite: the same feedback, and no answer recorded
    caller("1")
    score = answer_all(caller, app, module, count=len(module.quiz) - 1)
    total = len(module.quiz)
    assert f"Score : {total - 1}/{total}." in score
    row = progress(app)
    assert (row.best_score, row.score, row.questions) == (total - 1, total - 1, total)
    with app.extensions["db"]() as db:
        kept = db.scalars(select(QuizAnswer).where(QuizAnswer.question == question.id)).one()
    assert (kept.choice, kept.correct) == (wrong, False)  # the authored number
    assert caller("0").startswith("CON Formation\n")  # back from the score: the training menu


def test_rereading_does_not_skip_the_cool_down(app, client, agent):
    caller, module = at_the_quiz(app, client, agent)
    answer_all(caller, app, module, right=False)
    reopen_module(caller)
    caller("1")  # Relire le module
    for _ in range(module.lessons - 1):
        caller("1")
    assert caller("1").startswith("CON Vous pourrez refaire le quiz dans")


# -- one way to score: the fast path's standing is the one the database gives ------------------

L, A, F = "lesson", "answer", "finish"
STEP_TABLE = {
    "lessons": [(L, "l1"), (L, "l2"), (L, "l3")],
    "answers, the first per question counting": [
        (L, "l1"), (A, 0, 1, True), (A, 1, 1, False), (A, 1, 1, True), (A, 2, 1, False),
    ],
    "a failed attempt, reread, then retaken": [
        (L, "l1"), (A, 0, 1, False), (A, 1, 1, False), (A, 2, 1, True), (F, 1),
        (L, "l2"), (A, 0, 2, True), (A, 1, 2, False),
    ],
    "a new attempt before the last was scored": [
        (L, "l1"), (A, 0, 1, False), (A, 1, 1, True), (A, 0, 2, True), (A, 1, 2, False),
    ],
    "an answer sent again to an attempt already scored": [
        (L, "l1"), (A, 0, 1, False), (A, 1, 1, True), (F, 1),
        (A, 0, 2, True), (A, 1, 2, False), (F, 2), (A, 1, 2, True),
    ],
    "a passed module reread": [
        (L, "l1"), *((A, n, 1, True) for n in range(3)), (F, 1), (L, "l1"), (L, "l2"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("steps", STEP_TABLE.values(), ids=STEP_TABLE.keys())
def test_the_steps_written_behind_keep_the_standing_the_database_gives(app, agent, steps):
    """steps() brings the cached standing up to date as standing() reads it once its
    entries are written."""
    from app import training
    from app.training import behind
    from flows.effects import FinishModule, RecordAnswer, SaveProgress

    module = course(app).modules[0]
    questions = [q.id for q in module.quiz]
    config, catalog = app.config, app.extensions["catalog"]
    cooldown = config["TRAINING_RETAKE_COOLDOWN_S"]
    fast = 0
    with app.app_context(), app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == AGENT)).one()
        held = {}
        for step in steps:
            if step[0] == L:
                effect = SaveProgress(module.id, step[1])
            elif step[0] == A:
                _, n, attempt, right = step
                effect = RecordAnswer(module.id, questions[n], attempt, 1, right)
            else:
                effect = FinishModule(module.id, step[1], 0, len(questions))
            now = utcnow()
            found = training.steps({"id": contact.id, "training": held}, [effect], now)
            standing = None
            if found is None:  # the full path, as the conversation takes it
                training.apply(db, config, catalog, contact, effect, now)
                db.commit()
            else:
                standing, entries = found
                for command in behind.commands(config["REDIS_PREFIX"], entries):
                    app.extensions["redis"].execute_command(*command)
                assert write_behind(app) == len(entries)
                fast += 1
            db.expire_all()
            truth = training.standing(db, contact.id, cooldown)
            assert (standing or truth) == truth, step
            held = truth if standing is None else standing
    assert fast > 0  # the steps were written behind at least once


def test_a_step_is_kept_only_with_the_save_that_carries_it(app, agent):
    """A hop's steps go in the transaction that saves its session: a save that fails keeps
    none of them, and the cached standing never counts a step the stream lacks."""
    from redis.exceptions import ResponseError

    from app import training
    from app.training import behind
    from flows.effects import SaveProgress

    module = course(app).modules[0]
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    with app.app_context(), app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == AGENT)).one()
        training.apply(db, app.config, app.extensions["catalog"], contact,
                       SaveProgress(module.id, "l1"), utcnow())  # fmt: skip
        db.commit()
        standing = training.standing(db, contact.id, app.config["TRAINING_RETAKE_COOLDOWN_S"])
    found = training.steps({"id": contact.id, "training": standing},
                           [SaveProgress(module.id, "l2")], utcnow())  # fmt: skip
    store = app.extensions["sessions"]
    loaded = store.load("kept-with-save", AGENT)
    refused = ("NO-SUCH-COMMAND",)  # the rest of the save, refused as it is queued
    with pytest.raises(ResponseError):
        store.save("kept-with-save", loaded, {"n": 1},
                   together=[*behind.commands(prefix, found[1]), refused])  # fmt: skip
    assert redis.xlen(behind.key(prefix)) == 0 and store.peek("kept-with-save") is None
    assert write_behind(app) == 0 and progress(app).position == "l1"
