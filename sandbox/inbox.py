"""The simulated phone's SMS: the messages it got from Kalan, and those it sends to Kalan."""

import re

import requests
from flask import Blueprint, jsonify, request

from sandbox import replies
from sandbox.control import phone_arg
from sandbox.messaging import get_injector, get_store
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
    """Text Kalan from the phone, and tell whether Kalan took it.

    The text goes back the way the phone's newest message came: through the
    provider that carried it, to its sender (people reply to what they got).
    With none yet, it goes through AT to the short code. "provider" forces one.
    """
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
    forced = body.get("provider")
    if forced is not None and forced not in replies.PROVIDERS:
        return _error("unknown_provider", 400)
    store = get_store()
    last = store.latest(sender, forced)
    provider = forced or (last.provider if last else "africastalking")
    to = (last and last.reply_to) or replies.kalan_number(provider)
    message = store.receive(sender, to, body["text"], provider)
    path, payload = replies.write(message)
    # Providers post again what they think Kalan missed: the same message, same ids.
    copies = 2 if get_injector().faults.inbound_duplicate else 1
    with requests.Session() as http:
        deliveries = [
            post_form(http, kalan_url(path), payload, FORWARD_TIMEOUT_S) for _ in range(copies)
        ]
    worst = next((d for d in deliveries if not d.ok), deliveries[0])
    return jsonify(id=message.id, delivered=worst.ok, status=worst.outcome, provider=provider)


def _error(code: str, status: int):
    """Answer with an error code; the page words it (sandbox/content/)."""
    return jsonify(error=code), status
