"""The lean USSD edge: a gateway's hop served without Flask, answered as the Flask view would."""

import io
import logging
from functools import partial
from urllib.parse import parse_qsl, urlencode

import pytest
import requests
from flask import Flask, abort
from hypothesis import example, given
from hypothesis import strategies as st
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import Client
from werkzeug.wsgi import get_content_length, get_input_stream

from app.web.callbacks import MAX_BODY, URL_QUOTE, BadForm, query_token, read_wsgi_form

from .conftest import CODE, PHONE, serve
from .helpers import apologies, errors_logged
from .test_ussd import CHUNKED, FORM_TYPE, MENU, raw_post

TOKEN = "s3cret"
REFUSED = b"session belongs to another phone number or service code\n"
HOP = {"sessionId": "ATUid_lean", "serviceCode": CODE, "phoneNumber": PHONE, "text": ""}


def flask_view(app) -> Client:
    """A client of the app's Flask view alone, without the lean edge in front."""
    return Client(partial(Flask.wsgi_app, app))


def test_a_gateway_hop_is_not_served_by_flask(app, client):
    """A hop reaches no Flask hook; any other request to /ussd still goes through Flask."""
    app.before_request(lambda: abort(418))
    assert client.post("/ussd", data=HOP).get_data(as_text=True).startswith(MENU)
    assert client.get("/ussd").status_code == 418
    multipart = client.post("/ussd", data=HOP, content_type="multipart/form-data")
    assert multipart.status_code == 418
    typed = client.post("/ussd", data="sessionId=x", content_type="text/plain")
    assert typed.status_code == 418


# Each request goes to both edges of two apps alike (their own Redis keys): the same answer,
# down to the byte, whose status and start are given.
SAME = [
    ("a dial", "?token=s3cret", HOP, None, 200, "CON Kalan"),
    ("no token", "", HOP, None, 403, "missing or wrong token"),
    ("a wrong token", "?token=s3cre", HOP, None, 403, "missing or wrong token"),
    ("the first of two tokens", "?token=s3cret&token=x", HOP, None, 200, "CON Kalan"),
    ("missing fields", "?token=s3cret", {"text": ""}, None, 400, "missing field: sessionId, "),
    ("an empty body", "?token=s3cret", b"", None, 400, "missing field: sessionId, "),
    ("no field in the body", "?token=s3cret", b"&&&", None, 400, "body is not UTF-8"),
    ("a field over 1024 bytes", "?token=s3cret", {**HOP, "networkCode": "é" * 513}, None, 400,
     "field networkCode over 1024 bytes"),
    ("a bad session id", "?token=s3cret", {**HOP, "sessionId": "a b"}, None, 400, "sessionId"),
    ("a bad code", "?token=s3cret", {**HOP, "serviceCode": "abc"}, None, 400, "serviceCode"),
    ("a bad phone", "?token=s3cret", {**HOP, "phoneNumber": "+1"}, None, 400, "phoneNumber"),
    ("a body that is not UTF-8", "?token=s3cret", b"sessionId=\xff&text=", None, 400,
     "body is not UTF-8"),
    ("bytes that are not UTF-8, percent-encoded", "?token=s3cret",
     b"sessionId=ATUid_p&serviceCode=*123%23&phoneNumber=%FF&text=", None, 400, "phoneNumber"),
    ("the first of two values", "?token=s3cret",
     b"sessionId=a+b&sessionId=ATUid_2&serviceCode=*123%23&phoneNumber=%2B22370000099&text=",
     None, 400, "sessionId"),
    ("a body over 8 KB", "?token=s3cret", {**HOP, **{f"f{i}": "z" * 900 for i in range(10)}},
     None, 400, "request body over 8192 bytes"),
    ("a charset in the content type", "?token=s3cret", urlencode(HOP),
     "application/x-www-form-urlencoded; charset=utf-8", 200, "CON Kalan"),
    ("a content type in capitals", "?token=s3cret", urlencode(HOP),
     "Application/X-WWW-Form-Urlencoded", 200, "CON Kalan"),
    ("a body cut short of its length", "?token=s3cret", b"sessionId=x", None, 400,
     "malformed request body"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "form", "content_type", "status", "start"),
                         [c[1:] for c in SAME], ids=[c[0] for c in SAME])  # fmt: skip
def test_both_edges_give_the_same_answer(make_app, query, form, content_type, status, start):
    lean, view = (make_app(WEBHOOK_TOKEN=TOKEN) for _ in range(2))
    extra = {"content_type": content_type or FORM_TYPE.split(": ")[1]}
    if form == b"sessionId=x":  # the gateway said more than it sent
        extra["environ_overrides"] = {"CONTENT_LENGTH": "40"}
    answers = []
    for client in (lean.test_client(), flask_view(view)):
        response = client.post("/ussd" + query, data=form, **extra)
        answers.append((response.status_code, response.get_data(as_text=True),
                        response.headers.get("Content-Type"),
                        response.headers.get("at-ussd-hop-metadata")))  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[0][0] == status and answers[0][1].startswith(start)
    assert answers[0][2] == "text/plain; charset=utf-8"


def test_both_edges_refuse_another_callers_session_alike(make_app):
    answers = []
    for edge in (lambda app: app.test_client(), flask_view):
        client = edge(make_app())
        assert client.post("/ussd", data=HOP).status_code == 200
        response = client.post("/ussd", data={**HOP, "phoneNumber": "+22376543210", "text": "5"})
        answers.append((response.status, response.get_data()))
    assert answers[0] == answers[1]
    assert answers[0] == ("403 FORBIDDEN", REFUSED)


