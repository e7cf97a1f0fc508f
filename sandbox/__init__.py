"""Sandbox: an offline stand-in for Africa's Talking that dials Kalan."""

import json
import os
import re

from flask import Flask

from sandbox import (
    control,
    inbox,
    infobip,
    messaging,
    orange,
    outbound,
    recordings,
    simulator,
    voice_api,
    voice_simulator,
    words,
)
from sandbox.calls import Calls
from sandbox.courier import Courier
from sandbox.faults import Faults, Injector
from sandbox.sms_store import SmsStore
from sandbox.tariff import Tariff

VOICE_NUMBER = "+22320000001"  # Kalan's number in the sandbox: a Bamako landline's shape
CALLBACK_NUMBER = "+22320000002"  # make run's VOICE_CALLBACK_NUMBERS


def first(numbers: str) -> str:
    """Return the first number of a list written with commas or spaces."""
    return (numbers.replace(",", " ").split() or [""])[0]


def _check_number(config, name: str, example: str) -> None:
    """Refuse a number not written as the provider writes it (example's shape)."""
    plus = "+" if example.startswith("+") else ""
    if not re.fullmatch(re.escape(plus) + r"\d{6,15}", config[name]):
        raise ValueError(f"{name} must be a number such as {example}, not {config[name]!r}")


def create_app(test_config=None):
    """Create the sandbox web app, configured from the environment."""
    app = Flask(__name__)
    port = os.environ.get("PORT") or "5000"

    def env(name: str, default: str) -> str:
        # An empty variable means the default, as in the Kalan app.
        return os.environ.get(name) or default

    app.config.from_mapping(
        KALAN_URL=env("KALAN_URL", f"http://127.0.0.1:{port}"),
        WEBHOOK_TOKEN=env("WEBHOOK_TOKEN", ""),
        USSD_CODE=env("USSD_CODE", "*123#"),
        USSD_MAX_CHARS=int(env("USSD_MAX_CHARS", "160")),
        SANDBOX_USSD_DEADLINE_S=float(env("SANDBOX_USSD_DEADLINE_S", "10")),
        SANDBOX_USSD_IDLE_S=float(env("SANDBOX_USSD_IDLE_S", "180")),
        AT_USERNAME=env("AT_USERNAME", "sandbox"),
        AT_API_KEY=env("AT_API_KEY", "sandbox-key"),
        AT_SHORTCODE=env("AT_SHORTCODE", "36000"),
        INFOBIP_API_KEY=env("INFOBIP_API_KEY", "sandbox-key"),
        # The numbers a phone's reply reaches when no message told it Kalan's: Orange's
        # (as its senderAddress writes it) and Infobip's (as its "to" writes it).
        SANDBOX_ORANGE_NUMBER=env("SANDBOX_ORANGE_NUMBER", "+22370000000"),
        SANDBOX_INFOBIP_NUMBER=env("SANDBOX_INFOBIP_NUMBER", "22320000003"),
        SANDBOX_SMS_PART_COST=env("SANDBOX_SMS_PART_COST", "XOF 25.0000"),
        SANDBOX_DLR=env("SANDBOX_DLR", "1") not in ("0", "off", "false", "no"),
        SANDBOX_DLR_DELAY_S=float(env("SANDBOX_DLR_DELAY_S", "0.2")),
        SANDBOX_DLR_RETRIES=int(env("SANDBOX_DLR_RETRIES", "3")),
        SANDBOX_DLR_BACKOFF_S=float(env("SANDBOX_DLR_BACKOFF_S", "0.5")),
        SANDBOX_DROP_SLEEP_S=float(env("SANDBOX_DROP_SLEEP_S", "12")),
        SANDBOX_FAULTS=env("SANDBOX_FAULTS", "{}"),
        # Orange's SMS API: the application's credentials, its tokens' life, its units.
        ORANGE_CLIENT_ID=env("ORANGE_CLIENT_ID", "sandbox-client"),
        ORANGE_CLIENT_SECRET=env("ORANGE_CLIENT_SECRET", "sandbox-secret"),
        SANDBOX_ORANGE_TOKEN_TTL_S=int(env("SANDBOX_ORANGE_TOKEN_TTL_S", "3600")),
        SANDBOX_ORANGE_UNITS=int(env("SANDBOX_ORANGE_UNITS", "1000")),
        # Kalan's numbers: one answered, one that rejects calls and calls back (the
        # first of Kalan's VOICE_CALLBACK_NUMBERS, which make run sets).
        SANDBOX_VOICE_NUMBER=env("SANDBOX_VOICE_NUMBER", VOICE_NUMBER),
        SANDBOX_VOICE_CALLBACK_NUMBER=env(
            "SANDBOX_VOICE_CALLBACK_NUMBER", first(env("VOICE_CALLBACK_NUMBERS", CALLBACK_NUMBER))
        ),
        # Mali's voice prices are not public; AT bills the account per minute (Kenya: KES 1).
        SANDBOX_VOICE_MINUTE_COST=env("SANDBOX_VOICE_MINUTE_COST", "XOF 50.0000"),
        SANDBOX_VOICE_DEADLINE_S=float(env("SANDBOX_VOICE_DEADLINE_S", "10")),
        SANDBOX_VOICE_IDLE_S=float(env("SANDBOX_VOICE_IDLE_S", "300")),
    )
    if test_config is not None:
        app.config.update(test_config)
    # Live calls and messages are kept in this process's memory, so the sandbox
    # runs as a single process (threads are fine): another would not know them.
    app.extensions["ussd_calls"] = Calls()
    app.extensions["voice_calls"] = Calls()
    app.extensions["voice_outbound"] = outbound.OutboundCalls()
    app.extensions["voice_recordings"] = recordings.Recordings()
    app.extensions["sms_store"] = SmsStore()
    app.extensions["orange"] = orange.OrangeState(app.config["SANDBOX_ORANGE_UNITS"])
    app.extensions["voice_outbound"] = outbound.OutboundCalls()
    faults = app.config["SANDBOX_FAULTS"]
    try:
        app.extensions["sms_tariff"] = Tariff.parse(app.config["SANDBOX_SMS_PART_COST"])
        app.extensions["voice_tariff"] = Tariff.parse(app.config["SANDBOX_VOICE_MINUTE_COST"])
        app.extensions["sms_start_faults"] = Faults.parse(
            json.loads(faults) if isinstance(faults, str) else faults
        )
        app.extensions["simulator_words"] = words.load()
        _check_number(app.config, "SANDBOX_ORANGE_NUMBER", "+22370000000")
        _check_number(app.config, "SANDBOX_INFOBIP_NUMBER", "22320000003")
    except ValueError as exc:  # FaultError, WordsError and JSON errors are ValueErrors too
        # One clear line for whoever set the variable or edited the words, not a traceback.
        raise SystemExit(f"sandbox: cannot start: {exc}") from None
    app.extensions["sms_faults"] = Injector(app.extensions["sms_start_faults"])
    app.extensions["sms_courier"] = Courier(
        retries=app.config["SANDBOX_DLR_RETRIES"], backoff=app.config["SANDBOX_DLR_BACKOFF_S"]
    )
    blueprints = (simulator.bp, messaging.bp, control.bp, inbox.bp, voice_api.bp,
                  voice_simulator.bp, outbound.bp, recordings.bp, orange.bp,
                  infobip.bp)  # fmt: skip
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
