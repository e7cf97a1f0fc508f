"""The voice gateway: outbound calls behind one interface, and its Africa's Talking adapter."""

from dataclasses import dataclass
from typing import Protocol

import requests
from africastalking.Service import AfricasTalkingException
from africastalking.Voice import VoiceService

from app.infra.gateway import (
    FAILED,
    RETRY,
    SDK_PHONE,
    SENT,
    UNKNOWN,
    GatewayError,
    decode,
    failure,
)

QUEUED = SENT  # the gateway took the call and will ring the phone
# Where a base URL (the sandbox's) serves the voice API; AT's own is https://voice.africastalking.com.
VOICE_PATH = "/voice-api"
# AT's per-entry statuses: a number it cannot call, or an account it will not call from
# until topped up. Any other status is read as "may be ringing": a call is never placed twice.
_STATUSES = {
    "Queued": QUEUED,
    "InvalidPhoneNumber": FAILED,
    "DestinationNotSupported": FAILED,
    "InsufficientCredit": RETRY,
}
NO_ERROR = (None, "", "None")  # AT's errorMessage when the request as a whole went through


@dataclass(frozen=True)
class CallResult:
    """The gateway's answer for one call: QUEUED, RETRY, FAILED or UNKNOWN."""

    phone: str
    outcome: str
    session_id: str | None = None
    status: str | None = None


class VoiceGateway(Protocol):
    """Anything that can ring one phone from one of our numbers."""

    name: str

    def call(self, from_number: str, to_phone: str, key: str) -> CallResult:
        """Ask for one call, at most once per key; return its CallResult or raise GatewayError."""


class AfricasTalkingVoice:
    """Place calls through the official SDK's VoiceService, built per call, not via its globals."""

    name = "africastalking"

    def __init__(self, username: str, api_key: str, base_url: str = ""):
        self.username, self.api_key = username, api_key
        self.base_url = base_url.rstrip("/") + VOICE_PATH if base_url else ""

    def call(self, from_number: str, to_phone: str, key: str) -> CallResult:
        """Ask AT to call to_phone from from_number; see VoiceGateway.call.

        The key travels as an Idempotency-Key header: the sandbox answers a repeat
        without a second call. Whether AT's voice API honours it is not documented,
        so callers must not ask twice (the call requests' status sees to that).
        """
        if not SDK_PHONE.match(to_phone):
            return CallResult(to_phone, FAILED, status="InvalidPhoneNumber")
        service = VoiceService(self.username, self.api_key)
        if self.base_url:
            service._baseUrl = self.base_url
        service._headers["Idempotency-Key"] = key  # this instance's headers alone
        try:
            answer = service.call(from_number, [to_phone])
        except (requests.RequestException, AfricasTalkingException) as exc:
            raise failure(exc) from exc
        return parse(answer, to_phone)


def parse(answer, phone: str) -> CallResult:
    """Turn AT's answer to a call request into the CallResult for phone."""
    answer = decode(answer)
    try:
        entries = answer["entries"] or []
        error = answer.get("errorMessage")
        mine = [e for e in entries if e.get("phoneNumber") == phone]
    except (KeyError, TypeError, AttributeError):
        raise GatewayError("unexpected answer from the provider", True) from None
    if not entries and error not in NO_ERROR:
        # The request as a whole was refused, with the reason: nothing was queued.
        raise GatewayError(f"provider refused: {str(error)[:200]}", False)
    if not mine:
        return CallResult(phone, UNKNOWN, status="NotInAnswer")
    status = mine[0].get("status")
    session_id = mine[0].get("sessionId")
    return CallResult(
        phone=phone,
        outcome=_STATUSES.get(status, UNKNOWN),
        session_id=session_id if session_id not in NO_ERROR else None,
        status=str(status)[:40] if status is not None else None,
    )
