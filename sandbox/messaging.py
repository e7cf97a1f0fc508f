"""The fake of AT's SMS API: what the official SDK calls under /version1."""

import json
import re
import socket
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

from flask import Blueprint, Response, current_app, request

from app.infra import segments  # the provider bills by the same rules the app estimates with
from sandbox.courier import Courier
from sandbox.faults import RECIPIENT_STATUSES, Injector
from sandbox.sms_store import Outgoing, SmsStore
from sandbox.tariff import Tariff
from sandbox.transport import kalan_url

bp = Blueprint("messaging", __name__, url_prefix="/version1")

NUMBER = re.compile(r"^\+\d{6,15}$")
NETWORK_CODE = "99999"  # AT's code for its sandbox network
DEFAULT_SENDER = "AFRICASTKNG"  # what phones see when no sender id is given
# AT's answer to a bad key, down to the header, as captured from the live API.
UNAUTHORIZED = "The supplied authentication is invalid"
CHALLENGE = 'Basic realm="api",charset=UTF-8'


def get_store() -> SmsStore:
    """Return the messages carried so far."""
    return current_app.extensions["sms_store"]


def get_injector() -> Injector:
    """Return the faults in force."""
    return current_app.extensions["sms_faults"]


def get_tariff() -> Tariff:
    """Return the price of one part."""
    return current_app.extensions["sms_tariff"]


def get_courier() -> Courier:
    """Return the courier of delivery reports."""
    return current_app.extensions["sms_courier"]


@bp.before_request
def inject():
    """Delay or fail any API request as the faults in force say."""
    if get_injector().disturb():
        return _text("Internal Server Error", 500)
    return None


@bp.post("/messaging")
def send():
    """Take messages to send, answer per recipient, then report their delivery."""
    form = request.form
    if not _key_ok():
        return _unauthorized()
    for name in ("username", "to", "message"):
        if name not in form:
            return _text(f"The request content was malformed: missing form field '{name}'", 400)
    if form["username"] != current_app.config["AT_USERNAME"]:
        return _unauthorized()
    tariff = get_tariff()
    faults = get_injector().faults
    # The SDK's send_premium posts bulkSMSMode=0 to the content endpoint.
    premium = form.get("bulkSMSMode") == "0"
    queued = premium or form.get("enqueue") == "1"
    parts = segments.parts(form["message"])
    recipients, accepted = [], []
    for number in form["to"].split(","):
        code = 403 if not NUMBER.match(number) else faults.recipient_status.get(number)
        if code is not None:
            recipients.append(_refused(number, code))
            continue
        cost = "0" if premium else tariff.price(tariff.cost(parts))
        message = Outgoing(
            to=number,
            message=form["message"],
            sender=form.get("from") or DEFAULT_SENDER,
            message_id="ATXid_" + uuid.uuid4().hex,
            parts=parts,
            cost=cost,
            # A phone can text back a short code, never an alphanumeric sender id.
            reply_to=(form.get("from") if form.get("from", "").isdigit() else "")
            or current_app.config["AT_SHORTCODE"],
        )
        accepted.append(message)
        recipients.append(
            {
                "cost": cost,
                "messageId": message.message_id,
                "messageParts": parts,
                "number": number,
                "status": "Success",
                "statusCode": 102 if queued else 101,
            }
        )
    get_store().add_sent(accepted)
    _report(accepted)
    if get_injector().happens(faults.drop_rate):
        return _drop()
    summary = f"Sent to {len(accepted)}/{len(recipients)}"
    if not premium:
        total = sum((tariff.cost(m.parts) for m in accepted), Decimal(0))
        summary += f" Total Cost: {tariff.price(total) if accepted else '0'}"
    return _json({"SMSMessageData": {"Message": summary, "Recipients": recipients}}, 201)


@bp.get("/messaging")
def fetch():
    """List messages phones sent to the short code, after lastReceivedId."""
    if not _key_ok() or request.args.get("username") != current_app.config["AT_USERNAME"]:
        return _unauthorized()
    try:
        after = int(request.args.get("lastReceivedId", "0"))
    except ValueError:
        return _text("The request content was malformed: lastReceivedId is not a number", 400)
    # AT lists only what phones sent through it, not what Orange or Infobip carried.
    received = get_store().received(after, provider="africastalking")
    return _json({"SMSMessageData": {"Messages": received}}, 200)


