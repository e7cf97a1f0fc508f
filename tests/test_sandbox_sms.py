"""Tests of the sandbox's SMS half: the official SDK against the fake, and its callbacks."""

import json
import logging
import re
import threading
import time
from dataclasses import dataclass

import pytest
import requests
from africastalking.Application import ApplicationService
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from sandbox import create_app
from sandbox.courier import Courier

USERNAME, KEY = "sandbox", "sandbox-key"
A, B, C = "+22370000001", "+22370000002", "+22370000003"
RECIPIENT_KEYS = ["cost", "messageId", "messageParts", "number", "status", "statusCode"]
DLR_FIELDS = ["id", "status", "phoneNumber", "networkCode"]
INBOUND_FIELDS = ["date", "from", "id", "linkId", "text", "to", "networkCode"]
MESSAGE_ID = re.compile(r"ATXid_[0-9a-f]{32}")
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TOKEN = "s3cr&t"
POLL_S = 0.02  # how often a test server checks for shutdown
CONFIG_ENV = [
    "AT_USERNAME",
    "AT_API_KEY",
    "AT_SHORTCODE",
    "SANDBOX_SMS_PART_COST",
    "SANDBOX_DLR_DELAY_S",
    "SANDBOX_DLR_RETRIES",
    "SANDBOX_DLR_BACKOFF_S",
    "SANDBOX_DROP_SLEEP_S",
    "SANDBOX_FAULTS",
]


def wait_for(check, timeout: float = 5.0):
    """Poll check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {timeout} s")
        time.sleep(0.01)


@dataclass
class Seen:
    """One callback as Kalan's stand-in received it."""

    path: str
    query: str
    pairs: list

    @property
    def form(self) -> dict:
        return dict(self.pairs)


class Kalan:
    """A throwaway stand-in for Kalan's SMS callback endpoints, on a real socket.

    It records every request and answers the statuses queued in `answers`,
    then 200.
    """

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}"

    def wsgi(self, environ, start_response):
        request = Request(environ)
        pairs = list(request.form.items(multi=True))
        with self._lock:
            self.seen.append(Seen(request.path, request.query_string.decode(), pairs))
            status = self.answers.pop(0) if self.answers else 200
        return Response("OK", status)(environ, start_response)

    def posts(self, path: str) -> list[Seen]:
        """Return what was posted to path so far."""
        with self._lock:
            return [seen for seen in self.seen if seen.path == path]


