"""The inbox: SMS that are neither keywords nor recall answers, read, answered through the
outbox (with the answer's delivery status), or set aside; within the user's area."""

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, Message
from app.infra.sms_records import InboundMessage

from ..conftest import AGENT
from ..helpers import AuthActions, assert_french, page, visible
from ..sms_callbacks import OURS, PROVIDERS, post
from ..test_recall import WEEK, passed_module_one, send_due, shown_number, texts
from ..test_sms import inbound
from .conftest import add_contact, add_user, cells, flashed

QUESTION = "Bonjour, la formation de samedi est-elle maintenue ?"
ANSWER = "Oui, samedi à 9 h au CSCom de Kadiolo. Merci !"


@pytest.fixture
def app(make_app):
    """An app that knows its AT short code and Orange number, as one taking replies does."""
    return make_app(**OURS)


def listed(client, handled=False) -> list[list[str]]:
    response = client.get("/console/inbox", query_string={"handled": 1} if handled else {})
    assert response.status_code == 200
    assert_french(response)
    return cells(response, "")


def message_id(app, text: str) -> int:
    with app.extensions["db"]() as db:
        return db.scalars(select(InboundMessage.id).where(InboundMessage.text == text)).one()


def test_only_texts_for_a_person_wait_in_the_inbox(app, client, sign_in):
    """Keywords are answered by the service; a stranger's text waits too, without a contact."""
    add_contact(app, "+22376100001", "Mariam Koné", "Kadiolo")
    inbound(client, QUESTION, msg_id="1", phone="+22376100001")
    inbound(client, "AIDE", msg_id="2", phone="+22376100001")
    inbound(client, "stop", msg_id="3", phone="+22376100002")
    inbound(client, "Qui êtes-vous ?", msg_id="4", phone="+22376100003")
    sign_in("national")
    rows = listed(client)
    assert [(row[1], row[2]) for row in rows] == [
        ("+22376100003", "Qui êtes-vous ?"), ("Mariam Koné +22376100001", QUESTION)]  # fmt: skip
    assert all(row[3] == "à traiter : ouvrir" for row in rows)
    assert "2 messages." in visible(client.get("/console/inbox"))
    assert listed(client, handled=True) == []


def test_recall_answers_stay_out_of_the_inbox(make_app):
    app = make_app(TRAINING_RECALL_SMS="on")  # recall questions go by SMS; replies come back
    client = app.test_client()
    add_contact(app, AGENT, None, None, role="agent", language="fr")
    _, passed = passed_module_one(app, client)
    send_due(app, passed + WEEK)
    body = texts(app)[-1].body
    inbound(client, shown_number(app, body, True), msg_id="r1", phone=AGENT)
    inbound(client, "Merci, c'est clair.", msg_id="m1", phone=AGENT)
    assert AuthActions(client).login(add_user(app, "admin")).status_code == 302
    # The digit answered the recall question: the quiz took it.
    assert [row[2] for row in listed(client)] == ["Merci, c'est clair."]


