"""The SMS balance of Orange's bundles: read by the worker, shown on the dashboard."""

import json
from datetime import timedelta

import pytest

from app.infra.models import utcnow
from app.messaging import balance

from ..helpers import visible

ORANGE = {"ORANGE_CLIENT_ID": "sandbox-client", "ORANGE_CLIENT_SECRET": "sandbox-secret",
          "ORANGE_SENDER": "+22344000000"}  # fmt: skip


@pytest.fixture
def app(make_app, sandbox):
    """An app with Orange set up against the sandbox, as `make run` has it."""
    return make_app(ORANGE_API_BASE_URL=sandbox.url, **ORANGE)


def refresh(app, now=None) -> list[str]:
    return balance.refresh(app.extensions["redis"], app.config["REDIS_PREFIX"],
                           app.extensions["gateways"], now or utcnow())  # fmt: skip


def last(app) -> dict | None:
    return balance.last(app.extensions["redis"], app.config["REDIS_PREFIX"], "orange")


def test_the_worker_reads_orange_units_once_per_period_and_the_dashboard_shows_them(
    app, client, sign_in, sandbox
):
    sandbox.app.extensions["orange"].units = 950
    assert refresh(app) == ["orange"]  # AT keeps no bundle to read
    assert refresh(app) == []  # read a moment ago, by this worker or another
    reading = last(app)
    assert [c["units"] for c in reading["contracts"]] == [950]
    assert sandbox.app.extensions["orange"].token_requests == 1
    sign_in("national")
    page = visible(client.get("/console/dashboard"))
    assert "Solde SMS Orange : 950 SMS (MLI, jusqu'au " in page
    assert "lu le " in page


def test_a_failed_reading_keeps_the_last_figures_and_says_orange_did_not_answer(
    app, client, sign_in, sandbox
):
    refresh(app)
    read_at = last(app)["read_at"]
    redis = app.extensions["redis"]
    redis.delete(app.config["REDIS_PREFIX"] + "balance:orange:lock")  # five minutes later
    sandbox.faults(error_rate=1.0)
    assert refresh(app, utcnow() + timedelta(minutes=5)) == ["orange"]
    reading = last(app)
    assert reading["contracts"][0]["units"] == 1000 and reading["read_at"] == read_at
    assert "error" in reading
    sign_in("national")
    page = visible(client.get("/console/dashboard"))
    assert "1000 SMS" in page and "Orange n'a pas répondu à la dernière lecture" in page


def test_a_scoped_user_sees_no_balance(app, client, sign_in):
    refresh(app)
    sign_in("scoped")
    assert "Solde SMS Orange" not in visible(client.get("/console/dashboard"))


def test_a_contract_without_an_end_date_shows_its_units_alone(app, client, sign_in):
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    reading = {
        "at": "2026-12-05T10:00:00",
        "read_at": "2026-12-05T10:00:00",
        "contracts": [{"country": "MLI", "units": 12, "status": "ACTIVE", "expires": None}],
    }
    redis.set(prefix + "balance:orange", json.dumps(reading))  # as the worker writes it
    sign_in("national")
    page = visible(client.get("/console/dashboard"))
    assert "Solde SMS Orange : 12 SMS (MLI) (lu le 2026-12-05 10:00 UTC)" in " ".join(page.split())
