"""deploy/new-env.sh: a .env for compose, with secrets production accepts."""

import re
import stat

import pytest
from dotenv import dotenv_values

from app.infra.config import ConfigError, check_production, from_env, validate

from .conftest import run
from .test_compose import COMPOSE

# What an operator adds from the Africa's Talking dashboard.
ACCOUNT = {"AT_USERNAME": "kalan-mali", "AT_API_KEY": "f3a9c1d27be84e06a5d9c4b1e7f20836"}


def write(path) -> dict:
    made = run("new-env.sh", path)
    assert made.returncode == 0, made.stderr
    assert "now set AT_USERNAME and AT_API_KEY" in made.stdout
    return dotenv_values(path)


def test_its_secrets_pass_productions_checks_once_the_account_is_set(tmp_path):
    values = write(tmp_path / ".env")
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert values["APP_ENV"] == "production"
    # The account is the operator's to fill: production names it until then.
    with pytest.raises(ConfigError, match="AT_USERNAME"):
        check_production(values)
    settings = {**values, **ACCOUNT, "DATABASE_URL": "postgresql://kalan:x@postgres/kalan",
                "REDIS_URL": "redis://redis:6379/0"}  # fmt: skip
    check_production(settings)
    config = validate(from_env(settings))
    assert config["PROXY_HOPS"] == 1 and len(config["REPORTER_KEY"]) == 1
    for name in ("SECRET_KEY", "WEBHOOK_TOKEN", "POSTGRES_PASSWORD"):
        assert re.fullmatch(r"[A-Za-z0-9_-]{64}", values[name]), name


def test_each_file_gets_secrets_of_its_own(tmp_path):
    first, second = write(tmp_path / "a.env"), write(tmp_path / "b.env")
    secrets = ("SECRET_KEY", "WEBHOOK_TOKEN", "REPORTER_KEY", "POSTGRES_PASSWORD")
    assert len({first[name] for name in secrets} | {second[name] for name in secrets}) == 8


def test_it_gives_every_variable_compose_requires_but_the_account(tmp_path):
    values = write(tmp_path / ".env")
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert {name for name in required if not values.get(name)} == set(ACCOUNT)
    # And a value or an empty line for every other it reads, so that .env shows them all.
    read = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    assert read - set(values) == set()


def test_it_never_overwrites_a_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("REPORTER_KEY=the-key-that-opens-the-numbers\n")
    made = run("new-env.sh", env)
    assert made.returncode == 1
    assert "exists; keep it" in made.stderr
    assert env.read_text() == "REPORTER_KEY=the-key-that-opens-the-numbers\n"
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