def test_an_answer_goes_through_the_outbox_and_the_message_is_handled(app, client, auth, sign_in):
    add_contact(app, "+22376100001", "Mariam Koné", "Kadiolo")
    inbound(client, QUESTION, msg_id="1", phone="+22376100001")
    email = sign_in("scoped")
    opened = client.get(f"/console/inbox/{message_id(app, QUESTION)}")
    assert opened.status_code == 200 and QUESTION in visible(opened)
    done = auth.post(f"/console/inbox/{message_id(app, QUESTION)}/answer", text=f"  {ANSWER} ")
    assert flashed(done) == ["Réponse mise en file d'envoi."]
    with app.extensions["db"]() as db:
        sent = db.scalars(select(Message).where(Message.kind == "answer")).one()
        message = db.scalars(select(InboundMessage)).one()
        audited = db.scalars(select(AuditEntry).where(AuditEntry.action == "inbox.answer")).one()
    # As it leaves: folded into GSM-7, like every SMS; transactional, so at any hour.
    assert (sent.phone, sent.body, sent.status) == ("+22376100001", ANSWER, "queued")
    assert (message.answer_id, message.handled_by) == (sent.id, email)
    assert (audited.actor, audited.target) == (email, f"inbound:{message.id}")
    shown = visible(done)
    assert f"répondu par {email}" in shown and ANSWER in shown
    assert cells(done, "answer")[1] == ["État", "en attente"]
    assert 'name="text"' not in page(done)  # one answer per message
    assert listed(client) == []
    (row,) = listed(client, handled=True)
    assert row[3] == "répondu (en attente)"
    again = auth.post(f"/console/inbox/{message.id}/answer", follow=False, text="Encore")
    assert again.status_code == 400 and "Ce message a déjà une réponse." in visible(again)
    auth.post(f"/console/inbox/{message.id}/handled")  # changes nothing: it was answered
    with app.extensions["db"]() as db:
        assert len(db.scalars(select(Message).where(Message.kind == "answer")).all()) == 1
        handled = db.scalars(select(InboundMessage.handled_at)).one()
    assert handled == message.handled_at


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_goes_back_the_way_the_sms_came(app, client, auth, sign_in, provider):
    """Through the provider the person wrote through, from the number they wrote to: the
    answer comes from where they expect it, and their reply reaches us again."""
    sms = PROVIDERS[provider].sms(QUESTION, "in-1", "+22376100001")
    assert post(client, sms).status_code == 200
    sign_in("admin")
    done = auth.post(f"/console/inbox/{message_id(app, QUESTION)}/answer", text=ANSWER)
    assert flashed(done) == ["Réponse mise en file d'envoi."]
    with app.extensions["db"]() as db:
        sent = db.scalars(select(Message).where(Message.kind == "answer")).one()
    assert (sent.phone, sent.body, sent.status) == ("+22376100001", ANSWER, "queued")
    assert (sent.via, sent.sender) == (provider, PROVIDERS[provider].number)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("   ", "Écrivez une réponse."), ("Merci. " * 80, "Réponse trop longue : 3 SMS au plus.")],
)
def test_an_answer_that_will_not_do_is_refused_and_kept(app, client, auth, sign_in, text, problem):
    inbound(client, QUESTION, msg_id="1", phone="+22376100001")
    sign_in("admin")
    response = auth.post(f"/console/inbox/{message_id(app, QUESTION)}/answer", follow=False,
                         text=text)  # fmt: skip
    assert response.status_code == 400
    assert_french(response)
    assert problem in visible(response)
    assert f">{text}</textarea>" in page(response)  # nothing typed is lost
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "answer")).all() == []
        assert db.scalars(select(InboundMessage.handled_at)).one() is None


def test_a_message_set_aside_is_handled_without_an_answer(app, client, auth, sign_in):
    inbound(client, "Merci beaucoup !", msg_id="1", phone="+22376100001")
    email = sign_in("admin")
    done = auth.post(f"/console/inbox/{message_id(app, 'Merci beaucoup !')}/handled")
    assert flashed(done) == ["Message marqué comme traité."]
    assert listed(client) == []
    (row,) = listed(client, handled=True)
    assert row[3] == "traité sans réponse"
    opened = client.get(f"/console/inbox/{message_id(app, 'Merci beaucoup !')}")
    assert f"traité sans réponse par {email}" in visible(opened)
    assert 'name="text"' in page(opened)  # it may still be answered


def test_the_inbox_keeps_to_the_users_area_and_viewers_only_read(app, client, auth, sign_in):
    add_contact(app, "+22376100001", "Mariam Koné", "Kadiolo")
    add_contact(app, "+22376100002", "Oumar Sidibé", "Koutiala")
    inbound(client, QUESTION, msg_id="1", phone="+22376100001")
    inbound(client, "Bonjour de Koutiala", msg_id="2", phone="+22376100002")
    inbound(client, "Sans contact", msg_id="3", phone="+22376100003")
    sign_in("viewer")  # the Koutiala region
    assert [row[2] for row in listed(client)] == ["Bonjour de Koutiala"]
    assert client.get(f"/console/inbox/{message_id(app, QUESTION)}").status_code == 404
    assert client.get(f"/console/inbox/{message_id(app, 'Sans contact')}").status_code == 404
    theirs = message_id(app, "Bonjour de Koutiala")
    opened = client.get(f"/console/inbox/{theirs}")
    assert opened.status_code == 200 and 'name="text"' not in page(opened)
    for action, form in (("answer", {"text": "Bonjour"}), ("handled", {})):
        response = auth.post(f"/console/inbox/{theirs}/{action}", follow=False, **form)
        assert response.status_code == 403
    with app.extensions["db"]() as db:
        assert db.scalars(select(InboundMessage.handled_at)).all() == [None] * 3
