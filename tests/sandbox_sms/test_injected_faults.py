"""The sandbox's injected faults: errors, drops, latency, statuses."""

import json
import time

import pytest
import requests
from africastalking.Service import AfricasTalkingException

from ..kalan_standin import wait_for
from .conftest import KEY, USERNAME, A, B, C


def test_error_rate_fails_the_request_and_records_nothing(sandbox, kalan):
    sandbox.set_faults(error_rate=1)
    with pytest.raises(AfricasTalkingException) as raised:
        sandbox.sms().send("Bonjour", [A])

    assert str(raised.value) == "Internal Server Error"
    assert sandbox.messages() == []
    assert sandbox.settled() and kalan.seen == [], "no delivery report for a failed request"


def test_dropped_answer_still_sends(sandbox, kalan):
    sandbox.set_faults(drop_rate=1)
    with pytest.raises(requests.ConnectionError):
        sandbox.sms().send("Bonjour", [A, B])

    assert [m["to"] for m in sandbox.messages()] == [A, B]
    # The network delivers what it took, answer or not.
    wait_for(lambda: len(kalan.posts("/sms/delivery")) == 2)


def test_latency_delays_the_answer(sandbox):
    sandbox.set_faults(latency_ms=200)
    started = time.monotonic()
    sandbox.sms().send("Bonjour", [A])

    assert time.monotonic() - started >= 0.2


def test_latency_beyond_the_read_timeout(sandbox):
    sandbox.set_faults(latency_ms=400)
    with pytest.raises(requests.ReadTimeout):
        sandbox.sms().send("Bonjour", [A], timeout=(3.05, 0.1))

    # The request was taken all the same: the sender cannot know it went.
    assert wait_for(lambda: sandbox.messages(A))[0]["message"] == "Bonjour"


def test_recipient_status_is_forced(sandbox, kalan):
    sandbox.set_faults(recipient_status={B: 406, C: 405})
    data = sandbox.sms().send("Bonjour", [A, B, C], enqueue=True)["SMSMessageData"]

    assert data["Message"] == "Sent to 1/3 Total Cost: XOF 25.0000"
    assert data["Recipients"][0]["statusCode"] == 102
    assert data["Recipients"][1:] == [
        {
            "cost": "0",
            "messageId": "None",
            "number": B,
            "status": "UserInBlacklist",
            "statusCode": 406,
        },
        {
            "cost": "0",
            "messageId": "None",
            "number": C,
            "status": "InsufficientBalance",
            "statusCode": 405,
        },
    ]
    assert [m["to"] for m in sandbox.messages()] == [A]
    wait_for(sandbox.settled)
    assert [seen.form["phoneNumber"] for seen in kalan.posts("/sms/delivery")] == [A]


def test_seeded_faults_replay(sandbox):
    def outcomes() -> list[int]:
        sandbox.set_faults(error_rate=0.5, seed=7)
        form = {"username": USERNAME, "to": A, "message": "x"}
        url = f"{sandbox.url}/version1/messaging"
        return [
            requests.post(url, data=form, headers={"apiKey": KEY}, timeout=5).status_code
            for _ in range(12)
        ]

    first = outcomes()

    assert first == outcomes()
    assert set(first) == {201, 500}


def test_faults_round_trip(serve):
    start = {"recipient_status": {B: 406}}
    sandbox = serve(SANDBOX_FAULTS=json.dumps(start))
    url = f"{sandbox.url}/sandbox/faults"
    initial = requests.get(url, timeout=5).json()
    sandbox.set_faults(dlr_status={A: "Failed"}, dlr_duplicate=True, inbound_duplicate=True)
    replaced = requests.get(url, timeout=5).json()
    reset = requests.delete(url, timeout=5).json()

    assert initial["recipient_status"] == {B: 406}
    assert initial["error_rate"] == 0.0
    assert replaced["recipient_status"] == {}, "a post replaces every fault"
    assert replaced["dlr_status"] == {A: {"status": "Failed", "failureReason": "DeliveryFailure"}}
    assert replaced["dlr_duplicate"] is True
    assert (initial["inbound_duplicate"], replaced["inbound_duplicate"]) == (False, True)
    assert reset == initial, "delete goes back to the faults the sandbox started with"


@pytest.mark.parametrize(
    "faults",
    [
        [],
        {"error_rate": 2},
        {"error_rate": "0.5"},
        {"drop_rate": True},
        {"latency_ms": -1},
        {"latency_ms": 1.5},
        {"recipient_status": {A: 408}},
        {"recipient_status": [A]},
        {"dlr_status": {A: "Delivered"}},
        {"dlr_status": {A: {"status": "Failed", "failureReason": 3}}},
        {"dlr_duplicate": "yes"},
        {"inbound_duplicate": 1},
        {"error_rat": 1},
    ],
)
def test_bad_faults_are_refused(sandbox, faults):
    response = requests.post(f"{sandbox.url}/sandbox/faults", json=faults, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_faults"
    assert requests.get(f"{sandbox.url}/sandbox/faults", timeout=5).json()["error_rate"] == 0.0
