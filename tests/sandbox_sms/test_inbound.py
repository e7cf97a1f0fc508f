"""Messages from the simulated phone to Kalan."""

import re
from urllib.parse import quote

import pytest
import requests

from sandbox import words

from .conftest import ISO_Z, A, B

INBOUND_FIELDS = ["date", "from", "id", "linkId", "text", "to", "networkCode"]


def test_inbound_sms_is_forwarded(sandbox, kalan):
    response = requests.post(
        f"{sandbox.url}/simulator/sms/send",
        json={"from": "+223 70 00 00 01", "text": "Bonjour, c'est Awa"},
        timeout=5,
    )
    again = requests.post(
        f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": "Encore"}, timeout=5
    )

    assert (response.status_code, response.json()) == (
        200,
        {"id": 1, "delivered": True, "status": 200, "provider": "africastalking"},
    )
    assert again.json()["id"] == 2
    first, second = kalan.posts("/sms/inbound")
    assert [name for name, _ in first.pairs] == INBOUND_FIELDS
    form = first.form
    assert ISO_Z.fullmatch(form["date"])
    assert re.fullmatch(r"[0-9a-f]{32}", form["linkId"])
    assert form["linkId"] != second.form["linkId"]
    assert {k: form[k] for k in ("from", "id", "text", "to", "networkCode")} == {
        "from": A,
        "id": "1",
        "text": "Bonjour, c'est Awa",
        "to": "36000",
        "networkCode": "99999",
    }
    assert first.query == "token=s3cr%26t"


def test_inbound_sms_can_be_fetched(sandbox):
    for text in ("Un", "Deux"):
        requests.post(f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": text})
    sms = sandbox.sms()
    everything = sms.fetch_messages()["SMSMessageData"]["Messages"]
    newer = sms.fetch_messages(last_received_id=1)["SMSMessageData"]["Messages"]

    assert [(m["id"], m["text"], m["from"], m["to"]) for m in everything] == [
        (1, "Un", A, "36000"),
        (2, "Deux", A, "36000"),
    ]
    assert all(ISO_Z.fullmatch(m["date"]) for m in everything)
    assert [m["id"] for m in newer] == [2]


@pytest.mark.parametrize(
    ("kalan_url", "answers", "delivered", "status"),
    [
        (None, [500], False, 500),
        (None, [201], False, 201),
        ("http://127.0.0.1:9", [], False, "Connection refused"),
    ],
)
def test_inbound_sms_reports_kalan_refusing(serve, kalan, kalan_url, answers, delivered, status):
    sandbox = serve(**({"KALAN_URL": kalan_url} if kalan_url else {}))
    kalan.answers = answers
    response = requests.post(
        f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": "Bonjour"}, timeout=5
    )

    assert response.status_code == 200
    assert (response.json()["delivered"], response.json()["status"]) == (delivered, status)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("pas du JSON", "bad_json"),
        ([A], "bad_json"),
        ({"text": "Bonjour"}, "missing_from"),
        ({"from": A}, "missing_text"),
        ({"from": A, "text": "  "}, "missing_text"),
        ({"from": A, "text": 3}, "missing_text"),
        ({"from": "70000001", "text": "Bonjour"}, "bad_phone"),
        ({"from": A, "text": "Bonjour", "provider": "moov"}, "unknown_provider"),
        ({"from": A, "text": "Bonjour", "provider": ""}, "unknown_provider"),
        ({"from": A, "text": "Bonjour", "provider": ["orange"]}, "unknown_provider"),
    ],
)
def test_inbound_sms_rejects_bad_requests(sandbox, kalan, payload, code):
    if isinstance(payload, str):
        kwargs = {"data": payload, "headers": {"Content-Type": "application/json"}}
    else:
        kwargs = {"json": payload}
    response = requests.post(f"{sandbox.url}/simulator/sms/send", timeout=5, **kwargs)

    assert (response.status_code, response.json()) == (400, {"error": code})
    assert code in words.load()["script"]["errors"], "the page words every code"
    assert kalan.seen == []


