"""The fake of Orange's SMS API: OAuth2 tokens, one-address sends, their delivery receipts
to Kalan, contracts' units."""

import base64
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify, request

from app.infra import segments  # Orange counts units by parts, as the app estimates
from sandbox.faults import ORANGE_ERRORS
from sandbox.messaging import get_injector, get_store, schedule_reports
from sandbox.sms_store import Outgoing
from sandbox.transport import kalan_url

bp = Blueprint("orange", __name__)

COUNTRY = "MLI"  # the contract the sandbox's application holds
# Orange's error texts, as its documentation and third-party clients show them.
ERROR_TEXTS = {
    "SVC0002": ("serviceException", "Invalid input value for message part %1"),
    "SVC0004": ("serviceException", "No valid addresses provided in message part %1"),
    "POL0001": (
        "policyException",
        "A policy error occurred. For example, rate limit error, authorization error. %1",
    ),  # fmt: skip
}
# The gateway's own errors, outside the SMS API, in its {code, message, description} shape.
GATEWAY_ERRORS = {
    "TooManyRequests": (53, "Too many requests", "The application has made too many calls"),
    "ServiceUnavailable": (5, "Service unavailable", "The service is temporarily unavailable"),
    "invalid": (42, "Expired credentials",
                "The requested service needs credentials, and the ones provided were out-of-date."),
    "unknown": (41, "Invalid credentials",
                "The requested service needs credentials, but the ones provided were invalid."),
    "error": (1, "Internal error", "An internal error occurred"),
}  # fmt: skip
# The faults name AT's delivery statuses; each becomes the deliveryStatus Orange reports.
RECEIPTS = {
    "Success": "DeliveredToTerminal",
    "Sent": "DeliveredToNetwork",
    "Submitted": "DeliveredToNetwork",
    "Buffered": "MessageWaiting",
    "Failed": "DeliveryImpossible",
    "Rejected": "DeliveryImpossible",
    "AbsentSubscriber": "DeliveryImpossible",
    "Expired": "DeliveryImpossible",
}


@dataclass(frozen=True)
class Token:
    """An access token the sandbox gave out."""

    expires: float  # time.monotonic() deadline
    generation: int  # the faults in force when it was given


class OrangeState:
    """Tokens given out, how many were asked for, and the units left."""

    def __init__(self, units: int) -> None:
        self._lock = threading.Lock()
        self.tokens: dict[str, Token] = {}
        self.token_requests = 0
        self.units = units

    def issue(self, ttl: int, generation: int) -> str:
        """Give out a new token valid for ttl seconds."""
        with self._lock:
            self.token_requests += 1
            token = secrets.token_urlsafe(24)
            self.tokens[token] = Token(time.monotonic() + ttl, generation)
            return token

    def check(self, token: str, expired_before: int | None) -> str | None:
        """Return why a token is refused ("unknown" or "invalid"), or None if valid."""
        with self._lock:
            known = self.tokens.get(token)
        if known is None:
            return "unknown"
        if known.expires <= time.monotonic():
            return "invalid"
        if expired_before is not None and known.generation < expired_before:
            return "invalid"
        return None

    def spend(self, units: int) -> bool:
        """Take units from the contract; False if not enough are left."""
        with self._lock:
            if self.units < units:
                return False
            self.units -= units
            return True


def get_state() -> OrangeState:
    """Return the Orange emulation's state."""
    return current_app.extensions["orange"]


@bp.before_request
def inject():
    """Delay or fail any Orange request as the faults in force say."""
    if request.path.startswith("/sandbox/"):
        return None
    if get_injector().disturb():
        return _gateway_error("error", 500)
    return None


@bp.post("/oauth/v3/token")
def token():
    """Give a token for the right client id and secret (HTTP Basic)."""
    expected = (
        f"{current_app.config['ORANGE_CLIENT_ID']}:{current_app.config['ORANGE_CLIENT_SECRET']}"
    )
    given = request.headers.get("Authorization", "")
    if given != "Basic " + base64.b64encode(expected.encode()).decode():
        body = {"error": "invalid_client", "error_description": GATEWAY_ERRORS["unknown"][2]}
        return jsonify(body), 401
    if request.form.get("grant_type") != "client_credentials":
        return jsonify(error="unsupported_grant_type",
                       error_description="grant_type must be client_credentials"), 400  # fmt: skip
    ttl = current_app.config["SANDBOX_ORANGE_TOKEN_TTL_S"]
    given = get_state().issue(ttl, get_injector().generation)
    return jsonify(token_type="Bearer", access_token=given, expires_in=ttl)


