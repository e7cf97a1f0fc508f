"""The training journey over the webhook: modules, certificate, reminders, pre- and post-test."""

import json
import re
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from app.content import load
from app.infra.models import Contact, Message, ModuleProgress, QuizAnswer, utcnow

from .conftest import AGENT, Dial
from .helpers import write_behind

ROOT = Path(__file__).resolve().parent.parent
MENU_LINE = re.compile(r"\d+\. |0\.Retour|99\.Suite")  # an option or the navigation line


def took_the_pretest(app, phone=AGENT):
    """Record the pre-test as answered, as if taken before."""
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        for qid in course(app).pretest:
            db.add(QuizAnswer(contact_id=contact.id, module="pretest", question=qid, attempt=0,
                              choice=1, correct=False, answered_at=utcnow()))  # fmt: skip
        db.commit()


def take_test(caller: Dial, app, right: bool) -> str:
    """Answer every pre/post-test question from its intro screen; return the end screen."""
    reply = caller("1")
    for _ in course(app).pretest:
        reply = caller(choose(app, caller, right))
    return reply


def choose(app, caller: Dial, right: bool = True) -> str:
    """Return the key of the current question's right (or a wrong) option, as shown."""
    session = json.loads(app.extensions["redis"].get(session_key(app, caller)))
    data = session["state"]["data"]
    held = data["quiz"] if session["state"]["node"].endswith(".q") else data["test"]
    question = course(app).question(held["order"][held["i"]])
    k = question.right if right else question.right % len(question.answers) + 1
    return key_for(session["reply"], app.extensions["catalog"].get(f"course.{question.id}.o{k}"))


def key_for(reply: str, text: str) -> str:
    """Return the number of the option that reads text on a screen."""
    (number,) = [line.split(". ", 1)[0] for line in reply[4:].split("\n")
                 if line.split(". ", 1)[-1] == text and line[:1].isdigit()]  # fmt: skip
    return number


def session_key(app, caller: Dial) -> str:
    return f"{app.config['REDIS_PREFIX']}session:{caller.session_id}"


def course(app):
    return app.extensions["catalog"].course


PRETEST_OFFER = "CON Avant de commencer"


def open_module(caller: Dial, number: int = 1) -> str:
    """Go from the main menu to a module's first screen, past a pre-test offered first."""
    if caller("1").startswith(PRETEST_OFFER):
        assert number == 1, "the pre-test comes before any module but the first"
        return caller("2")  # Continuer sans le test
    caller("2")
    return caller(str(number))


def read_lessons(caller: Dial, module) -> str:
    """Page through every lesson; return the quiz's first question."""
    for _ in range(module.lessons):
        reply = caller("1")
    return reply


def at_the_quiz(app, client, phone) -> tuple[Dial, object]:
    """Dial, open module 1 and read its lessons; return the caller on question 1."""
    module = course(app).modules[0]
    caller = Dial(client, phone=phone)
    caller()
    open_module(caller)
    read_lessons(caller, module)
    return caller, module


def reopen_module(caller: Dial, number: int = 1) -> str:
    """Drop the call, dial again and open the module from the main menu."""
    caller.drop()
    caller()
    return open_module(caller, number)


def answer_all(caller: Dial, app, module, right=True, count=None) -> str:
    """Answer count questions (all by default), rightly or not; return the last screen."""
    reply = ""
    for _ in range(len(module.quiz) if count is None else count):
        caller(choose(app, caller, right))  # the feedback screen
        reply = caller("1")  # next question, or the score
    return reply


def current_question(app, caller: Dial) -> str:
    session = json.loads(app.extensions["redis"].get(session_key(app, caller)))
    quiz = session["state"]["data"]["quiz"]
    return quiz["order"][quiz["i"]]


def progress(app, phone=AGENT) -> ModuleProgress | None:
    write_behind(app)
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        return db.scalars(
            select(ModuleProgress).where(ModuleProgress.contact_id == contact.id)
        ).first()


def numbered_lines(caller: Dial, first: str) -> list[str]:
    """Collect the numbered options of a screen across its pages."""
    lines, reply = [], first
    while True:
        lines += [line for line in reply[4:].split("\n") if line[:1].isdigit() and ". " in line]
        if "99.Suite" not in reply:
            return [line for line in lines if not line.startswith("99.")]
        reply = caller("99")


def test_an_agent_sees_every_module_and_a_community_member_the_awareness_ones(app, client, agent):
    took_the_pretest(app)
    agents = Dial(client, phone=agent)
    agents()
    listing = agents("1", "2")
    assert listing.startswith("CON Choisissez un module :\n1. ")
    assert len(numbered_lines(agents, listing)) == len(course(app).modules)
    everyone = Dial(client, phone="+22376000401")
    everyone()  # a new caller: one language, so straight to the main menu
    awareness = [m for m in course(app).modules if m.audience == "all"]
    assert len(numbered_lines(everyone, everyone("1", "2"))) == len(awareness)


