"""The fake of Infobip's SMS API: POST /sms/2/text/advanced and its JSON delivery reports."""

import re
import uuid
from decimal import Decimal

from flask import Blueprint, Response, current_app, jsonify, request

from app.infra import segments  # the provider bills by the same rules the app estimates with
from sandbox import messaging
from sandbox.messaging import get_injector, get_store, get_tariff
from sandbox.sms_store import Outgoing, now_iso

bp = Blueprint("infobip", __name__)

NUMBER = re.compile(r"^\+?\d{6,15}$")
DEFAULT_SENDER = "InfoSMS"  # what phones see when no "from" is given
PENDING = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED",
           "description": "Message sent to next instance"}  # fmt: skip
# The faults name AT's per-recipient codes; each becomes the REJECTED status
# Infobip gives for the same cause (ids as on its status-codes page).
REJECTIONS = {
    401: (20, "REJECTED_FLOODING_FILTER"),
    402: (13, "REJECTED_SENDER"),
    403: (14, "REJECTED_DESTINATION"),
    404: (14, "REJECTED_DESTINATION"),
    405: (12, "REJECTED_NOT_ENOUGH_CREDITS"),
    406: (10, "REJECTED_DND"),
    407: (19, "REJECTED_ROUTE_NOT_AVAILABLE"),
    409: (10, "REJECTED_DND"),
    500: (21, "REJECTED_SYSTEM_ERROR"),
    501: (21, "REJECTED_SYSTEM_ERROR"),
    502: (6, "REJECTED_NETWORK"),
}
# The faults name AT's delivery statuses; each becomes Infobip's status in a report:
# (group id, group, id, name, description).
WAITING = (1, "PENDING", 3, "PENDING_WAITING_DELIVERY", "Message sent, waiting for delivery report")
NOT_DELIVERED = (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED", "Message sent not delivered")
REPORTS = {
    "Success": (3, "DELIVERED", 5, "DELIVERED_TO_HANDSET", "Message delivered to handset"),
    "Sent": (1, "PENDING", 7, "PENDING_ENROUTE", "Message sent to next instance"),
    "Submitted": WAITING,
    "Buffered": WAITING,
    "Failed": NOT_DELIVERED,
    "AbsentSubscriber": NOT_DELIVERED,
    "Expired": (4, "EXPIRED", 15, "EXPIRED_EXPIRED", "Message expired"),
    "Rejected": (5, "REJECTED", 6, "REJECTED_NETWORK", "Network is forbidden"),
}
# A rejection's failureReason (AT's) picks Infobip's nearer REJECTED status.
REJECTED_BY_REASON = {
    "UserInBlackList": (5, "REJECTED", 10, "REJECTED_DND", "Destination on DND list"),
    "InsufficientCredit": (5, "REJECTED", 12, "REJECTED_NOT_ENOUGH_CREDITS", "Not enough credits"),
    "UserDoesNotExist": (5, "REJECTED", 52, "REJECTED_DESTINATION", "Invalid destination address"),
}
# Why an undeliverable message failed, by AT's failureReason (or AbsentSubscriber):
# Infobip's handset error (id, name, description, permanent).
HANDSET_ERRORS = {
    "AbsentSubscriber": (27, "EC_ABSENT_SUBSCRIBER", "Absent Subscriber", False),
    "DeliveryFailure": (32, "EC_SM_DELIVERY_FAILURE", "SM Delivery Failure", False),
    "UserDoesNotExist": (1, "EC_UNKNOWN_SUBSCRIBER", "Unknown Subscriber", True),
    "NotNetworkSubcriber": (1, "EC_UNKNOWN_SUBSCRIBER", "Unknown Subscriber", True),
    "UserIsInactive": (13, "EC_CALL_BARRED", "Call Barred", False),
    "UserAccountSuspended": (13, "EC_CALL_BARRED", "Call Barred", False),
    "InsufficientCredit": (581, "EC_USER_OUT_OF_CREDIT", "User out of credit", False),
    "UserInBlackList": (573, "EC_SC_BLOCKED_BY_END_USER", "Blocked by end user", True),
}
# A failureReason may name Infobip's error itself; any other is Infobip's unknown error.
ERRORS_BY_NAME = {error[1]: error for error in HANDSET_ERRORS.values()}
UNKNOWN_ERROR = (255, "EC_UNKNOWN_ERROR", "Unknown Error", False)
STATUS_KEYS = ("groupId", "groupName", "id", "name", "description")
ERROR_KEYS = (*STATUS_KEYS, "permanent")
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
            "description": "No Error", "permanent": False}  # fmt: skip


@bp.before_request
def inject():
    """Delay or fail any API request as the faults in force say."""
    if get_injector().disturb():
        return _error(500, "GENERAL_ERROR", "Something went wrong. Please contact support.")
    return None


