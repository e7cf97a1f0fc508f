"""Calls Kalan placed to simulated phones, ringing until the phone answers or refuses them.

Whatever takes Kalan's outbound calls (the fake of AT's voice API) adds them here.
GET /sandbox/voice/outbound?phone=+223… lists the calls still ringing at a phone
(every phone without ?phone=), each as {"sessionId", "from", "to", "queuedAt", "state"};
POST /sandbox/voice/outbound/<sessionId> with {"state": "answered"} or {"state":
"refused"} takes one. Whoever takes it then posts Kalan's /voice as AT would: the
simulator page, or `kalan call --wait`.
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
    """One call Kalan placed: from its number to a phone."""

    session_id: str
    caller: str  # Kalan's number, the call's "from"
    to: str
    queued_at: str
    state: str = RINGING

    def as_dict(self) -> dict:
        """Describe the call as the control API shows it."""
        return {"sessionId": self.session_id, "from": self.caller, "to": self.to,
                "queuedAt": self.queued_at, "state": self.state}  # fmt: skip


class OutboundCalls:
    """The calls placed, oldest first, shared by the request threads."""

    def __init__(self) -> None:
        self._calls: dict[str, OutboundCall] = {}
        self._lock = threading.Lock()

    def add(self, caller: str, to: str, session_id: str) -> OutboundCall:
        """Make a phone ring with a call from caller."""
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


def get_outbound() -> OutboundCalls:
    """Return the calls placed to the simulated phones."""
    return current_app.extensions["voice_outbound"]


@bp.get("/outbound")
def outbound():
    """List the calls ringing at ?phone= (or at every phone)."""
    return jsonify(get_outbound().listed(phone_arg("phone")))


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
