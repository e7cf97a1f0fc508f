"""Startup configuration: environment defaults, validation and refusing to start."""

import base64
import secrets
import shutil
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from dotenv import dotenv_values
from flask import Flask

from app import create_app
from app.infra import config as config_module
from app.infra.config import (
    DEFAULTS,
    DEV_REPORTER_KEY,
    FERNET_COMMAND,
    REQUIRED_IN_PRODUCTION,
    TOKEN_COMMAND,
    ConfigError,
    from_env,
    validate,
)

from .helpers import NO_AUDIO

ROOT = Path(__file__).resolve().parent.parent
DUMMY = {
    "TESTING": True,
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x",
}
# A strong production configuration: random secrets, a generated key, live-looking credentials.
PRODUCTION = {
    "APP_ENV": "production",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "DATABASE_URL": "postgresql://kalan@db.internal/kalan",
    "WEBHOOK_TOKEN": secrets.token_urlsafe(36),  # 48 characters
    "SECRET_KEY": secrets.token_urlsafe(36),
    "REPORTER_KEY": Fernet.generate_key().decode(),
    "AT_USERNAME": "kalan-mali",
    "AT_API_KEY": secrets.token_hex(32),  # like the dashboard's: 64 hexadecimal characters
    "METRICS_TOKEN": secrets.token_urlsafe(36),
}
EXAMPLE = ROOT / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Hide any setting of the machine running the tests."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)


def settings(**overrides) -> dict:
    """Return the development settings with some overridden, as from the environment."""
    return {**from_env({}), **overrides}


def start(capsys, test_config=None) -> tuple[int, str]:
    """Create the app expecting a refusal; return the exit code and stderr."""
    with pytest.raises(SystemExit) as caught:
        create_app({**DUMMY, **(test_config or {})})
    captured = capsys.readouterr()
    assert captured.out == ""
    return caught.value.code, captured.err


# from_env


def test_from_env_defaults():
    assert from_env({}) == DEFAULTS
    assert from_env({}) is not DEFAULTS


def test_from_env_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("USSD_CODE", "*555#")
    monkeypatch.setenv("USSD_MAX_CHARS", "182")
    config = from_env()
    assert config["USSD_CODE"] == "*555#"
    assert config["USSD_MAX_CHARS"] == "182"  # still text until validate
    assert config["TZ"] == DEFAULTS["TZ"]


def test_from_env_ignores_unknown_variables():
    assert "PATH" not in from_env({"PATH": "/bin"})


def test_production_with_every_setting_starts():
    config = from_env(PRODUCTION)
    assert {name: config[name] for name in PRODUCTION} == PRODUCTION


def test_production_without_settings_names_each_one_on_one_line():
    with pytest.raises(ConfigError) as caught:
        from_env({"APP_ENV": "production"})
    message = str(caught.value)
    assert message == (
        "missing required settings for production: "
        "REDIS_URL, DATABASE_URL, WEBHOOK_TOKEN, SECRET_KEY, REPORTER_KEY, AT_USERNAME, AT_API_KEY"
    )
    assert "\n" not in message


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ConfigError) as caught:
        from_env({**PRODUCTION, "SECRET_KEY": "dev"})
    assert str(caught.value) == (
        "SECRET_KEY is a placeholder ('dev'); generate one with: "
        'python -c "import secrets; print(secrets.token_urlsafe(48))"'
    )