def test_module_one_end_to_end_with_feedback_score_and_sms(app, client, agent):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    first = open_module(caller)
    lesson = app.extensions["catalog"].get(f"course.{module.id}.l1")
    assert first.startswith(f"CON 1/{module.lessons} {lesson[:30]}")
    question = read_lessons(caller, module)
    assert question.startswith(f"CON Q1/{len(module.quiz)} ")
    feedback = caller(choose(app, caller))
    assert feedback.startswith("CON Oui")
    caller("1")
    score = answer_all(caller, app, module, count=len(module.quiz) - 1)
    assert f"Score : {len(module.quiz)}/{len(module.quiz)}. Module réussi !" in score
    row = progress(app)
    assert (row.status, row.best_score, row.attempt) == ("passed", len(module.quiz), 1)
    with app.extensions["db"]() as db:
        assert db.query(QuizAnswer).count() == len(module.quiz)
        sms = db.scalars(select(Message).where(Message.kind == "module")).one()
    assert sms.phone == AGENT and f"score {len(module.quiz)}/{len(module.quiz)}" in sms.body


def pass_every_module(app, client, phone=AGENT) -> Dial:
    caller = Dial(client, phone=phone)
    for number, module in enumerate(course(app).modules, 1):
        caller.drop()
        if caller().startswith("CON Vous n'aviez pas terminé."):
            caller("2")  # Recommencer: to the main menu
        open_module(caller, number)
        read_lessons(caller, module)
        answer_all(caller, app, module)
    return caller


def test_passing_every_module_yields_a_certificate_that_verifies(app, client, agent, runner):
    pass_every_module(app, client)
    with app.extensions["db"]() as db:
        sms = db.scalars(select(Message).where(Message.kind == "certificate")).one()
        modules = db.scalars(select(Message).where(Message.kind == "module")).all()
    assert len(modules) == len(course(app).modules)
    code = sms.body.split("Votre certificat : ")[1][:8]
    count = len(course(app).modules)
    assert sms.body.startswith(f"Kalan : bravo Awa ! Vous avez réussi les {count} modules")
    result = runner.invoke(["certificate", "verify", code.lower()])
    assert result.exit_code == 0, result.output
    total = sum(len(m.quiz) for m in course(app).modules)
    assert f"certificate {code}: valid" in result.output
    assert f"score: {total}/{total} over {count} modules" in result.output
    assert "Awa (+22370000401), RMCR" in result.output
    wrong = runner.invoke(["certificate", "verify", "NOPE1234"])
    assert wrong.exit_code == 1 and "no certificate 'NOPE1234'" in wrong.output


def read_screen(caller: Dial, first: str) -> str:
    """Follow a screen's pages (99) and return its text, without the options and navigation."""
    text, reply = [], first
    while True:
        lines = reply[4:].split("\n")
        text.append(" ".join(line for line in lines if not MENU_LINE.match(line)))
        if "99.Suite" not in reply:
            return " ".join(text)
        reply = caller("99")


WALKED = load(ROOT / "content")[0].course.modules


@pytest.mark.parametrize("number", range(1, len(WALKED) + 1), ids=[m.id for m in WALKED])
def test_every_module_walked_as_a_learner(app, client, agent, number):
    """Lessons in order, each question shown with its options, the right answer's feedback,
    the pass, the progress row and the module SMS: module by module, over the webhook."""
    catalog = app.extensions["catalog"]
    module = course(app).modules[number - 1]
    took_the_pretest(app)  # else the pre-test is offered before any module
    caller = Dial(client, phone=agent)
    caller()
    screen = open_module(caller, number)
    for n in range(1, module.lessons + 1):
        lesson = catalog.get(f"course.{module.id}.l{n}")
        shown = read_screen(caller, screen)
        assert shown.startswith(f"{n}/{module.lessons} {lesson}"), (module.id, n)
        screen = caller("1")  # the next lesson, or the quiz after the last
    for k in range(1, len(module.quiz) + 1):
        qid = current_question(app, caller)
        right = course(app).question(qid).right
        assert screen.startswith(f"CON Q{k}/{len(module.quiz)} {catalog.get(f'course.{qid}.q')}\n")
        key = choose(app, caller)  # the options come in this learner's own order
        assert f"\n{key}. {catalog.get(f'course.{qid}.o{right}')}\n" in screen
        feedback = caller(key)
        assert feedback.startswith(f"CON {catalog.get(f'course.{qid}.f{right}')}\n")
        assert feedback.startswith("CON Oui")
        screen = caller("1")  # the next question, or the score
    total = f"{len(module.quiz)}/{len(module.quiz)}"
    title, takeaway = (catalog.get(f"course.{module.id}.{key}") for key in ("title", "takeaway"))
    assert read_screen(caller, screen) == f"Score : {total}. Module réussi ! Retenez : {takeaway}"
    row = progress(app)
    assert (row.module, row.status, row.best_score) == (module.id, "passed", len(module.quiz))
    with app.extensions["db"]() as db:
        sms = db.scalars(select(Message).where(Message.kind == "module")).one()
    assert sms.phone == AGENT
    assert sms.body == catalog.get("sms.module", title=title, score=total, takeaway=takeaway)


