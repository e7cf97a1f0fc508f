"""Settings of the providers and of calls, checked: voice numbers, audio, Orange and Infobip."""

import re
from pathlib import Path
from urllib.parse import urlsplit

from app.infra.config_error import ConfigError
from app.infra.routes import ANY, PROVIDERS, RouteError, parse_ported, parse_routes

E164 = re.compile(r"^\+\d{6,15}$")
ORANGE_API = "https://api.orange.com"
PRICE = re.compile(r"^[A-Z]{3} \d+(\.\d+)?$")
# What each provider needs before a route may name it.
NEEDS = {
    "orange": ("ORANGE_CLIENT_ID", "ORANGE_CLIENT_SECRET", "ORANGE_SENDER"),
    "infobip": ("INFOBIP_API_KEY", "INFOBIP_BASE_URL"),
}


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
    config["ORANGE_PART_COST"] = (config["ORANGE_PART_COST"] or config["SMS_PART_COST"]).strip()
    if not PRICE.match(config["ORANGE_PART_COST"]):
        raise ConfigError(
            f"ORANGE_PART_COST must look like 'XOF 25', not {config['ORANGE_PART_COST']!r}"
        )
    public = config["PUBLIC_URL"].strip().rstrip("/")
    if public and (not public.startswith(("http://", "https://")) or not urlsplit(public).hostname):
        raise ConfigError(f"PUBLIC_URL must be Kalan's address, such as https://kalan.example.org, "
                          f"not {public!r}")  # fmt: skip
    config["PUBLIC_URL"] = public
    config["SMS_ROUTES"], config["SMS_PORTED"] = parse_sms_routes(config)
    return config


def parse_sms_routes(config: dict) -> tuple[dict, list]:
    """Read SMS_PROVIDER, SMS_ROUTES and SMS_PORTED; refuse a route to a provider not set up."""
    default = config["SMS_PROVIDER"].strip()
    if default not in PROVIDERS:
        raise ConfigError(f"SMS_PROVIDER must be one of {', '.join(PROVIDERS)}, not {default!r}")
    config["SMS_PROVIDER"] = default
    routes, ported = config["SMS_ROUTES"], config["SMS_PORTED"]
    try:
        routes = dict(routes) if isinstance(routes, dict) else parse_routes(routes)
        ported = list(ported) if isinstance(ported, list) else parse_ported(ported)
    except RouteError as exc:
        raise ConfigError(f"SMS_ROUTES or SMS_PORTED: {exc}") from None
    # A number of no routed operator (or of none known) goes the default way.
    routes.setdefault(ANY, (default,))
    for provider in sorted({p for route in routes.values() for p in route}):
        missing = [name for name in NEEDS.get(provider, ()) if not str(config[name]).strip()]
        if missing:
            raise ConfigError(
                f"SMS routes use {provider}, which needs {', '.join(missing)}: set "
                f"{'them' if len(missing) > 1 else 'it'}, or route through another provider"
            )
    return routes, ported


def check_production(environ, check_secret, examples: set[str], is_local) -> None:
    """Refuse, in production, a provider's placeholder secret or an address on this machine."""
    for name, minimum in (("ORANGE_CLIENT_SECRET", 16), ("INFOBIP_API_KEY", 32)):
        if (environ.get(name) or "").strip():
            check_secret(name, environ[name], minimum, examples,
                         "use the one the provider's portal gives your application")  # fmt: skip
    for name in ("ORANGE_API_BASE_URL", "INFOBIP_BASE_URL", "PUBLIC_URL"):
        url = (environ.get(name) or "").strip()
        if url and is_local(url):
            raise ConfigError(
                f"{name} points at this machine ({url}), as for the sandbox: "
                "use the provider's (or Kalan's public) address in production"
            )


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
