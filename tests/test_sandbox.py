"""Tests of the sandbox: the USSD driver against a real peer."""

import logging
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox.ussd import SessionEnded, UssdCall

PHONE = "+22370000001"
HOP_FIELDS = ["phoneNumber", "serviceCode", "text", "sessionId", "networkCode"]
EVENT_FIELDS = [
    "date",
    "sessionId",
    "serviceCode",
    "networkCode",
    "phoneNumber",
    "status",
    "cost",
    "durationInMillis",
    "hopsCount",
    "hopsMetadata",
    "input",
    "lastAppResponse",
    "errorMessage",
]
MALFORMED = "Response should start with a CON or an END"


@dataclass
class Reply:
    """What the peer answers to one hop."""

    body: str
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    content_type: str = "text/plain; charset=utf-8"


@dataclass
class Seen:
    """One request as the peer received it."""

    path: str
    query: str
    headers: dict
    body: str
    pairs: list

    @property
    def form(self) -> dict:
        return dict(self.pairs)


def menu(text: str) -> Reply:
    """Play a small menu that labels each step and ends on "0"."""
    inputs = text.split("*") if text else []
    if inputs[-1:] == ["0"]:
        return Reply("END Au revoir")
    step = len(inputs)
    return Reply(
        f"CON Etape {step}\n1. Suite\n0. Quitter",
        headers={"at-ussd-hop-metadata": f"step{step}"},
    )


class Peer:
    """A throwaway stand-in for the remote app, on a real socket.

    It answers hops from a script (text -> Reply) and records every request,
    hops and end-of-session notifications apart.
    """

    def __init__(self) -> None:
        self.script = menu
        self.hops: list[Seen] = []
        self.events: list[Seen] = []
        # Slow replies wait on this, so teardown can cut them short.
        self.release = threading.Event()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        seen = Seen(
            path=request.path,
            query=request.query_string.decode(),
            headers=dict(request.headers),
            body=body,
            pairs=parse_qsl(body, keep_blank_values=True),
        )
        if request.path.endswith("/events"):
            self.events.append(seen)
            return Response("OK")(environ, start_response)
        self.hops.append(seen)
        reply = self.script(seen.form["text"])
        if reply.delay:
            self.release.wait(reply.delay)
        body = self.drip(reply.body, reply.trickle) if reply.trickle else reply.body
        response = Response(body, reply.status, reply.headers, content_type=reply.content_type)
        return response(environ, start_response)

    def drip(self, body: str, pause: float):
        """Send body a character at a time, pausing before each."""
        for char in body:
            self.release.wait(pause)
            yield char


