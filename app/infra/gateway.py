"""The SMS gateway: one provider-neutral interface, and its Africa's Talking adapter."""

import json
import os
import re
import socket
import time
from typing import NamedTuple, Protocol
from urllib.parse import urlencode

import orjson
import requests
from africastalking.Service import DEFAULT_TIMEOUT_S, AfricasTalkingException

# What a recipient's outcome means for the outbox; UNKNOWN is "it may have gone".
SENT, RETRY, FAILED, UNKNOWN = "sent", "retry", "failed", "unknown"
NOT_TRIED = "NotTried"  # the status of phones an adapter left for a later attempt
# What the SDK accepts before sending; ASCII digits only: the form is written without quoting.
SDK_PHONE = re.compile(r"^\+[0-9]{1,3}[0-9]{3,}$")
AT_API, AT_SANDBOX_API = "https://api.africastalking.com", "https://api.sandbox.africastalking.com"
AT_HEADERS = {"Accept": "application/json", "User-Agent": "africastalking-python/2.0.0",
              "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
IDLE_S = 1.0  # a kept-alive connection idle longer is closed first (servers keep 2 s or more)

# Africa's Talking per-recipient status codes, classified once, here.
_ACCEPTED = {100, 101, 102}
_TRANSIENT = {405, 500, 501, 502}
_PERMANENT = {401, 402, 403, 404, 406, 407, 409}
_OUTCOMES = {
    **dict.fromkeys(_ACCEPTED, SENT), **dict.fromkeys(_TRANSIENT, RETRY),
    **dict.fromkeys(_PERMANENT, FAILED),
}  # fmt: skip


class Result(NamedTuple):
    """The provider's answer for one recipient (a tuple: a batch makes a hundred at once)."""

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
    # An unknown code: retrying is bounded, losing is not.
    return _OUTCOMES.get(code, RETRY)


class AfricasTalking:
    """Send as the official SDK does (its URL, headers and form), over one kept-alive session.

    The SDK posts with requests.post: a new connection, and the environment's proxies
    read again, for every request. Its form is written here, the phones (checked by
    SDK_PHONE) encoded without urllib's quoting of each character.
    """

    name = "africastalking"

    def __init__(self, username: str, api_key: str, sender_id: str = "", base_url: str = ""):
        base = base_url.rstrip("/") if base_url else AT_API
        if username == "sandbox" and not base_url:
            base = AT_SANDBOX_API
        self.url = base + "/version1/messaging"
        self.username = username
        self.sender_id = sender_id or None
        self.http = session_for(self.url)
        self.http.headers.update({**AT_HEADERS, "apiKey": api_key})
        self._used = 0.0  # when the session last answered (time.monotonic)

    def send(self, phones: list[str], text: str, sender: str | None = None) -> list[Result]:
        """Send one bulk request; see Gateway.send."""
        # fullmatch: the SDK's match takes a final newline, which the form must not carry.
        match = SDK_PHONE.fullmatch
        good = [p for p in phones if match(p)]
        rejected = [
            Result(p, FAILED, status_code=403, status="InvalidPhoneNumber")
            for p in phones
            if not match(p)
        ]
        if not good:
            return rejected
        form = [("username", self.username), ("message", text), ("bulkSMSMode", 1)]
        if sender or self.sender_id:
            form.append(("from", sender or self.sender_id))
        form.append(("enqueue", 1))
        # "+" and "," are the only characters of the phones that need quoting.
        body = "to=%2B" + "%2C%2B".join(p[1:] for p in good) + "&" + urlencode(form)
        answer = self._post(body.encode())
        return parse(answer, good) + rejected

    def _post(self, body: bytes):
        """Post a form; return the answer, decoded as the SDK does, or raise GatewayError."""
        if time.monotonic() - self._used > IDLE_S:
            # A connection idle for long may be closed by the server as the request goes:
            # that would be an unknown outcome, when a new connection costs a handshake.
            self.http.close()
        try:
            response = self.http.post(self.url, data=body, timeout=DEFAULT_TIMEOUT_S)
        except requests.RequestException as exc:
            self.http.close()
            raise failure(exc) from exc
        self._used = time.monotonic()
        if not 200 <= response.status_code < 300:
            # An answer, so the provider did not take the request.
            raise GatewayError(f"provider refused: {response.text[:200]}", False)
        if response.headers.get("content-type") != "application/json":
            return response.text  # as the SDK: decode reads it, or says it is unreadable
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise GatewayError("unreadable answer from the provider", True) from None


def session_for(url: str) -> requests.Session:
    """Return a session that reads the environment (proxies, CA bundle) once, for url.

    requests reads os.environ on every request of a session that trusts it; the
    environment of a worker does not change while it runs.
    """
    http = requests.Session()
    proxies = requests.utils.get_environ_proxies(url)
    verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    http.trust_env = False
    http.proxies.update(proxies)
    http.verify = verify or True
    return http


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
    outcomes = _OUTCOMES
    for entry in recipients:
        get = entry.get
        code = get("statusCode")
        if type(code) is not int:
            code = _int(code)
        provider_id, phone = get("messageId"), get("number")
        parts = get("messageParts")
        results[phone] = Result(
            phone,
            outcomes.get(code, RETRY),
            provider_id if provider_id not in (None, "None") else None,
            code,
            get("status"),
            get("cost"),
            parts if type(parts) is int else _int(parts),
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