SHORT = secrets.token_urlsafe(23)  # 31 characters, random: refused for its length alone
OTHER_KEY = Fernet.generate_key().decode()
TOKEN_HINT = "; generate one with: " + TOKEN_COMMAND
FERNET_HINT = "; generate one with: " + FERNET_COMMAND
AT_HINT = "; use the live app's API key from the Africa's Talking dashboard"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SECRET_KEY", "change-me", "SECRET_KEY is a placeholder ('change-me')" + TOKEN_HINT),
        ("SECRET_KEY", "CHANGEME", "SECRET_KEY is a placeholder ('CHANGEME')" + TOKEN_HINT),
        ("SECRET_KEY", " secret ", "SECRET_KEY is a placeholder ('secret')" + TOKEN_HINT),
        ("SECRET_KEY", "password", "SECRET_KEY is a placeholder ('password')" + TOKEN_HINT),
        ("SECRET_KEY", "x", "SECRET_KEY is a placeholder ('x')" + TOKEN_HINT),
        ("SECRET_KEY", "sandbox-key", "SECRET_KEY is a placeholder (from .env.example)"),
        ("SECRET_KEY", SHORT, "SECRET_KEY is too short (31 characters, at least 32)" + TOKEN_HINT),
        ("SECRET_KEY", "x" * 48, "SECRET_KEY repeats too few characters to be random"),
        ("SECRET_KEY", "changeme" * 6, "SECRET_KEY repeats too few characters to be random"),
        ("SECRET_KEY", PRODUCTION["WEBHOOK_TOKEN"], "SECRET_KEY and WEBHOOK_TOKEN must differ"),
        ("WEBHOOK_TOKEN", "test", "WEBHOOK_TOKEN is a placeholder ('test')" + TOKEN_HINT),
        ("WEBHOOK_TOKEN", "t0ken", "WEBHOOK_TOKEN is a placeholder ('t0ken')" + TOKEN_HINT),
        ("WEBHOOK_TOKEN", "development", "WEBHOOK_TOKEN is a placeholder (from .env.example)"),
        ("WEBHOOK_TOKEN", SHORT, "WEBHOOK_TOKEN is too short (31 characters, at least 32)"),
        ("WEBHOOK_TOKEN", "ab" * 24, "WEBHOOK_TOKEN repeats too few characters to be random"),
        ("METRICS_TOKEN", "", "METRICS_TOKEN is required in production (Prometheus sends it)"),
        ("METRICS_TOKEN", "token", "METRICS_TOKEN is a placeholder ('token')" + TOKEN_HINT),
        ("METRICS_TOKEN", SHORT, "METRICS_TOKEN is too short (31 characters, at least 32)"),
        ("METRICS_TOKEN", PRODUCTION["WEBHOOK_TOKEN"], "METRICS_TOKEN must differ from SECRET_KEY"),
        ("METRICS_TOKEN", PRODUCTION["SECRET_KEY"], "METRICS_TOKEN must differ from SECRET_KEY"),
        ("REPORTER_KEY", DEV_REPORTER_KEY, "REPORTER_KEY holds the development key" + FERNET_HINT),
        ("REPORTER_KEY", f"{OTHER_KEY},{DEV_REPORTER_KEY}", "REPORTER_KEY holds the development"),
        ("REPORTER_KEY", "change-me", "REPORTER_KEY is a placeholder ('change-me')" + FERNET_HINT),
        ("REPORTER_KEY", "sandbox", "REPORTER_KEY is a placeholder (from .env.example)"),
        ("REPORTER_KEY", SHORT, "REPORTER_KEY: key 1 is not a Fernet key (32 bytes, urlsafe"),
        ("REPORTER_KEY", f"{OTHER_KEY},{OTHER_KEY[:-2]}", "REPORTER_KEY: key 2 is not a Fernet"),
        ("REPORTER_KEY", f"{OTHER_KEY},", "REPORTER_KEY: give one key or several"),
        ("AT_USERNAME", "sandbox", "AT_USERNAME is 'sandbox', the test account"),
        ("AT_USERNAME", " Sandbox", "AT_USERNAME is 'sandbox', the test account"),
        ("AT_USERNAME", "change-me", "AT_USERNAME is a placeholder ('change-me')"),
        ("AT_API_KEY", "sandbox-key", "AT_API_KEY is a placeholder (from .env.example)" + AT_HINT),
        ("AT_API_KEY", "secret", "AT_API_KEY is a placeholder ('secret')" + AT_HINT),
        ("AT_API_KEY", "at-key", "AT_API_KEY is too short (6 characters, at least 32)" + AT_HINT),
        ("AT_API_KEY", "0" * 64, "AT_API_KEY repeats too few characters to be random"),
        ("AT_API_BASE_URL", "http://127.0.0.1:5001", "AT_API_BASE_URL points at this machine"),
        ("AT_API_BASE_URL", "http://localhost:5001/", "AT_API_BASE_URL points at this machine"),
        ("AT_API_BASE_URL", "https://[::1]:5001", "AT_API_BASE_URL points at this machine"),
        ("AT_API_BASE_URL", "http://0.0.0.0", "AT_API_BASE_URL points at this machine"),
        ("AT_API_BASE_URL", "127.0.0.2:5001", "AT_API_BASE_URL points at this machine"),
    ],
)
def test_production_refuses_a_placeholder_secret_and_names_it(name, value, message):
    with pytest.raises(ConfigError) as caught:
        from_env({**PRODUCTION, name: value})
    error = str(caught.value)
    assert error.startswith(message)
    assert error.startswith(name) and "\n" not in error
    # Only known placeholders are shown: a real secret must not reach the logs.
    assert SHORT not in error and OTHER_KEY not in error