def test_a_community_member_gets_no_certificate(app, client):
    with app.extensions["db"]() as db:
        db.add(Contact(phone="+22376000402", role="community", language="fr", created_at=utcnow()))
        db.commit()
    caller = Dial(client, phone="+22376000402")
    caller()
    module = course(app).modules[0]  # an awareness module
    open_module(caller)
    read_lessons(caller, module)
    answer_all(caller, app, module)
    with app.extensions["db"]() as db:
        kinds = {m.kind for m in db.scalars(select(Message))}
    assert kinds == {"module"}


def test_reminders_after_idle_days_at_most_three(app, client, agent):
    from datetime import timedelta

    from app import training

    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    caller("1")  # lesson 2: the module is started
    later = utcnow() + timedelta(days=3, minutes=1)
    with app.app_context(), app.extensions["db"]() as db:
        assert (
            training.remind(db, current_app.config, current_app.extensions["catalog"], later) == 1
        )
        assert (
            training.remind(db, current_app.config, current_app.extensions["catalog"], later) == 0
        )  # not twice for the same idle spell
        for n in (2, 3, 4):
            training.remind(
                db,
                current_app.config,
                current_app.extensions["catalog"],
                later + timedelta(days=3 * (n - 1), minutes=n),
            )
        reminders = db.scalars(select(Message).where(Message.kind == "reminder")).all()
    assert len(reminders) == 3
    title = app.extensions["catalog"].get(f"course.{module.id}.title")
    expected = f"Kalan : le module {title} vous attend. Composez le *123# pour reprendre"
    assert reminders[0].body.startswith(expected)


def test_pre_test_first_then_post_test_after_the_course_and_the_gain(app, client, agent, runner):
    items = len(course(app).pretest)
    caller = Dial(client, phone=agent)
    caller()
    intro = caller("1")  # Formation: the pre-test comes first
    assert intro.startswith(f"CON Avant de commencer : {items} questions")
    end = take_test(caller, app, right=False)
    assert end.startswith(f"CON Merci ! Bonnes réponses : 0 sur {items}. Place au premier module.")
    first = caller("1")  # Continuer: the first module
    lesson = app.extensions["catalog"].get("course.m1.l1")
    assert first.startswith(f"CON 1/{course(app).modules[0].lessons} {lesson[:25]}")
    pass_every_module(app, client)
    caller = Dial(client, phone=agent)
    caller()
    assert caller("1", "1").startswith(f"CON Formation terminée ! Encore {items} questions")
    end = take_test(caller, app, right=True)
    assert f"Bonnes réponses : {items} sur {items}. Au début : 0 sur {items}." in end
    result = runner.invoke(["training", "report", "--out", "/tmp/kalan-report-test"])
    assert result.exit_code == 0
    from app.training import report

    with app.extensions["db"]() as db:
        (row,) = report.learners(db, course(app))
    assert (row["gain"], row["pretest"]) == (100, "taken")
    assert "0 agent(s) started without the pre-test: left out" in result.output


def test_a_new_caller_enrols_with_an_organisation_code(make_app):
    app = make_app(ORG_CODES="RMCR=1111, CMDT=3333")
    client = app.test_client()
    caller = Dial(client, phone="+22376000490")
    caller()  # a new caller: straight to the main menu, in the one language there is
    home = caller("1")
    assert "5. Je suis agent : m'inscrire" in home
    assert caller("5").startswith("CON Entrez le code de votre organisation")
    assert caller("9999").startswith("CON Code inconnu.")
    assert caller("1111") == (
        "CON Bienvenue ! Vous voilà inscrit comme agent de RMCR.\n1. Continuer\n0.Retour 00.Menu"
    )
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == "+22376000490")).one()
    assert (contact.role, contact.organisation) == ("agent", "RMCR")
    assert "Je suis agent" not in caller("00", "1")  # an agent is not offered it again


def test_no_enrolment_offer_without_codes(client):
    caller = Dial(client, phone="+22376000491")
    caller("1")
    assert "m'inscrire" not in caller("1")


def test_results_and_help_screens(app, client, agent):
    took_the_pretest(app)
    caller = Dial(client, phone=agent)
    caller()
    results = caller("1", "3")
    assert results.startswith(f"CON Modules réussis : 0 sur {len(course(app).modules)}.")
    assert caller("0", "4").startswith("CON Chaque module : quelques écrans à lire (3/6 : écran")