@pytest.fixture(name="peer")
def _peer():
    peer = Peer()
    thread = threading.Thread(
        target=peer.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield peer
    peer.release.set()
    peer.server.shutdown()
    peer.server.server_close()
    thread.join()


@pytest.fixture(name="free_url")
def _free_url():
    """Return a URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ussd"


def make_call(peer: Peer, **options) -> UssdCall:
    """Build a call from the default phone to the peer."""
    options.setdefault("deadline", 2.0)
    return UssdCall(f"{peer.url}/ussd", f"{peer.url}/ussd/events", PHONE, "*123#", **options)


def always(body: str, **reply) -> Callable[[str], Reply]:
    """Return a script that gives the same reply to every hop."""
    return lambda text: Reply(body, **reply)


# The driver, against the peer.


def test_text_accumulates_like_at(peer):
    call = make_call(peer)
    call.start()
    for answer in ["1", "2", "Awa Traoré *3"]:
        call.reply(answer)
    call.hangup()

    assert [hop.form["text"] for hop in peer.hops] == ["", "1", "1*2", "1*2*Awa Traoré *3"]
    assert {hop.form["sessionId"] for hop in peer.hops} == {call.session_id}
    assert re.fullmatch(r"ATUid_[0-9a-f]{32}", call.session_id)


def test_hop_wire_format(peer):
    call = make_call(peer)
    call.start()
    call.reply("Awa Traoré *3")
    call.hangup()

    first, second = peer.hops
    assert first.body == (
        "phoneNumber=%2B22370000001&serviceCode=%2A123%23&text="
        f"&sessionId={call.session_id}&networkCode=99999"
    )
    assert [name for name, _ in second.pairs] == HOP_FIELDS
    assert "text=Awa+Traor%C3%A9+%2A3&" in second.body
    assert first.headers["User-Agent"] == "at-ussd-api/1.0"
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"


def test_hop_metadata_is_echoed_and_aggregated(peer):
    call = make_call(peer)
    call.start()
    call.reply("1")
    call.reply("0")

    echoed = [hop.headers.get("At-Ussd-Hop-Metadata") for hop in peer.hops]
    assert echoed == [None, "step0", "step1"]
    assert peer.events[0].form["hopsMetadata"] == "step0|step1"


def test_end_is_success_and_notified(peer):
    call = make_call(peer)
    call.start()
    call.reply("1")
    hop = call.reply("0")

    assert (hop.screen, hop.ended, hop.status, hop.error) == ("Au revoir", True, "Success", None)
    (event,) = peer.events
    assert [name for name, _ in event.pairs] == EVENT_FIELDS
    form = event.form
    assert datetime.strptime(form["date"], "%Y-%m-%d %H:%M:%S")
    assert form["durationInMillis"].isdigit()
    assert {k: form[k] for k in EVENT_FIELDS[1:7] + EVENT_FIELDS[8:]} == {
        "sessionId": call.session_id,
        "serviceCode": "*123#",
        "networkCode": "99999",
        "phoneNumber": PHONE,
        "status": "Success",
        "cost": "XOF 0.0000",
        "hopsCount": "3",
        "hopsMetadata": "step0|step1",
        "input": "1*0",
        "lastAppResponse": "END Au revoir",
        "errorMessage": "",
    }


@pytest.mark.parametrize(
    ("reply", "error", "http_status"),
    [
        (Reply(" CON Menu"), MALFORMED, 200),
        (Reply("\nEND Merci"), MALFORMED, 200),
        (Reply("Bonjour"), MALFORMED, 200),
        (Reply(""), MALFORMED, 200),
        (Reply("con Menu"), MALFORMED, 200),
        (Reply("CON\nMenu"), MALFORMED, 200),
        (Reply("END"), MALFORMED, 200),
        (Reply("CON Menu", status=500), "HTTP 500", 500),
        (Reply("END Merci", status=404), "HTTP 404", 404),
        (Reply("CON Menu", status=201), "HTTP 201", 201),
        (Reply("CON Trop tard", delay=1.0), "Request timed out", None),
        # Every read beats the deadline, the whole reply does not.
        (Reply("CON Lent", trickle=0.25), "Request timed out", 200),
    ],
)
def test_broken_replies_fail_the_session(peer, reply, error, http_status):
    peer.script = lambda text: reply
    call = make_call(peer, deadline=0.5)
    hop = call.start()

    assert (hop.screen, hop.ended, hop.status, hop.error) == ("", True, "Failed", error)
    assert hop.http_status == http_status
    event = peer.events[0].form
    assert (event["status"], event["errorMessage"], event["hopsCount"]) == ("Failed", error, "1")


def test_refused_connection_fails_the_session(peer, free_url):
    call = UssdCall(free_url, f"{peer.url}/ussd/events", PHONE, "*123#")
    hop = call.start()

    assert (hop.status, hop.error, hop.http_status) == ("Failed", "Connection refused", None)
    event = peer.events[0].form
    assert (event["errorMessage"], event["lastAppResponse"]) == ("Connection refused", "")


@pytest.mark.parametrize("action", ["hangup", "expire"])
def test_leaving_a_menu_is_incomplete(peer, action):
    call = make_call(peer)
    call.start()
    call.reply("1")
    hop = getattr(call, action)()

    assert (hop.ended, hop.status, hop.error) == (True, "Incomplete", None)
    assert len(peer.hops) == 2, "leaving posts no hop, only the notification"
    event = peer.events[0].form
    assert event["status"] == "Incomplete"
    assert event["input"] == "1"
    assert event["lastAppResponse"].startswith("CON Etape 1")
    assert event["errorMessage"] == ""


@pytest.mark.parametrize("action", ["reply", "hangup", "expire"])
def test_ended_session_refuses_more(peer, action):
    peer.script = always("END Merci")
    call = make_call(peer)
    call.start()

    with pytest.raises(SessionEnded):
        getattr(call, action)(*(["1"] if action == "reply" else []))
    assert len(peer.hops) == 1
    assert len(peer.events) == 1


@pytest.mark.parametrize(
    ("body", "max_chars", "warnings"),
    [
        ("CON " + "a" * 160, 160, []),
        ("CON " + "a" * 161, 160, ["too_long:161"]),
        ("CON " + "a" * 170, 182, []),
        ("CON Numéro à saisir", 160, []),
        ("CON Prêt’s", 160, ["not_gsm7:ê’"]),
        ("END " + "ê" * 161, 160, ["too_long:161", "not_gsm7:ê"]),
    ],
)
def test_screen_warnings(peer, body, max_chars, warnings):
    peer.script = always(body)
    call = make_call(peer, max_chars=max_chars)
    hop = call.start()
    if not hop.ended:
        call.hangup()

    assert hop.warnings == warnings
    assert hop.status != "Failed", "warnings never fail the session"


def test_body_without_charset_is_read_as_utf8(peer):
    peer.script = always("END Numéro reçu", content_type="text/plain")
    hop = make_call(peer).start()

    assert hop.screen == "Numéro reçu"


def test_failed_notification_is_swallowed(peer, free_url, caplog):
    peer.script = always("END Merci")
    call = UssdCall(f"{peer.url}/ussd", free_url + "/events", PHONE, "*123#")
    with caplog.at_level(logging.WARNING, logger="sandbox.ussd"):
        hop = call.start()

    assert hop.status == "Success"
    assert "end-of-session notification" in caplog.text


@pytest.mark.parametrize("own", [True, False])
def test_call_closes_only_its_own_http_session(peer, own):
    peer.script = always("END Merci")
    with requests.Session() as given:
        call = make_call(peer, http=None if own else given)
        closed = []
        close = call.http.close
        call.http.close = lambda: closed.append(True) or close()
        call.start()

        assert closed == ([True] if own else [])


def test_no_events_url_means_no_notification(peer):
    peer.script = always("END Merci")
    call = UssdCall(f"{peer.url}/ussd", None, PHONE, "*123#")

    assert call.start().status == "Success"
    assert peer.events == []