@pytest.mark.parametrize(
    "value", sorted({v for v in dotenv_values(EXAMPLE).values() if v}) or ["(none)"]
)
def test_production_refuses_every_value_of_the_example_file_as_a_secret(value):
    """Whatever .env.example shows, as SECRET_KEY or REPORTER_KEY, is refused as copied."""
    for name in ("SECRET_KEY", "REPORTER_KEY"):
        with pytest.raises(ConfigError) as caught:
            from_env({**PRODUCTION, name: value})
        assert str(caught.value).startswith(f"{name} is a placeholder (from .env.example)")


def test_the_example_file_is_read_when_validating(monkeypatch, tmp_path):
    """A long example value added to the file later is refused too, without a code change."""
    example = tmp_path / ".env.example"
    long_example = secrets.token_urlsafe(36)
    example.write_text(f"# a comment\nWEBHOOK_TOKEN={long_example}\nSECRET_KEY=\n")
    monkeypatch.setattr(config_module, "EXAMPLE", example)
    with pytest.raises(ConfigError) as caught:
        from_env({**PRODUCTION, "SECRET_KEY": long_example})
    assert str(caught.value).startswith("SECRET_KEY is a placeholder (from .env.example)")
    monkeypatch.setattr(config_module, "EXAMPLE", tmp_path / "absent")
    assert from_env({**PRODUCTION, "SECRET_KEY": long_example})["SECRET_KEY"] == long_example


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"REPORTER_KEY": f"{OTHER_KEY}, {PRODUCTION['REPORTER_KEY']}"},  # during a rotation
        {"AT_API_BASE_URL": "https://api.africastalking.com"},
        {"SECRET_KEY": secrets.token_urlsafe(24)},  # 32 characters: the least accepted
    ],
)
def test_production_with_strong_secrets_passes(overrides):
    environ = {**PRODUCTION, **overrides}
    config = validate(from_env(environ))
    assert config["APP_ENV"] == "production"
    assert config["SECRET_KEY"] == environ["SECRET_KEY"]
    keys = tuple(key.strip() for key in environ["REPORTER_KEY"].split(","))
    assert config["REPORTER_KEY"] == keys


def test_tools_without_secrets_read_production_settings_leniently():
    config = from_env({"APP_ENV": "production"}, strict=False)
    assert config["APP_ENV"] == "production" and config["SECRET_KEY"] == "dev"


@pytest.mark.parametrize("missing", REQUIRED_IN_PRODUCTION)
@pytest.mark.parametrize("value", [None, ""])
def test_production_names_the_missing_setting(missing, value):
    environ = dict(PRODUCTION)
    if value is None:
        del environ[missing]
    else:
        environ[missing] = value
    with pytest.raises(ConfigError) as caught:
        from_env(environ)
    assert str(caught.value) == f"missing required settings for production: {missing}"


