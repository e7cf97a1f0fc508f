"""The recall quiz: three questions of a passed module, 7 days later, by USSD or by SMS."""

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.infra.models import Contact, Message, QuizAnswer, Recall, utcnow
from app.infra.sms_records import InboundMessage
from app.training import recall
from flows.training import RECALL
from flows.training.recall import pick

from .conftest import AGENT, Dial
from .test_sms import inbound
from .test_training import (
    answer_all,
    at_the_quiz,
    course,
    key_for,
    session_key,
    took_the_pretest,
)

WEEK = timedelta(days=7, minutes=1)


def at(app, moment) -> None:
    """Set the clock the USSD hops read, as if the call came at moment."""
    services = app.extensions["conversation"]
    app.extensions["conversation"] = dataclasses.replace(services, clock=lambda: moment)


def passed_module_one(app, client, phone=AGENT):
    """Take module 1 over USSD and pass it; return the module and when it was passed."""
    took_the_pretest(app, phone)
    caller, module = at_the_quiz(app, client, phone)
    assert "Module réussi" in answer_all(caller, app, module)
    return module, utcnow()


def the_recall(app, phone=AGENT) -> Recall | None:
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        return db.scalars(select(Recall).where(Recall.contact_id == contact.id)).first()


def recall_answers(app, phone=AGENT) -> list[QuizAnswer]:
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).one()
        query = select(QuizAnswer).where(
            QuizAnswer.contact_id == contact.id, QuizAnswer.attempt == RECALL
        )
        return list(db.scalars(query.order_by(QuizAnswer.id)))


def recall_choice(app, caller: Dial, right: bool) -> str:
    """Return the number shown for the right (or a wrong) option of the recall question."""
    session = json.loads(app.extensions["redis"].get(session_key(app, caller)))
    state = session["state"]["data"]["recall"]
    question = course(app).question(state["order"][state["i"]])
    k = question.right if right else question.right % len(question.answers) + 1
    return key_for(session["reply"], app.extensions["catalog"].get(f"course.{question.id}.o{k}"))


def test_a_passed_module_offers_its_recall_at_the_first_dial_seven_days_later(app, client, agent):
    module, passed = passed_module_one(app, client)
    due = the_recall(app).due_at
    assert timedelta(days=7) - timedelta(minutes=1) < due - passed <= timedelta(days=7)
    at(app, passed + timedelta(days=6))  # not yet: the menu as usual
    early = Dial(client, phone=agent)
    assert early().startswith("CON Kalan")
    at(app, passed + WEEK)
    caller = Dial(client, phone=agent)
    title = app.extensions["catalog"].get(f"course.{module.id}.title")
    offer = caller()
    assert offer.startswith(f"CON Rappel du module {title} : 3 questions")
    assert "1. Commencer\n2. Plus tard" in offer
    first = caller("1")
    assert first.startswith("CON Q1/3 ")
    asked = []
    for right in (True, False, True):
        asked.append(json.loads(app.extensions["redis"].get(session_key(app, caller)))
                     ["state"]["data"]["recall"]["order"][len(asked)])  # fmt: skip
        feedback = caller(recall_choice(app, caller, right))
        assert feedback.startswith("CON Oui." if right else "CON Non.")
        end = caller("1")
    assert end.startswith("CON Rappel terminé : 2 sur 3. Merci !")
    assert "99.Suite" not in end and "1. Menu principal" in end
    assert asked == pick(module, the_recall(app).contact_id)  # the same three as by SMS
    answers = recall_answers(app)
    assert [(a.question, a.correct) for a in answers] == list(
        zip(asked, (True, False, True), strict=True)
    )
    done = the_recall(app)
    assert (done.right, done.questions, done.finished_at is not None) == (2, 3, True)
    again = Dial(client, phone=agent)
    assert again().startswith("CON Kalan")  # taken: never offered again


def test_plus_tard_puts_it_off_a_day_three_times_at_most(app, client, agent):
    _, passed = passed_module_one(app, client)
    moment = passed + WEEK
    for _ in range(recall.MAX_POSTPONED):
        at(app, moment)
        caller = Dial(client, phone=agent)
        assert caller().startswith("CON Rappel du module")
        assert caller("2").startswith("CON Kalan")  # Plus tard: the main menu
        later = Dial(client, phone=agent)
        assert later().startswith("CON Kalan")  # not again the same day
        moment += timedelta(days=1, minutes=1)
    at(app, moment + timedelta(days=30))
    assert Dial(client, phone=agent)().startswith("CON Kalan")  # declined: no more offers
    assert the_recall(app).postponed == recall.MAX_POSTPONED
    assert recall_answers(app) == []


def first_recall_answer(app, client, phone: str, right: bool) -> Dial:
    """Pass module 1, dial a week later, begin the recall and answer its first question."""
    _, passed = passed_module_one(app, client)
    at(app, passed + WEEK)
    caller = Dial(client, phone=phone)
    caller("1")
    caller(recall_choice(app, caller, right))
    return caller


