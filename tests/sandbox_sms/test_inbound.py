"""Messages from the simulated phone to Kalan."""

import re

import pytest
import requests

from sandbox import words

from .conftest import ISO_Z, A

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
        {"id": 1, "delivered": True, "status": 200},
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
