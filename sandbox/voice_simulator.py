"""The phone simulator's voice calls: JSON endpoints the page calls through, as AT would call Kalan.

The page plays the prompts and keeps the time: it says when keys were pressed,
when a prompt went unanswered, and what was recorded; the call (sandbox/voice.py)
posts Kalan's callbacks and walks its answers.
"""

import re

from flask import Blueprint, current_app, jsonify, request

from sandbox.lines import get_voice_calls, new_call
from sandbox.outbound import get_outbound
from sandbox.recordings import MAX_BYTES, RecordingError, keep
from sandbox.simulator import PHONE
from sandbox.voice import CallEnded, Turn, VoiceCall
from sandbox.voice_xml import GetDigits, Prompt

bp = Blueprint("voice_simulator", __name__, url_prefix="/simulator/voice")

KEYS = re.compile(r"^[0-9*#]{0,64}$")


@bp.post("/start")
def start():
    """Call Kalan's number from the phone; "missed" calls the call-back number instead."""
    body, problem = _body()
    if problem:
        return problem
    phone = re.sub(r"[\s.-]", "", body["phone"]) if isinstance(body.get("phone"), str) else ""
    if not phone:
        return _error("missing_phone", 400)
    if not PHONE.match(phone):
        return _error("bad_phone", 400)
    config = current_app.config
    number = config[
        "SANDBOX_VOICE_CALLBACK_NUMBER" if body.get("missed") else "SANDBOX_VOICE_NUMBER"
    ]
    _sweep()
    return _begin(new_call(phone, number))


@bp.post("/answer")
def answer():
    """Answer a call Kalan placed to the phone, and hear it."""
    ringing, problem = _take("answered")
    if problem:
        return problem
    _sweep()
    return _begin(new_call(ringing.to, ringing.caller, "Outbound", ringing.session_id))


@bp.post("/refuse")
def refuse():
    """Refuse a call Kalan placed to the phone: AT tells Kalan with the call's last request."""
    ringing, problem = _take("refused")
    if problem:
        return problem
    call = new_call(ringing.to, ringing.caller, "Outbound", ringing.session_id)
    return _view(call, call.decline())


@bp.post("/keys")
def keys():
    """Send the keys pressed at a prompt that waits for them."""
    body, problem = _body("sessionId", "keys")
    if problem:
        return problem
    if not KEYS.match(body["keys"]):
        return _error("bad_keys", 400)
    return _act(body["sessionId"], lambda call: call.keys(body["keys"]))


@bp.post("/silence")
def silence():
    """Let the prompt time out with no input: Kalan is not told, the call goes on."""
    body, problem = _body("sessionId")
    if problem:
        return problem
    return _act(body["sessionId"], lambda call: call.silence())


@bp.post("/record")
def record():
    """Answer a Record with the form's WAV file "audio", or with nothing (# at once)."""
    if (request.content_length or 0) > 2 * MAX_BYTES:  # refused before it is read
        return _error("recording_too_large", 400)
    session_id = request.form.get("sessionId")
    if not session_id:
        return _error("missing_sessionId", 400)
    upload = request.files.get("audio")
    url = None
    if upload is not None:
        try:
            url = keep(upload.read())
        except RecordingError as exc:
            return _error(str(exc), 400)
    return _act(session_id, lambda call: call.record(url))


@bp.post("/hangup")
def hangup():
    """Hang up while the call waits."""
    body, problem = _body("sessionId")
    if problem:
        return problem
    return _act(body["sessionId"], lambda call: call.hangup())


def _take(state: str):
    """Take the ringing call the body names, or build the error to return."""
    body, problem = _body("sessionId")
    if problem:
        return None, problem
    ringing, took = get_outbound().take(body["sessionId"], state)
    if ringing is None:
        return None, _error("unknown_session", 404)
    if not took:  # answered or refused already, here or in a terminal
        return None, _error("not_ringing", 409)
    return ringing, None


def _begin(call: VoiceCall):
    """Start a call; keep it while it waits for the phone."""
    turn = call.start()
    if not turn.ended:
        get_voice_calls().add(call)
    return _view(call, turn)


def _act(session_id: str, action):
    """Run one action of the phone on a call in progress."""
    call = get_voice_calls().get(session_id)
    if call is None:
        return _error("unknown_session", 404)
    try:
        turn = action(call)
    except CallEnded:
        return _error("not_waiting", 409)
    if turn.ended:
        get_voice_calls().remove(session_id)
    return _view(call, turn)


def _sweep() -> None:
    """Hang up the calls left waiting by a page that went away."""
    for stale in get_voice_calls().remove_idle(current_app.config["SANDBOX_VOICE_IDLE_S"]):
        try:
            stale.hangup()
        except CallEnded:
            pass


def _body(*names: str):
    """Read a JSON object body with these string fields, or build the 400 to return."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, _error("bad_json", 400)
    for name in names:
        if not isinstance(body.get(name), str):
            return None, _error(f"missing_{name}", 400)
    return body, None


def _error(code: str, status: int):
    """Answer with an error code; the page words it (sandbox/content/)."""
    return jsonify(error=code), status


def _view(call: VoiceCall, turn: Turn):
    """Describe a turn for the page."""
    return jsonify(
        sessionId=call.session_id,
        number=call.number,
        direction=call.direction,
        prompts=[_prompt(p) for p in turn.prompts],
        wait=_wait(turn.wait),
        ended=turn.ended,
        cause=turn.cause,
        error=turn.error,
        warnings=turn.warnings,
        duration=call.duration,
        amount=call.price(),
        currency=call.tariff.currency,
    )


def _prompt(prompt: Prompt) -> dict:
    return {"kind": prompt.kind, "text": prompt.text, "url": prompt.url, "name": prompt.name}


def _wait(wait) -> dict | None:
    """Describe what the call waits for: keys or a recording, and how long."""
    if wait is None:
        return None
    if isinstance(wait, GetDigits):
        return {"kind": "digits", "numDigits": wait.num_digits, "timeout": wait.timeout,
                "finishOnKey": wait.finish_on_key}  # fmt: skip
    return {"kind": "record", "maxLength": wait.max_length, "timeout": wait.timeout,
            "finishOnKey": wait.finish_on_key, "playBeep": wait.play_beep}  # fmt: skip