@pytest.fixture(name="kalan")
def _kalan():
    kalan = Kalan()
    thread = threading.Thread(target=kalan.server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    yield kalan
    kalan.server.shutdown()
    kalan.server.server_close()
    thread.join()


@dataclass
class Sandbox:
    """The sandbox app served over real HTTP, and ways to drive it."""

    app: object
    url: str

    def sms(self, username: str = USERNAME, key: str = KEY) -> SMSService:
        """Return the official SDK's SMS service, pointed at the sandbox."""
        service = SMSService(username, key)
        service._baseUrl = service._contentUrl = f"{self.url}/version1"
        return service

    def set_faults(self, **faults) -> None:
        """Put faults in force through the control API."""
        response = requests.post(f"{self.url}/sandbox/faults", json=faults, timeout=5)
        assert response.status_code == 200, response.text

    def messages(self, to: str | None = None) -> list[dict]:
        """List what the sandbox recorded as sent, through the control API."""
        params = {"to": to} if to else {}
        return requests.get(f"{self.url}/sandbox/messages", params=params, timeout=5).json()

    def settled(self) -> bool:
        """Tell whether every delivery report has been posted."""
        return self.app.extensions["sms_courier"].idle()


@pytest.fixture(name="serve")
def _serve(kalan):
    """Return a factory of sandboxes on real sockets, calling back to `kalan`."""
    running = []

    def serve(**config) -> Sandbox:
        app = create_app(
            {"TESTING": True, "KALAN_URL": kalan.url, "SANDBOX_DLR_DELAY_S": 0.01, **config}
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
        thread.start()
        running.append((app, server, thread))
        return Sandbox(app, f"http://127.0.0.1:{server.port}")

    yield serve
    for app, server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
        app.extensions["sms_courier"].close()


@pytest.fixture(name="sandbox")
def _sandbox(serve):
    return serve(WEBHOOK_TOKEN=TOKEN)


# Sending, as the SDK sees it.


def test_send_answers_like_at(sandbox):
    answer = sandbox.sms().send("Bonjour", [A, B], sender_id="KALAN", enqueue=True)

    assert isinstance(answer, dict), "the SDK parses only an exact application/json"
    data = answer["SMSMessageData"]
    assert data["Message"] == "Sent to 2/2 Total Cost: XOF 50.0000"
    assert [list(entry) for entry in data["Recipients"]] == [RECIPIENT_KEYS] * 2
    for entry, number in zip(data["Recipients"], [A, B], strict=True):
        assert MESSAGE_ID.fullmatch(entry["messageId"])
        assert entry == {
            "cost": "XOF 25.0000",
            "messageId": entry["messageId"],
            "messageParts": 1,
            "number": number,
            "status": "Success",
            "statusCode": 102,
        }


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 200, 2),
        ("é" * 160, 1),  # é is in the GSM-7 basic set
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("ê" * 70, 1),  # ê is not GSM-7: the whole text goes UCS-2
        ("Prêt " + "a" * 66, 2),
        ("ê" * 134, 2),
        ("ê" * 135, 3),
        ("😀" * 35, 1),  # two UTF-16 code units each
        ("😀" * 36, 2),
    ],
)
def test_parts_and_cost(sandbox, text, parts):
    (entry,) = sandbox.sms().send(text, [A])["SMSMessageData"]["Recipients"]

    assert (entry["messageParts"], entry["cost"], entry["statusCode"]) == (
        parts,
        f"XOF {25 * parts}.0000",
        101,
    )
    assert sandbox.messages(A)[0]["parts"] == parts


def test_cost_follows_the_configured_tariff(serve):
    sandbox = serve(SANDBOX_SMS_PART_COST="KES 0.8000")
    data = sandbox.sms().send("a" * 200, [A, B])["SMSMessageData"]

    assert data["Message"] == "Sent to 2/2 Total Cost: KES 3.2000"
    assert {entry["cost"] for entry in data["Recipients"]} == {"KES 1.6000"}


@pytest.mark.parametrize("bad", ["+22312", "+2237000000100000", "+223 70000001", ""])
def test_invalid_number_is_refused_alone(sandbox, bad):
    # The SDK only checks its own looser pattern, so post these directly.
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": f"{A},{bad}", "message": "Bonjour"},
        headers={"apiKey": KEY},
        timeout=5,
    )

    data = response.json()["SMSMessageData"]
    assert response.status_code == 201
    assert data["Message"] == "Sent to 1/2 Total Cost: XOF 25.0000"
    assert data["Recipients"][1] == {
        "cost": "0",
        "messageId": "None",
        "number": bad,
        "status": "InvalidPhoneNumber",
        "statusCode": 403,
    }
    assert [m["to"] for m in sandbox.messages()] == [A]


def test_nothing_sent_costs_zero(sandbox):
    answer = sandbox.sms().send("Bonjour", ["+22312"])

    assert answer["SMSMessageData"]["Message"] == "Sent to 0/1 Total Cost: 0"
    assert sandbox.messages() == []


def test_premium_send_is_free_and_queued(sandbox):
    data = sandbox.sms().send_premium("Bonjour", "36000", [A], link_id="abc")["SMSMessageData"]

    assert data["Message"] == "Sent to 1/1"
    assert (data["Recipients"][0]["cost"], data["Recipients"][0]["statusCode"]) == ("0", 102)
    assert sandbox.messages(A)[0]["from"] == "36000"


