"""The Orange adapter against the sandbox's Orange emulation, over real HTTP; its callbacks read."""

import threading

import pytest
import requests
from redis import Redis

from app.infra.gateway import (
    FAILED,
    NOT_TRIED,
    RETRY,
    SENT,
    UNKNOWN,
    GatewayError,
    Incoming,
    Report,
)
from app.infra.orange import Contract, Orange, classify, inbound, receipt
from sandbox import create_app as create_sandbox
from tests.conftest import serve

SENDER = "+22370009999"
PHONES = ["+22370000001", "+22370000002"]
CREDENTIALS = ("sandbox-client", "sandbox-secret")


@pytest.fixture
def orange(app, sandbox):
    """Return a factory of adapters sharing the app's Redis, as workers do."""

    def make(url=None, **overrides):
        settings = {"client_id": "sandbox-client", "client_secret": "sandbox-secret",
                    "sender": SENDER, "base_url": url or sandbox.url, **overrides}  # fmt: skip
        return Orange(app.extensions["redis"], app.config["REDIS_PREFIX"], **settings)

    return make


@pytest.fixture
def other_sandbox():
    """Serve a sandbox configured by the test; yield (url, app)."""
    served = []

    def start(**config):
        app = create_sandbox({"KALAN_URL": "http://127.0.0.1:1", **config})
        context = serve(app)
        served.append(context)
        return context.__enter__()

    yield start
    for context in served:
        context.__exit__(None, None, None)


def token_requests(url: str) -> int:
    return requests.get(url + "/sandbox/orange", timeout=5).json()["token_requests"]


def test_send_one_request_per_phone(orange, sandbox):
    results = orange(sender_name="KALAN").send(PHONES, "Bonjour de Kalan")
    assert [(r.phone, r.outcome, r.status_code) for r in results] == [
        (PHONES[0], SENT, 201),
        (PHONES[1], SENT, 201),
    ]
    sent = sandbox.messages()
    assert [m["to"] for m in sent] == PHONES
    assert {m["provider"] for m in sent} == {"orange"}
    assert {m["from"] for m in sent} == {"KALAN"}
    # The id is the resourceURL's last segment, which the sandbox keys messages by.
    assert [r.provider_id for r in results] == [m["messageId"] for m in sent]
    assert token_requests(sandbox.url) == 1


def test_sender_number_without_a_name(orange, sandbox):
    orange().send(PHONES[:1], "Bonjour")
    assert sandbox.messages()[0]["from"] == SENDER


def test_token_is_shared_through_redis(app, orange, sandbox):
    orange().send(PHONES[:1], "Un")
    orange().send(PHONES[1:], "Deux")
    assert token_requests(sandbox.url) == 1
    # Kept until a minute before Orange's 3600 s run out.
    ttl = app.extensions["redis"].ttl(app.config["REDIS_PREFIX"] + "orange:token")
    assert 3500 < ttl <= 3540


def test_short_lived_token_keeps_half_its_life(app, orange, other_sandbox):
    url = other_sandbox(SANDBOX_ORANGE_TOKEN_TTL_S=100)
    assert orange(url).send(PHONES[:1], "Bonjour")[0].outcome == SENT
    ttl = app.extensions["redis"].ttl(app.config["REDIS_PREFIX"] + "orange:token")
    assert 0 < ttl <= 50


def test_expired_token_is_renewed_once(orange, sandbox):
    gateway = orange()
    gateway.send(PHONES[:1], "Un")
    sandbox.faults(orange_token_expired=True)
    results = gateway.send(PHONES, "Deux")
    assert [r.outcome for r in results] == [SENT, SENT]
    assert token_requests(sandbox.url) == 2


def test_two_workers_renew_an_expired_token_once(orange, sandbox):
    workers = [orange(), orange()]
    workers[0].send(PHONES[:1], "Un")
    # Both workers hold the dying token while Orange is slow: both get the 401
    # at about the same time, and both want a new token.
    sandbox.faults(orange_token_expired=True, latency_ms=300)
    start = threading.Barrier(2)
    results = {}

    def work(index):
        start.wait()
        results[index] = workers[index].send([PHONES[index]], "Deux")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[i][0].outcome for i in range(2)] == [SENT, SENT]
    assert token_requests(sandbox.url) == 2  # the first token, and one renewal


def test_unknown_cached_token_is_replaced(app, orange, sandbox):
    app.extensions["redis"].set(app.config["REDIS_PREFIX"] + "orange:token", "revoked")
    assert orange().send(PHONES[:1], "Bonjour")[0].outcome == SENT
    assert token_requests(sandbox.url) == 1


