"""POST /sms/delivery, /sms/inbound and /sms/optout: the Africa's Talking SMS callbacks."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.infra.db import holds_nul
from app.infra.gateway import Incoming
from app.infra.models import Contact, utcnow
from app.infra.sms_records import InboundMessage
from app.messaging import delivery, outbox
from app.messaging.keywords import keyword
from app.messaging.routing import reply_sender
from app.people import consent, contacts
from app.training import recall
from app.web.callbacks import MAX_TEXT, check_token, read_form
from app.web.db import get_db

bp = Blueprint("sms", __name__, url_prefix="/sms")

DELIVERY_FIELDS = ("id", "status", "phoneNumber", "networkCode", "failureReason", "retryCount")
INBOUND_FIELDS = ("date", "from", "id", "linkId", "text", "to", "networkCode")
OPTOUT_FIELDS = ("senderId", "phoneNumber")


@bp.before_request
def _authenticate():
    check_token()


def _ok() -> Response:
    return Response("OK", mimetype="text/plain")


@bp.post("/delivery")
def delivery_report():
    """Apply a delivery report; twice or out of order changes nothing more."""
    form = read_form(DELIVERY_FIELDS, required=("id", "status"))
    form["phoneNumber"] = contacts.normalize(form["phoneNumber"]) or ""
    return record(dict(form, provider="africastalking"))


def record(form: dict) -> Response:
    """Apply one provider's delivery report, in the outbox's terms; see delivery.record."""
    if not form["id"].strip() or not form["status"].strip():
        abort(400, "id and status must be set")
    if len(form["id"]) > 64 or len(form["status"]) > 32:
        abort(400, "id must be at most 64 characters and status at most 32")
    if any(holds_nul(str(value)) for value in form.values()):
        abort(400, "a field contains a NUL character")
    form["networkCode"] = form.get("networkCode", "")[:16]
    form.setdefault("retryCount", "")  # AT's alone
    try:
        outcome = delivery.record(
            get_db(), form, utcnow(), current_app.config["SMS_UNREACHABLE_AFTER"]
        )
    except SQLAlchemyError:
        current_app.logger.exception("could not record a delivery report")
        abort(503)  # the provider retries
    if outcome == "unknown id":
        current_app.logger.info("delivery report for an unknown message id %s", form["id"])
    return _ok()


@bp.post("/inbound")
def inbound():
    """Store an incoming SMS once, then answer its keyword."""
    form = read_form(INBOUND_FIELDS, required=("from", "id", "text"), texts=("text",))
    message = Incoming(form["id"], form["from"], form["to"], form["text"], form["date"])
    return take("africastalking", message, form["linkId"], form["networkCode"])


def take(provider: str, incoming: Incoming, link_id: str = "", network_code: str = "") -> Response:
    """Store an SMS a provider passed on, once, then answer its keyword the same way for all."""
    phone = contacts.normalize(incoming.phone)
    if phone is None or not incoming.message_id.strip() or len(incoming.message_id) > 64:
        abort(400, "from must be a phone number and id must be set (64 characters at most)")
    if any(holds_nul(value or "") for value in incoming):
        abort(400, "a field contains a NUL character")
    if len(incoming.text.encode("utf-8", "surrogatepass")) > MAX_TEXT:
        abort(400, f"text over {MAX_TEXT} bytes")
    meaning = keyword(incoming.text, current_app.extensions["catalog"])
    db = get_db()
    message = InboundMessage(
        provider_id=incoming.message_id,
        provider=provider,
        phone=phone,
        to=incoming.to[:32] or None,
        text=incoming.text,
        link_id=link_id[:64] or None,
        network_code=network_code[:16] or None,
        date=(incoming.date or "")[:40] or None,
        keyword=meaning,
    )
    db.add(message)
    try:
        db.flush()
    except IntegrityError:  # the provider retried: already handled
        db.rollback()
        return _ok()
    except SQLAlchemyError:
        current_app.logger.exception("could not store an inbound SMS")
        abort(503)  # the provider retries
    # Replies go back through the provider and from the number the person wrote to.
    back = {"via": provider, "sender": reply_sender(current_app.config, provider, message.to)}
    try:
        recalled = answer(db, phone, meaning, incoming.message_id, incoming.text, back)
        message.recall = recalled  # handled by the quiz: no supervisor needs to read it
        db.commit()
    except SQLAlchemyError:
        current_app.logger.exception("could not handle an inbound SMS")
        abort(503)
    if recalled:
        # The phone's cached profile still offers the question just answered by SMS.
        try:
            current_app.extensions["sessions"].forget_profile(phone)
        except RedisError:
            current_app.logger.warning("redis unavailable: a profile stays cached for the day")
    current_app.extensions["workers"].kick()
    return _ok()


@bp.post("/optout")
def provider_optout():
    """Record the provider's opt-out notification: the number gets no more campaigns."""
    form = read_form(OPTOUT_FIELDS, required=("phoneNumber",))
    phone = contacts.normalize(form["phoneNumber"])
    if phone is None:
        abort(400, "phoneNumber must be a phone number")
    try:
        db = get_db()
        # No confirmation SMS: the provider now refuses our messages to this
        # number, so one would only fail and cost money.
        consent.opt_out(db, phone, utcnow())
        db.commit()
    except SQLAlchemyError:
        current_app.logger.exception("could not record an opt-out")
        abort(503)
    return _ok()


def answer(
    db: Session, phone: str, meaning: str | None, inbound_id: str, text: str, back: dict
) -> bool:
    """Carry out a keyword or take a recall answer, and queue the reply (sent back as back
    says); True if a recall's."""
    catalog, config = current_app.extensions["catalog"], current_app.config
    if meaning is None:  # a digit may answer the recall question texted to this phone
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).first()
        if contact is not None and recall.reply(
            db, config, catalog, contact, text, inbound_id, utcnow(), back
        ):
            return True
    profile = db.scalars(select(Contact.language).where(Contact.phone == phone)).first()
    lang = profile or "fr"
    code = config["USSD_CODE"]
    if meaning == "stop":
        consent.opt_out(db, phone, utcnow())
        reply, subject = "sms.optout", inbound_id
    elif meaning == "start":  # their own consent, by SMS
        consent.opt_in(db, phone, utcnow(), consent.BY_SMS, "sms")
        reply, subject = "sms.optin", inbound_id
    elif meaning in ("help", "formation", "signaler"):
        reply, subject = f"sms.{meaning}", inbound_id
    else:
        # Unknown text gets the help at most once a day: the key says so.
        today = datetime.now(ZoneInfo(config["TZ"])).date().isoformat()
        reply, subject = "sms.help", f"unknown-{today}"
    kind = "keyword" if subject == inbound_id else "help"
    outbox.add(db, config, kind, subject, phone, catalog.get(reply, lang, code=code), **back)
    return False