# -- replies through the provider that carried the phone's newest message ----------------------

ORANGE_SENDER = "tel:+22370009999"
INFOBIP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")


def orange_send(sandbox, to: str, name: str | None = None) -> None:
    """Send a message to a phone through the Orange API."""
    token = requests.post(
        f"{sandbox.url}/oauth/v3/token",
        auth=("sandbox-client", "sandbox-secret"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()
    request = {"address": "tel:" + to, "senderAddress": ORANGE_SENDER,
               "outboundSMSTextMessage": {"message": "Bonjour"}}  # fmt: skip
    if name:
        request["senderName"] = name
    answer = requests.post(
        f"{sandbox.url}/smsmessaging/v1/outbound/{quote(ORANGE_SENDER, safe='')}/requests",
        json={"outboundSMSMessageRequest": request},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def infobip_send(sandbox, to: str, sender: str | None = None) -> None:
    """Send a message to a phone through the Infobip API."""
    message = {"destinations": [{"to": to.removeprefix("+")}], "text": "Bonjour"}
    if sender:
        message["from"] = sender
    answer = requests.post(f"{sandbox.url}/sms/2/text/advanced", json={"messages": [message]},
                           headers={"Authorization": "App sandbox-key"}, timeout=5)  # fmt: skip
    assert answer.status_code == 200, answer.text


def text(sandbox, body: dict) -> dict:
    """Text Kalan from the simulated phone; return the JSON answer."""
    response = requests.post(f"{sandbox.url}/simulator/sms/send", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def test_reply_goes_through_orange(sandbox, kalan):
    orange_send(sandbox, A, name="KALAN")
    answer = text(sandbox, {"from": A, "text": "Oui, merci"})

    assert (answer["provider"], answer["delivered"], answer["status"]) == ("orange", True, 200)
    [seen] = kalan.posts("/sms/inbound/orange")
    assert (seen.query, seen.content_type) == ("token=s3cr%26t", "application/json")
    body = seen.json
    sms = body["inboundSMSMessageNotification"]["inboundSMSMessage"]
    message_id = sms["messageId"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", sms.pop("dateTime"))
    assert body == {"inboundSMSMessageNotification": {"callbackData": "", "inboundSMSMessage": {
        "destinationAddress": ORANGE_SENDER,  # the number, though the phone saw a name
        "messageId": message_id,
        "message": "Oui, merci",
        "resourceURL": f"{sandbox.url}/smsmessaging/v1/inbound/registrations/22370009999"
                       f"/messages/{message_id}",
        "senderAddress": "tel:" + A,
    }}}  # fmt: skip
    assert message_id and kalan.posts("/sms/inbound") == []
    # AT's fetch API lists only what came through AT.
    assert sandbox.sms().fetch_messages()["SMSMessageData"]["Messages"] == []


# A number Kalan sent from; never a name (KALAN), which no phone can text back.
@pytest.mark.parametrize(
    ("sender", "to"),
    [("22344000000", "22344000000"), ("KALAN", "22320000003"), (None, "22320000003")],
)
def test_reply_goes_through_infobip(sandbox, kalan, sender, to):
    infobip_send(sandbox, A, sender)
    answer = text(sandbox, {"from": A, "text": "  oui  merci beaucoup"})

    assert (answer["provider"], answer["delivered"]) == ("infobip", True)
    [seen] = kalan.posts("/sms/inbound/infobip")
    assert (seen.query, seen.content_type) == ("token=s3cr%26t", "application/json")
    body = seen.json
    result = body["results"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", result["messageId"])
    assert INFOBIP_TIME.fullmatch(result.pop("receivedAt"))
    assert body == {"results": [{
        "messageId": result["messageId"],
        "from": A.removeprefix("+"),
        "to": to,  # the number Kalan sent from, else the sandbox's Infobip number
        "text": "  oui  merci beaucoup",
        "cleanText": "merci beaucoup",
        "keyword": "OUI",
        "smsCount": 1,
        "price": {"pricePerMessage": 0, "currency": "EUR"},
        "callbackData": None,
    }], "messageCount": 1, "pendingMessageCount": 0}  # fmt: skip


@pytest.mark.parametrize(("sender", "to"), [("36123", "36123"), ("KALAN", "36000")])
def test_reply_goes_through_at_to_the_sender(sandbox, kalan, sender, to):
    """To the short code Kalan sent from; a sender id (a name) cannot be texted: the default."""
    orange_send(sandbox, A)
    sandbox.sms().send("Bonjour", [A], sender_id=sender)
    infobip_send(sandbox, B)  # another phone's message counts for nothing
    answer = text(sandbox, {"from": A, "text": "Oui"})

    assert answer["provider"] == "africastalking"
    assert kalan.posts("/sms/inbound")[0].form["to"] == to
    assert [m["to"] for m in sandbox.sms().fetch_messages()["SMSMessageData"]["Messages"]] == [to]


def test_the_newest_message_decides(sandbox, kalan):
    sandbox.sms().send("Bonjour", [A])
    orange_send(sandbox, A)
    first = text(sandbox, {"from": A, "text": "Un"})
    infobip_send(sandbox, A)
    second = text(sandbox, {"from": A, "text": "Deux"})

    assert (first["provider"], second["provider"]) == ("orange", "infobip")
    assert kalan.posts("/sms/inbound") == []


@pytest.mark.parametrize(
    ("provider", "path", "to"),
    [("africastalking", "/sms/inbound", lambda seen: seen.form["to"]),
     ("orange", "/sms/inbound/orange", lambda seen: seen.json["inboundSMSMessageNotification"]
      ["inboundSMSMessage"]["destinationAddress"]),
     ("infobip", "/sms/inbound/infobip", lambda seen: seen.json["results"][0]["to"])],
)  # fmt: skip
def test_provider_can_be_forced(sandbox, kalan, provider, path, to):
    fresh = text(sandbox, {"from": A, "text": "Un", "provider": provider})
    # With a message of that provider, even an older one, the reply goes to its sender.
    orange_send(sandbox, A)
    infobip_send(sandbox, A, "22344000000")
    sandbox.sms().send("Bonjour", [A], sender_id="36123")
    orange_send(sandbox, A)
    replied = text(sandbox, {"from": A, "text": "Deux", "provider": provider})

    assert (fresh["provider"], replied["provider"]) == (provider, provider)
    first, second = kalan.posts(path)
    defaults = {"africastalking": "36000", "orange": "tel:+22370000000", "infobip": "22320000003"}
    senders = {"africastalking": "36123", "orange": ORANGE_SENDER, "infobip": "22344000000"}
    assert (to(first), to(second)) == (defaults[provider], senders[provider])


@pytest.mark.parametrize(
    ("provider", "path"),
    [(None, "/sms/inbound"), ("orange", "/sms/inbound/orange"),
     ("infobip", "/sms/inbound/infobip")],
)  # fmt: skip
def test_inbound_duplicate_posts_twice(sandbox, kalan, provider, path):
    sandbox.set_faults(inbound_duplicate=True)
    answer = text(sandbox, {"from": A, "text": "Bonjour", "provider": provider})

    first, second = kalan.posts(path)
    assert answer["delivered"] is True
    assert (first.body, first.query) == (second.body, second.query)  # the same message, ids and all
    assert len(kalan.seen) == 2


def test_inbound_duplicate_reports_a_refused_copy(sandbox, kalan):
    sandbox.set_faults(inbound_duplicate=True)
    kalan.answers = [200, 500]
    answer = text(sandbox, {"from": A, "text": "Bonjour"})

    assert (answer["delivered"], answer["status"]) == (False, 500)
