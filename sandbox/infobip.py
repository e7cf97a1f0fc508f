"""The fake of Infobip's SMS API: POST /sms/2/text/advanced and its JSON delivery reports."""

import re
import time
import uuid

from flask import Blueprint, Response, current_app, jsonify, request

from app.messaging import segments  # the provider bills by the same rules the app estimates with
from sandbox import messaging
from sandbox.messaging import get_courier, get_injector, get_store, get_tariff
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
# The faults name AT's delivery statuses; each becomes Infobip's (group id, group, id, name).
REPORTS = {
    "Success": (3, "DELIVERED", 5, "DELIVERED_TO_HANDSET"),
    "Sent": (1, "PENDING", 7, "PENDING_ENROUTE"),
    "Submitted": (1, "PENDING", 3, "PENDING_WAITING_DELIVERY"),
    "Buffered": (1, "PENDING", 3, "PENDING_WAITING_DELIVERY"),
    "Failed": (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
    "Rejected": (2, "UNDELIVERABLE", 4, "UNDELIVERABLE_REJECTED_OPERATOR"),
    "AbsentSubscriber": (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED"),
    "Expired": (4, "EXPIRED", 15, "EXPIRED_EXPIRED"),
}
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
            "description": "No Error", "permanent": False}  # fmt: skip


@bp.before_request
def inject():
    """Delay or fail any API request as the faults in force say."""
    faults = get_injector().faults
    if faults.latency_ms:
        time.sleep(faults.latency_ms / 1000)
    if get_injector().happens(faults.error_rate):
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
    )
    return {"messageId": message_id, "status": PENDING, "to": to}, outgoing


def _report(bulk_id: str, accepted: list[tuple[Outgoing, str | None]]) -> None:
    """Schedule a JSON delivery report to each message's notifyUrl, as the faults shape them."""
    if not current_app.config["SANDBOX_DLR"]:
        return
    faults = get_injector().faults
    delay = current_app.config["SANDBOX_DLR_DELAY_S"]
    copies = 2 if faults.dlr_duplicate else 1
    # Infobip pushes reports only where the request asked for them.
    jobs = [(m, url) for m, url in accepted if url for _ in range(copies)]
    if faults.dlr_shuffle:
        get_injector().shuffle(jobs)
    store = get_store()
    for message, url in jobs:
        outcome = faults.dlr_status.get(message.to, {"status": "Success"})
        body = {"results": [_result(bulk_id, message, outcome)]}
        due = get_injector().spread(delay) if faults.dlr_shuffle else delay
        get_courier().schedule(
            url,
            body,
            due,
            lambda m=message, s=outcome["status"]: store.set_status(m.message_id, s),
        )


def _result(bulk_id: str, message: Outgoing, outcome: dict) -> dict:
    """Describe one message's delivery as Infobip's report does."""
    group_id, group, status_id, name = REPORTS[outcome["status"]]
    error = NO_ERROR
    if group_id in (2, 4):
        reason = outcome.get("failureReason") or "EC_UNKNOWN_ERROR"
        error = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 1, "name": reason,
                 "description": reason, "permanent": group_id == 2}  # fmt: skip
    price, currency = message.cost.split(" ")[1], message.cost.split(" ")[0]
    return {
        "bulkId": bulk_id,
        "messageId": message.message_id,
        "to": message.to.removeprefix("+"),
        "sentAt": message.at,
        "doneAt": now_iso(),
        "smsCount": message.parts,
        "price": {"pricePerMessage": float(price), "currency": currency},
        "status": {
            "groupId": group_id,
            "groupName": group,
            "id": status_id,
            "name": name,
            "description": name.replace("_", " ").capitalize(),
        },  # fmt: skip
        "error": error,
    }


def _error(status: int, message_id: str, text: str) -> Response:
    """Answer a refused request in Infobip's error shape."""
    body = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
    response = jsonify(body)
    response.status_code = status
    return response
