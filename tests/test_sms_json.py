"""Orange's and Infobip's JSON SMS callbacks: receipts and refused bodies, as Africa's Talking's."""

import itertools
import json

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.infra.models import Contact, Message, utcnow
from app.infra.sms_records import DeliveryReport, InboundMessage
from app.messaging import delivery, outbox
from app.web.sms_json import MAX_JSON

from .sms_callbacks import (
    JSON_PROVIDERS,
    OURS,
    PHONE,
    PROVIDERS,
    infobip_receipt,
    infobip_report,
    infobip_sms,
    orange_receipt,
    orange_sms,
    post,
)

OTHER = "+22376000012"


@pytest.fixture(name="app")
def _app(make_app):
    """An app that knows its AT short code and Orange number, as one taking replies does."""
    return make_app(**OURS)


def sent(app, provider: str, provider_id: str, phone: str = PHONE, cost: str | None = None):
    """Write an outbox row as the sender leaves it once provider took it; return its id."""
    with app.app_context(), app.extensions["db"]() as db:
        outbox.add(db, current_app.config, "receipt", provider_id, phone, "Votre signalement")
        message = db.scalars(select(Message).where(Message.key.contains(provider_id))).one()
        message.status, message.provider, message.provider_id = "sent", provider, provider_id
        message.sent_at, message.cost = utcnow(), cost
        db.commit()
        return message.id


def row(app, message_id: int) -> Message:
    with app.extensions["db"]() as db:
        return db.get(Message, message_id)


def moved(message: Message) -> tuple:
    return message.status, message.delivery_status, message.reason


def add_contact(app, phone: str = PHONE, streak: int = 0) -> None:
    with app.extensions["db"]() as db:
        db.add(Contact(phone=phone, role="agent", failed_streak=streak))
        db.commit()


def streak(app, phone: str = PHONE) -> int:
    with app.extensions["db"]() as db:
        return db.scalars(select(Contact.failed_streak).where(Contact.phone == phone)).one()


def reports(app) -> list[tuple]:
    with app.extensions["db"]() as db:
        found = db.scalars(select(DeliveryReport).order_by(DeliveryReport.id))
        return [(r.provider, r.provider_id, r.status, r.phone, r.applied) for r in found]


def replies(app, phone: str = PHONE) -> list[Message]:
    with app.extensions["db"]() as db:
        query = select(Message).where(Message.phone == phone).order_by(Message.id)
        return list(db.scalars(query))


def kept(app) -> list[InboundMessage]:
    with app.extensions["db"]() as db:
        return list(db.scalars(select(InboundMessage).order_by(InboundMessage.id)))


@pytest.mark.parametrize("outcome", ["delivered", "failed", "waiting"])
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_receipt_moves_the_row_its_provider_sent_once(app, client, name, outcome):
    provider = PROVIDERS[name]
    add_contact(app, streak=2)
    message_id = sent(app, name, "pid-1")
    response = post(client, provider.receipt("pid-1", outcome))
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    message = row(app, message_id)
    assert moved(message) == provider.moves[outcome]
    assert (message.finished_at is not None) == (outcome != "waiting")
    # A delivery ends a failure streak, a failure adds to it, a buffered message neither.
    assert streak(app) == {"delivered": 0, "failed": 3, "waiting": 2}[outcome]
    assert post(client, provider.receipt("pid-1", outcome)).status_code == 200
    again = row(app, message_id)
    assert (moved(again), again.finished_at) == (moved(message), message.finished_at)
    assert streak(app) == {"delivered": 0, "failed": 3, "waiting": 2}[outcome]
    status = provider.moves[outcome][1]
    assert reports(app) == [(name, "pid-1", status, PHONE, True)]


def test_infobip_prices_each_row_that_had_no_cost(app, client):
    """One request, many reports: a price counts its parts, and never replaces a cost."""
    unpriced = sent(app, "infobip", "ib-1")
    priced = sent(app, "infobip", "ib-2", OTHER, cost="XOF 10.0000")
    price = {"pricePerMessage": 25, "currency": "XOF"}
    body = infobip_report("ib-1", "DELIVERED", price=price, smsCount=2)
    body["results"] += infobip_report("ib-2", "DELIVERED", OTHER, price=price)["results"]
    assert client.post("/sms/delivery/infobip", json=body).status_code == 200
    assert (row(app, unpriced).cost, row(app, unpriced).status) == ("XOF 50.0000", "delivered")
    assert (row(app, priced).cost, row(app, priced).status) == ("XOF 10.0000", "delivered")