# validate


def test_validate_converts_whole_numbers():
    config = validate(settings(USSD_MAX_CHARS="182", SESSION_TTL_S=" 300 "))
    assert config["USSD_MAX_CHARS"] == 182
    assert config["SESSION_TTL_S"] == 300
    assert config["RESUME_TTL_S"] == 86400


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"APP_ENV": "staging"}, "APP_ENV must be development or production, not 'staging'"),
        ({"APP_ENV": ""}, "APP_ENV must be development or production, not ''"),
        ({"USSD_MAX_CHARS": "abc"}, "USSD_MAX_CHARS must be a whole number, not 'abc'"),
        ({"USSD_MAX_CHARS": "1.5"}, "USSD_MAX_CHARS must be a whole number, not '1.5'"),
        ({"USSD_MAX_CHARS": ""}, "USSD_MAX_CHARS must be a whole number, not ''"),
        ({"USSD_MAX_CHARS": "-160"}, "USSD_MAX_CHARS must be positive, not -160"),
        ({"USSD_MAX_CHARS": "0"}, "USSD_MAX_CHARS must be positive, not 0"),
        ({"USSD_MAX_CHARS": "79"}, "USSD_MAX_CHARS must be at least 80"),
        ({"SESSION_TTL_S": "five"}, "SESSION_TTL_S must be a whole number, not 'five'"),
        ({"SESSION_TTL_S": "-300"}, "SESSION_TTL_S must be positive, not -300"),
        ({"SESSION_TTL_S": "0"}, "SESSION_TTL_S must be positive, not 0"),
        ({"RESUME_TTL_S": "1e5"}, "RESUME_TTL_S must be a whole number, not '1e5'"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must start with redis://"),
        ({"REDIS_URL": ""}, "REDIS_URL must start with redis://"),
        *(
            (
                {"REDIS_SENTINELS": value, "REDIS_SENTINEL_MASTER": "kalan"},
                f"REDIS_SENTINELS must list host:port pairs, such as 10.0.0.5:26379,"
                f"10.0.0.6:26379,10.0.0.7:26379, not {value.split(',')[-1].strip()!r}",
            )
            for value in (
                "10.0.0.5",
                "10.0.0.5:port",
                "10.0.0.5:0",
                "10.0.0.5:70000",
                ":26379",
                "a b:26379",
                "::1:26379",
                "[db1]:26379",
                "10.0.0.5:26379, 10.0.0.6",
            )
        ),
        (
            {"REDIS_SENTINELS": "s1:26379,s1:26379", "REDIS_SENTINEL_MASTER": "kalan"},
            "REDIS_SENTINELS names s1:26379 twice",
        ),
        (
            {"REDIS_SENTINELS": "s1:26379"},
            "REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS: the name the sentinels",
        ),
        (
            {"REDIS_SENTINELS": "s1:26379", "REDIS_SENTINEL_MASTER": "my master"},
            "REDIS_SENTINEL_MASTER must be a name of letters, digits, '.', '_' or '-', "
            "not 'my master'",
        ),
        (
            {"REDIS_SENTINEL_MASTER": "kalan"},
            "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is empty: list them, 10.0.0.5:",
        ),
        (
            {"REDIS_SENTINEL_PASSWORD": "s3cret-sentinel"},
            "REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is empty",
        ),
        (
            {
                "REDIS_SENTINELS": "s1:26379",
                "REDIS_SENTINEL_MASTER": "kalan",
                "REDIS_URL": "unix:///run/redis.sock",
            },
            "REDIS_URL cannot be a unix:// socket with REDIS_SENTINELS",
        ),
        ({"DATABASE_URL": "kalan.db"}, "DATABASE_URL must be a URL"),
        ({"DATABASE_READ_URL": "replica.db"}, "DATABASE_READ_URL must be empty or a URL"),
        (
            {
                "DATABASE_URL": "postgresql://kalan:pw@db/kalan",
                "DATABASE_READ_URL": "sqlite:///var/replica.db",
            },
            "DATABASE_READ_URL must be a replica of DATABASE_URL's database: "
            "a sqlite database cannot be a replica of a postgresql one",
        ),  # fmt: skip
        (
            {"SMS_SEND_WINDOW": "8-20"},
            "SMS_SEND_WINDOW must be HH:MM-HH:MM or 'always', not '8-20'",
        ),
        ({"SMS_SEND_WINDOW": "24:00-06:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "08:60-20:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "08:00 - 20:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "Always"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": ""}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be json or text, not 'xml'"),
        ({"LOG_FORMAT": "JSON "}, "LOG_FORMAT must be json or text, not 'JSON '"),
        ({"TZ": "Mars/Olympus"}, "TZ is not a known time zone: 'Mars/Olympus'"),
        ({"TZ": "Africa"}, "TZ is not a known time zone: 'Africa'"),  # a folder of zones
        ({"TZ": ""}, "TZ is not a known time zone: ''"),
        ({"TZ": "../../etc/passwd"}, "TZ is not a known time zone"),
        (
            {"CONTENT_DIR": "/nonexistent/content"},
            "CONTENT_DIR does not exist: /nonexistent/content",
        ),
        ({"AUDIO_DIR": "/nonexistent/audio"}, "AUDIO_DIR does not exist: /nonexistent/audio"),
        (
            {"AUDIO_BASE_URL": "cdn.example.org"},
            "AUDIO_BASE_URL must be empty or a URL such as https://cdn.example.org, "
            "not 'cdn.example.org'",
        ),
        ({"AUDIO_BASE_URL": "ftp://cdn.example.org"}, "AUDIO_BASE_URL must be empty or a URL"),
        ({"AUDIO_BASE_URL": "https://"}, "AUDIO_BASE_URL must be empty or a URL"),
        (
            {"INFOBIP_BASE_URL": "xxxx.api.infobip.com"},
            "INFOBIP_BASE_URL must be a URL such as https://xxxx.api.infobip.com, "
            "not 'xxxx.api.infobip.com'",
        ),
        (
            {"INFOBIP_API_KEY": "k" * 40},
            "INFOBIP_BASE_URL is required with INFOBIP_API_KEY",
        ),
        (
            {"VOICE_CALLBACK_NUMBERS": "+22320000001,20000002"},
            "VOICE_CALLBACK_NUMBERS must be numbers in international format such as "
            "+22320000001, separated by commas, not '20000002'",
        ),
        (
            {"VOICE_FROM_NUMBER": "Kalan"},
            "VOICE_FROM_NUMBER must be a number in international format such as +22320000001",
        ),
        ({"VOICE_CALLBACK_EVERY_S": "0"}, "VOICE_CALLBACK_EVERY_S must be positive, not 0"),
        (
            {"ORANGE_SENDER": "22370009999"},
            "ORANGE_SENDER must be a number such as +22370000000, not '22370009999'",
        ),
        (
            {"ORANGE_API_BASE_URL": "api.orange.com"},
            "ORANGE_API_BASE_URL must be a URL such as https://api.orange.com, "
            "not 'api.orange.com'",
        ),
        ({"ORANGE_API_BASE_URL": "https://"}, "ORANGE_API_BASE_URL must be a URL"),
        ({"VOICE_DAILY_BUDGET": "-1"}, "VOICE_DAILY_BUDGET must be positive, not -1"),
    ],
)
def test_validate_rejects(overrides, message):
    with pytest.raises(ConfigError) as caught:
        validate(settings(**overrides))
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SMS_SEND_WINDOW", "always"),
        ("SMS_SEND_WINDOW", "08:00-20:00"),
        ("SMS_SEND_WINDOW", "00:00-23:59"),
        ("SMS_SEND_WINDOW", "20:00-06:00"),  # across midnight
        ("TZ", "UTC"),
        ("TZ", "Africa/Abidjan"),
        ("USSD_MAX_CHARS", "80"),
        ("USSD_MAX_CHARS", "182"),
        ("REDIS_URL", "rediss://user:pw@redis.example:6380/1"),
        ("REDIS_URL", "unix:///run/redis.sock"),
        ("DATABASE_URL", "postgresql://kalan@localhost/kalan"),
    ],
)
def test_validate_accepts(name, value):
    assert str(validate(settings(**{name: value}))[name]) == value


