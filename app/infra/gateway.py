"""The SMS gateway: one provider-neutral interface, and its Africa's Talking adapter."""

import json
import re
import socket
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.SMS import SMSService

# What a recipient's outcome means for the outbox; UNKNOWN is "it may have gone".
SENT, RETRY, FAILED, UNKNOWN = "sent", "retry", "failed", "unknown"
NOT_TRIED = "NotTried"  # the status of phones an adapter left for a later attempt
SDK_PHONE = re.compile(r"^\+\d{1,3}\d{3,}$")  # what the SDK accepts before sending

# Africa's Talking per-recipient status codes, classified once, here.
_ACCEPTED = {100, 101, 102}
_TRANSIENT = {405, 500, 501, 502}
_PERMANENT = {401, 402, 403, 404, 406, 407, 409}


@dataclass(frozen=True)
class Result:
    """The provider's answer for one recipient."""

    phone: str
    outcome: str  # SENT, RETRY, FAILED or UNKNOWN
    provider_id: str | None = None
    status_code: int | None = None
    status: str | None = None
    cost: str | None = None
    parts: int | None = None


class Report(NamedTuple):
    """A provider's delivery report, in the outbox's statuses (app/messaging/delivery.py)."""

    message_id: str
    status: str
    error: str | None = None
    phone: str | None = None  # E.164
    cost: str | None = None  # "EUR 0.0100": what the provider charged, when it says


class Incoming(NamedTuple):
    """An SMS a phone sent us through a provider."""

    message_id: str
    phone: str  # as the provider wrote it; the web layer checks it
    to: str  # our number or short code the person wrote to
    text: str
    date: str | None = None


class GatewayError(Exception):
    """The request as a whole failed.

    unknown is True when the request may have reached the provider and no
    answer came back: the messages may or may not go out.
    """

    def __init__(self, reason: str, unknown: bool):
        super().__init__(reason)
        self.reason = reason
        self.unknown = unknown


class Gateway(Protocol):
    """Anything that can send one text to many phones."""

    name: str

    def send(self, phones: list[str], text: str, sender: str | None = None) -> list[Result]:
        """Send text to phones, from sender if given (else the configured one); return one
        Result per phone or raise GatewayError."""


def classify(code: int | None) -> str:
    """Map an Africa's Talking recipient status code to an outbox outcome."""
    if code in _ACCEPTED:
        return SENT
    if code in _TRANSIENT:
        return RETRY
    if code in _PERMANENT:
        return FAILED
    return RETRY  # an unknown code: retrying is bounded, losing is not


class AfricasTalking:
    """Send through the official SDK, built directly rather than via its globals."""

    name = "africastalking"

    def __init__(self, username: str, api_key: str, sender_id: str = "", base_url: str = ""):
        self.service = SMSService(username, api_key)
        if base_url:
            self.service._baseUrl = self.service._contentUrl = base_url.rstrip("/") + "/version1"
        self.sender_id = sender_id or None

    def send(self, phones: list[str], text: str, sender: str | None = None) -> list[Result]:
        """Send one bulk request; see Gateway.send."""
        bad = [p for p in phones if not SDK_PHONE.match(p)]
        good = [p for p in phones if SDK_PHONE.match(p)]
        rejected = [Result(p, FAILED, status_code=403, status="InvalidPhoneNumber") for p in bad]
        if not good:
            return rejected
        try:
            answer = self.service.send(text, good, sender_id=sender or self.sender_id, enqueue=True)
        except (requests.RequestException, AfricasTalkingException) as exc:
            raise failure(exc) from exc
        return parse(answer, good) + rejected


def failure(exc: Exception) -> GatewayError:
    """Turn what the SDK raised for a request into a GatewayError, unknown if it may have left."""
    if isinstance(exc, AfricasTalkingException):
        # Non-2xx: the provider answered, so it did not take the request.
        return GatewayError(f"provider refused: {str(exc)[:200]}", False)
    if isinstance(exc, requests.ConnectionError):
        unknown = not _never_connected(exc)
        return GatewayError(f"connection error: {type(exc).__name__}", unknown)
    if isinstance(exc, requests.Timeout):
        unknown = not isinstance(exc, requests.ConnectTimeout)
        return GatewayError(f"timeout: {type(exc).__name__}", unknown)
    return GatewayError(f"request error: {type(exc).__name__}", True)


def decode(answer):
    """Return the provider's answer as data: the SDK gives text when the type is not JSON."""
    if isinstance(answer, str):
        try:
            return json.loads(answer)
        except ValueError:
            raise GatewayError("unreadable answer from the provider", True) from None
    return answer


def parse(answer, phones: list[str]) -> list[Result]:
    """Turn an SMSMessageData answer into one Result per phone."""
    answer = decode(answer)
    try:
        data = answer["SMSMessageData"]
        recipients = data["Recipients"]
    except (KeyError, TypeError):
        raise GatewayError("unexpected answer from the provider", True) from None
    if not recipients and data.get("Message") == "InvalidSenderId":
        return [Result(p, FAILED, status_code=402, status="InvalidSenderId") for p in phones]
    results = {}
    for entry in recipients:
        code = _int(entry.get("statusCode"))
        provider_id = entry.get("messageId")
        results[entry.get("number")] = Result(
            phone=entry.get("number"),
            outcome=classify(code),
            provider_id=provider_id if provider_id not in (None, "None") else None,
            status_code=code,
            status=entry.get("status"),
            cost=entry.get("cost"),
            parts=_int(entry.get("messageParts")),
        )
    # A phone the provider did not mention may or may not have been taken.
    return [results.get(p) or Result(p, UNKNOWN, status="NotInAnswer") for p in phones]


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _never_connected(exc: BaseException) -> bool:
    """Tell whether a connection error happened before any byte could reach the provider.

    Refused, unreachable or unresolvable: safe to resend. Anything else (a reset,
    a broken pipe, a closed connection) may have come after the request left.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ConnectionRefusedError | socket.gaierror):
            return True
        if type(exc).__name__ in ("NewConnectionError", "NameResolutionError"):
            return True
        inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or exc.__context__ or inner or getattr(exc, "reason", None)
    return False