@pytest.mark.parametrize(("sent_by", "reported_by"), list(itertools.permutations(PROVIDERS, 2)))
def test_a_receipt_naming_another_providers_id_leaves_the_row_alone(
    app, client, sent_by, reported_by
):
    """Ids are each provider's own: the same one from another provider is another message."""
    add_contact(app)
    message_id = sent(app, sent_by, "shared-1")
    assert post(client, PROVIDERS[reported_by].receipt("shared-1", "failed")).status_code == 200
    with app.app_context(), app.extensions["db"]() as db:
        delivery.sweep(db, utcnow(), current_app.config["SMS_UNREACHABLE_AFTER"])
    assert moved(row(app, message_id)) == ("sent", None, None)
    assert streak(app) == 0
    assert [(r[0], r[4]) for r in reports(app)] == [(reported_by, False)]
    # The provider that sent it still reports on it, the same status included.
    assert post(client, PROVIDERS[sent_by].receipt("shared-1", "failed")).status_code == 200
    assert moved(row(app, message_id)) == PROVIDERS[sent_by].moves["failed"]
    assert streak(app) == 1


@pytest.mark.parametrize("settle", ["apply_pending", "sweep"])
@pytest.mark.parametrize("name", JSON_PROVIDERS)
def test_an_unknown_id_is_kept_and_applied_once_the_row_has_it(app, client, name, settle):
    """A receipt can beat the sender's commit: it waits for the row to carry its id."""
    add_contact(app)
    assert post(client, PROVIDERS[name].receipt("early-1", "failed")).status_code == 200
    status = PROVIDERS[name].moves["failed"][1]
    assert reports(app) == [(name, "early-1", status, PHONE, False)]
    message_id = sent(app, name, "early-1")
    assert moved(row(app, message_id)) == ("sent", None, None)
    with app.app_context(), app.extensions["db"]() as db:
        limit = current_app.config["SMS_UNREACHABLE_AFTER"]
        if settle == "sweep":
            delivery.sweep(db, utcnow(), limit)
        else:
            delivery.apply_pending(db, ["early-1"], utcnow(), limit)
            db.commit()
    assert moved(row(app, message_id)) == PROVIDERS[name].moves["failed"]
    assert reports(app) == [(name, "early-1", status, PHONE, True)]
    assert streak(app) == 1
    # Infobip prices a message in its report: the price waits with it.
    assert row(app, message_id).cost == ("XOF 25.0000" if name == "infobip" else None)


@pytest.mark.parametrize(
    "request_",
    [infobip_receipt("ib-9", "delivered", "+223" + "7" * 20),
     orange_receipt("or-9", "delivered", "+22376 nobody")],
    ids=["infobip-too-long", "orange-not-a-number"],
)  # fmt: skip
def test_a_receipt_with_a_bad_number_is_kept_without_it(app, client, request_):
    """The number only helps find a lost message: a bad one is dropped, as from Africa's
    Talking, rather than refused for ever (PostgreSQL took no 24-character number: 503)."""
    assert post(client, request_).status_code == 200
    assert [r[3] for r in reports(app)] == [None]


def test_the_json_callbacks_need_the_token(make_app):
    app = make_app(WEBHOOK_TOKEN="tok")
    client = app.test_client()
    sent(app, "orange", "or-1")
    calls = [orange_receipt("or-1", "delivered"), infobip_receipt("ib-1", "delivered"),
             orange_sms("AIDE", "in-1"), infobip_sms("AIDE", "in-2")]  # fmt: skip
    for call in calls:
        for token in (None, "wrong", "tok "):
            response = post(client, call, token)
            assert response.status_code == 403, (call[0], token)
            assert response.get_data(as_text=True) == "missing or wrong token\n"
    assert reports(app) == [] and kept(app) == [] and len(replies(app)) == 1
    assert [post(client, call, "tok").status_code for call in calls] == [200] * 4


def body_of(request: tuple[str, dict]) -> dict:
    return request[1]["json"]


def edit(request: tuple[str, dict], change) -> dict:
    body = json.loads(json.dumps(body_of(request)))
    change(body)
    return body


ORANGE_INFO = ("deliveryInfoNotification", "deliveryInfo")
ORANGE_SMS = ("inboundSMSMessageNotification", "inboundSMSMessage")


def setting(path: tuple, name: str, value):
    """Return a change that sets one field inside a body, None to remove it."""

    def change(body):
        inner = body
        for step in path:
            inner = inner[step]
        if value is None:
            del inner[name]
        else:
            inner[name] = value

    return change


def orange_with(path: tuple, name: str, value, sms: bool = False) -> dict:
    made = orange_sms("AIDE", "in-1") if sms else orange_receipt("or-1", "delivered")
    return edit(made, setting(path, name, value))


def infobip_with(name: str, value, sms: bool = False, inner: str | None = None) -> dict:
    made = infobip_sms("AIDE", "in-1") if sms else infobip_receipt("ib-1", "delivered")
    path = ("results", 0) if inner is None else ("results", 0, inner)
    return edit(made, setting(path, name, value))


OD, OI, ID, II = ("/sms/delivery/orange", "/sms/inbound/orange", "/sms/delivery/infobip",
                  "/sms/inbound/infobip")  # fmt: skip
