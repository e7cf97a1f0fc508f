"""The phone simulator's voice endpoints, the calls Kalan places, and the recordings kept."""

import io

import pytest
from werkzeug.wrappers import Response

from sandbox import create_app as create_sandbox
from sandbox.recordings import MAX_BYTES, RecordingError, Recordings

from .phone_line import (
    CALLBACK,
    CHILDREN,
    LAST,
    MENU,
    NUMBER,
    PHONE,
    SILENCE,
    SITE,
    TO_RECORD,
    WELCOME,
    switchboard,
    wav,
)


@pytest.fixture
def kalan(make_app):
    with switchboard(make_app(VOICE_SAY_MISSING=True)) as board:
        yield board


@pytest.fixture
def sandbox(kalan):
    """The sandbox, calling Kalan through the switchboard; its test client."""
    app = create_sandbox({"TESTING": True, "KALAN_URL": kalan.url})
    return app.test_client()


def said(data: dict) -> str:
    return " ".join(prompt["text"] for prompt in data["prompts"])


def post(client, action: str, **body):
    return client.post(f"/simulator/voice/{action}", json=body)


def test_a_call_from_the_page(sandbox, kalan):
    started = post(sandbox, "start", phone="+223 70 00 00 01")
    assert started.status_code == 200
    data = started.get_json()
    session = data["sessionId"]
    assert said(data).startswith(WELCOME)
    assert data["prompts"][0] == {"kind": "say", "text": data["prompts"][0]["text"], "url": "",
                                  "name": ""}  # fmt: skip
    assert data["wait"] == {"kind": "digits", "numDigits": 1, "timeout": 10, "finishOnKey": None}
    assert (data["number"], data["direction"], data["ended"], data["warnings"]) == (
        NUMBER, "Inbound", False, [],
    )  # fmt: skip
    assert kalan.voice()[0].form["callerNumber"] == PHONE  # the spaces gone, as AT sends it
    data = post(sandbox, "keys", sessionId=session, keys="1").get_json()
    assert said(data).startswith(MENU)
    data = post(sandbox, "silence", sessionId=session).get_json()
    assert said(data).startswith(f"{SILENCE} {MENU}")
    data = post(sandbox, "hangup", sessionId=session).get_json()
    assert (data["ended"], data["cause"], data["prompts"], data["currency"]) == (
        True, "NORMAL_CLEARING", [], "XOF",
    )  # fmt: skip
    assert kalan.voice()[-1].names == LAST
    gone = post(sandbox, "keys", sessionId=session, keys="1")
    assert (gone.status_code, gone.get_json()) == (404, {"error": "unknown_session"})


def test_a_missed_call_is_rejected_and_not_kept(sandbox, kalan):
    data = post(sandbox, "start", phone=PHONE, missed=True).get_json()
    assert (data["number"], data["ended"], data["cause"], data["amount"]) == (
        CALLBACK, True, "CALL_REJECTED", "0.0000",
    )  # fmt: skip
    assert kalan.voice()[0].form["destinationNumber"] == CALLBACK
    assert post(sandbox, "silence", sessionId=data["sessionId"]).status_code == 404


def record_turn(sandbox) -> str:
    session = post(sandbox, "start", phone=PHONE).get_json()["sessionId"]
    for keys in TO_RECORD:
        data = post(sandbox, "keys", sessionId=session, keys=keys).get_json()
    assert said(data).startswith(SITE)
    assert data["wait"] == {"kind": "record", "maxLength": 20, "timeout": 5, "finishOnKey": "#",
                            "playBeep": True}  # fmt: skip
    return session


def test_a_recording_from_the_page_reaches_kalan_as_a_url(sandbox, kalan):
    session = record_turn(sandbox)
    busy = post(sandbox, "keys", sessionId=session, keys="1")
    assert (busy.status_code, busy.get_json()) == (409, {"error": "not_waiting"})
    form = {"sessionId": session, "audio": (io.BytesIO(wav()), "enregistrement.wav")}
    data = sandbox.post("/simulator/voice/record", data=form).get_json()
    assert said(data).startswith(CHILDREN)
    url = kalan.voice()[-1].form["recordingUrl"]
    assert url.startswith("http://localhost/sandbox/voice/recordings/") and url.endswith(".wav")
    fetched = sandbox.get(url)
    assert (fetched.status_code, fetched.mimetype, fetched.data) == (200, "audio/wav", wav())


