"""Validating the settings: whole numbers, refused and accepted values, sentinels and keys."""

import base64

import pytest
from dotenv import dotenv_values

from app.infra.config import (
    DEV_REPORTER_KEY,
    FERNET_COMMAND,
    TOKEN_COMMAND,
    ConfigError,
    from_env,
    validate,
)

from .test_config import (
    EXAMPLE,
    OTHER_KEY,
    PRODUCTION,
    clean_environment,  # noqa: F401  (autouse: hides the machine's settings here too)
    settings,
)

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
