"""POST /ussd and /ussd/events: the Africa's Talking USSD callbacks."""

import re

from flask import Blueprint, Response, abort, current_app
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

import flows
from app.conversation import events
from app.conversation.hop import answer
from app.people import contacts
from app.web.callbacks import check_token, read_form
from app.web.db import get_db
from app.web.hop_guard import guarded
from app.web.hop_text import UssdText
from flows.render import Page, compose

bp = Blueprint("ussd", __name__)

HOP_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")
SESSION_ID = re.compile(r"^[\w.:-]{1,64}$")
SERVICE_CODE = re.compile(r"^[*#0-9]{1,32}$")


@bp.before_request
def _authenticate():
    check_token()


@bp.post("/ussd")
def hop():
    """Answer one USSD hop with a CON or END screen."""
    # A hop's text only ever reaches Redis, and each field is checked below.
    form = read_form(
        HOP_FIELDS, required=("sessionId", "serviceCode", "phoneNumber", "text"), stored=False
    )
    if not SESSION_ID.match(form["sessionId"]):
        abort(400, "sessionId is not a valid session id")
    if not SERVICE_CODE.match(form["serviceCode"]):
        abort(400, "serviceCode is not a USSD code")
    phone = contacts.normalize(form["phoneNumber"])
    if phone is None:
        abort(400, "phoneNumber is not a valid phone number")
    config = current_app.config
    channel = UssdText(config["USSD_RETRY_S"], config["USSD_MAX_CHARS"])
    services = current_app.extensions["conversation"]
    reply, node, sorry = guarded(
        lambda: answer(
            services, form["sessionId"], form["serviceCode"], phone, form["text"], channel
        ),
        "USSD",
    )
    if sorry:
        reply = apology(sorry)
    response = Response(reply, mimetype="text/plain")
    if node:
        # Africa's Talking shows this label per hop and sums the labels up in
        # the end-of-session notification: where callers go, and where they stop.
        response.headers["at-ussd-hop-metadata"] = node[:99]
    return response


def apology(key: str) -> str:
    """Return a last screen from the copy under key, fitted to the screen limit."""
    text = current_app.extensions["catalog"].get(key)
    return compose(Page(text, ()), "", "", current_app.config["USSD_MAX_CHARS"], end=True)


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