@bp.post("/sms/2/text/advanced")
def send():
    """Take message objects, answer one status per destination, then report delivery."""
    if request.headers.get("Authorization") != f"App {current_app.config['INFOBIP_API_KEY']}":
        return _error(401, "UNAUTHORIZED", "Invalid login details")
    body = request.get_json(silent=True)
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list) or not messages:
        return _error(400, "BAD_REQUEST", "Bad request: messages must be a non-empty array")
    for message in messages:
        problem = _invalid(message)
        if problem:
            return _error(400, "BAD_REQUEST", problem)
    bulk_id = uuid.uuid4().hex
    answers, accepted = [], []
    for message in messages:
        for destination in message["destinations"]:
            answer, outgoing = _take(message, destination["to"])
            answers.append(answer)
            if outgoing is not None:
                accepted.append((outgoing, message.get("notifyUrl")))
    get_store().add_sent([outgoing for outgoing, _ in accepted])
    _report(bulk_id, accepted)
    if get_injector().happens(get_injector().faults.drop_rate):
        return messaging._drop()  # the messages went, the answer is lost
    return jsonify({"bulkId": bulk_id, "messages": answers})


def _invalid(message) -> str | None:
    """Tell what is wrong with one message object, or None."""
    if not isinstance(message, dict):
        return "Bad request: each message must be an object"
    destinations = message.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        return "Bad request: destinations must be a non-empty array"
    if not all(isinstance(d, dict) and isinstance(d.get("to"), str) for d in destinations):
        return "Bad request: each destination needs a 'to'"
    if not isinstance(message.get("text"), str) or not message["text"]:
        return "Bad request: text must be a non-empty string"
    for name in ("from", "notifyUrl"):
        if name in message and not isinstance(message[name], str):
            return f"Bad request: {name} must be a string"
    return None


def _take(message: dict, to: str) -> tuple[dict, Outgoing | None]:
    """Answer one destination, and the message kept for it unless rejected."""
    message_id = uuid.uuid4().hex
    phone = "+" + to.removeprefix("+")
    code = 403 if not NUMBER.match(to) else get_injector().faults.recipient_status.get(phone)
    if code is not None:
        status_id, name = REJECTIONS[code]
        status = {"groupId": 5, "groupName": "REJECTED", "id": status_id, "name": name,
                  "description": name.replace("_", " ").capitalize()}  # fmt: skip
        return {"messageId": message_id, "status": status, "to": to}, None
    tariff = get_tariff()
    parts = segments.parts(message["text"])
    outgoing = Outgoing(
        to=phone,
        message=message["text"],
        sender=message.get("from") or DEFAULT_SENDER,
        message_id=message_id,
        parts=parts,
        cost=tariff.price(tariff.cost(parts)),
        provider="infobip",
        reply_to=_numeric(message.get("from")) or current_app.config["SANDBOX_INFOBIP_NUMBER"],
    )
    return {"messageId": message_id, "status": PENDING, "to": to}, outgoing


def _report(bulk_id: str, accepted: list[tuple[Outgoing, str | None]]) -> None:
    """Schedule a JSON delivery report to each message's notifyUrl."""
    # Infobip pushes reports only where the request asked for them.
    jobs = [(message, url) for message, url in accepted if url]
    messaging.schedule_reports(jobs, lambda m, outcome: {"results": [_result(bulk_id, m, outcome)]})


def _result(bulk_id: str, message: Outgoing, outcome: dict) -> dict:
    """Describe one message's delivery as Infobip's report does."""
    reason = outcome.get("failureReason")
    status = REPORTS[outcome["status"]]
    if outcome["status"] == "Rejected":
        status = REJECTED_BY_REASON.get(reason, status)
    error = NO_ERROR
    if status[1] == "UNDELIVERABLE":
        key = reason or outcome["status"]
        found = HANDSET_ERRORS.get(key) or ERRORS_BY_NAME.get(key) or UNKNOWN_ERROR
        error = dict(zip(ERROR_KEYS, (1, "HANDSET_ERRORS", *found), strict=True))
    currency, _, amount = message.cost.partition(" ")  # the tariff's price of all its parts
    # Infobip prices one SMS: each part is one, and smsCount says how many were sent.
    per_part = Decimal(amount) / max(1, message.parts)
    return {
        "bulkId": bulk_id,
        "messageId": message.message_id,
        "to": message.to.removeprefix("+"),
        "sentAt": infobip_time(message.at),
        "doneAt": infobip_time(now_iso()),
        "smsCount": message.parts,
        "price": {"pricePerMessage": float(per_part), "currency": currency},
        "status": dict(zip(STATUS_KEYS, status, strict=True)),
        "error": error,
    }


def infobip_time(iso_z: str) -> str:
    """Write a time as Infobip does: milliseconds and "+0000", not "Z"."""
    return iso_z.removesuffix("Z") + "+0000"


def _error(status: int, message_id: str, text: str) -> Response:
    """Answer a refused request in Infobip's error shape."""
    body = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
    response = jsonify(body)
    response.status_code = status
    return response


def _numeric(sender) -> str | None:
    """Return a sender a phone can text back: a number; a name (KALAN) cannot be."""
    return sender if isinstance(sender, str) and sender.removeprefix("+").isdigit() else None