def test_a_refused_token_is_renewed_once_only(orange, other_sandbox):
    # Tokens that die at once: every send is refused, even after renewing.
    url = other_sandbox(SANDBOX_ORANGE_TOKEN_TTL_S=0)
    (result,) = orange(url).send(PHONES[:1], "Bonjour")
    assert (result.outcome, result.status_code, result.status) == (RETRY, 401, "code 42")
    assert token_requests(url) == 2


@pytest.mark.parametrize(
    ("error", "outcome", "code", "next_tried"),
    [("SVC0002", FAILED, 400, True), ("SVC0004", FAILED, 400, True),
     # Units used up, Orange busy or down: the next phone would fare no better; it waits unasked.
     ("POL0001", RETRY, 403, False), ("TooManyRequests", RETRY, 429, False),
     ("ServiceUnavailable", RETRY, 503, False)],
)  # fmt: skip
def test_errors_are_classified(orange, sandbox, error, outcome, code, next_tried):
    sandbox.faults(orange_status={PHONES[0]: error})
    results = orange().send(PHONES, "Bonjour")
    after = (SENT, 201, "Created") if next_tried else (RETRY, None, NOT_TRIED)
    assert [(r.outcome, r.status_code, r.status) for r in results][1] == after
    assert (results[0].outcome, results[0].status_code) == (outcome, code)
    assert results[0].provider_id is None
    assert results[0].status == (error if code < 429 else f"code {53 if code == 429 else 5}")
    assert [m["to"] for m in sandbox.messages()] == (PHONES[1:] if next_tried else [])


def test_invalid_phone_fails_without_a_request(orange, sandbox):
    results = orange().send(["22370000001", "+1"], "Bonjour")
    assert [(r.outcome, r.status) for r in results] == [(FAILED, "InvalidPhoneNumber")] * 2
    assert sandbox.messages() == [] and token_requests(sandbox.url) == 1


def test_units_used_up_is_retried(orange, other_sandbox):
    url = other_sandbox(SANDBOX_ORANGE_UNITS=1)
    results = orange(url).send(PHONES, "Bonjour")
    assert [(r.outcome, r.status) for r in results] == [(SENT, "Created"), (RETRY, "POL0001")]


def test_a_server_error_stops_the_batch(orange, sandbox):
    """Orange answered, so it did not take it: retried; the next phone waits unasked."""
    gateway = orange()
    gateway.send(PHONES[:1], "Un")
    sandbox.faults(error_rate=1.0)
    results = gateway.send(PHONES, "Deux")
    assert [(r.outcome, r.status_code, r.status) for r in results] == [
        (RETRY, 500, "code 1"), (RETRY, None, NOT_TRIED)]  # fmt: skip


@pytest.mark.parametrize(("code", "outcome"), [(502, UNKNOWN), (504, UNKNOWN), (500, RETRY)])
def test_a_gateway_timeout_may_have_left_the_message_with_orange(code, outcome):
    """502 and 504 come from Orange's API gateway, which may have passed the request on."""
    response = requests.Response()
    response.status_code, response._content = code, b'{"code": 1, "message": "x"}'
    result = classify(PHONES[0], response)
    assert (result.outcome, result.status_code, result.status) == (outcome, code, "code 1")


def test_a_batch_ends_within_its_budget_and_leaves_the_rest_unasked(orange, sandbox):
    """One request per phone: past its budget (a share of the lease) the rest wait."""
    sandbox.faults(latency_ms=150)
    results = orange(budget_s=0.1).send(PHONES, "Bonjour")
    assert [(r.outcome, r.status) for r in results] == [(SENT, "Created"), (RETRY, NOT_TRIED)]
    assert [m["to"] for m in sandbox.messages()] == PHONES[:1]


def test_token_refusal_raises(orange, sandbox):
    with pytest.raises(GatewayError) as caught:
        orange(client_secret="wrong").send(PHONES, "Bonjour")
    assert not caught.value.unknown and "token refused: 401" in caught.value.reason
    assert sandbox.messages() == []


def test_unreachable_provider(app, orange, sandbox):
    with pytest.raises(GatewayError) as caught:
        orange("http://127.0.0.1:1").send(PHONES, "Bonjour")
    assert not caught.value.unknown
    # With a token at hand, the first send finds the door shut; the rest are not tried.
    app.extensions["redis"].set(app.config["REDIS_PREFIX"] + "orange:token", "cached")
    results = orange("http://127.0.0.1:1").send(PHONES, "Bonjour")
    assert [r.outcome for r in results] == [RETRY, RETRY]
    assert results[0].status.startswith("connection error") and results[1].status == "NotTried"


