"""Startup configuration: environment defaults, production's secrets and refusing to start."""

import secrets
import shutil
from pathlib import Path

import pytest
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

from .helpers import NO_AUDIO, fixed_fernet_key, fixed_token

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
    "WEBHOOK_TOKEN": fixed_token("webhook", 36),  # 48 characters
    "SECRET_KEY": fixed_token("secret", 36),
    "REPORTER_KEY": fixed_fernet_key("reporter"),
    "AT_USERNAME": "kalan-mali",
    "AT_API_KEY": fixed_token("at", 48)
    .encode()
    .hex()[:64],  # like the dashboard's: 64 hexadecimal characters
    "METRICS_TOKEN": fixed_token("metrics", 36),
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


SHORT = fixed_token("short", 23)  # 31 characters, random: refused for its length alone
OTHER_KEY = fixed_fernet_key("other")
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
