"""Configuration from environment variables, with development defaults."""

import base64
import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from app.infra import database_urls, keyring, providers, redis_client
from app.infra.config_error import ConfigError
from flows.training import PASS_MARK

ROOT = Path(__file__).resolve().parents[2]  # the checkout: app/infra/config.py
VAR = ROOT / "var"
# Its values are examples: production refuses any of them as a secret.
EXAMPLE = ROOT / ".env.example"
# Development only, and readable as such: production refuses it.
DEV_REPORTER_KEY = base64.urlsafe_b64encode(b"kalan-development-key-not-secret").decode()
TOKEN_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
FERNET_COMMAND = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)

# name: (default, parser). Defaults suit `make run`; production must set the
# variables listed in REQUIRED_IN_PRODUCTION.
DEFAULTS: dict[str, str] = {
    "APP_ENV": "development",
    "SECRET_KEY": "dev",
    "REPORTER_KEY": DEV_REPORTER_KEY,
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    # Sentinel (several machines): "host:port,..." and the name its primary is monitored
    # under; REDIS_URL then gives only the data nodes' password and database.
    "REDIS_SENTINELS": "",
    "REDIS_SENTINEL_MASTER": "",
    "REDIS_SENTINEL_PASSWORD": "",  # the sentinels' own requirepass, if they have one
    "DATABASE_URL": f"sqlite:///{VAR / 'kalan.db'}",
    # A read replica of that database for the console's dashboard; empty: the database itself.
    "DATABASE_READ_URL": "",
    "WEBHOOK_TOKEN": "",
    # Prometheus's Bearer token for /metrics; empty: this machine only, and development only.
    "METRICS_TOKEN": "",
    # json: one JSON object per log line; text; empty: json in production, text otherwise.
    "LOG_FORMAT": "",
    "AT_USERNAME": "sandbox",
    "AT_API_KEY": "sandbox-key",
    "AT_SENDER_ID": "",
    "AT_SHORTCODE": "",
    "AT_API_BASE_URL": "",
    # Kalan's address as the providers reach it (https://kalan.example.org): where
    # Infobip posts delivery reports. Empty: the webhook set in Infobip's portal.
    "PUBLIC_URL": "",
    # Which providers carry SMS: one for everything, or routes per operator
    # (orange-ml=orange,infobip; moov-ml=infobip; *=africastalking), with prefixes of
    # numbers ported to another operator (+2237612=moov-ml).
    "SMS_PROVIDER": "africastalking",
    "SMS_ROUTES": "",
    "SMS_PORTED": "",
    # A provider's circuit opens after this many retryable failures (half the outcomes at
    # least) within the window, for OPEN_S; then one message probes it.
    "SMS_CIRCUIT_FAILURES": "5",
    "SMS_CIRCUIT_WINDOW_S": "120",
    "SMS_CIRCUIT_OPEN_S": "60",
    # Orange's SMS API: empty credentials leave it unused.
    "ORANGE_CLIENT_ID": "",
    "ORANGE_CLIENT_SECRET": "",
    "ORANGE_SENDER": "",  # the application's number, +223...
    "ORANGE_SENDER_NAME": "",  # optional: needs Orange's approval
    "ORANGE_API_BASE_URL": "https://api.orange.com",
    # What one SMS of your Orange bundle cost: Orange's answer gives no price.
    "ORANGE_PART_COST": "",
    # Infobip's SMS API, off while the key is empty; the URL is the account's own base.
    "INFOBIP_API_KEY": "",
    "INFOBIP_BASE_URL": "",
    "INFOBIP_SENDER": "",
    "USSD_CODE": "*123#",
    "USSD_MAX_CHARS": "160",
    "SESSION_TTL_S": "300",
    "RESUME_TTL_S": "86400",
    # A report's answers wait less: on a shared phone the next caller must not find them.
    "REPORT_RESUME_TTL_S": "1800",
    "USSD_RETRY_S": "2",
    "SMS_SEND_WINDOW": "08:00-20:00",
    "SMS_ASCII_FOLD": "1",
    "SMS_BATCH_SIZE": "100",
    "SMS_RATE": "20",
    "SMS_PART_COST": "XOF 25",
    "SMS_MAX_ATTEMPTS": "12",
    "SMS_LEASE_S": "60",
    "SMS_RECONCILE_S": "120",
    "SMS_UNREACHABLE_AFTER": "5",
    "SMS_TICK_S": "10",
    # Our voice numbers where a call is answered <Reject/> (free for the caller) and called back.
    "VOICE_CALLBACK_NUMBERS": "",
    # The number outbound calls come from; empty: the first callback number.
    "VOICE_FROM_NUMBER": "",
    "VOICE_CALLBACK_EVERY_S": "600",
    "VOICE_DAILY_BUDGET": "200",
    "CAMPAIGN_PAUSE_FAILURE_RATE": "0.5",
    "TRAINING_PASS_MARK": str(PASS_MARK),
    "ORG_CODES": "",
    "TRAINING_RETAKE_COOLDOWN_S": "600",
    "TRAINING_REMINDER_DAYS": "3",
    "TRAINING_REMINDERS_MAX": "3",
    "TRAINING_RECALL_DAYS": "7",
    # Recall questions by SMS need replies to reach us: on only where inbound SMS works.
    "TRAINING_RECALL_SMS": "off",
    "REPORT_DAILY_LIMIT": "3",
    "REPORT_REPEAT_WINDOW_S": "7200",
    "CASE_LINK_WINDOW_DAYS": "30",
    "CASE_FOLLOW_UP_DAYS": "90,180",
    "CASE_ESCALATE_AFTER_H": "24",
    "TZ": "Africa/Bamako",
    "PROXY_HOPS": "0",
    "CONTENT_DIR": str(ROOT / "content"),
    # Recordings of calls' prompts, in <lang>/audio/ under it; empty: CONTENT_DIR.
    "AUDIO_DIR": "",
    # Where callers' phones fetch them; empty: this host's /audio/.
    "AUDIO_BASE_URL": "",
    "RECORDINGS_DIR": str(VAR / "recordings"),
    "REDIS_PREFIX": "kalan:",
    # How long a call waits for keys after a prompt before saying it again.
    "VOICE_DIGITS_TIMEOUT_S": "10",
    # A prompt with no recording is said by <Say>: development only, as Say speaks English.
    "VOICE_SAY_MISSING": "off",
}

