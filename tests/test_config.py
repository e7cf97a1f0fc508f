"""Startup configuration: environment defaults, validation and refusing to start."""

import shutil
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.config import DEFAULTS, REQUIRED_IN_PRODUCTION, ConfigError, from_env, validate

ROOT = Path(__file__).resolve().parent.parent
DUMMY = {
    "TESTING": True,
    "REDIS_URL": "redis://127.0.0.1:1/0",
    "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x",
}
PRODUCTION = {
    "APP_ENV": "production",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "DATABASE_URL": "postgresql://kalan@db.internal/kalan",
    "WEBHOOK_TOKEN": "t0ken",
    "SECRET_KEY": "s3cret",
    "AT_USERNAME": "kalan",
    "AT_API_KEY": "at-key",
}


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
        "REDIS_URL, DATABASE_URL, WEBHOOK_TOKEN, SECRET_KEY, AT_USERNAME, AT_API_KEY"
    )
    assert "\n" not in message


def test_production_refuses_the_development_secret_key():
    with pytest.raises(ConfigError) as caught:
        from_env({**PRODUCTION, "SECRET_KEY": "dev"})
    assert str(caught.value) == "SECRET_KEY must not be 'dev' in production"


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
        ({"DATABASE_URL": "kalan.db"}, "DATABASE_URL must be a URL"),
        (
            {"SMS_SEND_WINDOW": "8-20"},
            "SMS_SEND_WINDOW must be HH:MM-HH:MM or 'always', not '8-20'",
        ),
        ({"SMS_SEND_WINDOW": "24:00-06:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "08:60-20:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "08:00 - 20:00"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": "Always"}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"SMS_SEND_WINDOW": ""}, "SMS_SEND_WINDOW must be HH:MM-HH:MM"),
        ({"TZ": "Mars/Olympus"}, "TZ is not a known time zone: 'Mars/Olympus'"),
        ({"TZ": "Africa"}, "TZ is not a known time zone: 'Africa'"),  # a folder of zones
        ({"TZ": ""}, "TZ is not a known time zone: ''"),
        ({"TZ": "../../etc/passwd"}, "TZ is not a known time zone"),
        (
            {"CONTENT_DIR": "/nonexistent/content"},
            "CONTENT_DIR does not exist: /nonexistent/content",
        ),
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


def test_validate_accepts_production():
    config = validate(from_env(PRODUCTION))
    assert config["APP_ENV"] == "production"
    assert config["SECRET_KEY"] == "s3cret"


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
        "REDIS_URL, DATABASE_URL, WEBHOOK_TOKEN, SECRET_KEY, AT_USERNAME, AT_API_KEY\n"
    )


def test_create_app_refuses_bad_content_in_one_line(capsys, tmp_path):
    tree = shutil.copytree(ROOT / "content", tmp_path / "content")
    (tree / "fr" / "extra.yaml").write_text('extra:\n  a: "ê"\n', encoding="utf-8")
    code, err = start(capsys, {"CONTENT_DIR": str(tree)})
    assert code == 3
    assert err == "kalan: cannot start: fr: 'extra.a' has characters outside GSM-7: 'ê'\n"


def test_create_app_refuses_several_content_problems_in_one_line(capsys, tmp_path):
    tree = shutil.copytree(ROOT / "content", tmp_path / "content")
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
    from app.config import parse_org_codes

    assert parse_org_codes(value) == expected


@pytest.mark.parametrize("value", ["RMCR", "=1111", "RMCR=11 11", "A=1,B=1"])
def test_bad_org_codes(value):
    from app.config import parse_org_codes

    with pytest.raises(ConfigError) as caught:
        parse_org_codes(value)
    assert "ORG_CODES" in str(caught.value)