@pytest.mark.parametrize(
    ("primary", "replica"),
    [
        ("postgresql://kalan@db/kalan", "postgresql://kalan@replica/kalan"),
        ("postgres://kalan@db/kalan", "postgresql+psycopg://kalan@replica/kalan"),
        ("sqlite:///var/kalan.db", "sqlite:///var/copy.db"),
        ("postgresql://kalan@db/kalan", ""),  # none: the dashboard reads the database itself
    ],
)
def test_validate_accepts_a_read_replica_of_the_same_kind(primary, replica):
    config = validate(settings(DATABASE_URL=primary, DATABASE_READ_URL=replica))
    assert config["DATABASE_READ_URL"] == replica


def test_audio_settings_default_to_the_content_and_this_host(tmp_path):
    config = validate(settings())
    assert config["AUDIO_DIR"] == config["CONTENT_DIR"] and config["AUDIO_BASE_URL"] == ""
    config = validate(
        settings(AUDIO_DIR=str(tmp_path), AUDIO_BASE_URL=" https://cdn.example.org/k/ ")
    )
    assert config["AUDIO_DIR"] == str(tmp_path)
    assert config["AUDIO_BASE_URL"] == "https://cdn.example.org/k"  # audio_url adds the slash


def test_infobip_is_off_by_default_and_its_url_loses_the_slash():
    config = validate(settings())
    assert config["INFOBIP_API_KEY"] == config["INFOBIP_BASE_URL"] == ""
    config = validate(
        settings(INFOBIP_API_KEY="k" * 40, INFOBIP_BASE_URL=" https://xxxx.api.infobip.com/ ")
    )
    assert config["INFOBIP_BASE_URL"] == "https://xxxx.api.infobip.com"


