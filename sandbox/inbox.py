"""The simulated phone's SMS: the messages it got from Kalan, and those it sends to Kalan."""

import re

import requests
from flask import Blueprint, current_app, jsonify, request

from sandbox.control import phone_arg
from sandbox.messaging import NETWORK_CODE, get_store
from sandbox.simulator import PHONE
from sandbox.transport import kalan_url, post_form

bp = Blueprint("inbox", __name__, url_prefix="/simulator/sms")

FORWARD_TIMEOUT_S = 10.0


@bp.get("/inbox")
def inbox():
    """List the messages Kalan sent to the phone, newest last."""
    phone = phone_arg("phone")
    if not phone:
        return _error("missing_phone", 400)
    if not PHONE.match(phone):
        return _error("bad_phone", 400)
    return jsonify(get_store().sent(phone))


@bp.post("/send")
def send():
    """Text Kalan's short code from the phone, and tell whether Kalan took it."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error("bad_json", 400)
    for name in ("from", "text"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return _error(f"missing_{name}", 400)
    # People type numbers with spaces ("+223 70 00 00 01"); AT never sends them.
    sender = re.sub(r"[\s.-]", "", body["from"])
    if not PHONE.match(sender):
        return _error("bad_phone", 400)
    message = get_store().receive(sender, current_app.config["AT_SHORTCODE"], body["text"])
    form = [
        ("date", message.date),
        ("from", message.sender),
        ("id", str(message.id)),
        ("linkId", message.link_id),
        ("text", message.text),
        ("to", message.to),
        ("networkCode", NETWORK_CODE),
    ]
    with requests.Session() as http:
        delivery = post_form(http, kalan_url("/sms/inbound"), form, FORWARD_TIMEOUT_S)
    return jsonify(id=message.id, delivered=delivery.ok, status=delivery.outcome)


def _error(code: str, status: int):
    """Answer with an error code; the page words it (sandbox/content/)."""
    return jsonify(error=code), status