def test_both_edges_apologise_alike_when_redis_is_down(make_app):
    lean, view = (make_app(REDIS_URL="redis://127.0.0.1:1/0") for _ in range(2))
    answers = [c.post("/ussd", data=HOP).get_data() for c in (lean.test_client(), flask_view(view))]
    assert answers[0] == answers[1]
    assert answers[0].decode() in apologies(lean)


@pytest.mark.parametrize(
    "body",
    [b"ZZ\r\nabc\r\n0\r\n\r\n", b"2400\r\n" + b"a" * 0x2400 + b"\r\n0\r\n\r\n",
     b"3\r\nx=1\r\n0\r\n\r\n"],
)  # fmt: skip
def test_both_edges_read_chunked_bodies_alike(app, body):
    """Over real HTTP, where the server undoes the chunks and the body has no length."""
    with serve(app) as lean, serve(partial(Flask.wsgi_app, app)) as view:
        answer = raw_post(lean, CHUNKED + FORM_TYPE, body)
        assert answer == raw_post(view, CHUNKED + FORM_TYPE, body)
    assert answer[0] == 400


def test_a_query_that_is_not_utf8_is_a_wrong_token_not_an_error(make_app):
    client = make_app(WEBHOOK_TOKEN=TOKEN).test_client()
    response = client.post("/ussd", data=HOP, environ_overrides={"QUERY_STRING": "token=\xff"})
    assert (response.status_code, response.get_data()) == (403, b"missing or wrong token\n")


def test_a_hop_is_answered_over_real_http_with_its_label(live_server):
    response = requests.post(live_server + "/ussd", data=HOP, timeout=10)
    assert response.status_code == 200 and response.text.startswith(MENU)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["at-ussd-hop-metadata"] == "menu"


def test_an_error_around_the_hop_gets_the_apology_never_a_500(app, client, caplog):
    del app.config["USSD_RETRY_S"]  # read before the hop is guarded: a bug at the edge itself
    with caplog.at_level(logging.ERROR):
        response = client.post("/ussd", data=HOP)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == apologies(app)[0]
    (logged,) = errors_logged(caplog)
    assert "unexpected error around a USSD hop" in logged and "USSD_RETRY_S" in logged


# What a gateway may put in a form or a query: escapes of either case, of ASCII and UTF-8
# bytes, a % that escapes nothing, + for spaces, separators, and letters outside ASCII.
QUERY_PARTS = st.sampled_from(["%2A", "%2a", "%23", "%2B", "%26", "%3D", "%25", "%61", "%5a",
                               "%C3%A9", "%FF", "%E2%82", "%", "%z", "%2", "%7f", "+", "=", "&",
                               "&&", "a", "Id", "é", "€", "\x00", " "])  # fmt: skip


@given(st.lists(QUERY_PARTS, max_size=12).map("".join))
@example("sessionId=ATUid_1&serviceCode=%2A123%23&phoneNumber=%2B22370000011&text=5%2A0")
def test_forms_and_queries_read_as_parse_qsl_reads_them(text):
    """The edge's own reading of a form and of the token gives parse_qsl's values."""
    pairs = parse_qsl(text, keep_blank_values=True, errors=URL_QUOTE)
    body = text.encode()
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    expected = {}
    for name, value in pairs:
        expected.setdefault(name, value)
    assert read_wsgi_form(environ) == (body, expected)
    query = text.replace("Id", "token").encode().decode("latin-1")
    tokens = parse_qsl(query.encode("latin-1").decode(), keep_blank_values=True, errors=URL_QUOTE)
    assert query_token({"QUERY_STRING": query}) == next((v for n, v in tokens if n == "token"), "")


class Trickle(io.RawIOBase):
    """A stream that gives at most a few bytes a read, as a slow socket does."""

    def __init__(self, body: bytes, step: int):
        self.body, self.step = body, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self.step)
        data, self.body = self.body[:size], self.body[size:]
        buffer[: len(data)] = data
        return len(data)


def werkzeug_read(environ) -> bytes | str:
    """Read a body as the edge did with werkzeug's stream: the bytes, or the 400's line."""
    if (get_content_length(environ) or 0) > MAX_BODY:
        return f"request body over {MAX_BODY} bytes"
    try:
        body = get_input_stream(environ, max_content_length=MAX_BODY + 1).read()
    except RequestEntityTooLarge:
        return f"request body over {MAX_BODY} bytes"
    except Exception:
        return "malformed request body"
    return f"request body over {MAX_BODY} bytes" if len(body) > MAX_BODY else body


@pytest.mark.parametrize("size", [0, 5, MAX_BODY, MAX_BODY + 1, MAX_BODY + 7000])
@pytest.mark.parametrize("length", [None, "same", "less", "more", "junk"])
@pytest.mark.parametrize("terminated", [False, True])
@pytest.mark.parametrize("step", [3, 1 << 20])
def test_bodies_read_as_werkzeug_reads_them(size, length, terminated, step):
    """Whatever the length says, the server ends the stream or not, in one read or many."""
    body = b"x=" + b"y" * max(0, size - 2) if size else b""
    said = {"same": len(body), "less": len(body) // 2, "more": len(body) + 9}.get(length, length)
    answers = []
    for read in (werkzeug_read, lambda environ: _form_or_error(environ)):
        environ = {"wsgi.input": Trickle(body, step)}
        if said is not None:
            environ["CONTENT_LENGTH"] = str(said)
        if terminated:
            environ["wsgi.input_terminated"] = True
        answers.append(read(environ))
    assert answers[0] == answers[1]


def _form_or_error(environ) -> bytes | str:
    try:
        return read_wsgi_form(environ)[0]
    except BadForm as exc:
        return str(exc)
