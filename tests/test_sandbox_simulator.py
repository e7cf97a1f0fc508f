"""The sandbox's simulator endpoints and page, dialling the same peer, and its settings."""

import re
import time

import pytest

from sandbox import create_app, words

from .test_sandbox import (
    PHONE,
    _peer,  # noqa: F401  (the peer fixture, which these tests dial)
    always,
)

CONFIG_ENV = [
    "PORT",
    "KALAN_URL",
    "WEBHOOK_TOKEN",
    "USSD_CODE",
    "USSD_MAX_CHARS",
    "SANDBOX_USSD_DEADLINE_S",
    "SANDBOX_USSD_IDLE_S",
]


# The simulator endpoints, dialling the same peer.


@pytest.fixture(name="sandbox_app")
def _sandbox_app(peer):
    return create_app({"TESTING": True, "KALAN_URL": peer.url, "SANDBOX_USSD_DEADLINE_S": 2.0})


@pytest.fixture(name="simulator")
def _simulator(sandbox_app):
    return sandbox_app.test_client()


def test_simulator_conversation(peer, simulator):
    started = simulator.post("/simulator/ussd/start", json={"phone": PHONE})
    session_id = started.json["sessionId"]
    second = simulator.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "1"})
    last = simulator.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "0"})
    after = simulator.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "1"})

    screen = "Etape 0\n1. Suite\n0. Quitter"
    assert started.status_code == 200
    assert started.json == {
        "sessionId": session_id,
        "screen": screen,
        "ended": False,
        "status": None,
        "error": None,
        "warnings": [],
        "length": len(screen),
    }
    assert second.json["screen"].startswith("Etape 1")
    assert (last.json["screen"], last.json["ended"], last.json["status"]) == (
        "Au revoir",
        True,
        "Success",
    )
    assert (after.status_code, after.json) == (404, {"error": "unknown_session"})
    assert [hop.form["text"] for hop in peer.hops] == ["", "1", "1*0"]
    assert {hop.path for hop in peer.hops} == {"/ussd"}
    assert peer.events[0].path == "/ussd/events"


def test_simulator_hangup(peer, simulator):
    session_id = simulator.post("/simulator/ussd/start", json={"phone": PHONE}).json["sessionId"]
    hangup = simulator.post("/simulator/ussd/hangup", json={"sessionId": session_id})
    again = simulator.post("/simulator/ussd/hangup", json={"sessionId": session_id})

    assert (hangup.status_code, hangup.json) == (200, {"ended": True, "status": "Incomplete"})
    assert peer.events[0].form["status"] == "Incomplete"
    assert again.status_code == 404


def test_simulator_reports_a_broken_app_without_failing(peer, simulator):
    peer.script = always("Oups", status=500)
    started = simulator.post("/simulator/ussd/start", json={"phone": PHONE})
    session_id = started.json["sessionId"]
    reply = simulator.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "1"})

    assert started.status_code == 200
    assert (started.json["ended"], started.json["status"], started.json["error"]) == (
        True,
        "Failed",
        "HTTP 500",
    )
    assert reply.status_code == 404, "a failed session is not kept"


def test_simulator_passes_warnings(peer, simulator):
    peer.script = always("END " + "a" * 161)
    started = simulator.post("/simulator/ussd/start", json={"phone": PHONE})

    assert (started.json["warnings"], started.json["length"]) == (["too_long:161"], 161)


@pytest.mark.parametrize(
    ("path", "payload", "code"),
    [
        ("/simulator/ussd/start", "pas du JSON", "bad_json"),
        ("/simulator/ussd/start", [PHONE], "bad_json"),
        ("/simulator/ussd/start", {}, "missing_phone"),
        ("/simulator/ussd/start", {"phone": 22370000001}, "missing_phone"),
        ("/simulator/ussd/start", {"phone": "70000001"}, "bad_phone"),
        ("/simulator/ussd/reply", {"input": "1"}, "missing_sessionId"),
        ("/simulator/ussd/reply", {"sessionId": "ATUid_x"}, "missing_input"),
        ("/simulator/ussd/reply", {"sessionId": "ATUid_x", "input": 1}, "missing_input"),
        ("/simulator/ussd/hangup", None, "bad_json"),
        ("/simulator/ussd/hangup", {}, "missing_sessionId"),
    ],
)
def test_simulator_rejects_bad_requests(peer, simulator, path, payload, code):
    if isinstance(payload, str):
        response = simulator.post(path, data=payload, content_type="application/json")
    else:
        response = simulator.post(path, json=payload)

    assert (response.status_code, response.json) == (400, {"error": code})
    assert code in words.load()["script"]["errors"], "the page words every code"
    assert peer.hops == []


