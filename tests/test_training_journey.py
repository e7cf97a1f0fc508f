"""The training over the webhook: the pre-test offered first, each learner's option order."""

import json

from sqlalchemy import select

from app.infra.models import Contact, ModuleProgress, QuizAnswer, utcnow
from app.training import report

from .conftest import Dial
from .helpers import write_behind
from .test_training import choose, course, key_for, open_module, read_lessons, session_key

AWA, MOUSSA = "+22370000411", "+22370000412"


def agents(app, *phones: str) -> None:
    """Store imported agents who have chosen French."""
    with app.extensions["db"]() as db:
        for phone in phones:
            db.add(Contact(phone=phone, role="agent", organisation="CMDT", language="fr",
                           created_at=utcnow()))  # fmt: skip
        db.commit()


def quiz_screens(app, client, phone: str) -> list[str]:
    """Read module 1 and answer its quiz rightly; return each question screen as shown."""
    caller = Dial(client, phone=phone)
    caller()
    open_module(caller)
    read_lessons(caller, course(app).modules[0])
    screens = []
    for _ in course(app).modules[0].quiz:
        screens.append(json.loads(app.extensions["redis"].get(session_key(app, caller)))["reply"])
        caller(choose(app, caller), "1")
    return screens


def test_two_agents_see_the_options_of_some_question_in_different_orders(app, client):
    agents(app, AWA, MOUSSA)
    awa, moussa = quiz_screens(app, client, AWA), quiz_screens(app, client, MOUSSA)

    def options(screen: str) -> set[str]:
        return {line.split(". ", 1)[1] for line in screen.split("\n")[1:] if ". " in line}

    for mine, theirs in zip(awa, moussa, strict=True):
        assert mine.split("\n")[0] == theirs.split("\n")[0]  # the same question
        assert options(mine) == options(theirs)  # with the same options
    assert awa != moussa  # but not all in the same places


def test_a_redial_that_starts_afresh_shows_the_same_order(app, client):
    """Not only the resumed screen: the quiz rebuilt after Recommencer keeps the learner's order."""
    agents(app, AWA)
    module = course(app).modules[0]
    caller = Dial(client, phone=AWA)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    caller(choose(app, caller), "1")
    second = caller.post("*".join(caller.inputs))  # question 2, as shown
    caller.drop()
    caller()
    caller("2")  # Recommencer: the main menu, and a new session state
    open_module(caller)  # the quiz under way
    assert caller("1") == second


def test_the_database_keeps_the_authored_option_and_the_report_names_its_text(app, client):
    """A wrong option shown away from its number is kept as its number; the report names it."""
    agents(app, AWA)
    module = course(app).modules[0]
    catalog = app.extensions["catalog"]
    caller = Dial(client, phone=AWA)
    caller()
    open_module(caller)
    shown = read_lessons(caller, module)
    session = json.loads(app.extensions["redis"].get(session_key(app, caller)))
    question = course(app).question(session["state"]["data"]["quiz"]["order"][0])
    places = {k: key_for(shown, catalog.get(f"course.{question.id}.o{k}"))
              for k in range(1, len(question.answers) + 1)}  # fmt: skip
    moved = [k for k, key in places.items() if k != question.right and key != str(k)]
    assert moved, "this learner sees every wrong option at its own number: pick another"
    caller(places[moved[0]])
    write_behind(app)
    with app.extensions["db"]() as db:
        kept = db.scalars(select(QuizAnswer)).one()
        rows = report.questions(db, course(app), catalog)
    (row,) = [r for r in rows if r["question"] == question.id]
    assert (kept.question, kept.choice, kept.correct) == (question.id, moved[0], False)
    assert row["top_wrong"] == catalog.get(f"course.{question.id}.o{moved[0]}")
    assert row["top_wrong_count"] == 1


def test_an_agent_who_goes_on_without_the_pre_test_is_counted_as_such(app, client):
    agents(app, AWA)
    caller = Dial(client, phone=AWA)
    caller()
    offer = caller("1")  # Formation
    assert offer.startswith("CON Avant de commencer :") and "\n2. Continuer sans le test\n" in offer
    module = course(app).modules[0]
    assert caller("2").startswith(f"CON 1/{module.lessons} ")  # module 1, lesson 1
    with app.extensions["db"]() as db:
        row = db.scalars(select(ModuleProgress)).one()
        assert (row.module, row.status, row.position) == (module.id, "started", "l1")
        assert db.scalars(select(QuizAnswer)).all() == []
    caller.drop()
    caller()
    caller("2")  # Recommencer
    assert caller("1").startswith("CON Formation\n1. Continuer")  # not offered again
    assert caller("1").startswith(f"CON 1/{module.lessons} ")  # Continuer: module 1, not the test
    with app.extensions["db"]() as db:
        rows = report.learners(db, course(app))
    assert [(r["pretest"], r["gain"]) for r in rows] == [("skipped", "")]
    assert report.gain_summary(rows)["skipped"] == 1
