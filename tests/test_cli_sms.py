"""`kalan sms route`: a number's operator, its providers in order, and their circuits."""

import pytest

ROUTES = "orange-ml=orange,infobip; moov-ml=infobip; *=africastalking"


@pytest.fixture
def app(make_app):
    return make_app(SMS_ROUTES=ROUTES, ORANGE_CLIENT_ID="id", ORANGE_CLIENT_SECRET="secret",
                    ORANGE_SENDER="+22344000000", INFOBIP_API_KEY="k" * 40,
                    INFOBIP_BASE_URL="https://x.api.infobip.com")  # fmt: skip


def test_each_number_shows_its_operator_route_and_circuits(app, runner):
    circuit = app.extensions["routing"].circuit
    for _ in range(circuit.failures_min):
        circuit.record("orange", False)
    result = runner.invoke(["sms", "route", "76 00 00 01", "+22365000002", "+22350000003"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "+22376000001: orange-ml -> orange (open), infobip (closed)",
        "+22365000002: moov-ml -> infobip (closed)",
        "+22350000003: telecel-ml -> africastalking (closed)",
    ]


def test_what_is_not_a_number_is_named_and_fails(runner):
    result = runner.invoke(["sms", "route", "hello", "+22370000001"])
    assert result.exit_code == 1
    assert "hello: not a phone number" in result.output
    assert "+22370000001: orange-ml -> orange (closed), infobip (closed)" in result.output
