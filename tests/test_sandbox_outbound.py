"""The sandbox's voice API and its queued calls, as the voice simulator takes them."""

import requests
from africastalking.Voice import VoiceService

OURS, PHONE, OTHER = "+22320000001", "+22370000001", "+22370000002"


def voice(sandbox, key="sandbox-key") -> VoiceService:
    """The official SDK's voice service, pointed at the sandbox as the adapter points it."""
    service = VoiceService("sandbox", key)
    service._baseUrl = sandbox.url + "/voice-api"
    return service


def outbound(sandbox, **params) -> list[dict]:
    response = requests.get(sandbox.url + "/sandbox/voice/outbound", params=params, timeout=5)
    assert response.status_code == 200
    return response.json()


def take(sandbox, session_id: str, body) -> requests.Response:
    url = f"{sandbox.url}/sandbox/voice/outbound/{session_id}"
    return requests.post(url, json=body, timeout=5)


def test_queued_calls_ring_until_taken(sandbox):
    answer = voice(sandbox).call(OURS, [PHONE, OTHER, "+1234"])
    assert answer["errorMessage"] == "None"
    statuses = [(e["phoneNumber"], e["status"]) for e in answer["entries"]]
    assert statuses == [(PHONE, "Queued"), (OTHER, "Queued"), ("+1234", "InvalidPhoneNumber")]
    [mine] = outbound(sandbox, phone=PHONE)
    assert mine["sessionId"] == answer["entries"][0]["sessionId"]
    assert (mine["from"], mine["to"], mine["state"]) == (OURS, PHONE, "queued")
    assert len(outbound(sandbox)) == 2
    response = take(sandbox, mine["sessionId"], {"state": "answered"})
    assert response.status_code == 200 and response.json()["state"] == "answered"
    assert outbound(sandbox, phone=PHONE) == []  # it rings no more
    assert [c["state"] for c in outbound(sandbox, all="1")] == ["answered", "queued"]


def test_a_call_is_taken_once(sandbox):
    session_id = voice(sandbox).call(OURS, [PHONE])["entries"][0]["sessionId"]
    assert take(sandbox, session_id, {"state": "refused"}).status_code == 200
    again = take(sandbox, session_id, {"state": "answered"})
    assert again.status_code == 409 and again.json()["detail"] == "the call was already refused"


def test_bad_requests_to_take_a_call_say_why(sandbox):
    session_id = voice(sandbox).call(OURS, [PHONE])["entries"][0]["sessionId"]
    for body in ({"state": "ringing"}, {}, None, ["answered"]):
        response = take(sandbox, session_id, body)
        assert response.status_code == 400 and response.json()["error"] == "bad_state"
    unknown = take(sandbox, "ATVId_nope", {"state": "answered"})
    assert unknown.status_code == 404 and "ATVId_nope" in unknown.json()["detail"]


def test_an_unescaped_plus_in_the_phone_still_finds_its_calls(sandbox):
    voice(sandbox).call(OURS, [PHONE])
    raw = requests.get(f"{sandbox.url}/sandbox/voice/outbound?phone={PHONE}", timeout=5)
    assert len(raw.json()) == 1


def test_delete_forgets_every_call(sandbox):
    voice(sandbox).call(OURS, [PHONE])
    assert requests.delete(sandbox.url + "/sandbox/voice/outbound", timeout=5).status_code == 204
    assert outbound(sandbox, all="1") == []


def test_the_voice_api_refuses_what_at_refuses(sandbox):
    url = sandbox.url + "/voice-api/call"
    headers = {"apiKey": "sandbox-key", "Accept": "application/json"}
    missing = requests.post(url, data={"username": "sandbox", "to": PHONE}, headers=headers)
    assert missing.status_code == 400 and "missing 'from'" in missing.text
    wrong = requests.post(url, data={"username": "sandbox", "from": OURS, "to": PHONE})
    assert wrong.status_code == 401
    assert outbound(sandbox, all="1") == []


def test_call_status_faults_are_checked(sandbox):
    url = sandbox.url + "/sandbox/faults"
    bad = requests.post(url, json={"call_status": {PHONE: "Busy"}}, timeout=5)
    assert bad.status_code == 400 and "call_status" in bad.json()["detail"]
    good = requests.post(url, json={"call_status": {PHONE: "InsufficientCredit"}}, timeout=5)
    assert good.json()["call_status"] == {PHONE: "InsufficientCredit"}
    entry = voice(sandbox).call(OURS, [PHONE])["entries"][0]
    assert (entry["status"], entry["sessionId"]) == ("InsufficientCredit", "None")