@pytest.mark.parametrize(("username", "key"), [(USERNAME, "wrong"), ("kalan", KEY), (USERNAME, "")])
def test_bad_credentials_raise_like_at(sandbox, username, key):
    with pytest.raises(AfricasTalkingException) as raised:
        sandbox.sms(username, key).send("Bonjour", [A])

    assert str(raised.value) == "The supplied authentication is invalid"
    assert sandbox.messages() == []


def test_unauthorized_wire_format(sandbox):
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": A, "message": "x"},
        timeout=5,
    )

    assert response.status_code == 401
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="api",charset=UTF-8'
    assert response.text == "The supplied authentication is invalid"


@pytest.mark.parametrize("missing", ["username", "to", "message"])
def test_missing_field_is_malformed(sandbox, missing):
    form = {"username": USERNAME, "to": A, "message": "Bonjour"}
    del form[missing]
    response = requests.post(
        f"{sandbox.url}/version1/messaging", data=form, headers={"apiKey": KEY}, timeout=5
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text.startswith("The request content was malformed: ")
    assert missing in response.text


def test_json_type_has_no_charset(sandbox):
    response = requests.post(
        f"{sandbox.url}/version1/messaging",
        data={"username": USERNAME, "to": A, "message": "Numéro reçu"},
        headers={"apiKey": KEY},
        timeout=5,
    )

    assert (response.status_code, response.headers["Content-Type"]) == (201, "application/json")


def test_balance_and_empty_inbox(sandbox):
    application = ApplicationService(USERNAME, KEY)
    application._baseUrl = f"{sandbox.url}/version1"

    assert application.fetch_application_data() == {"UserData": {"balance": "XOF 1000000.0000"}}
    assert sandbox.sms().fetch_messages() == {"SMSMessageData": {"Messages": []}}


# What the sandbox recorded, through its control API.


def test_messages_are_listed_per_number(sandbox):
    sms = sandbox.sms()
    first = sms.send("Un", [A, B])["SMSMessageData"]["Recipients"]
    second = sms.send("Deux", [A], sender_id="KALAN")["SMSMessageData"]["Recipients"]
    escaped = sandbox.messages(A)
    unescaped = requests.get(f"{sandbox.url}/sandbox/messages?to={A}", timeout=5).json()

    assert escaped == unescaped
    assert [(m["message"], m["messageId"]) for m in escaped] == [
        ("Un", first[0]["messageId"]),
        ("Deux", second[0]["messageId"]),
    ]
    item = escaped[1]
    assert ISO_Z.fullmatch(item.pop("at"))
    assert item == {
        "to": A,
        "message": "Deux",
        "from": "KALAN",
        "messageId": second[0]["messageId"],
        "status": "Success",
        "parts": 1,
        "cost": "XOF 25.0000",
    }
    assert escaped[0]["from"] == "AFRICASTKNG", "AT's sender when none is given"
    assert [m["to"] for m in sandbox.messages()] == [A, B, A]
    assert sandbox.messages(C) == []


def test_messages_can_be_cleared(sandbox):
    sandbox.sms().send("Un", [A])
    response = requests.delete(f"{sandbox.url}/sandbox/messages", timeout=5)

    assert response.status_code == 204
    assert sandbox.messages() == []


# Faults.


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
    sandbox.set_faults(dlr_status={A: "Failed"}, dlr_duplicate=True)
    replaced = requests.get(url, timeout=5).json()
    reset = requests.delete(url, timeout=5).json()

    assert initial["recipient_status"] == {B: 406}
    assert initial["error_rate"] == 0.0
    assert replaced["recipient_status"] == {}, "a post replaces every fault"
    assert replaced["dlr_status"] == {A: {"status": "Failed", "failureReason": "DeliveryFailure"}}
    assert replaced["dlr_duplicate"] is True
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
        {"error_rat": 1},
    ],
)
def test_bad_faults_are_refused(sandbox, faults):
    response = requests.post(f"{sandbox.url}/sandbox/faults", json=faults, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == "bad_faults"
    assert requests.get(f"{sandbox.url}/sandbox/faults", timeout=5).json()["error_rate"] == 0.0


# Delivery reports, posted to Kalan's stand-in.


def test_delivery_report_wire_format(sandbox, kalan):
    entries = sandbox.sms().send("Bonjour", [A, B])["SMSMessageData"]["Recipients"]
    wait_for(lambda: len(kalan.posts("/sms/delivery")) == 2)
    reports = kalan.posts("/sms/delivery")

    assert [r.pairs for r in reports] == [
        [
            ("id", entry["messageId"]),
            ("status", "Success"),
            ("phoneNumber", entry["number"]),
            ("networkCode", "99999"),
        ]
        for entry in entries
    ]
    assert {r.query for r in reports} == {"token=s3cr%26t"}


@pytest.mark.parametrize(
    ("outcome", "form", "stored"),
    [
        ("Failed", {"status": "Failed", "failureReason": "DeliveryFailure"}, "Failed"),
        (
            {"status": "Rejected", "failureReason": "UserInBlackList"},
            {"status": "Rejected", "failureReason": "UserInBlackList"},
            "Rejected",
        ),
        ("AbsentSubscriber", {"status": "AbsentSubscriber"}, "AbsentSubscriber"),
        ("Buffered", {"status": "Buffered"}, "Buffered"),
    ],
)
def test_delivery_status_is_forced(sandbox, kalan, outcome, form, stored):
    sandbox.set_faults(dlr_status={B: outcome})
    sandbox.sms().send("Bonjour", [A, B])
    wait_for(lambda: len(kalan.posts("/sms/delivery")) == 2)
    reports = {r.form["phoneNumber"]: r for r in kalan.posts("/sms/delivery")}

    assert {k: reports[B].form[k] for k in form} == form
    assert [name for name, _ in reports[B].pairs] == DLR_FIELDS + (
        ["failureReason"] if "failureReason" in form else []
    )
    assert "failureReason" not in reports[A].form
    assert wait_for(lambda: sandbox.messages(B)[0]["status"] == stored)
    assert sandbox.messages(A)[0]["status"] == "Success"


def test_duplicate_delivery_reports(sandbox, kalan):
    sandbox.set_faults(dlr_duplicate=True)
    entries = sandbox.sms().send("Bonjour", [A, B])["SMSMessageData"]["Recipients"]
    wait_for(sandbox.settled)
    ids = [r.form["id"] for r in kalan.posts("/sms/delivery")]

    assert sorted(ids) == sorted([e["messageId"] for e in entries] * 2)


def test_shuffled_delivery_reports(serve, kalan):
    sandbox = serve(SANDBOX_DLR_DELAY_S=0.05)
    sandbox.set_faults(dlr_shuffle=True, seed=3)
    numbers = [f"+2237000001{i}" for i in range(8)]
    entries = sandbox.sms().send("Bonjour", numbers)["SMSMessageData"]["Recipients"]
    sent = [e["messageId"] for e in entries]
    wait_for(sandbox.settled)
    reported = [r.form["id"] for r in kalan.posts("/sms/delivery")]

    assert sorted(reported) == sorted(sent)
    assert reported != sent


def test_refused_report_is_retried(serve, kalan):
    sandbox = serve(SANDBOX_DLR_BACKOFF_S=0.01)
    kalan.answers = [500, 503]
    sandbox.sms().send("Bonjour", [A])
    wait_for(sandbox.settled)

    assert len(kalan.posts("/sms/delivery")) == 3
    assert sandbox.messages(A)[0]["status"] == "Success"


def test_report_is_given_up_after_the_retries(serve, kalan, caplog):
    sandbox = serve(SANDBOX_DLR_BACKOFF_S=0.01, SANDBOX_DLR_RETRIES=2)
    kalan.answers = [500] * 10
    with caplog.at_level(logging.WARNING, logger="sandbox.courier"):
        sandbox.sms().send("Bonjour", [A])
        wait_for(sandbox.settled)

    assert len(kalan.posts("/sms/delivery")) == 3
    assert "giving up on callback" in caplog.text


def test_unreachable_kalan_does_not_stop_the_courier(serve, kalan):
    sandbox = serve(KALAN_URL="http://127.0.0.1:9", SANDBOX_DLR_RETRIES=0)
    sandbox.sms().send("Bonjour", [A])
    wait_for(sandbox.settled)
    sandbox.app.config["KALAN_URL"] = kalan.url
    sandbox.sms().send("Encore", [B])

    assert wait_for(lambda: kalan.posts("/sms/delivery"))[0].form["phoneNumber"] == B


def test_courier_survives_a_failing_job(kalan):
    courier = Courier()

    def explode():
        raise RuntimeError("boom")

    try:
        courier.schedule(f"{kalan.url}/one", [("n", "1")], 0, on_due=explode)
        courier.schedule(f"{kalan.url}/two", [("n", "2")], 0.01)
        wait_for(courier.idle)
    finally:
        courier.close()

    assert [seen.path for seen in kalan.seen] == ["/two"]


# Messages from the simulated phone to Kalan.


def test_inbound_sms_is_forwarded(sandbox, kalan):
    response = requests.post(
        f"{sandbox.url}/simulator/sms/send",
        json={"from": "+223 70 00 00 01", "text": "Bonjour, c'est Awa"},
        timeout=5,
    )
    again = requests.post(
        f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": "Encore"}, timeout=5
    )

    assert (response.status_code, response.json()) == (
        200,
        {"id": 1, "delivered": True, "status": 200},
    )
    assert again.json()["id"] == 2
    first, second = kalan.posts("/sms/inbound")
    assert [name for name, _ in first.pairs] == INBOUND_FIELDS
    form = first.form
    assert ISO_Z.fullmatch(form["date"])
    assert re.fullmatch(r"[0-9a-f]{32}", form["linkId"])
    assert form["linkId"] != second.form["linkId"]
    assert {k: form[k] for k in ("from", "id", "text", "to", "networkCode")} == {
        "from": A,
        "id": "1",
        "text": "Bonjour, c'est Awa",
        "to": "36000",
        "networkCode": "99999",
    }
    assert first.query == "token=s3cr%26t"


def test_inbound_sms_can_be_fetched(sandbox):
    for text in ("Un", "Deux"):
        requests.post(f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": text})
    sms = sandbox.sms()
    everything = sms.fetch_messages()["SMSMessageData"]["Messages"]
    newer = sms.fetch_messages(last_received_id=1)["SMSMessageData"]["Messages"]

    assert [(m["id"], m["text"], m["from"], m["to"]) for m in everything] == [
        (1, "Un", A, "36000"),
        (2, "Deux", A, "36000"),
    ]
    assert all(ISO_Z.fullmatch(m["date"]) for m in everything)
    assert [m["id"] for m in newer] == [2]


@pytest.mark.parametrize(
    ("kalan_url", "answers", "delivered", "status"),
    [
        (None, [500], False, 500),
        (None, [201], False, 201),
        ("http://127.0.0.1:9", [], False, "Connection refused"),
    ],
)
def test_inbound_sms_reports_kalan_refusing(serve, kalan, kalan_url, answers, delivered, status):
    sandbox = serve(**({"KALAN_URL": kalan_url} if kalan_url else {}))
    kalan.answers = answers
    response = requests.post(
        f"{sandbox.url}/simulator/sms/send", json={"from": A, "text": "Bonjour"}, timeout=5
    )

    assert response.status_code == 200
    assert (response.json()["delivered"], response.json()["status"]) == (delivered, status)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("pas du JSON", "bad_json"),
        ([A], "bad_json"),
        ({"text": "Bonjour"}, "missing_from"),
        ({"from": A}, "missing_text"),
        ({"from": A, "text": "  "}, "missing_text"),
        ({"from": A, "text": 3}, "missing_text"),
        ({"from": "70000001", "text": "Bonjour"}, "bad_phone"),
    ],
)
def test_inbound_sms_rejects_bad_requests(sandbox, kalan, payload, code):
    if isinstance(payload, str):
        kwargs = {"data": payload, "headers": {"Content-Type": "application/json"}}
    else:
        kwargs = {"json": payload}
    response = requests.post(f"{sandbox.url}/simulator/sms/send", timeout=5, **kwargs)

    assert (response.status_code, response.json()) == (400, {"error": code})
    assert kalan.seen == []


