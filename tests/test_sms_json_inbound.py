"""Inbound SMS through the JSON callbacks: keywords, help, repeats, recall answers, long texts."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.infra.models import Contact, Message, utcnow

from .conftest import AGENT
from .sms_callbacks import OURS, PHONE, PROVIDERS, infobip_sms, post
from .test_recall import add_recall, course, recall_answers, send_due, shown_number, texts
from .test_sms_json import (
    OTHER,
    _app,  # noqa: F401  (the app fixture: one that knows its own numbers)
    add_contact,
    kept,
    replies,
)


def reply_of(app, kind: str) -> Message:
    (reply,) = [m for m in replies(app) if m.kind == kind]
    return reply


@pytest.mark.parametrize("name", PROVIDERS)
def test_arret_opts_out_and_the_reply_goes_back_the_way_it_came(app, client, name):
    provider = PROVIDERS[name]
    response = post(client, provider.sms("ARRET", "in-1"))
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    with app.extensions["db"]() as db:
        person = db.scalars(select(Contact).where(Contact.phone == PHONE)).one()
    assert person.opted_out_at is not None
    reply = reply_of(app, "keyword")
    assert reply.body.startswith("Kalan : vous ne recevrez plus nos messages")
    assert (reply.via, reply.sender, reply.status) == (name, provider.number, "queued")
    (message,) = kept(app)
    assert (message.provider, message.provider_id, message.to) == (name, "in-1", provider.number)
    assert (message.phone, message.keyword) == (PHONE, "stop")


@pytest.mark.parametrize("name", PROVIDERS)
def test_aide_is_answered_through_the_provider(app, client, name):
    assert post(client, PROVIDERS[name].sms("aide", "in-1")).status_code == 200
    reply = reply_of(app, "keyword")
    assert reply.body.startswith("Kalan : envoyez FORMATION")
    assert (reply.via, reply.sender) == (name, PROVIDERS[name].number)


@pytest.mark.parametrize("name", PROVIDERS)
def test_unknown_text_gets_the_help_once_a_day(app, client, name):
    for n in range(3):
        assert post(client, PROVIDERS[name].sms("bonjour", f"in-{n}")).status_code == 200
    # Kept for the inbox, each one.
    assert [(m.provider, m.text, m.keyword) for m in kept(app)] == [(name, "bonjour", None)] * 3
    (reply,) = replies(app)
    assert reply.kind == "help" and reply.body.startswith("Kalan : envoyez FORMATION")
    assert (reply.via, reply.sender) == (name, PROVIDERS[name].number)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_repeated_sms_is_stored_and_answered_once(app, client, name):
    for _ in range(3):
        assert post(client, PROVIDERS[name].sms("AIDE", "in-42")).status_code == 200
    assert len(kept(app)) == 1
    assert len(replies(app)) == 1


def test_infobip_takes_every_sms_of_a_request(app, client):
    _, first = infobip_sms("AIDE", "ib-in-1")
    _, second = infobip_sms("ARRET", "ib-in-2", OTHER)
    body = {**first["json"], "results": first["json"]["results"] + second["json"]["results"]}
    assert client.post("/sms/inbound/infobip", json=body).status_code == 200
    assert [(m.phone, m.keyword) for m in kept(app)] == [(PHONE, "help"), (OTHER, "stop")]
    assert [m.body.split(":")[1].split()[0] for m in replies(app) + replies(app, OTHER)] == [
        "envoyez", "vous"]  # fmt: skip


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_recall_answer_comes_through_any_provider(make_app, name):
    app = make_app(TRAINING_RECALL_SMS="on", **OURS)
    add_contact(app, AGENT)
    with app.extensions["db"]() as db:
        db.scalars(select(Contact).where(Contact.phone == AGENT)).one().language = "fr"
        db.commit()
    add_recall(app, course(app).modules[0].id, utcnow() - timedelta(minutes=1))
    assert send_due(app, utcnow()) == 1
    digit = shown_number(app, texts(app, "recall")[-1].body, True)
    response = post(app.test_client(), PROVIDERS[name].sms(digit, "rc-1", AGENT))
    assert response.status_code == 200
    assert [a.correct for a in recall_answers(app)] == [True]
    (feedback,) = texts(app, "keyword")
    assert feedback.body.startswith("Oui.") and "rappel 2/3" in feedback.body
    assert (feedback.via, feedback.sender) == (name, PROVIDERS[name].number)
    assert [m.recall for m in kept(app)] == [True]  # the quiz took it: not for the inbox


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_long_sms_of_several_parts_is_taken(app, client, name):
    text = "Mon enfant travaille à la mine d'or près de l'école, que faire ? " * 18  # 8 parts
    assert 1024 < len(text.encode()) <= 4096
    assert post(client, PROVIDERS[name].sms(text, "in-1")).status_code == 200
    assert [m.text for m in kept(app)] == [text]


@pytest.mark.parametrize(
    ("name", "to"),
    [("africastalking", "36001"), ("orange", "+22344000001"), ("infobip", "KALAN")],
)
def test_a_reply_comes_from_the_number_written_to_only_if_it_is_ours(app, client, name, to):
    """Not ours (or a name): the reply still goes through that provider, from its default."""
    path, body = PROVIDERS[name].sms("AIDE", "in-1")
    if name == "africastalking":
        body["data"]["to"] = to
    elif name == "orange":
        body["json"]["inboundSMSMessageNotification"]["inboundSMSMessage"][
            "destinationAddress"] = "tel:" + to  # fmt: skip
    else:
        body["json"]["results"][0]["to"] = to
    assert client.post(path, **body).status_code == 200
    reply = reply_of(app, "keyword")
    assert (reply.via, reply.sender) == (name, None)