@pytest.mark.parametrize(
    ("numbers", "from_number", "expected"),
    [
        ("", "", ((), "")),
        (" +22320000001 , +22320000002,", "", (("+22320000001", "+22320000002"), "+22320000001")),
        ("+22320000001", "+22320000009", (("+22320000001",), "+22320000009")),
    ],
)
def test_voice_numbers_and_the_number_calls_come_from(numbers, from_number, expected):
    config = validate(settings(VOICE_CALLBACK_NUMBERS=numbers, VOICE_FROM_NUMBER=from_number))
    assert (config["VOICE_CALLBACK_NUMBERS"], config["VOICE_FROM_NUMBER"]) == expected
    assert validate(settings(VOICE_DAILY_BUDGET="0"))["VOICE_DAILY_BUDGET"] == 0  # no calls


def test_validate_accepts_production():
    config = validate(from_env(PRODUCTION))
    assert config["APP_ENV"] == "production"
    assert config["SECRET_KEY"] == PRODUCTION["SECRET_KEY"]


def test_sentinels_are_read_into_host_and_port_pairs():
    sentinels = " s1.internal:26379, [fd00::7]:26380,10.0.0.7:1 "
    config = validate(settings(REDIS_SENTINELS=sentinels, REDIS_SENTINEL_MASTER=" kalan "))
    pairs = (("s1.internal", 26379), ("fd00::7", 26380), ("10.0.0.7", 1))
    assert config["REDIS_SENTINELS"] == pairs
    assert config["REDIS_SENTINEL_MASTER"] == "kalan"
    assert validate(settings())["REDIS_SENTINELS"] == ()  # unset: REDIS_URL's one server