def test_a_recall_cut_off_goes_on_with_the_questions_left(app, client, agent):
    first_recall_answer(app, client, agent, True).drop()
    again = Dial(client, phone=agent)
    assert again().startswith("CON Rappel du module")
    assert again("1").startswith("CON Q2/3 ")
    assert len(recall_answers(app)) == 1


def test_back_from_feedback_shows_the_answer_that_counts(app, client, agent):
    caller = first_recall_answer(app, client, agent, False)
    locked = caller("0")
    assert "Votre réponse : " in locked
    assert "1. Suite" in locked
    caller("1")  # its feedback again, not a second choice
    assert [a.correct for a in recall_answers(app)] == [False]


def test_a_retake_after_a_pass_does_not_move_the_recall(app, client, agent):
    module, _ = passed_module_one(app, client)
    due = the_recall(app).due_at
    with app.app_context(), app.extensions["db"]() as db:
        contact_id = db.scalars(select(Contact.id).where(Contact.phone == agent)).one()
        recall.schedule(db, app.config, contact_id, module.id, utcnow() + timedelta(days=3))
        db.commit()
        assert len(db.scalars(select(Recall)).all()) == 1
    assert the_recall(app).due_at == due


@pytest.fixture
def texting(make_app):
    """An app that texts recall questions (replies by SMS reach it), with the agent stored."""
    app = make_app(TRAINING_RECALL_SMS="on")
    with app.extensions["db"]() as db:
        db.add(Contact(phone=AGENT, role="agent", organisation="RMCR", language="fr",
                       created_at=utcnow()))  # fmt: skip
        db.commit()
    return app


def send_due(app, moment) -> int:
    with app.app_context(), app.extensions["db"]() as db:
        return recall.send_due(db, app.config, app.extensions["catalog"], moment)


def texts(app, kind=None) -> list[Message]:
    with app.extensions["db"]() as db:
        query = select(Message).where(Message.phone == AGENT).order_by(Message.id)
        rows = list(db.scalars(query))
    return [m for m in rows if kind is None or m.kind == kind]


def shown_number(app, body: str, right: bool) -> str:
    """Return the number an SMS question lists for its right (or a wrong) option."""
    with app.extensions["db"]() as db:
        (asking,) = db.scalars(select(Recall.asking).where(Recall.asking.is_not(None))).all()
    question = course(app).question(asking)
    k = question.right if right else question.right % len(question.answers) + 1
    text = app.extensions["catalog"].get(f"course.{question.id}.o{k}")
    (line,) = [line for line in body.split("\n") if line.endswith(f". {text}")]
    return line.split(".", 1)[0]


def test_by_sms_where_replies_work_one_question_per_message(texting):
    app, client = texting, texting.test_client()
    module, passed = passed_module_one(app, client)
    assert send_due(app, passed + timedelta(days=6)) == 0  # not due yet
    assert send_due(app, passed + WEEK) == 1
    assert send_due(app, passed + WEEK) == 0  # texted once
    at(app, passed + WEEK)  # a dial the same day caches the profile, recall due in it
    assert Dial(client, phone=AGENT)().startswith("CON Rappel du module")
    (first,) = texts(app, "recall")
    assert first.body.startswith("Kalan, rappel 1/3 : ")
    lines = first.body.split("\n")
    assert [line[:3] for line in lines[1:4]] == ["1. ", "2. ", "3. "]
    assert lines[4] == "Répondez 1, 2 ou 3."
    assert inbound(client, "7", msg_id="r0", phone=AGENT).status_code == 200  # not an option
    assert texts(app)[-1].body == first.body  # the question again
    replies = []
    for n, right in enumerate((True, True, False), 1):
        body = texts(app)[-1].body
        assert f"rappel {n}/3" in body
        assert (
            inbound(client, shown_number(app, body, right), msg_id=f"r{n}", phone=AGENT).status_code
            == 200
        )
        replies.append(texts(app)[-1].body)
    assert replies[0].startswith("Oui.") and "rappel 2/3" in replies[0]
    assert replies[2].startswith("Non.") and "Kalan, rappel terminé : 2 sur 3" in replies[2]
    done = the_recall(app)
    assert (done.right, done.questions, done.asking) == (2, 3, None)
    assert [a.correct for a in recall_answers(app)] == [True, True, False]
    # Taken by SMS: the next dial goes to the menu, though the profile was cached today.
    assert Dial(client, phone=AGENT)().startswith("CON Kalan")
    assert (
        inbound(client, "2", msg_id="r9", phone=AGENT).status_code == 200
    )  # no question pending now
    assert texts(app)[-1].kind == "help"
    with app.extensions["db"]() as db:
        kept = {m.provider_id: m.recall for m in db.scalars(select(InboundMessage))}
    # The quiz took r0 to r3 (r0 got its question again): no supervisor needs to read them.
    assert kept == {"r0": True, "r1": True, "r2": True, "r3": True, "r9": False}


