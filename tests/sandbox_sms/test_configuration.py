"""The sandbox's configuration, from the environment."""

import json

import pytest

from sandbox import create_app

CONFIG_ENV = [
    "AT_USERNAME",
    "AT_API_KEY",
    "AT_SHORTCODE",
    "SANDBOX_SMS_PART_COST",
    "SANDBOX_DLR_DELAY_S",
    "SANDBOX_DLR_RETRIES",
    "SANDBOX_DLR_BACKOFF_S",
    "SANDBOX_DROP_SLEEP_S",
    "SANDBOX_FAULTS",
    "SANDBOX_ORANGE_NUMBER",
    "SANDBOX_INFOBIP_NUMBER",
]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {},
            {
                "AT_USERNAME": "sandbox",
                "AT_API_KEY": "sandbox-key",
                "AT_SHORTCODE": "36000",
                "SANDBOX_SMS_PART_COST": "XOF 25.0000",
                "SANDBOX_DLR_DELAY_S": 0.2,
                "SANDBOX_DLR_RETRIES": 3,
                "SANDBOX_DLR_BACKOFF_S": 0.5,
                "SANDBOX_DROP_SLEEP_S": 12.0,
                "SANDBOX_FAULTS": "{}",
                "SANDBOX_ORANGE_NUMBER": "+22370000000",
                "SANDBOX_INFOBIP_NUMBER": "22320000003",
            },
        ),
        (
            {
                "AT_USERNAME": "kalan",
                "AT_API_KEY": "k",
                "AT_SHORTCODE": "36123",
                "SANDBOX_SMS_PART_COST": "KES 0.8000",
                "SANDBOX_DLR_DELAY_S": "1.5",
                "SANDBOX_DLR_RETRIES": "0",
                "SANDBOX_DLR_BACKOFF_S": "2",
                "SANDBOX_DROP_SLEEP_S": "20",
                "SANDBOX_FAULTS": '{"latency_ms": 50}',
                "SANDBOX_ORANGE_NUMBER": "+22370001111",
                "SANDBOX_INFOBIP_NUMBER": "22390001111",
            },
            {
                "AT_USERNAME": "kalan",
                "AT_API_KEY": "k",
                "AT_SHORTCODE": "36123",
                "SANDBOX_SMS_PART_COST": "KES 0.8000",
                "SANDBOX_DLR_DELAY_S": 1.5,
                "SANDBOX_DLR_RETRIES": 0,
                "SANDBOX_DLR_BACKOFF_S": 2.0,
                "SANDBOX_DROP_SLEEP_S": 20.0,
                "SANDBOX_FAULTS": '{"latency_ms": 50}',
                "SANDBOX_ORANGE_NUMBER": "+22370001111",
                "SANDBOX_INFOBIP_NUMBER": "22390001111",
            },
        ),
    ],
)
def test_config_from_environment(monkeypatch, env, expected):
    for name in CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app()

    assert {name: app.config[name] for name in expected} == expected
    faults = json.loads(expected["SANDBOX_FAULTS"])
    assert app.extensions["sms_faults"].faults.latency_ms == faults.get("latency_ms", 0)


@pytest.mark.parametrize(
    "config",
    [
        {"SANDBOX_SMS_PART_COST": "25"},
        {"SANDBOX_SMS_PART_COST": "XOF cher"},
        {"SANDBOX_FAULTS": "{"},
        {"SANDBOX_FAULTS": '{"error_rate": 2}'},
        {"SANDBOX_ORANGE_NUMBER": "22370000000"},
        {"SANDBOX_INFOBIP_NUMBER": "+22320000003"},
    ],
)
def test_bad_config_stops_the_start(config):
    with pytest.raises(SystemExit) as stopped:
        create_app(config)
    message = str(stopped.value)
    assert message.startswith("sandbox: cannot start: ") and "\n" not in message
