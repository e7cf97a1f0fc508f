"""POST /voice: Africa's Talking voice callbacks, answered with the same journeys as USSD."""

import re

from flask import Blueprint, Response, abort, current_app, request, url_for
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import flows
from app.conversation.hop import answer
from app.people import contacts
from app.voice import calls, prompt
from app.web import voice_xml
from app.web.callbacks import check_token, read_form
from app.web.hop_guard import guarded
from app.web.hop_keys import VoiceKeys
from flows import voice

bp = Blueprint("voice", __name__)

FIELDS = (
    "isActive", "sessionId", "direction", "callerNumber", "destinationNumber", "callSessionState",
    "dtmfDigits", "recordingUrl", "durationInSeconds", "currencyCode", "amount", "hangupCause",
)  # fmt: skip
# What Africa's Talking sends on every request of a call, the last one included.
REQUIRED = ("sessionId", "isActive", "callerNumber", "destinationNumber")
SESSION_ID = re.compile(r"^[\w.:-]{1,64}$")
DIGITS = re.compile(r"^[0-9*#]{0,32}$")
SERVICE = "voice"  # a call's sessions are apart from the USSD codes'
PREFIX = "call:"  # and so are their ids, whatever the gateway names them
VIA = ("keys", "record", "silence")


@bp.before_request
def _authenticate():
    check_token()


@bp.post("/voice")
def call():
    """Answer one request of a call with voice XML."""
    # A call's last request is stored: no field may hold a NUL (no gateway sends one).
    form = read_form(FIELDS, required=REQUIRED)
    if not SESSION_ID.match(form["sessionId"]):
        abort(400, "sessionId is not a valid session id")
    if form["isActive"] not in ("0", "1"):
        abort(400, "isActive must be 1 or 0")
    if not DIGITS.match(form["dtmfDigits"]):
        abort(400, "dtmfDigits holds something a keypad cannot send")
    outbound = form["direction"].lower() == "outbound"
    # The person is the caller of an inbound call, the called of an outbound one.
    phone = contacts.normalize(form["destinationNumber" if outbound else "callerNumber"])
    if form["isActive"] == "0":
        _ended(form, phone)  # the call is over: its progress was saved turn by turn
        return _xml(voice_xml.empty())
    if phone is None:
        abort(400, "callerNumber is not a valid phone number")
    raw = _turn(form)
    channel = VoiceKeys()
    services = current_app.extensions["conversation"]
    if raw["turn"] is None:  # a call's first request: noted, and maybe rejected
        ours = form["callerNumber" if outbound else "destinationNumber"]
        try:
            if not outbound and calls.is_callback_number(current_app.config, ours):
                _missed(services, form, ours, phone)
                return _xml(voice_xml.reject())
            channel.entry = _opened(services, form, ours)
        except (RedisError, SQLAlchemyError):
            current_app.logger.exception("could not note the start of a call")
            if not outbound and calls.is_callback_number(current_app.config, ours):
                return _xml(voice_xml.reject())  # free for the caller all the same
    speech, node, sorry = guarded(
        lambda: answer(services, PREFIX + form["sessionId"], SERVICE, phone, raw, channel),
        "voice",
    )
    if sorry:
        speech = _notice(sorry)
    if node == flows.report.SENT:
        _reported(services, form["sessionId"])
    config = current_app.config
    body = voice_xml.document(
        speech,
        _prompt_url,
        lambda via: _callback(channel.turn, via),
        config["VOICE_DIGITS_TIMEOUT_S"],
        config["VOICE_SAY_MISSING"],
    )
    return _xml(body)


def _reported(services, session_id: str) -> None:
    """Untie the call from its caller now that it filed a report (its end may never come)."""
    try:
        with services.open_db() as db:
            calls.forget(db, session_id)
    except SQLAlchemyError:
        current_app.logger.exception("could not untie a call from its report; its end will")


def _missed(services, form: dict, ours: str, phone: str) -> None:
    """Note a rejected call, without its number, and queue the call back."""
    now = services.clock()
    with services.open_db() as db:
        calls.record_start(db, form["sessionId"], "Inbound", ours, None, now, rejected=True)
        calls.missed(db, services.redis, services.config, phone, now)


def _opened(services, form: dict, ours: str) -> str | None:
    """Note a call's start, without its number (a report may follow); return its reason."""
    with services.open_db() as db:
        calls.record_start(db, form["sessionId"], form["direction"], ours, None, services.clock())
        return calls.reason_of(db, form["sessionId"])


def _ended(form: dict, phone: str | None) -> None:
    """Record a call's last request: its length, price and hang-up cause.

    The number is kept only for a call known to have been elsewhere than in a report,
    as for a USSD session's end (app/web/ussd.py).
    """
    services = current_app.extensions["conversation"]
    last = None
    try:
        last = services.sessions.peek(PREFIX + form["sessionId"])
    except RedisError:
        current_app.logger.warning("redis unavailable: a call's end recorded without its number")
    node = ((last or {}).get("state") or {}).get("node")
    anonymous = last is None or last.get("report") or flows.report.is_report(node)
    try:
        with services.open_db() as db:
            calls.record_end(db, form, None if anonymous else phone, services.clock())
    except SQLAlchemyError:
        current_app.logger.exception("could not record the end of a call")
        abort(503)


def _turn(form: dict) -> dict:
    """Read what this request answers: the turn its URL names, and its keys or recording."""
    try:
        turn = int(request.args.get("turn", ""))
    except ValueError:
        turn = None
    via = request.args.get("via")
    return {
        "turn": turn,
        "via": via if via in VIA else None,
        "digits": form["dtmfDigits"] if "dtmfDigits" in request.form else None,
        "recording": form["recordingUrl"] or None,
    }


def _callback(turn: int, via: str) -> str:
    """Return the URL the gateway calls for the next turn, with the token it came with."""
    token = request.args.get("token")
    params = {"token": token} if token else {}
    return url_for("voice.call", _external=True, turn=turn, via=via, **params)


def _prompt_url(parts: list) -> str | None:
    """Return one audio URL saying every part, or None when a part has no recording."""
    config = current_app.config
    base = config["AUDIO_BASE_URL"] or request.url_root
    # Without Say to fall back on, a prompt with a clip missing is said without it.
    partial = not config["VOICE_SAY_MISSING"]
    keep = prompt.keeper(current_app.extensions["redis"], config["REDIS_PREFIX"])
    return prompt.url(current_app.extensions["audio"], parts, base, partial, keep)


def _notice(key: str) -> dict:
    """Return a last prompt from the copy under key."""
    catalog = current_app.extensions["catalog"]
    return voice.notice(catalog, key, "fr")


def _xml(body: str) -> Response:
    return Response(body, mimetype="application/xml")