def test_stop_still_works_while_a_recall_question_waits(texting):
    app, client = texting, texting.test_client()
    _, passed = passed_module_one(app, client)
    send_due(app, passed + WEEK)
    inbound(client, "STOP", msg_id="s1", phone=AGENT)
    assert texts(app)[-1].kind == "keyword"
    assert "ne recevrez plus" in texts(app)[-1].body
    assert recall_answers(app) == []


def test_no_recall_sms_unless_switched_on(app, client, agent):
    _, passed = passed_module_one(app, client)
    assert send_due(app, passed + WEEK) == 0
    assert texts(app, "recall") == []


def add_recall(app, module: str, due, phone=AGENT) -> None:
    """Plan a recall as a pass of that module would have."""
    with app.extensions["db"]() as db:
        contact_id = db.scalars(select(Contact.id).where(Contact.phone == phone)).one()
        db.add(Recall(contact_id=contact_id, module=module, due_at=due, postponed=0))
        db.commit()


def test_one_recall_by_sms_at_a_time_so_that_a_digit_answers_one_question(texting):
    app, client = texting, texting.test_client()
    _, passed = passed_module_one(app, client)
    second = course(app).modules[1]
    add_recall(app, second.id, passed)
    assert send_due(app, passed + WEEK) == 1  # one of the two
    assert send_due(app, passed + WEEK) == 0  # not the other while a question waits
    for n in range(3):
        body = texts(app)[-1].body
        inbound(client, shown_number(app, body, True), msg_id=f"a{n}", phone=AGENT)
    assert "Kalan, rappel terminé : 3 sur 3" in texts(app)[-1].body
    assert send_due(app, passed + WEEK) == 1  # then the next one
    assert texts(app, "recall")[-1].body.startswith("Kalan, rappel 1/3 : ")
    assert len(texts(app, "recall")) == 2


def test_no_recall_sms_to_a_community_member(make_app):
    app = make_app(TRAINING_RECALL_SMS="on")
    client, phone = app.test_client(), "+22376000431"
    Dial(client, phone=phone)()  # a contact, not an agent
    add_recall(app, course(app).modules[0].id, utcnow() - timedelta(minutes=1), phone)
    assert send_due(app, utcnow()) == 0


def test_a_recall_answered_out_of_order_goes_on_with_the_others(app, client, agent):
    module, passed = passed_module_one(app, client)
    asked = pick(module, the_recall(app).contact_id)
    with app.extensions["db"]() as db:
        db.add(QuizAnswer(contact_id=the_recall(app).contact_id, module=module.id,
                          question=asked[1], attempt=RECALL, choice=1, correct=False,
                          answered_at=utcnow()))  # fmt: skip
        db.commit()
    at(app, passed + WEEK)
    caller = Dial(client, phone=agent)
    caller()
    assert caller("1").startswith("CON Q1/3 ")
    caller(recall_choice(app, caller, True))
    assert caller("1").startswith("CON Q3/3 ")  # the second, answered before, is skipped
    caller(recall_choice(app, caller, True))
    assert caller("1").startswith("CON Rappel terminé : 2 sur 3.")
    assert the_recall(app).right == 2


def test_plus_tard_puts_off_every_recall_due_to_the_next_day(app, client, agent):
    _, passed = passed_module_one(app, client)
    add_recall(app, course(app).modules[1].id, passed)
    at(app, passed + WEEK)
    caller = Dial(client, phone=agent)
    caller()
    caller("2")
    assert Dial(client, phone=agent)().startswith("CON Kalan")  # not the other module's
    with app.extensions["db"]() as db:
        recalls = db.scalars(select(Recall)).all()
    tomorrow = (passed + WEEK + timedelta(days=1)).date()
    # To the day: the minute of a dial is not kept, as it could be matched with a report's.
    assert {(r.due_at.date(), r.due_at.hour, r.due_at.minute) for r in recalls} == {
        (tomorrow, 0, 0)
    }


def test_recall_times_are_kept_to_the_day(app, client, agent):
    first_recall_answer(app, client, agent, True)
    (answer,) = recall_answers(app)
    assert (answer.answered_at.hour, answer.answered_at.minute, answer.answered_at.second) == (
        0, 0, 0,
    )  # fmt: skip


def test_others_find_their_recall_in_the_training_not_at_the_dial(app, client):
    phone = "+22376000432"  # a community member: awareness modules, no pre-test
    caller, module = at_the_quiz(app, client, phone)
    assert "Module réussi" in answer_all(caller, app, module)
    at(app, utcnow() + WEEK)
    again = Dial(client, phone=phone)
    assert again().startswith("CON Kalan")  # a community member dials to report too
    assert again("1", "1").startswith("CON Rappel du module")  # Formation, Continuer
    assert again("2").startswith("CON Formation")  # Plus tard: back to the training
