"""Sending through the sandbox, as Africa's Talking's SDK sees it."""

import re

import pytest
import requests
from africastalking.Application import ApplicationService
from africastalking.Service import AfricasTalkingException

from .conftest import KEY, USERNAME, A, B

RECIPIENT_KEYS = ["cost", "messageId", "messageParts", "number", "status", "statusCode"]
MESSAGE_ID = re.compile(r"ATXid_[0-9a-f]{32}")


def test_send_answers_like_at(sandbox):
    answer = sandbox.sms().send("Bonjour", [A, B], sender_id="KALAN", enqueue=True)

    assert isinstance(answer, dict), "the SDK parses only an exact application/json"
    data = answer["SMSMessageData"]
    assert data["Message"] == "Sent to 2/2 Total Cost: XOF 50.0000"
    assert [list(entry) for entry in data["Recipients"]] == [RECIPIENT_KEYS] * 2
    for entry, number in zip(data["Recipients"], [A, B], strict=True):
        assert MESSAGE_ID.fullmatch(entry["messageId"])
        assert entry == {
            "cost": "XOF 25.0000",
            "messageId": entry["messageId"],
            "messageParts": 1,
            "number": number,
            "status": "Success",
            "statusCode": 102,
        }


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 200, 2),
        ("é" * 160, 1),  # é is in the GSM-7 basic set
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("ê" * 70, 1),  # ê is not GSM-7: the whole text goes UCS-2
        ("Prêt " + "a" * 66, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
        ("😀" * 35, 1),  # two UTF-16 code units each
        ("😀" * 36, 2),
    ],
)
def test_parts_and_cost(sandbox, text, parts):
    (entry,) = sandbox.sms().send(text, [A])["SMSMessageData"]["Recipients"]

    assert (entry["messageParts"], entry["cost"], entry["statusCode"]) == (
        parts,
        f"XOF {25 * parts}.0000",
        101,
    )
    assert sandbox.messages(A)[0]["parts"] == parts


def test_cost_follows_the_configured_tariff(serve):
    sandbox = serve(SANDBOX_SMS_PART_COST="KES 0.8000")
    data = sandbox.sms().send("a" * 200, [A, B])["SMSMessageData"]

    assert data["Message"] == "Sent to 2/2 Total Cost: KES 3.2000"
    assert {entry["cost"] for entry in data["Recipients"]} == {"KES 1.6000"}


@pytest.mark.parametrize("bad", ["+22312", "+2237000000100000", "+223 70000001", ""])
def test_invalid_number_is_refused_alone(sandbox, bad):
    # The SDK only checks its own looser pattern, so post these directly.
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": f"{A},{bad}", "message": "Bonjour"},
        headers={"apiKey": KEY},
        timeout=5,
    )

    data = response.json()["SMSMessageData"]
    assert response.status_code == 201
    assert data["Message"] == "Sent to 1/2 Total Cost: XOF 25.0000"
    assert data["Recipients"][1] == {
        "cost": "0",
        "messageId": "None",
        "number": bad,
        "status": "InvalidPhoneNumber",
        "statusCode": 403,
    }
    assert [m["to"] for m in sandbox.messages()] == [A]


def test_nothing_sent_costs_zero(sandbox):
    answer = sandbox.sms().send("Bonjour", ["+22312"])

    assert answer["SMSMessageData"]["Message"] == "Sent to 0/1 Total Cost: 0"
    assert sandbox.messages() == []


def test_premium_send_is_free_and_queued(sandbox):
    data = sandbox.sms().send_premium("Bonjour", "36000", [A], link_id="abc")["SMSMessageData"]

    assert data["Message"] == "Sent to 1/1"
    assert (data["Recipients"][0]["cost"], data["Recipients"][0]["statusCode"]) == ("0", 102)
    assert sandbox.messages(A)[0]["from"] == "36000"


@pytest.mark.parametrize(("username", "key"), [(USERNAME, "wrong"), ("kalan", KEY), (USERNAME, "")])
def test_bad_credentials_raise_like_at(sandbox, username, key):
    with pytest.raises(AfricasTalkingException) as raised:
        sandbox.sms(username, key).send("Bonjour", [A])

    assert str(raised.value) == "The supplied authentication is invalid"
    assert sandbox.messages() == []


def test_unauthorized_wire_format(sandbox):
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": A, "message": "x"},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="api",charset=UTF-8'
    assert response.text == "The supplied authentication is invalid"


@pytest.mark.parametrize("missing", ["username", "to", "message"])
def test_missing_field_is_malformed(sandbox, missing):
    form = {"username": USERNAME, "to": A, "message": "Bonjour"}
    del form[missing]
    response = requests.post(
        f"{sandbox.url}/version1/messaging", data=form, headers={"apiKey": KEY}, timeout=5
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("The request content was malformed: ")
    assert missing in response.text


def test_json_type_has_no_charset(sandbox):
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": A, "message": "Numéro reçu"},
        headers={"apiKey": KEY},
        timeout=5,
    )

    assert (response.status_code, response.headers["Content-Type"]) == (201, "application/json")


def test_balance_and_empty_inbox(sandbox):
    application = ApplicationService(USERNAME, KEY)
    application._baseUrl = f"{sandbox.url}/version1"

    assert application.fetch_application_data() == {"UserData": {"balance": "XOF 1000000.0000"}}
    assert sandbox.sms().fetch_messages() == {"SMSMessageData": {"Messages": []}}
