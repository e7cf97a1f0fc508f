"""The voice adapter, through the official SDK, against the sandbox's voice API over HTTP."""

import pytest
import requests

from app.infra.gateway import FAILED, RETRY, UNKNOWN, GatewayError
from app.infra.voice_gateway import QUEUED, AfricasTalkingVoice, parse

OURS, PHONE = "+22320000001", "+22370000001"


def gateway(sandbox, key="sandbox-key") -> AfricasTalkingVoice:
    return AfricasTalkingVoice("sandbox", key, base_url=sandbox.url)


def ringing(sandbox, phone=None) -> list[dict]:
    params = {"phone": phone} if phone else {}
    return requests.get(sandbox.url + "/sandbox/voice/outbound", params=params, timeout=5).json()


def test_a_call_is_queued_with_its_session_id_and_rings_in_the_sandbox(sandbox):
    result = gateway(sandbox).call(OURS, PHONE, "callback:1")
    assert result.outcome == QUEUED and result.status == "Queued"
    assert result.session_id.startswith("ATVId_")
    [call] = ringing(sandbox, PHONE)
    assert call["sessionId"] == result.session_id
    assert (call["from"], call["to"], call["state"]) == (OURS, PHONE, "queued")


def test_the_same_key_twice_is_one_call(sandbox):
    first = gateway(sandbox).call(OURS, PHONE, "callback:1")
    again = gateway(sandbox).call(OURS, PHONE, "callback:1")
    other = gateway(sandbox).call(OURS, PHONE, "callback:2")
    assert again == first and other.session_id != first.session_id
    assert len(ringing(sandbox, PHONE)) == 2


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("InvalidPhoneNumber", FAILED), ("DestinationNotSupported", FAILED),
     ("InsufficientCredit", RETRY)],
)  # fmt: skip
def test_numbers_at_will_not_call(sandbox, status, outcome):
    sandbox.faults(call_status={PHONE: status})
    result = gateway(sandbox).call(OURS, PHONE, "k")
    assert (result.outcome, result.status, result.session_id) == (outcome, status, None)
    assert ringing(sandbox) == []


def test_a_refused_request_is_safe_to_repeat_and_a_lost_answer_is_not(sandbox):
    sandbox.faults(error_rate=1.0)
    with pytest.raises(GatewayError) as refused:
        gateway(sandbox).call(OURS, PHONE, "k1")
    assert not refused.value.unknown and "provider refused" in refused.value.reason
    assert ringing(sandbox) == []
    sandbox.faults(drop_rate=1.0)
    with pytest.raises(GatewayError) as dropped:
        gateway(sandbox).call(OURS, PHONE, "k2")
    assert dropped.value.unknown  # the call was queued: asking again would ring twice
    assert len(ringing(sandbox)) == 1


def test_a_wrong_key_or_caller_id_is_a_refusal(sandbox):
    with pytest.raises(GatewayError) as wrong_key:
        gateway(sandbox, key="wrong").call(OURS, PHONE, "k")
    assert "The supplied authentication is invalid" in wrong_key.value.reason
    with pytest.raises(GatewayError) as wrong_from:
        gateway(sandbox).call("ours", PHONE, "k")
    assert "Invalid callerId" in wrong_from.value.reason
    assert not wrong_key.value.unknown and not wrong_from.value.unknown
    assert ringing(sandbox) == []


def test_an_unreachable_provider_is_safe_to_retry():
    with pytest.raises(GatewayError) as caught:
        AfricasTalkingVoice("sandbox", "k", base_url="http://127.0.0.1:1").call(OURS, PHONE, "k")
    assert not caught.value.unknown


def test_a_number_the_sdk_would_refuse_fails_without_a_request(sandbox):
    result = gateway(sandbox).call(OURS, "70000001", "k")
    assert (result.outcome, result.status) == (FAILED, "InvalidPhoneNumber")
    assert ringing(sandbox) == []


@pytest.mark.parametrize(
    ("answer", "outcome", "session_id"),
    [
        ('{"entries":[{"phoneNumber":"+22370000001","status":"Queued","sessionId":"ATVId_1"}],'
         '"errorMessage":"None"}', QUEUED, "ATVId_1"),
        ({"entries": [], "errorMessage": "None"}, UNKNOWN, None),
        ({"entries": [{"phoneNumber": "+22370000002", "status": "Queued"}]}, UNKNOWN, None),
        ({"entries": [{"phoneNumber": PHONE, "status": "Ringing?", "sessionId": "None"}]},
         UNKNOWN, None),
    ],
)  # fmt: skip
def test_parse_answers(answer, outcome, session_id):
    result = parse(answer, PHONE)
    assert (result.outcome, result.session_id) == (outcome, session_id)


@pytest.mark.parametrize("answer", ["<html>", {"nothing": 1}, '{"entries": 3}', [1]])
def test_unreadable_answers_are_unknown(answer):
    with pytest.raises(GatewayError) as caught:
        parse(answer, PHONE)
    assert caught.value.unknown


def test_a_whole_request_refused_in_the_answer_is_not_unknown():
    with pytest.raises(GatewayError) as caught:
        parse({"entries": [], "errorMessage": "Invalid callerId"}, PHONE)
    assert not caught.value.unknown and caught.value.reason.endswith("Invalid callerId")