@bp.get("/user")
def user():
    """Tell the application's balance, which never runs out here."""
    if not _key_ok() or request.args.get("username") != current_app.config["AT_USERNAME"]:
        return _unauthorized()
    return _json({"UserData": {"balance": get_tariff().price(Decimal(1_000_000))}}, 200)


def _report(messages: list[Outgoing]) -> None:
    """Schedule AT's form delivery report for each message."""
    schedule_reports([(message, kalan_url("/sms/delivery")) for message in messages], _at_report)


def _at_report(message: Outgoing, outcome: dict) -> list:
    """Write one message's delivery report as AT's form."""
    form = [
        ("id", message.message_id),
        ("status", outcome["status"]),
        ("phoneNumber", message.to),
        ("networkCode", NETWORK_CODE),
    ]
    if outcome.get("failureReason"):
        form.append(("failureReason", outcome["failureReason"]))
    return form


def schedule_reports(
    jobs: list[tuple[Outgoing, str]], write: Callable[[Outgoing, dict], list | dict]
) -> None:
    """Schedule a report of each message to its URL, as the faults in force shape them.

    write turns a message and its outcome ({"status": AT's name, "failureReason": ...})
    into the provider's body: a list of fields is posted as a form, a dict as JSON.
    """
    if not current_app.config["SANDBOX_DLR"]:
        return  # benchmarks measure sending alone
    faults = get_injector().faults
    delay = current_app.config["SANDBOX_DLR_DELAY_S"]
    copies = 2 if faults.dlr_duplicate else 1
    jobs = [job for job in jobs for _ in range(copies)]
    if faults.dlr_shuffle:
        get_injector().shuffle(jobs)
    for message, url in jobs:
        outcome = faults.dlr_status.get(message.to, {"status": "Success"})
        due = get_injector().spread(delay) if faults.dlr_shuffle else delay
        setter = _status_setter(message.message_id, outcome)
        get_courier().schedule(url, write(message, outcome), due, setter)


def _status_setter(message_id: str, outcome: dict):
    """Return what records the delivery status once its report falls due."""
    # The store keeps AT's names whatever the provider: the page words those.
    store = get_store()
    return lambda: store.set_status(message_id, outcome["status"])


def _drop() -> Response:
    """Lose the answer to a request whose messages were taken, as a dropped link would."""
    # Both werkzeug's server and gunicorn expose the client socket; shutting it
    # down makes the client see the connection close with no answer at all.
    sock = request.environ.get("werkzeug.socket") or request.environ.get("gunicorn.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
            return _text("", 500)
        except OSError:
            pass
    # Without a socket (a test client), outwait the SDK's 9.05 s read timeout.
    time.sleep(current_app.config["SANDBOX_DROP_SLEEP_S"])
    return _text("", 500)


def _key_ok() -> bool:
    """Tell whether the request carries the configured API key."""
    return request.headers.get("apiKey") == current_app.config["AT_API_KEY"]


def _refused(number: str, code: int) -> dict:
    """Describe a recipient AT would not send to."""
    return {
        "cost": "0",
        "messageId": "None",
        "number": number,
        "status": RECIPIENT_STATUSES[code],
        "statusCode": code,
    }


def _json(body: dict, status: int) -> Response:
    """Answer JSON with exactly `application/json`: the SDK parses nothing else."""
    text = json.dumps(body, separators=(",", ":"))
    return Response(text, status, content_type="application/json")


def _text(body: str, status: int) -> Response:
    """Answer plain text, as AT's front end does for errors."""
    return Response(body, status, content_type="text/plain; charset=UTF-8")


def _unauthorized() -> Response:
    """Answer a bad key or username exactly as AT does."""
    response = _text(UNAUTHORIZED, 401)
    response.headers["WWW-Authenticate"] = CHALLENGE
    return response
