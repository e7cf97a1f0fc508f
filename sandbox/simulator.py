"""The phone simulator: a web page and the JSON endpoints it dials through."""

import re

from flask import Blueprint, current_app, jsonify, render_template, request

from sandbox.calls import Calls
from sandbox.transport import kalan_url
from sandbox.ussd import Hop, SessionEnded, UssdCall
from sandbox.words import fill

bp = Blueprint("simulator", __name__)
bp.add_app_template_filter(fill, "fill")

PHONE = re.compile(r"^\+\d{6,15}$")


def get_calls() -> Calls:
    """Return the registry of live calls."""
    return current_app.extensions["ussd_calls"]


def kalan_urls() -> tuple[str, str]:
    """Return Kalan's USSD callback and events URLs, carrying the token if set."""
    return kalan_url("/ussd"), kalan_url("/ussd/events")


@bp.get("/")
def page():
    """Show the phone (USSD, SMS and calls), in the words of sandbox/content/."""
    return render_template(
        "simulator.html",
        code=current_app.config["USSD_CODE"],
        max_chars=current_app.config["USSD_MAX_CHARS"],
        voice_number=current_app.config["SANDBOX_VOICE_NUMBER"],
        voice_callback_number=current_app.config["SANDBOX_VOICE_CALLBACK_NUMBER"],
        words=current_app.extensions["simulator_words"],
    )


@bp.get("/healthz")
def healthz():
    """Tell a process supervisor the sandbox is up."""
    return {"status": "ok"}


@bp.post("/simulator/ussd/start")
def start():
    """Dial the USSD code from the given phone number."""
    fields, problem = _fields("phone")
    if problem:
        return problem
    # People type numbers with spaces ("+223 70 00 00 01"); AT never sends them.
    phone = re.sub(r"[\s.-]", "", fields["phone"])
    if not PHONE.match(phone):
        return _error("bad_phone", 400)
    config = current_app.config
    # Sweeping here bounds the registry and sends the Incomplete notifications
    # the network would send for phones left waiting.
    for stale in get_calls().remove_idle(config["SANDBOX_USSD_IDLE_S"]):
        _close(stale)
    callback_url, events_url = kalan_urls()
    call = UssdCall(
        callback_url,
        events_url,
        phone,
        config["USSD_CODE"],
        deadline=config["SANDBOX_USSD_DEADLINE_S"],
        max_chars=config["USSD_MAX_CHARS"],
    )
    hop = call.start()
    if not hop.ended:
        get_calls().add(call)
    return _view(call, hop)


@bp.post("/simulator/ussd/reply")
def reply():
    """Send the phone's answer to the current screen."""
    fields, problem = _fields("sessionId", "input")
    if problem:
        return problem
    call = get_calls().get(fields["sessionId"])
    if call is None:
        return _error("unknown_session", 404)
    if call.idle_seconds() > current_app.config["SANDBOX_USSD_IDLE_S"]:
        get_calls().remove(call.session_id)
        if not _close(call):
            return _error("unknown_session", 404)
        return _view(call, Hop("", True, "Incomplete"), error="session_expired")
    try:
        hop = call.reply(fields["input"])
    except SessionEnded:
        # Another request (a hangup) ended it between the lookup and the reply.
        return _error("unknown_session", 404)
    if hop.ended:
        get_calls().remove(call.session_id)
    return _view(call, hop)


@bp.post("/simulator/ussd/hangup")
def hangup():
    """Hang up while a menu waits for input."""
    fields, problem = _fields("sessionId")
    if problem:
        return problem
    call = get_calls().remove(fields["sessionId"])
    if call is None:
        return _error("unknown_session", 404)
    try:
        hop = call.hangup()
    except SessionEnded:
        return _error("unknown_session", 404)
    return {"ended": True, "status": hop.status}


def _fields(*names: str):
    """Read string fields from a JSON object body, or build the 400 to return."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, _error("bad_json", 400)
    for name in names:
        if not isinstance(body.get(name), str):
            return None, _error(f"missing_{name}", 400)
    return body, None


def _close(call: UssdCall) -> bool:
    """Expire an idle call; tell whether it was still open."""
    try:
        call.expire()
    except SessionEnded:
        return False
    return True


def _error(code: str, status: int):
    """Answer with an error code; the page words it (sandbox/content/)."""
    return jsonify(error=code), status


def _view(call: UssdCall, hop: Hop, error: str | None = None):
    """Describe a hop for the page."""
    return jsonify(
        sessionId=call.session_id,
        screen=hop.screen,
        ended=hop.ended,
        status=hop.status,
        error=error or hop.error,
        warnings=hop.warnings,
        length=len(hop.screen),
    )