INTEGERS = (
    "USSD_MAX_CHARS", "SESSION_TTL_S", "RESUME_TTL_S", "REPORT_RESUME_TTL_S", "USSD_RETRY_S",
    "SMS_BATCH_SIZE", "SMS_RATE", "SMS_MAX_ATTEMPTS", "SMS_LEASE_S", "SMS_RECONCILE_S",
    "SMS_UNREACHABLE_AFTER", "SMS_TICK_S", "VOICE_CALLBACK_EVERY_S", "VOICE_DAILY_BUDGET",
    "TRAINING_PASS_MARK", "TRAINING_RETAKE_COOLDOWN_S", "TRAINING_REMINDER_DAYS",
    "TRAINING_REMINDERS_MAX", "TRAINING_RECALL_DAYS", "REPORT_DAILY_LIMIT",
    "REPORT_REPEAT_WINDOW_S", "CASE_LINK_WINDOW_DAYS", "CASE_ESCALATE_AFTER_H", "PROXY_HOPS",
    "VOICE_DIGITS_TIMEOUT_S", "SMS_CIRCUIT_FAILURES", "SMS_CIRCUIT_WINDOW_S",
    "SMS_CIRCUIT_OPEN_S",
)  # fmt: skip
FLAGS = ("SMS_ASCII_FOLD", "TRAINING_RECALL_SMS", "VOICE_SAY_MISSING")  # on or off
# No cool-down at all is a valid choice, and a recall at the next dial (to try it out);
# no proxy in front is the default.
MAY_BE_ZERO = (
    "TRAINING_RETAKE_COOLDOWN_S", "TRAINING_RECALL_DAYS", "PROXY_HOPS", "USSD_RETRY_S",
    "VOICE_DAILY_BUDGET",  # 0: Kalan places no call at all
)  # fmt: skip
PART_COST = re.compile(r"^([A-Z]{3}) (\d+(\.\d+)?)$")
REQUIRED_IN_PRODUCTION = (
    "REDIS_URL",
    "DATABASE_URL",
    "WEBHOOK_TOKEN",
    "SECRET_KEY",
    "REPORTER_KEY",
    "AT_USERNAME",
    "AT_API_KEY",
)
# token_urlsafe(48) gives 64 characters; 32 is the least a guess cannot reach.
MIN_SECRET_CHARS = 32
# Africa's Talking API keys are 64 hexadecimal characters; the sandbox accepts anything.
MIN_AT_API_KEY_CHARS = 32
# A random secret of 32 characters or more uses far more distinct ones than this.
MIN_DISTINCT_CHARS = 8
# Compared without case; .env.example's values are refused too (see example_values).
PLACEHOLDERS = frozenset(
    {
        "changeme", "change-me", "change_me", "change-this", "changethis", "replace-me",
        "replaceme", "dev", "development", "prod", "production", "test", "testing", "secret",
        "secret-key", "secret_key", "secretkey", "mysecret", "s3cret", "password", "passw0rd",
        "sandbox", "sandbox-key", "token", "t0ken", "key", "apikey", "api-key", "example",
        "placeholder", "default", "todo", "none", "null", "x", "xxx", "xxxx", "1234", "12345678",
        "kalan",
    }
)  # fmt: skip
WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def parse_follow_ups(text) -> tuple[int, ...]:
    """Parse "90,180" into increasing day counts after referral."""
    if isinstance(text, tuple):
        return text
    try:
        days = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        days = ()
    if not days or any(d <= 0 for d in days) or list(days) != sorted(set(days)):
        raise ConfigError(
            f"CASE_FOLLOW_UP_DAYS must be increasing day counts such as 90,180, not {text!r}"
        )
    return days


