"""POST /sms/delivery/<provider> and /sms/inbound/<provider>: the JSON callbacks of Orange
and Infobip, applied exactly as Africa's Talking's (app/web/sms.py)."""

import json

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import HTTPException

from app.infra import infobip, orange
from app.infra.gateway import Report
from app.people import contacts
from app.web.callbacks import check_token
from app.web.sms import record, take

bp = Blueprint("sms_json", __name__, url_prefix="/sms")

# Infobip posts up to many reports in one request; each is a few hundred bytes.
MAX_JSON = 256 * 1024


@bp.before_request
def _authenticate():
    check_token()
    request.max_content_length = MAX_JSON + 1


def read_json():
    """Return the request's JSON body, or abort with 400 saying what is wrong."""
    body = request.get_data(cache=True)
    if len(body) > MAX_JSON:
        abort(400, f"request body over {MAX_JSON} bytes")
    try:
        value = json.loads(body)
        # A \ud800 escape decodes to a lone surrogate, which no database column takes.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        abort(400, "the body holds an unpaired surrogate (\\ud800 to \\udfff)")
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        abort(400, "the body must be JSON")
    return value


def _record(provider: str, report: Report) -> Response:
    phone = contacts.normalize(report.phone or "") or ""  # as Africa's Talking's is read
    form = {"id": report.message_id, "status": report.status, "phoneNumber": phone,
            "failureReason": (report.error or "")[:64], "provider": provider,
            "cost": report.cost}  # fmt: skip
    return record(form)


@bp.post("/delivery/orange")
def orange_delivery():
    """Apply Orange's delivery receipt for one message; a repeat changes nothing more."""
    return _record("orange", _read(orange.receipt, read_json()))


@bp.post("/inbound/orange")
def orange_inbound():
    """Take an SMS a phone sent to our Orange number, as any other."""
    return take("orange", _read(orange.inbound, read_json()))


@bp.post("/delivery/infobip")
def infobip_delivery():
    """Apply each of Infobip's delivery reports in the request."""
    entries = _read(infobip.results, read_json(), "delivery report")
    return _each(entries, lambda entry: _record("infobip", _read(infobip.report, entry)))


@bp.post("/inbound/infobip")
def infobip_inbound():
    """Take each SMS Infobip forwarded in the request."""
    entries = _read(infobip.results, read_json(), "forwarded SMS")
    return _each(entries, lambda entry: take("infobip", _read(infobip.incoming, entry)))


def _read(parse, data, *args):
    """Read a body, or one entry of a batch, or abort with 400 saying what is wrong with it."""
    try:
        return parse(data, *args)
    except ValueError as exc:
        abort(400, str(exc)[:200])


def _each(items: list, handle) -> Response:
    """Handle each item of a batch; one that can never be taken is logged and skipped, so it
    cannot hold back the others (a STOP among them). Refuses the batch only if all are bad."""
    taken, refused = 0, None
    for item in items:
        try:
            handle(item)
        except HTTPException as exc:
            if exc.code != 400:
                raise  # passing (503): the provider sends the batch again
            refused = refused or exc
            current_app.logger.warning("%s: one of a batch refused: %s", request.path,
                                       exc.description)  # fmt: skip
        else:
            taken += 1
    if refused is not None and not taken:
        raise refused
    return Response("OK", mimetype="text/plain")
