"""The providers' settings: SMS routes, what each provider needs, production's refusals."""

import secrets

import pytest

from app.infra.config import DEFAULTS, ConfigError, from_env, validate

from .test_config import PRODUCTION

ORANGE = {"ORANGE_CLIENT_ID": "id", "ORANGE_CLIENT_SECRET": "s", "ORANGE_SENDER": "+22344000000"}
INFOBIP = {"INFOBIP_API_KEY": "k" * 40, "INFOBIP_BASE_URL": "https://x.api.infobip.com"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Hide any setting of the machine running the tests."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)


def settings(**overrides) -> dict:
    return validate({**from_env({}), **overrides})


@pytest.mark.parametrize(
    ("overrides", "routes"),
    [
        ({}, {"*": ("africastalking",)}),
        ({"SMS_PROVIDER": "orange", **ORANGE}, {"*": ("orange",)}),
        ({"SMS_PROVIDER": " infobip ", **INFOBIP}, {"*": ("infobip",)}),
        (
            {"SMS_ROUTES": "orange-ml=orange,infobip; moov-ml=infobip; *=africastalking",
             **ORANGE, **INFOBIP},
            {"orange-ml": ("orange", "infobip"), "moov-ml": ("infobip",), "*": ("africastalking",)},
        ),
        # Numbers of no routed operator go the SMS_PROVIDER way.
        ({"SMS_ROUTES": "orange-ml=orange", "SMS_PROVIDER": "infobip", **ORANGE, **INFOBIP},
         {"orange-ml": ("orange",), "*": ("infobip",)}),
    ],
)  # fmt: skip
def test_routes_are_read_with_a_default_for_every_other_number(overrides, routes):
    assert settings(**overrides)["SMS_ROUTES"] == routes


def test_ported_prefixes_are_read_longest_first():
    config = settings(SMS_PORTED="+2237=orange-ml, +2237612=moov-ml")
    assert config["SMS_PORTED"] == [("+2237612", "moov-ml"), ("+2237", "orange-ml")]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SMS_PROVIDER": "twilio"},
         "SMS_PROVIDER must be one of africastalking, orange, infobip, not 'twilio'"),
        ({"SMS_ROUTES": "orange-ml:orange"}, "SMS_ROUTES or SMS_PORTED: a route looks like"),
        ({"SMS_ROUTES": "orange-ml=sms"}, "SMS_ROUTES or SMS_PORTED: unknown provider 'sms'"),
        ({"SMS_PORTED": "7612=moov-ml"}, "SMS_ROUTES or SMS_PORTED: a ported prefix looks like"),
        ({"SMS_PROVIDER": "orange"},
         "SMS routes use orange, which needs ORANGE_CLIENT_ID, ORANGE_CLIENT_SECRET, "
         "ORANGE_SENDER: set them, or route through another provider"),
        ({"SMS_ROUTES": "moov-ml=infobip"},
         "SMS routes use infobip, which needs INFOBIP_API_KEY, INFOBIP_BASE_URL"),
        ({"SMS_ROUTES": "orange-ml=orange", **{**ORANGE, "ORANGE_SENDER": ""}},
         "SMS routes use orange, which needs ORANGE_SENDER: set it"),
        ({"ORANGE_PART_COST": "25 XOF"}, "ORANGE_PART_COST must look like 'XOF 25', not '25 XOF'"),
        ({"PUBLIC_URL": "kalan.example.org"}, "PUBLIC_URL must be Kalan's address"),
    ],
)  # fmt: skip
def test_bad_routes_and_missing_settings_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError) as caught:
        settings(**overrides)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_orange_costs_its_parts_at_the_sms_price_unless_told_otherwise():
    assert settings()["ORANGE_PART_COST"] == "XOF 25"
    assert settings(ORANGE_PART_COST="XOF 19.5")["ORANGE_PART_COST"] == "XOF 19.5"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORANGE_API_BASE_URL", "http://127.0.0.1:5001", "ORANGE_API_BASE_URL points at this"),
        ("INFOBIP_BASE_URL", "http://localhost:5001", "INFOBIP_BASE_URL points at this machine"),
        ("PUBLIC_URL", "http://127.0.0.1:5000", "PUBLIC_URL points at this machine"),
        ("ORANGE_CLIENT_SECRET", "sandbox-secret", "ORANGE_CLIENT_SECRET is too short"),
        ("ORANGE_CLIENT_SECRET", "changeme", "ORANGE_CLIENT_SECRET is a placeholder"),
        ("INFOBIP_API_KEY", "sandbox-key", "INFOBIP_API_KEY is a placeholder (from .env.example)"),
        ("INFOBIP_API_KEY", "k" * 20, "INFOBIP_API_KEY is too short"),
    ],
)
def test_production_refuses_sandbox_addresses_and_placeholder_keys(name, value, message):
    with pytest.raises(ConfigError) as caught:
        from_env({**PRODUCTION, name: value})
    assert str(caught.value).startswith(message)


def test_production_accepts_real_looking_orange_and_infobip_settings():
    real = {"ORANGE_CLIENT_SECRET": secrets.token_urlsafe(12),
            "INFOBIP_API_KEY": secrets.token_hex(24) + "-" + secrets.token_hex(8),
            "ORANGE_API_BASE_URL": "https://api.orange.com",
            "PUBLIC_URL": "https://kalan.example.org"}  # fmt: skip
    assert from_env({**PRODUCTION, **real})["PUBLIC_URL"] == "https://kalan.example.org"
