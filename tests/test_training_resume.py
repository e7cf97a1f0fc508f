"""Resuming the training: a dropped call picks up at the exact screen, over one session or three."""

import json

import pytest

from .conftest import AGENT, Dial, phone_key
from .helpers import write_behind
from .test_training import (
    at_the_quiz,
    choose,
    course,
    key_for,
    open_module,
    progress,
    took_the_pretest,
)


def test_resume_mid_lesson_and_mid_quiz_at_the_exact_screen(app, client, agent):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    third = caller("1", "1")  # lesson 3
    caller.drop()
    title = app.extensions["catalog"].get(f"course.{module.id}.title")
    offer = caller()
    assert offer.endswith(f"\n1. Reprendre : {title} (3/{module.lessons})\n2. Recommencer")
    assert caller("9") == "CON Choix invalide.\n" + offer[4:]  # the offer still says where
    assert caller("1") == third
    for _ in range(module.lessons - 2):
        caller("1")
    caller(choose(app, caller), "1")  # answered q1, now on q2
    second = caller.post("*".join(caller.inputs))  # the screen shown now
    caller.drop()
    assert caller().endswith(f"\n1. Reprendre : {title} (Q2/{len(module.quiz)})\n2. Recommencer")
    assert caller("1") == second
    assert progress(app).position == "q"


def test_continue_rebuilds_the_quiz_from_the_database(app, client, agent):
    """With the Redis resume point gone, Continuer still finds the quiz where it was."""
    caller, module = at_the_quiz(app, client, agent)
    caller(choose(app, caller), "1")
    caller.drop()
    write_behind(app)  # the clock wrote the answers meanwhile
    took_the_pretest(app)
    redis = app.extensions["redis"]
    redis.delete(phone_key(app, "resume", AGENT), phone_key(app, "profile", AGENT))
    caller()
    assert caller("1", "1").startswith("CON Votre quiz est en cours.")
    assert caller("1").startswith(f"CON Q2/{len(module.quiz)} ")


def test_done_when_three_sessions_over_http_with_the_module_sms(make_app, sandbox, tmp_path):
    """An imported agent completes module 1 over three dialled sessions, through the sandbox."""
    from sandbox.ussd import UssdCall
    from workers.jobs import dispatch

    from .conftest import Runner, serve

    app = make_app(AT_API_BASE_URL=sandbox.url, SMS_SEND_WINDOW="always")
    agents = tmp_path / "agents.csv"
    agents.write_text(
        "phone,name,role,region,cercle,commune,language,organisation\n"
        "+22370000777,Awa Traoré,agent,Sikasso,Sikasso,,fr,RMCR\n",
        encoding="utf-8",
    )
    assert Runner(app).invoke(["contacts", "import", str(agents)]).exit_code == 0
    module = course(app).modules[0]
    with serve(app) as kalan:
        sandbox.app.config["KALAN_URL"] = kalan

        def dial() -> tuple[UssdCall, str]:
            call = UssdCall(f"{kalan}/ussd", f"{kalan}/ussd/events", "+22370000777", "*123#")
            return call, call.start().screen

        call, screen = dial()  # session 1: into module 1, hang up mid-lesson
        assert screen.startswith("Kalan - Menu principal")
        # Formation (the pre-test offered first), Continuer sans le test: module 1, then two
        # lessons on.
        for key in ("1", "2", "1", "1"):
            screen = call.reply(key).screen
        lesson3 = screen
        call.hangup()

        call, screen = dial()  # session 2: resume at lesson 3, hang up mid-quiz
        assert screen.startswith("Vous n'aviez pas terminé.")
        assert call.reply("1").screen == lesson3
        for _ in range(module.lessons - 2):
            screen = call.reply("1").screen
        for _ in range(2):
            call.reply(right_key(app, call, screen))
            screen = call.reply("1").screen
        question3 = screen
        call.hangup()

        call, screen = dial()  # session 3: resume at question 3 and finish
        screen = call.reply("1").screen
        assert screen == question3
        for _ in range(len(module.quiz) - 2):
            call.reply(right_key(app, call, screen))
            screen = call.reply("1").screen
        assert f"Score : {len(module.quiz)}/{len(module.quiz)}. Module réussi !" in screen
        call.hangup()
        with app.app_context():
            dispatch()
    (sms,) = sandbox.messages("+22370000777")
    assert f"score {len(module.quiz)}/{len(module.quiz)}" in sms["message"]


def right_key(app, call, screen: str) -> str:
    """Return the key of the right option on the question screen a sandbox call shows."""
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    session = json.loads(redis.get(f"{prefix}session:{call.session_id}"))
    quiz = session["state"]["data"]["quiz"]
    question = course(app).question(quiz["order"][quiz["i"]])
    text = app.extensions["catalog"].get(f"course.{question.id}.o{question.right}")
    return key_for("CON " + screen, text)


@pytest.mark.parametrize(
    ("where", "steps"),
    [
        ("lesson", lambda m: ["1"] * 2),
        ("question", lambda m: ["1"] * m.lessons),
        ("feedback", lambda m: ["1"] * m.lessons + ["1"]),
    ],
)
def test_resume_at_every_kind_of_module_screen(app, client, agent, where, steps):
    module = course(app).modules[0]
    caller = Dial(client, phone=agent)
    caller()
    open_module(caller)
    shown = caller(*steps(module))
    caller.drop()
    assert caller().startswith("CON Vous n'aviez pas terminé.")
    assert caller("1") == shown


def test_resume_in_the_pre_test(app, client, agent):
    caller = Dial(client, phone=agent)
    caller()
    caller("1", "1")  # Formation (the pre-test first), Commencer
    shown = caller("1")  # answered the first item: now on the second
    assert shown.startswith(f"CON Q2/{len(course(app).pretest)} ")
    caller.drop()
    caller()
    assert caller("1") == shown


def test_resume_after_the_last_answer_shows_the_score(app, client, agent):
    caller, module = at_the_quiz(app, client, agent)
    for _ in module.quiz[:-1]:
        caller(choose(app, caller), "1")
    caller(choose(app, caller))  # the last feedback, then the call drops
    caller.drop()
    write_behind(app)  # the clock wrote the answers meanwhile
    took_the_pretest(app)
    redis = app.extensions["redis"]
    redis.delete(phone_key(app, "resume", AGENT), phone_key(app, "profile", AGENT))
    caller()
    resumed = caller("1", "1")
    assert resumed.startswith("CON Votre quiz est en cours.") and "\n1. Voir mon score" in resumed
    total = len(module.quiz)
    assert f"Score : {total}/{total}. Module réussi !" in caller("1")