def test_no_file_records_nothing(sandbox, kalan):
    session = record_turn(sandbox)
    data = sandbox.post("/simulator/voice/record", data={"sessionId": session}).get_json()
    assert said(data).startswith(CHILDREN)
    assert "recordingUrl" not in kalan.voice()[-1].form


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty_recording"), (b"ID3\x03mp3 data", "not_wav"), (b"RIFF\0\0\0\0AVI ", "not_wav")],
)
def test_only_a_wav_is_taken(sandbox, kalan, content, code):
    session = record_turn(sandbox)
    form = {"sessionId": session, "audio": (io.BytesIO(content), "x.wav")}
    refused = sandbox.post("/simulator/voice/record", data=form)
    assert (refused.status_code, refused.get_json()) == (400, {"error": code})
    assert "recordingUrl" not in kalan.voice()[-1].form  # nothing was sent: the call still waits
    assert post(sandbox, "silence", sessionId=session).status_code == 200


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("start", None, "bad_json"),
        ("start", {}, "missing_phone"),
        ("start", {"phone": "7000"}, "bad_phone"),
        ("keys", {"keys": "1"}, "missing_sessionId"),
        ("keys", {"sessionId": "x"}, "missing_keys"),
        ("keys", {"sessionId": "x", "keys": "1a"}, "bad_keys"),
        ("silence", {"sessionId": 3}, "missing_sessionId"),
        ("answer", {}, "missing_sessionId"),
        ("refuse", {"sessionId": None}, "missing_sessionId"),
        ("hangup", [], "bad_json"),
    ],
)
def test_bad_requests_are_named(sandbox, action, body, code):
    refused = sandbox.post(f"/simulator/voice/{action}", json=body)
    assert (refused.status_code, refused.get_json()) == (400, {"error": code})
    assert sandbox.post("/simulator/voice/record").get_json() == {"error": "missing_sessionId"}


@pytest.mark.parametrize("action", ["keys", "silence", "hangup", "answer", "refuse"])
def test_an_unknown_call_is_404(sandbox, action):
    refused = post(sandbox, action, sessionId="ATVId_nothing", keys="1")
    assert (refused.status_code, refused.get_json()) == (404, {"error": "unknown_session"})


def test_a_broken_answer_ends_the_call_with_its_reason():
    with switchboard(script=lambda seen: Response("<Response><Hangup/></Response>")) as board:
        client = create_sandbox({"TESTING": True, "KALAN_URL": board.url}).test_client()
        data = post(client, "start", phone=PHONE).get_json()
    assert (data["ended"], data["cause"], data["error"]) == (
        True,
        "UNSPECIFIED",
        "unknown_verb:Hangup",
    )


def test_a_call_left_by_its_page_is_hung_up_at_the_next_call(sandbox, kalan):
    first = post(sandbox, "start", phone=PHONE).get_json()["sessionId"]
    sandbox.application.config["SANDBOX_VOICE_IDLE_S"] = 0
    post(sandbox, "start", phone=PHONE)
    ended = [s.form for s in kalan.voice() if s.form["isActive"] == "0"]
    assert [(f["sessionId"], f["hangupCause"]) for f in ended] == [(first, "NORMAL_CLEARING")]
    assert post(sandbox, "silence", sessionId=first).status_code == 404


# The calls Kalan places, ringing at the simulated phones.


def ring(sandbox, phone=PHONE, session_id="ATVId_" + "a" * 32):
    """Make the phone ring with a call from Kalan, as the fake voice API does."""
    return sandbox.application.extensions["voice_outbound"].add(CALLBACK, phone, session_id)


def test_a_call_kalan_placed_rings_then_is_answered(sandbox, kalan):
    ringing = ring(sandbox)
    ring(sandbox, "+22370000002", "ATVId_" + "e" * 32)
    listed = sandbox.get("/sandbox/voice/outbound?phone=+22370000001").get_json()  # "+" unescaped
    assert [(c["sessionId"], c["from"], c["to"], c["state"]) for c in listed] == [
        (ringing.session_id, CALLBACK, PHONE, "queued")
    ]
    assert len(sandbox.get("/sandbox/voice/outbound").get_json()) == 2
    data = post(sandbox, "answer", sessionId=ringing.session_id).get_json()
    assert said(data).startswith(WELCOME)
    assert (data["sessionId"], data["direction"], data["number"]) == (
        ringing.session_id, "Outbound", CALLBACK,
    )  # fmt: skip
    first = kalan.voice()[0].form
    assert (first["direction"], first["callerNumber"], first["destinationNumber"]) == (
        "Outbound", CALLBACK, PHONE,
    )  # fmt: skip
    assert sandbox.get(f"/sandbox/voice/outbound?phone={PHONE}").get_json() == []  # no more ringing
    again = post(sandbox, "answer", sessionId=ringing.session_id)
    assert (again.status_code, again.get_json()) == (409, {"error": "not_ringing"})


def test_refusing_a_call_kalan_placed(sandbox, kalan):
    ringing = ring(sandbox)
    data = post(sandbox, "refuse", sessionId=ringing.session_id).get_json()
    assert (data["ended"], data["cause"], data["direction"]) == (True, "USER_BUSY", "Outbound")
    (last,) = kalan.voice()
    assert (last.form["sessionId"], last.form["isActive"], last.form["hangupCause"]) == (
        ringing.session_id, "0", "USER_BUSY",
    )  # fmt: skip
    assert post(sandbox, "refuse", sessionId=ringing.session_id).status_code == 409
    unknown = post(sandbox, "refuse", sessionId="ATVId_nothing")
    assert (unknown.status_code, unknown.get_json()) == (404, {"error": "unknown_session"})