def from_env(environ=None, strict: bool = True) -> dict:
    """Read every setting from the environment, falling back to DEFAULTS.

    strict=False skips the production requirements, for tools that need
    none of the secrets (checking content, dialling).
    """
    environ = os.environ if environ is None else environ
    # An empty variable (as left by a copied .env.example) means "use the default".
    config = {name: environ.get(name) or default for name, default in DEFAULTS.items()}
    if strict and config["APP_ENV"] == "production":
        check_production(environ)
    return config


def check_production(environ) -> None:
    """Refuse missing, placeholder, short or sandbox secrets; raise ConfigError naming one."""
    # In production a default would silently point at a dev value: only
    # what the operator set counts.
    missing = [name for name in REQUIRED_IN_PRODUCTION if not environ.get(name)]
    if environ.get("REDIS_SENTINELS") and "REDIS_URL" in missing:
        missing.remove("REDIS_URL")  # the sentinels name the primary
    if missing:
        raise ConfigError("missing required settings for production: " + ", ".join(missing))
    examples = example_values()
    for name in ("SECRET_KEY", "WEBHOOK_TOKEN"):
        check_secret(
            name, environ[name], MIN_SECRET_CHARS, examples, "generate one with: " + TOKEN_COMMAND
        )
    # The token travels in callback URLs (and the gateway's logs): it must not sign cookies too.
    if environ["SECRET_KEY"].strip() == environ["WEBHOOK_TOKEN"].strip():
        raise ConfigError(
            "SECRET_KEY and WEBHOOK_TOKEN must differ; generate each with: " + TOKEN_COMMAND
        )
    check_metrics_token(environ, examples)
    check_reporter_key(environ["REPORTER_KEY"], examples)
    username = environ["AT_USERNAME"].strip()
    if username.lower() == "sandbox":
        raise ConfigError("AT_USERNAME is 'sandbox', the test account: use the live app's username")
    if username.lower() in PLACEHOLDERS:
        raise ConfigError(
            f"AT_USERNAME is a placeholder ({username!r}): use the live app's username"
        )
    check_secret(
        "AT_API_KEY", environ["AT_API_KEY"], MIN_AT_API_KEY_CHARS, examples,
        "use the live app's API key from the Africa's Talking dashboard",
    )  # fmt: skip
    base_url = (environ.get("AT_API_BASE_URL") or "").strip()
    if base_url and is_local(base_url):
        raise ConfigError(
            f"AT_API_BASE_URL points at this machine ({base_url}), as for the sandbox: "
            "leave it empty in production"
        )
    providers.check_production(environ, check_secret, examples, is_local)