def test_balance(orange, sandbox):
    gateway = orange()
    gateway.send(PHONES[:1], "x" * 200)  # two parts
    (contract,) = gateway.balance()
    assert isinstance(contract, Contract)
    assert (contract.country, contract.units, contract.status) == ("MLI", 998, "ACTIVE")
    assert contract.expires


def test_balance_renews_a_refused_token(orange, sandbox):
    gateway = orange()
    gateway.send(PHONES[:1], "Un")
    sandbox.faults(orange_token_expired=True)
    assert gateway.balance()[0].units == 999
    assert token_requests(sandbox.url) == 2


def test_redis_down_is_a_gateway_error(sandbox):
    dead = Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=1)
    gateway = Orange(dead, "kalan-test:", *CREDENTIALS, SENDER, base_url=sandbox.url)
    with pytest.raises(GatewayError) as caught:
        gateway.send(PHONES, "Bonjour")
    assert not caught.value.unknown and "token cache unavailable" in caught.value.reason
    assert sandbox.messages() == []


def receipt_body(request_id="req-1", status="DeliveredToTerminal", address="tel:+22370000001"):
    info = {"address": address, "deliveryStatus": status}
    return {"deliveryInfoNotification": {"callbackData": request_id, "deliveryInfo": info}}


@pytest.mark.parametrize(
    ("status", "outcome", "error"),
    [("DeliveredToTerminal", "Success", None),
     ("DeliveryImpossible", "Failed", "DeliveryImpossible"),
     ("MessageWaiting", "Buffered", None), ("DeliveredToNetwork", "Submitted", None),
     ("DeliveryUncertain", "Sent", None), ("DeliveryNotificationNotSupported", "Sent", None)],
)  # fmt: skip
def test_receipt_reads_a_delivery_info_notification(status, outcome, error):
    """In the outbox's statuses; a failure's reason is Orange's status itself."""
    assert receipt(receipt_body("req-1", status)) == Report("req-1", outcome, error, PHONES[0])


@pytest.mark.parametrize("address", ["tel:nobody", "22370000001", "tel:+2237", 22370000001, None])
def test_receipt_keeps_no_address_that_is_not_a_phone(address):
    assert receipt(receipt_body(address=address)).phone is None


@pytest.mark.parametrize(
    ("body", "words"),
    [([], "expected a deliveryInfoNotification"),
     ({"deliveryInfoNotification": {"callbackData": "r"}}, "expected a deliveryInfoNotification"),
     ({"deliveryInfoNotification": []}, "expected a deliveryInfoNotification"),
     (receipt_body(request_id=""), "callbackData must name the message"),
     (receipt_body(request_id=" "), "callbackData must name the message"),
     (receipt_body(request_id=7), "callbackData must name the message"),
     (receipt_body(status="Delivered"), "unknown deliveryStatus: 'Delivered'"),
     (receipt_body(status=None), "unknown deliveryStatus: 'None'"),
     (receipt_body(status=["DeliveredToTerminal"]), "unknown deliveryStatus")],
)  # fmt: skip
def test_receipt_refuses_what_is_not_one(body, words):
    with pytest.raises(ValueError, match=words):
        receipt(body)


def inbound_body(**fields):
    message = {
        "dateTime": "2026-12-01T10:00:00Z",
        "destinationAddress": "tel:+22344000000",
        "messageId": "m1",
        "message": "Bonjour",
        "senderAddress": "tel:+22370000001",
        "resourceURL": "https://api.orange.com/smsmessaging/v1/inbound/m1",
        **fields,
    }
    return {"inboundSMSMessageNotification": {"callbackData": "", "inboundSMSMessage": message}}


@pytest.mark.parametrize(
    ("fields", "read"),
    [({}, Incoming("m1", PHONES[0], "+22344000000", "Bonjour", "2026-12-01T10:00:00Z")),
     # A short code is no E.164 number: kept as written; the web layer checks the sender.
     ({"destinationAddress": "tel:36000", "senderAddress": "70000001", "dateTime": 5},
      Incoming("m1", "70000001", "36000", "Bonjour", None))],
)  # fmt: skip
def test_inbound_reads_an_inbound_sms_notification(fields, read):
    assert inbound(inbound_body(**fields)) == read


@pytest.mark.parametrize(
    "body",
    [{}, {"inboundSMSMessageNotification": {"inboundSMSMessage": "x"}},
     inbound_body(message=None), inbound_body(message=5), inbound_body(messageId=""),
     inbound_body(senderAddress=["tel:+22370000001"]), inbound_body(destinationAddress=None)],
)  # fmt: skip
def test_inbound_refuses_what_is_not_one(body):
    with pytest.raises(ValueError):
        inbound(body)
