"""POST /ussd and /ussd/events: the Africa's Talking USSD callbacks.

A gateway's hop (a form POSTed to /ussd) is served by the lean edge in
app/web/ussd_wsgi.py; the view here answers whatever else comes to /ussd. Both
read and answer a hop with the Flask-free functions below.
"""

import re

from flask import Blueprint, Flask, Response, abort, current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import flows
from app.conversation import events
from app.conversation.hop import Refused, answer
from app.people import contacts
from app.web.callbacks import BadForm, check_token, read_form
from app.web.db import get_db
from app.web.hop_guard import guard
from app.web.hop_text import UssdText
from flows.render import Page, compose

bp = Blueprint("ussd", __name__)

HOP_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")
HOP_REQUIRED = ("sessionId", "serviceCode", "phoneNumber", "text")
SESSION_ID = re.compile(r"^[\w.:-]{1,64}$")
SERVICE_CODE = re.compile(r"^[*#0-9]{1,32}$")


@bp.before_request
def _authenticate():
    check_token()


@bp.post("/ussd")
def hop():
    """Answer one USSD hop with a CON or END screen."""
    # A hop's text only ever reaches Redis, and each field is checked below.
    form = read_form(HOP_FIELDS, required=HOP_REQUIRED, stored=False)
    try:
        reply, node = answer_hop(current_app, form, hop_phone(form))
    except BadForm as exc:
        abort(400, str(exc))
    except Refused as exc:
        abort(403, str(exc))
    response = Response(reply, mimetype="text/plain")
    if node:
        response.headers["at-ussd-hop-metadata"] = node[:99]
    return response


def hop_phone(form: dict) -> str:
    """Check a hop's session id and code; return its phone in E.164, or raise BadForm."""
    if not SESSION_ID.match(form["sessionId"]):
        raise BadForm("sessionId is not a valid session id")
    if not SERVICE_CODE.match(form["serviceCode"]):
        raise BadForm("serviceCode is not a USSD code")
    phone = contacts.normalize(form["phoneNumber"])
    if phone is None:
        raise BadForm("phoneNumber is not a valid phone number")
    return phone


def answer_hop(app: Flask, form: dict, phone: str) -> tuple[str, str | None]:
    """Answer a checked hop: (the screen, its node id for the gateway's label, if any).

    A failure is answered with an apology screen; Refused (another caller's session)
    is raised, for the edge's 403.
    """
    config = app.config
    channel = UssdText(config["USSD_RETRY_S"], config["USSD_MAX_CHARS"])
    services = app.extensions["conversation"]
    reply, node, sorry = guard(
        lambda: answer(
            services, form["sessionId"], form["serviceCode"], phone, form["text"], channel
        ),
        "USSD",
        app.logger,
        app.extensions["metrics"],
    )
    if sorry:
        return apology(app, sorry), None
    return reply, node


def apology(app: Flask, key: str) -> str:
    """Return a last screen from the copy under key, fitted to the screen limit."""
    text = app.extensions["catalog"].get(key)
    return compose(Page(text, ()), "", "", app.config["USSD_MAX_CHARS"], end=True)


@bp.post("/ussd/events")
def session_ended():
    """Record the gateway's end-of-session notification, once per session."""
    # A long session's labels may outgrow a field's limit: only training ones are kept.
    form = read_form(events.FIELDS, required=("sessionId", "status"), filtered=(events.LABELS,))
    if not SESSION_ID.match(form["sessionId"]) or not form["status"].strip():
        abort(400, "sessionId and status must be set")
    last = None
    try:
        last = current_app.extensions["sessions"].peek(form["sessionId"])
    except RedisError:
        current_app.logger.warning("redis unavailable: event recorded without its last screen")
    node = ((last or {}).get("state") or {}).get("node")
    # The number is kept only for a session known to have been elsewhere than in a
    # report: a reporter's call must not be found again by its time or its length.
    anonymous = last is None or last.get("report") or flows.report.is_report(node)
    phone = None if anonymous else contacts.normalize(form["phoneNumber"])
    try:
        events.record(get_db(), form, phone, node)
    except SQLAlchemyError:
        current_app.logger.exception("could not record a USSD event")
        abort(503)
    return Response("OK", mimetype="text/plain")