def check_metrics_token(environ, examples: set[str]) -> None:
    """Refuse production without a METRICS_TOKEN of its own: behind a proxy on the same
    machine, "this machine only" would let anyone read the metrics."""
    token = (environ.get("METRICS_TOKEN") or "").strip()
    hint = "generate one with: " + TOKEN_COMMAND
    if not token:
        raise ConfigError(f"METRICS_TOKEN is required in production (Prometheus sends it); {hint}")
    check_secret("METRICS_TOKEN", token, MIN_SECRET_CHARS, examples, hint)
    if token in (environ["SECRET_KEY"].strip(), environ["WEBHOOK_TOKEN"].strip()):
        raise ConfigError(f"METRICS_TOKEN must differ from SECRET_KEY and WEBHOOK_TOKEN; {hint}")


def check_secret(name: str, value: str, minimum: int, examples: set[str], hint: str) -> None:
    """Refuse a secret that is a placeholder, too short or too repetitive to be random."""
    value = value.strip()
    if value in examples:
        raise ConfigError(f"{name} is a placeholder (from .env.example); {hint}")
    if value.lower() in PLACEHOLDERS:
        # A known placeholder is no secret: showing it tells the operator which line to fix.
        raise ConfigError(f"{name} is a placeholder ({value!r}); {hint}")
    if len(value) < minimum:
        raise ConfigError(
            f"{name} is too short ({len(value)} characters, at least {minimum}); {hint}"
        )
    if len(set(value)) < MIN_DISTINCT_CHARS:
        raise ConfigError(f"{name} repeats too few characters to be random; {hint}")


def check_reporter_key(value: str, examples: set[str]) -> None:
    """Refuse a REPORTER_KEY holding the development key, a placeholder or no Fernet key."""
    hint = "generate one with: " + FERNET_COMMAND
    for part in (part.strip() for part in value.split(",")):
        if part == DEV_REPORTER_KEY:
            raise ConfigError(f"REPORTER_KEY holds the development key; {hint}")
        if part in examples:
            raise ConfigError(f"REPORTER_KEY is a placeholder (from .env.example); {hint}")
        if part.lower() in PLACEHOLDERS:
            raise ConfigError(f"REPORTER_KEY is a placeholder ({part!r}); {hint}")
    parse_reporter_key(value)


def parse_reporter_key(value) -> tuple[str, ...]:
    """Split REPORTER_KEY into its Fernet keys, newest first; raise ConfigError if malformed."""
    try:
        return keyring.parse(value)
    except ValueError as exc:
        raise ConfigError(f"REPORTER_KEY: {exc}; generate a key with: {FERNET_COMMAND}") from None


def example_values() -> set[str]:
    """Return the non-empty values of .env.example, read now: none of them is a secret."""
    if not EXAMPLE.is_file():
        return set()
    return {value.strip() for value in dotenv_values(EXAMPLE).values() if value and value.strip()}


