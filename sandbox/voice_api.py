"""The fake of AT's voice API: what the official SDK's VoiceService.call posts, at /voice-api/call.

AT answers {"entries": [{"phoneNumber", "status", "sessionId"}], "errorMessage": "None"};
a queued call waits in sandbox/outbound.py for the simulated phone to take it.
"""

import uuid

from flask import Blueprint, current_app, request

from app.infra.voice_gateway import VOICE_PATH
from sandbox import messaging
from sandbox.messaging import NUMBER, get_injector
from sandbox.outbound import get_outbound

bp = Blueprint("voice_api", __name__, url_prefix=VOICE_PATH)
bp.before_request(messaging.inject)  # latency and errors, as for SMS


@bp.post("/call")
def call():
    """Queue a call to each number of "to" from "from", or say why not."""
    form = request.form
    if not messaging._key_ok():
        return messaging._unauthorized()
    for name in ("username", "from", "to"):
        if name not in form:
            return messaging._text(f"The request content was malformed: missing '{name}'", 400)
    if form["username"] != current_app.config["AT_USERNAME"]:
        return messaging._unauthorized()
    key = request.headers.get("Idempotency-Key")
    repeated = get_outbound().answer_for(key) if key else None
    if repeated is not None:  # the same request again: the same answer, no second call
        return messaging._json(*repeated)
    if not NUMBER.match(form["from"]):
        answer = {"entries": [], "errorMessage": f"Invalid callerId: {form['from']}"}
        return messaging._json(answer, 200)
    faults = get_injector().faults
    entries = []
    for number in form["to"].split(","):
        status = "InvalidPhoneNumber" if not NUMBER.match(number) else "Queued"
        status = faults.call_status.get(number, status)
        if status != "Queued":
            entries.append({"phoneNumber": number, "status": status, "sessionId": "None"})
            continue
        session_id = "ATVId_" + uuid.uuid4().hex
        get_outbound().add(form["from"], number, session_id)
        entries.append({"phoneNumber": number, "status": status, "sessionId": session_id})
    answer = ({"entries": entries, "errorMessage": "None"}, 200)
    if key:
        get_outbound().remember(key, answer)
    if get_injector().happens(faults.drop_rate):
        return messaging._drop()
    return messaging._json(*answer)