def test_production_with_sentinels_needs_no_redis_url():
    environ = {name: value for name, value in PRODUCTION.items() if name != "REDIS_URL"}
    environ.update(REDIS_SENTINELS="s1:26379,s2:26379,s3:26379", REDIS_SENTINEL_MASTER="kalan")
    config = validate(from_env(environ))
    assert config["REDIS_SENTINELS"] == (("s1", 26379), ("s2", 26379), ("s3", 26379))
    with pytest.raises(ConfigError, match="missing required settings for production: REDIS_URL$"):
        from_env({**environ, "REDIS_SENTINELS": ""})


def test_development_has_a_fixed_reporter_key_that_says_what_it_is():
    config = validate(settings())
    assert config["REPORTER_KEY"] == (DEV_REPORTER_KEY,)
    assert base64.urlsafe_b64decode(DEV_REPORTER_KEY) == b"kalan-development-key-not-secret"
    # Not derived from SECRET_KEY: changing the cookie secret keeps the numbers readable.
    assert validate(settings(SECRET_KEY="other"))["REPORTER_KEY"] == (DEV_REPORTER_KEY,)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not-a-key", "REPORTER_KEY: key 1 is not a Fernet key"),
        (DEV_REPORTER_KEY + "x", "REPORTER_KEY: key 1 is not a Fernet key"),
        (f"{OTHER_KEY},abc", "REPORTER_KEY: key 2 is not a Fernet key"),
        (f"{OTHER_KEY},,{OTHER_KEY}", "REPORTER_KEY: give one key or several"),
        ("", "REPORTER_KEY: give one key or several"),
    ],
)
def test_validate_refuses_a_malformed_reporter_key_in_development(value, message):
    with pytest.raises(ConfigError) as caught:
        validate(settings(REPORTER_KEY=value))
    assert str(caught.value).startswith(message)
    assert str(caught.value).endswith("generate a key with: " + FERNET_COMMAND)


def test_the_example_file_starts_development_as_copied():
    """`make run` reads .env: the example, copied as-is, must start; production must not."""
    example = {k: v for k, v in dotenv_values(EXAMPLE).items() if v is not None}
    assert not example["SECRET_KEY"] and not example["REPORTER_KEY"]
    config = validate(from_env(example))
    assert config["APP_ENV"] == "development" and config["REPORTER_KEY"] == (DEV_REPORTER_KEY,)
    text = EXAMPLE.read_text()
    assert text.count(TOKEN_COMMAND) >= 2 and FERNET_COMMAND in text
    with pytest.raises(ConfigError):
        from_env({**example, "APP_ENV": "production"})


# create_app