# The simulated phone's inbox and page.


def test_inbox_lists_the_phone_messages(sandbox):
    sandbox.sms().send("Pour A", [A])
    sandbox.sms().send("Pour B", [B])
    sandbox.sms().send("Encore pour A", [A])
    inbox = requests.get(f"{sandbox.url}/simulator/sms/inbox", params={"phone": A}, timeout=5)

    assert inbox.status_code == 200
    assert [m["message"] for m in inbox.json()] == ["Pour A", "Encore pour A"]
    assert inbox.json() == sandbox.messages(A)


@pytest.mark.parametrize(("query", "code"), [("", "missing_phone"), ("?phone=7000", "bad_phone")])
def test_inbox_needs_a_phone(sandbox, query, code):
    response = requests.get(f"{sandbox.url}/simulator/sms/inbox{query}", timeout=5)

    assert (response.status_code, response.json()) == (400, {"error": code})


def test_page_has_the_sms_panel(sandbox):
    page = requests.get(sandbox.url, timeout=5).text

    assert "Envoyer un SMS à Kalan" in page
    assert "/simulator/sms/inbox" in page
    assert "/simulator/sms/send" in page


# Configuration.


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            {
                "AT_USERNAME": "sandbox",
                "AT_API_KEY": "sandbox-key",
                "AT_SHORTCODE": "36000",
                "SANDBOX_SMS_PART_COST": "XOF 25.0000",
                "SANDBOX_DLR_DELAY_S": 0.2,
                "SANDBOX_DLR_RETRIES": 3,
                "SANDBOX_DLR_BACKOFF_S": 0.5,
                "SANDBOX_DROP_SLEEP_S": 12.0,
                "SANDBOX_FAULTS": "{}",
            },
        ),
        (
            {
                "AT_USERNAME": "kalan",
                "AT_API_KEY": "k",
                "AT_SHORTCODE": "36123",
                "SANDBOX_SMS_PART_COST": "KES 0.8000",
                "SANDBOX_DLR_DELAY_S": "1.5",
                "SANDBOX_DLR_RETRIES": "0",
                "SANDBOX_DLR_BACKOFF_S": "2",
                "SANDBOX_DROP_SLEEP_S": "20",
                "SANDBOX_FAULTS": '{"latency_ms": 50}',
            },
            {
                "AT_USERNAME": "kalan",
                "AT_API_KEY": "k",
                "AT_SHORTCODE": "36123",
                "SANDBOX_SMS_PART_COST": "KES 0.8000",
                "SANDBOX_DLR_DELAY_S": 1.5,
                "SANDBOX_DLR_RETRIES": 0,
                "SANDBOX_DLR_BACKOFF_S": 2.0,
                "SANDBOX_DROP_SLEEP_S": 20.0,
                "SANDBOX_FAULTS": '{"latency_ms": 50}',
            },
        ),
    ],
)
def test_config_from_environment(monkeypatch, env, expected):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app()

    assert {name: app.config[name] for name in expected} == expected
    faults = json.loads(expected["SANDBOX_FAULTS"])
    assert app.extensions["sms_faults"].faults.latency_ms == faults.get("latency_ms", 0)


@pytest.mark.parametrize(
    "config",
    [
        {"SANDBOX_SMS_PART_COST": "25"},
        {"SANDBOX_SMS_PART_COST": "XOF cher"},
        {"SANDBOX_FAULTS": "{"},
        {"SANDBOX_FAULTS": '{"error_rate": 2}'},
    ],
)
def test_bad_config_stops_the_start(config):
    with pytest.raises(SystemExit) as stopped:
        create_app(config)
    message = str(stopped.value)
    assert message.startswith("sandbox: cannot start: ") and "\n" not in message
