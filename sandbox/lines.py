"""The sandbox's voice line to Kalan: calls built from its settings, and the calls in progress."""

from flask import current_app

from sandbox.calls import Calls
from sandbox.tariff import Tariff
from sandbox.transport import kalan_url
from sandbox.voice import VoiceCall


def get_voice_calls() -> Calls:
    """Return the calls in progress on the simulator page, by session id."""
    return current_app.extensions["voice_calls"]


def get_voice_tariff() -> Tariff:
    """Return the price of a minute of call."""
    return current_app.extensions["voice_tariff"]


def new_call(
    phone: str, number: str, direction: str = "Inbound", session_id: str | None = None
) -> VoiceCall:
    """Return a call between a phone and Kalan's number, posting to Kalan's /voice."""
    return VoiceCall(
        kalan_url("/voice"),
        phone,
        number,
        direction,
        session_id,
        tariff=get_voice_tariff(),
        timeout=current_app.config["SANDBOX_VOICE_DEADLINE_S"],
    )
