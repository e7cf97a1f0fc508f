"""Calls Kalan asked the fake voice API to place: kept until the simulated phone takes them.

GET /sandbox/voice/outbound?phone=+223… lists the calls still ringing for a phone
(all phones without ?phone=, and every state with ?all=1), each as
{"sessionId", "from", "to", "queuedAt", "state"}. POST
/sandbox/voice/outbound/<sessionId> with {"state": "answered"} or {"state": "refused"}
takes one; the simulator then posts Kalan's /voice as AT would (direction=Outbound,
callerNumber=from, destinationNumber=to). DELETE /sandbox/voice/outbound forgets them.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from sandbox.control import phone_arg

bp = Blueprint("outbound", __name__, url_prefix="/sandbox/voice")

RINGING = "queued"
TAKEN = ("answered", "refused")


@dataclass
class OutboundCall:
    """One call the fake API queued."""

    session_id: str
    caller: str  # our number, the call's "from"
    to: str
    queued_at: str
    state: str = RINGING

    def as_dict(self) -> dict:
        """Describe the call as the control API shows it."""
        return {
            "sessionId": self.session_id,
            "from": self.caller,
            "to": self.to,
            "queuedAt": self.queued_at,
            "state": self.state,
        }


class OutboundCalls:
    """The queued calls, and the answers already given per idempotency key."""

    def __init__(self) -> None:
        self._calls: dict[str, OutboundCall] = {}
        self._answers: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def add(self, caller: str, to: str, session_id: str) -> OutboundCall:
        """Queue a call to ring."""
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        call = OutboundCall(session_id, caller, to, stamp)
        with self._lock:
            self._calls[session_id] = call
        return call

    def listed(self, phone: str | None = None, ringing_only: bool = True) -> list[dict]:
        """Return the calls to a phone (or all), oldest first, still ringing unless told."""
        with self._lock:
            calls = list(self._calls.values())
        return [
            c.as_dict()
            for c in calls
            if (phone is None or c.to == phone) and (not ringing_only or c.state == RINGING)
        ]

    def take(self, session_id: str, state: str) -> tuple[OutboundCall | None, bool]:
        """Answer or refuse a ringing call; return it and whether this request took it."""
        with self._lock:
            call = self._calls.get(session_id)
            if call is None or call.state != RINGING:
                return call, False
            call.state = state
            return call, True

    def answer_for(self, key: str) -> tuple[str, int] | None:
        """Return the answer given to a request with this idempotency key, if any."""
        with self._lock:
            return self._answers.get(key)

    def remember(self, key: str, answer: tuple[str, int]) -> None:
        """Keep the answer given under an idempotency key, for a repeat of the request."""
        with self._lock:
            self._answers[key] = answer

    def clear(self) -> None:
        """Forget every call and answer."""
        with self._lock:
            self._calls.clear()
            self._answers.clear()


def get_outbound() -> OutboundCalls:
    """Return the queued calls."""
    return current_app.extensions["voice_outbound"]


@bp.get("/outbound")
def outbound():
    """List the calls ringing for ?phone= (or every phone); ?all=1 lists taken ones too."""
    return jsonify(get_outbound().listed(phone_arg("phone"), request.args.get("all") != "1"))


@bp.post("/outbound/<session_id>")
def take(session_id: str):
    """Answer or refuse a ringing call: {"state": "answered"} or {"state": "refused"}."""
    body = request.get_json(silent=True)
    state = body.get("state") if isinstance(body, dict) else None
    if state not in TAKEN:
        return jsonify(error="bad_state", detail='state must be "answered" or "refused"'), 400
    call, took = get_outbound().take(session_id, state)
    if call is None:
        return jsonify(error="unknown_call", detail=f"no call {session_id!r} was queued"), 404
    if not took:
        return jsonify(error="not_ringing", detail=f"the call was already {call.state}"), 409
    return jsonify(call.as_dict())


@bp.delete("/outbound")
def clear():
    """Forget every queued call."""
    get_outbound().clear()
    return "", 204
