"""Settings of the providers and of calls, checked: voice numbers, audio, Orange and Infobip."""

import re
from pathlib import Path
from urllib.parse import urlsplit

from app.infra.config_error import ConfigError

E164 = re.compile(r"^\+\d{6,15}$")
ORANGE_API = "https://api.orange.com"


def check(config: dict) -> dict:
    """Check and convert the providers' and calls' settings; raise ConfigError on the first bad."""
    config["VOICE_CALLBACK_NUMBERS"] = parse_numbers(config["VOICE_CALLBACK_NUMBERS"])
    config["VOICE_FROM_NUMBER"] = parse_from_number(config)
    sender = config["ORANGE_SENDER"]
    if sender and not E164.match(sender):
        raise ConfigError(f"ORANGE_SENDER must be a number such as +22370000000, not {sender!r}")
    orange = config["ORANGE_API_BASE_URL"].strip()
    if not orange.startswith(("http://", "https://")) or not urlsplit(orange).hostname:
        raise ConfigError(f"ORANGE_API_BASE_URL must be a URL such as {ORANGE_API}, not {orange!r}")
    config["ORANGE_API_BASE_URL"] = orange.rstrip("/")
    config["AUDIO_DIR"] = config["AUDIO_DIR"] or config["CONTENT_DIR"]
    if not Path(config["AUDIO_DIR"]).is_dir():
        raise ConfigError(f"AUDIO_DIR does not exist: {config['AUDIO_DIR']}")
    base = config["AUDIO_BASE_URL"].strip()
    if base and (not base.startswith(("http://", "https://")) or not urlsplit(base).hostname):
        raise ConfigError(
            f"AUDIO_BASE_URL must be empty or a URL such as https://cdn.example.org, not {base!r}"
        )
    config["AUDIO_BASE_URL"] = base.rstrip("/")
    config["INFOBIP_BASE_URL"] = parse_infobip_url(config)
    return config


def parse_infobip_url(config: dict) -> str:
    """Check Infobip's base URL, required once its key is set; return it without a final /."""
    base = config["INFOBIP_BASE_URL"].strip().rstrip("/")
    if base and (not base.startswith(("http://", "https://")) or not urlsplit(base).hostname):
        raise ConfigError(
            f"INFOBIP_BASE_URL must be a URL such as https://xxxx.api.infobip.com, not {base!r}"
        )
    if config["INFOBIP_API_KEY"].strip() and not base:
        raise ConfigError("INFOBIP_BASE_URL is required with INFOBIP_API_KEY: your account's URL")
    return base


def parse_numbers(text) -> tuple[str, ...]:
    """Read "+22320000001,+22320000002" into our voice numbers; raise ConfigError if malformed."""
    if isinstance(text, tuple):
        return text
    numbers = tuple(part.strip() for part in str(text).split(",") if part.strip())
    for number in numbers:
        if not E164.match(number):
            raise ConfigError(
                "VOICE_CALLBACK_NUMBERS must be numbers in international format such as "
                f"+22320000001, separated by commas, not {number!r}"
            )
    return numbers


def parse_from_number(config: dict) -> str:
    """Return the number calls are placed from: VOICE_FROM_NUMBER, else the first callback one."""
    number = str(config["VOICE_FROM_NUMBER"]).strip()
    if number and not E164.match(number):
        raise ConfigError(
            f"VOICE_FROM_NUMBER must be a number in international format such as +22320000001, "
            f"not {number!r}"
        )
    callbacks = config["VOICE_CALLBACK_NUMBERS"]
    return number or (callbacks[0] if callbacks else "")
