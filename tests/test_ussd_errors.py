"""What the USSD webhook refuses or survives: tokens, strangers' sessions, bad bodies, errors."""

import dataclasses

import pytest

from .conftest import CODE, PHONE, Dial, phone_key
from .test_ussd import CHUNKED, FORM_TYPE, MENU, raw_post


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        ("s3cret", "", 403),
        ("s3cret", "?token=wrong", 403),
        ("s3cret", "?token=s3cret", 200),
        ("", "", 200),
    ],
)
def test_webhook_token(make_app, token, query, status):
    client = make_app(WEBHOOK_TOKEN=token).test_client()
    form = {"sessionId": "ATUid_1", "serviceCode": CODE, "phoneNumber": PHONE, "text": ""}
    response = client.post("/ussd" + query, data=form)
    assert response.status_code == status
    assert response.mimetype == "text/plain"


def test_session_is_bound_to_its_phone_and_code(dial):
    dial()
    assert (
        dial.client.post(
            "/ussd",
            data={
                "sessionId": dial.session_id,
                "serviceCode": CODE,
                "phoneNumber": "+22376543210",
                "text": "5",
            },
        ).status_code
        == 403
    )
    assert (
        dial.client.post(
            "/ussd",
            data={
                "sessionId": dial.session_id,
                "serviceCode": "*999#",
                "phoneNumber": PHONE,
                "text": "5",
            },
        ).status_code
        == 403
    )
    assert dial("5").startswith("CON Mon compte")  # the real caller goes on


GOOD = {"sessionId": "ATUid_x", "serviceCode": CODE, "phoneNumber": PHONE, "text": ""}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({k: v for k, v in GOOD.items() if k != "sessionId"}, "missing field: sessionId"),
        ({k: v for k, v in GOOD.items() if k != "text"}, "missing field: text"),
        ({}, "missing field: sessionId, serviceCode, phoneNumber, text"),
        ({**GOOD, "text": "1" * 1025}, "field text over 1024 bytes"),
        ({**GOOD, "phoneNumber": "not-a-phone"}, "phoneNumber is not a valid phone number"),
        ({**GOOD, "serviceCode": "abc"}, "serviceCode is not a USSD code"),
        ({**GOOD, "sessionId": "x" * 65}, "sessionId is not a valid session id"),
        ({**GOOD, "networkCode": "é" * 600}, "field networkCode over 1024 bytes"),
    ],
)
def test_bad_input_gets_400_with_one_line(client, form, message):
    response = client.post("/ussd", data=form)
    assert response.status_code == 400
    assert response.get_data(as_text=True) == message + "\n"


def test_body_over_8kb_gets_400(client):
    response = client.post(
        "/ussd",
        data={**GOOD, "a": "x" * 900, "b": "y" * 900, **{f"f{i}": "z" * 900 for i in range(8)}},
    )
    assert response.status_code == 400
    assert response.get_data(as_text=True) == "request body over 8192 bytes\n"


def test_get_is_refused_cleanly(client):
    response = client.get("/ussd")
    assert response.status_code == 405
    assert "Traceback" not in response.get_data(as_text=True)


def test_flow_error_apologises_and_keeps_progress(app, dial):
    from flows.engine import Menu

    def broken(data, ctx):
        raise RuntimeError("a bug in a journey")

    page = dial("5", "2")
    dial.drop()
    services = app.extensions["conversation"]  # the app's own journey, built from its course
    flow = {**services.flow, "resume": Menu("resume.prompt", params=broken)}
    app.extensions["conversation"] = dataclasses.replace(services, flow=flow)
    try:
        reply = dial()
    finally:
        app.extensions["conversation"] = services
    assert reply.startswith("END Désolé, une erreur est survenue.")
    dial.drop()
    dial()
    assert dial("1") == page  # the resume point was not touched


def test_redis_down_answers_politely(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    reply = Dial(client)()
    assert reply.startswith("END Service momentanément indisponible.")


@pytest.mark.parametrize("where", ["session", "resume"])
@pytest.mark.parametrize(
    "gone",
    [
        "a-screen-removed-since",
        "report",  # a screen once, a route (no screen) since the report got two doors
    ],
)
def test_state_from_an_older_release_starts_afresh(app, dial, where, gone):
    """A stored screen that no longer exists must not break the caller's session."""
    import json

    dial("5", "2")
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    session_key = f"{prefix}session:{dial.session_id}"
    key = session_key if where == "session" else phone_key(app, "resume", PHONE)
    stored = json.loads(redis.get(key))
    state = stored["state"] if where == "session" else stored
    state["back"].append([gone, 0])
    redis.set(key, json.dumps(stored))
    if where == "resume":
        dial.drop()
        assert dial().startswith(MENU)
    else:
        assert dial("0").startswith(MENU)


@pytest.mark.parametrize(
    ("body", "status", "line"),
    [
        (b"ZZ\r\nabc\r\n0\r\n\r\n", 400, b"malformed request body\n"),
        (b"2400\r\n" + b"a" * 0x2400 + b"\r\n0\r\n\r\n", 400, b"request body over 8192 bytes\n"),
    ],
)
def test_chunked_bodies_over_real_http(live_server, body, status, line):
    code, answer = raw_post(live_server, CHUNKED + FORM_TYPE, body)
    assert (code, answer) == (status, line)


def test_a_chunked_hop_within_the_limit_is_answered(live_server):
    form = f"sessionId=ATUid_c&serviceCode=*123%23&phoneNumber=%2B{PHONE[1:]}&text=".encode()
    body = f"{len(form):x}\r\n".encode() + form + b"\r\n0\r\n\r\n"
    code, answer = raw_post(live_server, CHUNKED + FORM_TYPE, body)
    assert code == 200 and answer.startswith(b"CON ")


def test_a_body_that_is_not_utf8_form_data(client):
    body = b"sessionId=ATUid_x&serviceCode=*123%23&phoneNumber=%2B22370000099&text=\xff\xfe"
    response = client.post("/ussd", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert (
        response.get_data() == b"body is not UTF-8 form data (application/x-www-form-urlencoded)\n"
    )


def test_a_hop_whose_session_stays_busy_gets_a_polite_end(app, dial):
    """A copy of a hop that waited in vain for the first one is answered, not left hanging."""
    dial()
    store = app.extensions["sessions"]
    held = store.load(dial.session_id, PHONE)  # the first copy, still running
    store.wait_s = 0.05
    assert dial("5").startswith("END Service momentanément indisponible.")
    store.release(dial.session_id, held)
    assert dial.post("5").startswith("CON Mon compte")  # the gateway's next try goes through
