"""What the sandbox recorded, through its control API."""

import requests

from .conftest import ISO_Z, A, B, C


def test_messages_are_listed_per_number(sandbox):
    sms = sandbox.sms()
    first = sms.send("Un", [A, B])["SMSMessageData"]["Recipients"]
    second = sms.send("Deux", [A], sender_id="KALAN")["SMSMessageData"]["Recipients"]
    escaped = sandbox.messages(A)
    unescaped = requests.get(f"{sandbox.url}/sandbox/messages?to={A}", timeout=5).json()

    assert escaped == unescaped
    assert [(m["message"], m["messageId"]) for m in escaped] == [
        ("Un", first[0]["messageId"]),
        ("Deux", second[0]["messageId"]),
    ]
    item = escaped[1]
    assert ISO_Z.fullmatch(item.pop("at"))
    assert item == {
        "to": A,
        "message": "Deux",
        "from": "KALAN",
        "messageId": second[0]["messageId"],
        "status": "Success",
        "parts": 1,
        "cost": "XOF 25.0000",
        "provider": "africastalking",
    }
    assert escaped[0]["from"] == "AFRICASTKNG", "AT's sender when none is given"
    assert [m["to"] for m in sandbox.messages()] == [A, B, A]
    assert sandbox.messages(C) == []


def test_messages_can_be_cleared(sandbox):
    sandbox.sms().send("Un", [A])
    response = requests.delete(f"{sandbox.url}/sandbox/messages", timeout=5)

    assert response.status_code == 204
    assert sandbox.messages() == []