def is_local(url: str) -> bool:
    """Tell whether a URL points at this machine (localhost, a loopback or unspecified address)."""
    host = urlsplit(url if "://" in url else "//" + url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def validate(config: dict) -> dict:
    """Check and convert values; raise ConfigError naming the first bad one."""
    if config["APP_ENV"] not in ("development", "production"):
        raise ConfigError(f"APP_ENV must be development or production, not {config['APP_ENV']!r}")
    for name in INTEGERS:
        try:
            config[name] = int(config[name])
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a whole number, not {config[name]!r}") from None
        if config[name] < 0 or (config[name] == 0 and name not in MAY_BE_ZERO):
            raise ConfigError(f"{name} must be positive, not {config[name]}")
    if config["TRAINING_PASS_MARK"] > 100:
        raise ConfigError("TRAINING_PASS_MARK is a percentage: 100 at most")
    if config["USSD_MAX_CHARS"] < 80:
        raise ConfigError("USSD_MAX_CHARS must be at least 80: smaller screens cannot hold a menu")
    redis_client.check(config)
    database_urls.check(config)
    if not PART_COST.match(config["SMS_PART_COST"]):
        raise ConfigError(f"SMS_PART_COST must look like 'XOF 25', not {config['SMS_PART_COST']!r}")
    for name in FLAGS:
        flag = str(config[name]).lower()
        if flag not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
            raise ConfigError(f"{name} must be on or off, not {config[name]!r}")
        config[name] = flag in ("1", "true", "on", "yes")
    if config["LOG_FORMAT"] not in ("", "json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, not {config['LOG_FORMAT']!r}")
    if config["VOICE_SAY_MISSING"] and config["APP_ENV"] == "production":
        # Africa's Talking's Say speaks English: French read by it is no prompt at all.
        raise ConfigError("VOICE_SAY_MISSING is for development only: record the prompts instead")
    try:
        rate = float(config["CAMPAIGN_PAUSE_FAILURE_RATE"])
    except (TypeError, ValueError):
        rate = -1.0
    if not 0 < rate <= 1:
        raise ConfigError("CAMPAIGN_PAUSE_FAILURE_RATE must be a fraction between 0 and 1")
    config["CAMPAIGN_PAUSE_FAILURE_RATE"] = rate
    config["ORG_CODES"] = parse_org_codes(config["ORG_CODES"])
    config["CASE_FOLLOW_UP_DAYS"] = parse_follow_ups(config["CASE_FOLLOW_UP_DAYS"])
    config["REPORTER_KEY"] = parse_reporter_key(config["REPORTER_KEY"])
    window = config["SMS_SEND_WINDOW"]
    if window != "always" and not WINDOW.match(window):
        raise ConfigError(f"SMS_SEND_WINDOW must be HH:MM-HH:MM or 'always', not {window!r}")
    if window != "always" and window[:5] == window[6:]:
        raise ConfigError("SMS_SEND_WINDOW is empty: use 'always' for no window")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(config["TZ"])
    except (KeyError, ValueError, OSError):
        raise ConfigError(f"TZ is not a known time zone: {config['TZ']!r}") from None
    config["RECORDINGS_DIR"] = recordings_dir(config["RECORDINGS_DIR"])
    if not Path(config["CONTENT_DIR"]).is_dir():
        raise ConfigError(f"CONTENT_DIR does not exist: {config['CONTENT_DIR']}")
    return providers.check(config)


def recordings_dir(value) -> str:
    """Return RECORDINGS_DIR as an absolute path: a relative one is under the checkout."""
    if not str(value).strip():
        raise ConfigError("RECORDINGS_DIR must name a folder")
    path = Path(str(value).strip())
    # The web process and the worker may not share a working directory: one path for both.
    return str(path if path.is_absolute() else ROOT / path)


def parse_org_codes(text) -> dict[str, str]:
    """Read "RMCR=4821,CMDT=7310" into {code: organisation}; raise ConfigError if malformed."""
    if isinstance(text, dict):
        return text
    codes = {}
    for pair in filter(None, (p.strip() for p in str(text).split(","))):
        organisation, sep, code = pair.partition("=")
        organisation, code = organisation.strip(), code.strip().upper()
        if not sep or not organisation or not code.isalnum():
            raise ConfigError(f"ORG_CODES must look like RMCR=4821,CMDT=7310, not {pair!r}")
        if code in codes:
            raise ConfigError(f"ORG_CODES gives code {code} twice")
        codes[code] = organisation
    return codes
