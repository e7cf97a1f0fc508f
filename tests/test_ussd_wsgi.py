"""The lean USSD edge: a gateway's hop served without Flask, answered as the Flask view would."""

import logging
from functools import partial
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask, abort
from werkzeug.test import Client

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
