"""POST /voice: Africa's Talking voice callbacks, answered with the same journeys as USSD."""

import re

from flask import Blueprint, Response, abort, current_app, request, url_for
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from app import cases
from app.conversation.hop import Refused, answer
from app.infra.sessions import Busy
from app.people import contacts
from app.voice import prompt
from app.web import voice_xml
from app.web.callbacks import check_token, read_form
from app.web.hop_keys import VoiceKeys
from flows import voice

bp = Blueprint("voice", __name__)

FIELDS = (
    "isActive", "sessionId", "direction", "callerNumber", "destinationNumber", "callSessionState",
    "dtmfDigits", "recordingUrl", "durationInSeconds", "currencyCode", "amount", "hangupCause",
)  # fmt: skip
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
    form = read_form(FIELDS, required=("sessionId", "isActive"), stored=False)
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
        return _xml(voice_xml.empty())  # the call is over: its progress was saved turn by turn
    if phone is None:
        abort(400, "callerNumber is not a valid phone number")
    raw = _turn(form)
    channel = VoiceKeys()
    try:
        services = current_app.extensions["conversation"]
        speech, _node = answer(services, PREFIX + form["sessionId"], SERVICE, phone, raw, channel)
    except Refused as exc:
        abort(403, str(exc))
    except cases.CaseError as exc:
        current_app.logger.info("desk change refused: %s", exc)
        speech = _notice("desk.conflict")
    except Busy:
        current_app.logger.warning("a doubled voice turn gave up waiting for its session")
        speech = _notice("error.unavailable")
    except (RedisError, SQLAlchemyError):
        current_app.logger.exception("storage unavailable during a voice turn")
        speech = _notice("error.unavailable")
    except Exception:
        current_app.logger.exception("flow error during a voice turn")
        speech = _notice("error.unexpected")
    config = current_app.config
    body = voice_xml.document(
        speech,
        _prompt_url,
        lambda via: _callback(channel.turn, via),
        config["VOICE_DIGITS_TIMEOUT_S"],
        config["VOICE_SAY_MISSING"],
    )
    return _xml(body)


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
    return prompt.url(current_app.extensions["audio"], parts, base, partial)


def _notice(key: str) -> dict:
    """Return a last prompt from the copy under key."""
    catalog = current_app.extensions["catalog"]
    return voice.notice(catalog, key, "fr")


def _xml(body: str) -> Response:
    return Response(body, mimetype="application/xml")