def test_answering_through_the_api_leaves_the_call_to_the_caller(sandbox, kalan):
    ringing = ring(sandbox)
    path = f"/sandbox/voice/outbound/{ringing.session_id}"
    taken = sandbox.post(path, json={"state": "answered"})
    assert (taken.status_code, taken.get_json()["state"]) == (200, "answered")
    assert kalan.voice() == []  # whoever answered drives the call: `kalan call --wait`
    again = sandbox.post(path, json={"state": "refused"})
    assert (again.status_code, again.get_json()["error"]) == (409, "not_ringing")
    unknown = sandbox.post("/sandbox/voice/outbound/ATVId_nothing", json={"state": "refused"})
    assert (unknown.status_code, unknown.get_json()["error"]) == (404, "unknown_call")


@pytest.mark.parametrize("body", [None, {}, {"state": "hold"}])
def test_taking_a_call_needs_a_state(sandbox, body):
    ringing = ring(sandbox)
    refused = sandbox.post(f"/sandbox/voice/outbound/{ringing.session_id}", json=body)
    assert (refused.status_code, refused.get_json()["error"]) == (400, "bad_state")


# The recordings kept for Kalan's worker to download.


def test_a_recording_uploaded_as_the_body():
    client = create_sandbox({"TESTING": True}).test_client()
    sent = client.post("/sandbox/voice/recordings", data=wav(), content_type="audio/wav")
    assert sent.status_code == 201
    assert client.get(sent.get_json()["url"]).data == wav()
    assert client.get("/sandbox/voice/recordings/nothing.wav").status_code == 404
    refused = client.post("/sandbox/voice/recordings", data=b"x" * 20, content_type="audio/wav")
    assert (refused.status_code, refused.get_json()) == (400, {"error": "not_wav"})
    huge = client.post("/sandbox/voice/recordings", data=b"RIFF" + b"\0" * (2 * MAX_BYTES))
    assert (huge.status_code, huge.get_json()) == (400, {"error": "recording_too_large"})


def test_the_oldest_recordings_go_first():
    kept = Recordings(kept=2)
    names = [kept.add(wav(seconds)) for seconds in (0.1, 0.2, 0.3)]
    assert [kept.get(name) for name in names] == [None, wav(0.2), wav(0.3)]
    with pytest.raises(RecordingError, match="recording_too_large"):
        kept.add(b"RIFF\0\0\0\0WAVE" + b"\0" * MAX_BYTES)


VOICE_ENV = [
    "SANDBOX_VOICE_NUMBER",
    "SANDBOX_VOICE_CALLBACK_NUMBER",
    "VOICE_CALLBACK_NUMBERS",
    "SANDBOX_VOICE_MINUTE_COST",
    "SANDBOX_VOICE_DEADLINE_S",
    "SANDBOX_VOICE_IDLE_S",
]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            {
                "SANDBOX_VOICE_NUMBER": NUMBER,
                "SANDBOX_VOICE_CALLBACK_NUMBER": CALLBACK,
                "SANDBOX_VOICE_DEADLINE_S": 10.0,
                "SANDBOX_VOICE_IDLE_S": 300.0,
            },
        ),  # fmt: skip
        # Kalan's own list, as make run shares it: the first number is the one called.
        (
            {"VOICE_CALLBACK_NUMBERS": "+22344000001, +22344000002"},
            {"SANDBOX_VOICE_CALLBACK_NUMBER": "+22344000001"},
        ),  # fmt: skip
        (
            {
                "VOICE_CALLBACK_NUMBERS": "+22344000001",
                "SANDBOX_VOICE_CALLBACK_NUMBER": "+22344000009",
                "SANDBOX_VOICE_NUMBER": "+22344000000",
                "SANDBOX_VOICE_IDLE_S": "30",
            },
            {
                "SANDBOX_VOICE_CALLBACK_NUMBER": "+22344000009",
                "SANDBOX_VOICE_NUMBER": "+22344000000",
                "SANDBOX_VOICE_IDLE_S": 30.0,
            },
        ),  # fmt: skip
    ],
)
def test_voice_settings_from_the_environment(monkeypatch, env, expected):
    for name in VOICE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = create_sandbox().config
    assert {name: config[name] for name in expected} == expected


def test_the_minute_cost_is_a_price(monkeypatch):
    monkeypatch.setenv("SANDBOX_VOICE_MINUTE_COST", "50 CFA")
    with pytest.raises(SystemExit, match="sandbox: cannot start: not a price like 'XOF 25.0000'"):
        create_sandbox()
    monkeypatch.setenv("SANDBOX_VOICE_MINUTE_COST", "XOF 60")
    tariff = create_sandbox().extensions["voice_tariff"]
    assert (tariff.currency, tariff.price(tariff.cost(2))) == ("XOF", "XOF 120.0000")