LONE = '{"deliveryInfoNotification": {"callbackData": "\\ud800", "deliveryInfo": {}}}'
BAD = [
    (OD, b"deliveryStatus=DeliveredToTerminal", "the body must be JSON"),
    (II, b"\xff\xfe{", "the body must be JSON"),
    (OI, b"[" * 100_000, "the body must be JSON"),  # deeper than Python's recursion
    (OD, LONE.encode(), "the body holds an unpaired surrogate"),
    (OI, json.dumps(body_of(orange_sms("\ud83d", "in-1"))).encode(), "the body holds an unpa"),
    (OD, b"x" * (MAX_JSON + 1), f"request body over {MAX_JSON} bytes"),
    (II, b"x" * (MAX_JSON + 5000), f"request body over {MAX_JSON} bytes"),
    (OD, {"deliveryInfo": {}}, "expected a deliveryInfoNotification with its deliveryInfo"),
    (OD, orange_with(ORANGE_INFO[:1], "callbackData", " "), "callbackData must name the message"),
    (OD, orange_with(ORANGE_INFO, "deliveryStatus", "Delivered"), "unknown deliveryStatus: 'De"),
    (OD, orange_with(ORANGE_INFO, "deliveryStatus", ["MessageWaiting"]), "unknown deliveryStat"),
    (OD, orange_with(ORANGE_INFO[:1], "callbackData", "x" * 65), "id must be at most 64 char"),
    (OD, orange_with(ORANGE_INFO[:1], "callbackData", "a\x00b"), "a field contains a NUL char"),
    (OI, [], "expected an inboundSMSMessageNotification with its inboundSMSMessage"),
    (OI, orange_with(ORANGE_SMS, "message", None, True), "messageId, senderAddress, destinati"),
    (OI, orange_with(ORANGE_SMS, "senderAddress", "tel:nobody", True), "from must be a phone"),
    (OI, orange_with(ORANGE_SMS, "message", "a\x00b", True), "a field contains a NUL character"),
    (OI, orange_with(ORANGE_SMS, "message", "é" * 2049, True), "text over 4096 bytes"),
    (ID, {"results": "x"}, "a delivery report must be a JSON object with a list of results"),
    (ID, {"results": [[]]}, "each result must be a JSON object"),
    (ID, infobip_with("messageId", 7), "each result needs a messageId"),
    (ID, infobip_with("groupName", "LOST", inner="status"), "unknown status group: 'LOST'"),
    (ID, infobip_with("groupName", ["DELIVERED"], inner="status"), "unknown status group"),
    (ID, infobip_with("error", {"id": 1, "name": "EC\x00"}), "a field contains a NUL character"),
    (II, {"messages": []}, "a forwarded SMS must be a JSON object with a list of results"),
    (II, infobip_with("text", 5, sms=True), "each result needs messageId, from, to and text"),
    (II, infobip_with("from", "nobody", sms=True), "from must be a phone number"),
    (II, infobip_with("messageId", " ", sms=True), "from must be a phone number and id must be"),
]


@pytest.mark.parametrize(("path", "body", "line"), BAD)
def test_bad_input_is_a_400_saying_what_is_wrong(app, client, path, body, line):
    sent(app, "orange", "or-1")
    sent(app, "infobip", "ib-1", OTHER)
    if isinstance(body, bytes):
        response = client.post(path, data=body, content_type="application/json")
    else:
        response = client.post(path, json=body)
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True).startswith(line)
    assert reports(app) == [] and kept(app) == []
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count(Message.id)).where(Message.status != "sent")) == 0


def test_one_bad_sms_in_an_infobip_batch_holds_back_none_of_the_others(app, client):
    """A sender that is no phone (an operator's name) is skipped; the ARRET beside it works."""
    path, body = infobip_sms("Bonjour", "in-1")
    bad, good = dict(body["json"]["results"][0]), dict(body["json"]["results"][0])
    bad["from"] = "OrangeMali"
    good.update(messageId="in-2", text="ARRET")
    response = client.post(path, json={"results": [bad, good]})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    assert [(m.provider_id, m.keyword) for m in kept(app)] == [("in-2", "stop")]
    with app.extensions["db"]() as db:
        assert db.scalars(select(Contact.opted_out_at).where(Contact.phone == PHONE)).one()


def test_a_malformed_entry_in_an_infobip_batch_holds_back_none_of_the_others(app, client):
    """Each entry is read on its own: one with no text is skipped, the ARRET beside it taken."""
    path, body = infobip_sms("ARRET", "in-1")
    broken = dict(body["json"]["results"][0], messageId="in-2", text=None)
    response = client.post(path, json={"results": [broken, *body["json"]["results"]]})
    assert (response.status_code, response.get_data(as_text=True)) == (200, "OK")
    assert [(m.provider_id, m.keyword) for m in kept(app)] == [("in-1", "stop")]
    good = sent(app, "infobip", "ib-1")
    report = infobip_receipt("ib-1", "delivered")[1]["json"]["results"][0]
    bogus = dict(report, messageId="ib-2", status={"groupName": "DELIVERED_TO_HANDSET"})
    response = client.post("/sms/delivery/infobip", json={"results": [bogus, report]})
    assert response.status_code == 200 and row(app, good).status == "delivered"
