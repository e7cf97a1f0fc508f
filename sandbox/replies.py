"""A phone's text as each provider posts it to Kalan: AT's form, Orange's and Infobip's JSON."""

import re

from flask import current_app, request

from app.infra import segments  # Infobip counts the parts of what a phone sent too
from sandbox.infobip import infobip_time
from sandbox.messaging import NETWORK_CODE
from sandbox.sms_store import Incoming

PROVIDERS = ("africastalking", "orange", "infobip")
FIRST_WORD = re.compile(r"\s*(\S+)\s*(.*)", re.S)


def kalan_number(provider: str) -> str:
    """Return where a phone's text goes through provider when no message told it Kalan's."""
    config = current_app.config
    return {
        "africastalking": config["AT_SHORTCODE"],
        "orange": config["SANDBOX_ORANGE_NUMBER"],
        "infobip": config["SANDBOX_INFOBIP_NUMBER"],
    }[provider]


def write(message: Incoming) -> tuple[str, list | dict]:
    """Return the Kalan path the message's provider posts it to, and the body: form or JSON."""
    return _WRITERS[message.provider](message)


def _africastalking(message: Incoming) -> tuple[str, list]:
    form = [
        ("date", message.date),
        ("from", message.sender),
        ("id", str(message.id)),
        ("linkId", message.link_id),
        ("text", message.text),
        ("to", message.to),
        ("networkCode", NETWORK_CODE),
    ]
    return "/sms/inbound", form


def _orange(message: Incoming) -> tuple[str, dict]:
    # OneAPI names the registration after the number the phone texted.
    registration = message.to.removeprefix("+")
    url = (
        f"{request.host_url}smsmessaging/v1/inbound/registrations/{registration}"
        f"/messages/{message.link_id}"
    )
    sms = {
        "dateTime": message.date[:19] + "Z",  # Orange writes whole seconds
        "destinationAddress": "tel:" + message.to,
        "messageId": message.link_id,
        "message": message.text,
        "resourceURL": url,
        "senderAddress": "tel:" + message.sender,
    }
    return "/sms/inbound/orange", {
        "inboundSMSMessageNotification": {"callbackData": "", "inboundSMSMessage": sms}
    }


def _infobip(message: Incoming) -> tuple[str, dict]:
    keyword, clean = FIRST_WORD.fullmatch(message.text).groups()
    result = {
        "messageId": message.link_id,
        "from": message.sender.removeprefix("+"),
        "to": message.to,
        "text": message.text,
        "cleanText": clean,
        "keyword": keyword.upper(),
        "receivedAt": infobip_time(message.date),
        "smsCount": segments.parts(message.text),
        "price": {"pricePerMessage": 0, "currency": "EUR"},  # receiving is free
        "callbackData": None,
    }
    return "/sms/inbound/infobip", {
        "results": [result],
        "messageCount": 1,
        "pendingMessageCount": 0,
    }


_WRITERS = {"africastalking": _africastalking, "orange": _orange, "infobip": _infobip}