@pytest.mark.parametrize(
    ("test_config", "message"),
    [
        ({"USSD_MAX_CHARS": "abc"}, "USSD_MAX_CHARS must be a whole number, not 'abc'"),
        ({"APP_ENV": "staging"}, "APP_ENV must be development or production, not 'staging'"),
        ({"SMS_SEND_WINDOW": "never"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM or 'always'"),
        ({"TZ": "Mars/Olympus"}, "TZ is not a known time zone: 'Mars/Olympus'"),
        ({"CONTENT_DIR": "/nonexistent/content"}, "CONTENT_DIR does not exist"),
    ],
)
def test_create_app_refuses_a_bad_config_in_one_line(capsys, test_config, message):
    code, err = start(capsys, test_config)
    assert code == 3
    assert err.startswith("kalan: cannot start: " + message)
    assert err.endswith("\n") and err.count("\n") == 1
    assert "Traceback" not in err


def test_create_app_in_production_names_every_missing_setting(capsys, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    code, err = start(capsys)
    assert code == 3
    assert err == (
        "kalan: cannot start: missing required settings for production: "
        "REDIS_URL, DATABASE_URL, WEBHOOK_TOKEN, SECRET_KEY, REPORTER_KEY, AT_USERNAME, "
        "AT_API_KEY\n"
    )


def test_create_app_refuses_a_placeholder_secret_in_one_line(capsys, monkeypatch):
    for name, value in {**PRODUCTION, "SECRET_KEY": "change-me"}.items():
        monkeypatch.setenv(name, value)
    code, err = start(capsys)
    assert code == 3
    assert err == (
        "kalan: cannot start: SECRET_KEY is a placeholder ('change-me')" + TOKEN_HINT + "\n"
    )


def test_create_app_starts_from_a_strong_production_environment(monkeypatch):
    """The strong settings above, from the process environment: the app starts, connecting
    to nothing (their hosts do not even resolve here)."""
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    app = create_app({"TESTING": True})
    try:
        assert app.config["APP_ENV"] == "production"
        assert app.config["SECRET_KEY"] == PRODUCTION["SECRET_KEY"]
        assert app.config["REPORTER_KEY"] == (PRODUCTION["REPORTER_KEY"],)
        assert app.config["SESSION_COOKIE_SECURE"] is True
    finally:
        app.extensions["redis"].close()
        app.extensions["engine"].dispose()


def test_create_app_refuses_bad_content_in_one_line(capsys, tmp_path):
    tree = shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)
    (tree / "fr" / "extra.yaml").write_text('extra:\n  a: "ê"\n', encoding="utf-8")
    code, err = start(capsys, {"CONTENT_DIR": str(tree)})
    assert code == 3
    assert err == "kalan: cannot start: fr: 'extra.a' has characters outside GSM-7: 'ê'\n"


def test_create_app_refuses_several_content_problems_in_one_line(capsys, tmp_path):
    tree = shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)
    (tree / "fr" / "extra.yaml").write_text('extra:\n  a: "ê"\n  b: 3\n', encoding="utf-8")
    code, err = start(capsys, {"CONTENT_DIR": str(tree)})
    assert code == 3
    assert err.startswith("kalan: cannot start: ")
    assert err.count("\n") == 1


def test_create_app_does_not_connect():
    """Redis and the database are unreachable here: creating the app must not notice."""
    app = create_app(dict(DUMMY))
    try:
        assert isinstance(app, Flask)
        assert app.config["REDIS_URL"] == DUMMY["REDIS_URL"]
        assert app.config["USSD_MAX_CHARS"] == 160
        assert app.extensions["catalog"].get("menu.title") == "Kalan - Menu principal"
        assert {"redis", "sessions", "db"} <= set(app.extensions)
    finally:
        app.extensions["redis"].close()
        app.extensions["engine"].dispose()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", {}),
        ("RMCR=1111", {"1111": "RMCR"}),
        (" RMCR = ab12 , CRK=9", {"AB12": "RMCR", "9": "CRK"}),
    ],
)
def test_org_codes(value, expected):
    from app.infra.config import parse_org_codes

    assert parse_org_codes(value) == expected


@pytest.mark.parametrize("value", ["RMCR", "=1111", "RMCR=11 11", "A=1,B=1"])
def test_bad_org_codes(value):
    from app.infra.config import parse_org_codes

    with pytest.raises(ConfigError) as caught:
        parse_org_codes(value)
    assert "ORG_CODES" in str(caught.value)


def test_the_recordings_folder_is_absolute_whatever_the_working_directory():
    assert validate(settings())["RECORDINGS_DIR"] == str(ROOT / "var" / "recordings")
    assert validate(settings(RECORDINGS_DIR="data/rec"))["RECORDINGS_DIR"] == str(
        ROOT / "data" / "rec"
    )
    assert validate(settings(RECORDINGS_DIR="/srv/rec"))["RECORDINGS_DIR"] == "/srv/rec"
    with pytest.raises(ConfigError, match="RECORDINGS_DIR must name a folder"):
        validate(settings(RECORDINGS_DIR=" "))