@bp.post("/smsmessaging/v1/outbound/<sender>/requests")
def send(sender):
    """Take one message to one address, answer 201 with its resourceURL."""
    refused = _bearer_refused()
    if refused is not None:
        return refused
    body = request.get_json(silent=True)
    message = body.get("outboundSMSMessageRequest") if isinstance(body, dict) else None
    if not isinstance(message, dict):
        return _service_error("SVC0002", "outboundSMSMessageRequest")
    address = message.get("address")
    text = (message.get("outboundSMSTextMessage") or {}).get("message")
    if message.get("senderAddress") != sender or not sender.startswith("tel:+"):
        return _service_error("SVC0002", "senderAddress")
    if not isinstance(text, str) or not text:
        return _service_error("SVC0002", "message")
    if not isinstance(address, str) or not _phone(address):
        return _service_error("SVC0004", "address")
    phone = address[len("tel:") :]
    forced = get_injector().faults.orange_status.get(phone)
    if forced in ERROR_TEXTS:
        return _service_error(forced, "address")
    if forced is not None:
        return _gateway_error(forced, ORANGE_ERRORS[forced])
    parts = segments.parts(text)
    if not get_state().spend(parts):
        return _service_error("POL0001", "Insufficient SMS units")
    request_id = uuid.uuid4().hex
    name = message.get("senderName")
    number = sender[len("tel:") :]
    sent = Outgoing(to=phone, message=text, sender=name or number, message_id=request_id,
                    parts=parts, cost=f"{parts} unit(s)", provider="orange",
                    reply_to=number)  # fmt: skip
    get_store().add_sent([sent])
    schedule_reports([(sent, kalan_url("/sms/delivery/orange"))], _receipt)
    answer = dict(message, address=[address])
    answer["resourceURL"] = (
        f"{request.host_url}smsmessaging/v1/outbound/{sender}/requests/{request_id}"
    )
    return jsonify(outboundSMSMessageRequest=answer), 201


@bp.get("/sms/admin/v1/contracts")
def contracts():
    """List the application's contracts with the units left."""
    refused = _bearer_refused()
    if refused is not None:
        return refused
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
    return jsonify([{"id": "sandbox-contract", "country": COUNTRY, "offerName": "SMS_OCB",
                     "status": "ACTIVE", "availableUnits": get_state().units,
                     "expirationDate": expires}])  # fmt: skip


@bp.get("/sandbox/orange")
def state():
    """Tell tests how many tokens were asked for and how many units are left."""
    return jsonify(token_requests=get_state().token_requests, units=get_state().units)


def _receipt(message: Outgoing, outcome: dict) -> dict:
    """Write one message's delivery receipt as Orange posts it (JSON)."""
    # callbackData names the request: the last segment of the resourceURL the send answered.
    info = {"address": "tel:" + message.to, "deliveryStatus": RECEIPTS[outcome["status"]]}
    return {"deliveryInfoNotification": {"callbackData": message.message_id, "deliveryInfo": info}}


def _bearer_refused():
    """Answer 401 as Orange does for a missing, unknown or expired token; None if valid."""
    given = request.headers.get("Authorization", "")
    faults = get_injector().faults
    expired_before = get_injector().generation if faults.orange_token_expired else None
    why = "unknown"
    if given.startswith("Bearer "):
        why = get_state().check(given[len("Bearer ") :], expired_before)
    if why is None:
        return None
    response = _gateway_error(why, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="Orange API"'
    return response


def _phone(address: str) -> bool:
    digits = address[len("tel:+") :]
    return address.startswith("tel:+") and digits.isdigit() and 6 <= len(digits) <= 15


def _service_error(error: str, variable: str):
    kind, text = ERROR_TEXTS[error]
    status = ORANGE_ERRORS[error]
    exception = {"messageId": error, "text": text, "variables": [variable]}
    return jsonify(requestError={kind: exception}), status


def _gateway_error(error: str, status: int):
    code, message, description = GATEWAY_ERRORS[error]
    response = jsonify(code=code, message=message, description=description)
    response.status_code = status
    return response