@pytest.mark.parametrize("path", ["/simulator/ussd/reply", "/simulator/ussd/hangup"])
def test_simulator_unknown_session(simulator, path):
    response = simulator.post(path, json={"sessionId": "ATUid_" + "0" * 32, "input": "1"})

    assert (response.status_code, response.json) == (404, {"error": "unknown_session"})


def test_simulator_strips_spaces_from_the_phone(peer, simulator):
    started = simulator.post("/simulator/ussd/start", json={"phone": "+223 70 00 00 01"})
    simulator.post("/simulator/ussd/hangup", json={"sessionId": started.json["sessionId"]})

    assert peer.hops[0].form["phoneNumber"] == PHONE


def test_simulator_sends_the_webhook_token(peer):
    app = create_app({"TESTING": True, "KALAN_URL": peer.url + "/", "WEBHOOK_TOKEN": "s3cr&t"})
    client = app.test_client()
    session_id = client.post("/simulator/ussd/start", json={"phone": PHONE}).json["sessionId"]
    client.post("/simulator/ussd/hangup", json={"sessionId": session_id})

    assert [(seen.path, seen.query) for seen in peer.hops + peer.events] == [
        ("/ussd", "token=s3cr%26t"),
        ("/ussd/events", "token=s3cr%26t"),
    ]


def test_simulator_expires_an_idle_session(peer):
    app = create_app({"TESTING": True, "KALAN_URL": peer.url, "SANDBOX_USSD_IDLE_S": 0.05})
    client = app.test_client()
    session_id = client.post("/simulator/ussd/start", json={"phone": PHONE}).json["sessionId"]
    time.sleep(0.1)
    late = client.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "1"})
    again = client.post("/simulator/ussd/reply", json={"sessionId": session_id, "input": "1"})

    assert late.status_code == 200
    assert (late.json["ended"], late.json["status"], late.json["error"]) == (
        True,
        "Incomplete",
        "session_expired",
    )
    assert len(peer.hops) == 1, "the late answer never reaches the app"
    assert peer.events[0].form["status"] == "Incomplete"
    assert again.status_code == 404


def test_simulator_sweeps_idle_sessions_on_dial(peer):
    app = create_app({"TESTING": True, "KALAN_URL": peer.url, "SANDBOX_USSD_IDLE_S": 0.05})
    client = app.test_client()
    first = client.post("/simulator/ussd/start", json={"phone": PHONE}).json["sessionId"]
    time.sleep(0.1)
    second = client.post("/simulator/ussd/start", json={"phone": PHONE}).json["sessionId"]
    client.post("/simulator/ussd/hangup", json={"sessionId": second})

    assert [(e.form["sessionId"], e.form["status"]) for e in peer.events] == [
        (first, "Incomplete"),
        (second, "Incomplete"),
    ]


def test_page_is_french_and_offline(simulator):
    response = simulator.get("/")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<html lang="fr">' in page
    assert "Composer *123#" in page
    assert "Raccrocher" in page
    assert not re.search(r"https?://", page), "no external asset: the page must work offline"


def test_healthz(simulator):
    response = simulator.get("/healthz")

    assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            {
                "KALAN_URL": "http://127.0.0.1:5000",
                "WEBHOOK_TOKEN": "",
                "USSD_CODE": "*123#",
                "USSD_MAX_CHARS": 160,
                "SANDBOX_USSD_DEADLINE_S": 10.0,
                "SANDBOX_USSD_IDLE_S": 180.0,
            },
        ),
        ({"PORT": "8000"}, {"KALAN_URL": "http://127.0.0.1:8000"}),
        (
            {
                "PORT": "8000",
                "KALAN_URL": "http://kalan.test",
                "WEBHOOK_TOKEN": "abc",
                "USSD_CODE": "*384*44135#",
                "USSD_MAX_CHARS": "182",
                "SANDBOX_USSD_DEADLINE_S": "15",
                "SANDBOX_USSD_IDLE_S": "30",
            },
            {
                "KALAN_URL": "http://kalan.test",
                "WEBHOOK_TOKEN": "abc",
                "USSD_CODE": "*384*44135#",
                "USSD_MAX_CHARS": 182,
                "SANDBOX_USSD_DEADLINE_S": 15.0,
                "SANDBOX_USSD_IDLE_S": 30.0,
            },
        ),
    ],
)
def test_config_from_environment(monkeypatch, env, expected):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = create_app().config

    assert {name: config[name] for name in expected} == expected
