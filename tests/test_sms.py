"""The SMS callbacks: delivery reports, inbound keywords and provider opt-outs."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra.models import Contact, Message, utcnow
from app.infra.sms_records import InboundMessage
from app.messaging import outbox

from .helpers import NO_AUDIO

PHONE = "+22376000011"


def inbound(client, text, msg_id="1", phone=PHONE, **extra):
    form = {
        "date": "2026-11-29T10:00:00Z",
        "from": phone,
        "id": msg_id,
        "linkId": "abc",
        "text": text,
        "to": "36000",
        "networkCode": "99999",
        **extra,
    }
    return client.post("/sms/inbound", data=form)


def replies(app, phone=PHONE) -> list[Message]:
    with app.extensions["db"]() as db:
        query = select(Message).where(Message.phone == phone).order_by(Message.id)
        return list(db.scalars(query))


def contact(app, phone=PHONE) -> Contact | None:
    with app.extensions["db"]() as db:
        return db.scalars(select(Contact).where(Contact.phone == phone)).first()


@pytest.mark.parametrize("word", ["STOP", "Arret", "ARRÊT", "arrêt", "Désabonner", "desabonner"])
def test_stop_words_opt_out_with_one_confirmation(app, client, word):
    response = inbound(client, word)
    assert response.status_code == 200 and response.get_data(as_text=True) == "OK"
    assert contact(app).opted_out_at is not None
    (reply,) = replies(app)
    assert reply.kind == "keyword"
    assert reply.body.startswith("Kalan : vous ne recevrez plus nos messages")
    assert reply.status == "queued"


def test_start_opts_back_in(app, client):
    inbound(client, "STOP", msg_id="1")
    inbound(client, "start", msg_id="2")
    assert contact(app).opted_out_at is None
    assert [m.body.split(":")[1].split()[0] for m in replies(app)] == ["vous", "votre"]


def test_start_notes_the_contacts_own_consent_by_sms(app, client):
    """Opting back in by SMS is the contact's own consent: when, by whom, how, as the console
    notes one it takes."""
    inbound(client, "STOP", msg_id="1")
    assert contact(app).consent_at is None
    inbound(client, "START", msg_id="2")
    back = contact(app)
    assert (back.consent_by, back.consent_how, back.consent_note) == ("sms", "sms", None)
    assert (utcnow() - back.consent_at).total_seconds() < 60


def test_stop_cancels_queued_campaign_messages(app, client):
    with app.app_context(), app.extensions["db"]() as db:
        outbox.add(db, current_app.config, "campaign", 7, PHONE, "Sensibilisation")
        outbox.add(db, current_app.config, "receipt", "R1", PHONE, "Votre signalement")
        db.commit()
    inbound(client, "STOP")
    states = {m.kind: (m.status, m.reason) for m in replies(app)}
    assert states["campaign"] == ("cancelled", "opted out")
    assert states["receipt"][0] == "queued"  # transactional messages still go


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("AIDE", "Kalan : envoyez FORMATION"),
        ("formation", "Kalan : pour suivre la formation, composez le *123#"),
        # Neutral: the SMS stays on a phone that others may read.
        ("Signaler", "Kalan : composez le *123#, puis le choix 2 du menu."),
    ],
)
def test_keywords_answer(app, client, text, start):
    inbound(client, text)
    (reply,) = replies(app)
    assert reply.body.startswith(start)


def test_a_keyword_of_any_language_works_whatever_the_profile(make_app, tmp_path):
    """Keywords come from content/, every language merged: a word in bm stops a French profile."""
    content = shutil.copytree(
        Path(__file__).resolve().parent.parent / "content", tmp_path / "c", ignore=NO_AUDIO
    )
    (content / "bm").mkdir()
    (content / "bm" / "sms.yaml").write_text("keywords:\n  stop: [JƆ]\n", encoding="utf-8")
    app = make_app(CONTENT_DIR=str(content))
    with app.extensions["db"]() as db:
        db.add(Contact(phone=PHONE, role="community", language="fr", first_seen=datetime.now(UTC)))
        db.commit()
    inbound(app.test_client(), "Jɔ")
    assert contact(app).opted_out_at is not None
    (reply,) = replies(app)
    assert reply.body.startswith("Kalan : vous ne recevrez plus nos messages")


def test_duplicate_inbound_is_ignored(app, client):
    for _ in range(3):
        assert inbound(client, "AIDE", msg_id="42").status_code == 200
    with app.extensions["db"]() as db:
        assert db.query(InboundMessage).count() == 1
    assert len(replies(app)) == 1


def test_unknown_text_gets_help_once_a_day(app, client):
    for n in range(3):
        inbound(client, "bonjour", msg_id=str(n))
    with app.extensions["db"]() as db:
        kept = db.scalars(select(InboundMessage)).all()
    # Kept for the console's inbox: no keyword, no recall answer, nobody has handled them.
    assert [(m.text, m.keyword, m.recall, m.handled_at) for m in kept] == [
        ("bonjour", None, False, None)] * 3  # fmt: skip
    (reply,) = replies(app)
    assert reply.kind == "help" and reply.body.startswith("Kalan : envoyez FORMATION")
    today = datetime.now(UTC).date().isoformat()  # TZ is Africa/Bamako, UTC+0
    assert reply.key == f"help:unknown-{today}:{PHONE}"


@pytest.mark.parametrize(
    ("form", "line"),
    [
        ({"from": PHONE, "id": "1"}, "missing field: text"),
        ({"from": "nobody", "id": "1", "text": "x"}, "from must be a phone number"),
        ({"from": PHONE, "id": " ", "text": "x"}, "from must be a phone number"),
    ],
)
def test_bad_inbound(client, form, line):
    response = client.post("/sms/inbound", data=form)
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith(line)


def test_provider_optout_opts_out_without_a_message(app, client):
    response = client.post("/sms/optout", data={"senderId": "KALAN", "phoneNumber": PHONE})
    assert response.status_code == 200
    assert contact(app).opted_out_at is not None
    assert replies(app) == []
    assert client.post("/sms/optout", data={"senderId": "KALAN"}).status_code == 400


def test_delivery_report_updates_the_message_once(app, client):
    with app.app_context(), app.extensions["db"]() as db:
        outbox.add(db, current_app.config, "receipt", "R1", PHONE, "Votre signalement")
        db.commit()
        message = db.scalars(select(Message)).one()
        message.status, message.provider_id = "sent", "ATXid_1"
        message.provider = "africastalking"  # as the sender records it
        db.commit()
    form = {"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE, "networkCode": "99999"}
    for _ in range(2):
        assert client.post("/sms/delivery", data=form).status_code == 200
    (message,) = replies(app)
    assert message.status == "delivered" and message.delivery_status == "Success"
    earlier = {**form, "status": "Sent"}  # arrives late: must not undo "delivered"
    assert client.post("/sms/delivery", data=earlier).status_code == 200
    assert replies(app)[0].status == "delivered"


def test_delivery_report_for_an_unknown_id_is_answered_200(client):
    form = {"id": "ATXid_nobody", "status": "Success", "phoneNumber": PHONE}
    assert client.post("/sms/delivery", data=form).status_code == 200
    assert client.post("/sms/delivery", data={"status": "Success"}).status_code == 400


def test_callbacks_need_the_token(make_app):
    client = make_app(WEBHOOK_TOKEN="tok").test_client()
    assert inbound(client, "AIDE").status_code == 403
    form = {"id": "x", "status": "Success"}
    assert client.post("/sms/delivery", data=form).status_code == 403
    assert client.post("/sms/delivery?token=tok", data=form).status_code == 200


@pytest.mark.parametrize(
    ("path", "form", "line"),
    [
        ("/sms/delivery", {"id": "x" * 65, "status": "Success"}, "id must be at most 64"),
        ("/sms/delivery", {"id": "x", "status": "S" * 33}, "id must be at most 64"),
        ("/sms/delivery", {"id": "x\x00", "status": "Success"}, "field id contains a NUL"),
        ("/sms/inbound", {"from": PHONE, "id": "i" * 65, "text": "x"}, "from must be a phone"),
        ("/sms/inbound", {"from": PHONE, "id": "1", "text": "a\x00b"}, "field text contains a NUL"),
    ],
)
def test_oversized_or_nul_callback_fields_get_400(client, path, form, line):
    response = client.post(path, data=form)
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith(line)


@pytest.mark.parametrize("count", ["²", "9" * 500, "-1", "abc"])
def test_odd_retry_counts_are_ignored(app, client, count):
    form = {"id": "ATXid_9", "status": "Success", "phoneNumber": PHONE, "retryCount": count}
    assert client.post("/sms/delivery", data=form).status_code == 200
    from app.infra.sms_records import DeliveryReport

    with app.extensions["db"]() as db:
        assert db.query(DeliveryReport).one().retry_count is None
