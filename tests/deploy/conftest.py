"""Deployment: the scripts under deploy/ run as an operator runs them, on real servers."""

import os
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.infra.config import ROOT
from app.infra.db import make_engine

DEPLOY = ROOT / "deploy"
# The worker's stop_grace_period in compose.yaml: past it, Docker kills.
GRACE_S = 90
# An idle worker's own stop: RQ's listener for commands ends within a second (workers/).
IDLE_STOP_S = 15
# The variables a script may read from the test's own shell: none may leak in.
LIBPQ = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "DATABASE_URL")


def script_env(**variables) -> dict:
    """Return the environment for a script: the test's, minus any database, plus these."""
    env = {k: v for k, v in os.environ.items() if k not in LIBPQ}
    env.update({k: str(v) for k, v in variables.items()})
    return env


def run(name: str, *args, **variables) -> subprocess.CompletedProcess:
    """Run deploy/NAME with ARGS and these variables; return its result, output as text."""
    return subprocess.run(
        [str(DEPLOY / name), *map(str, args)],
        env=script_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def postgres_url():
    """Return TEST_DATABASE_URL, a PostgreSQL server; skip without one or its client tools."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql")):
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL (.ci/run does when one answers)")
    missing = [t for t in ("pg_dump", "pg_restore", "psql") if not shutil.which(t)]
    if missing:
        pytest.skip(f"needs PostgreSQL's client tools: {', '.join(missing)} missing")
    return url


@pytest.fixture(scope="module")
def databases(postgres_url):
    """Create two databases on the test server for a module, and drop them after it."""
    admin = create_engine(make_engine(postgres_url).url, isolation_level="AUTOCOMMIT")
    names = [f"kalan_backup_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield [make_url(postgres_url).set(database=n).render_as_string(hide_password=False)
           for n in names]  # fmt: skip
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def emptied(url: str) -> str:
    """Empty a database of everything a test left in it (dropping one is slow); return its URL."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture
def source(databases):
    """An empty database for a test to fill and back up."""
    return emptied(databases[0])


@pytest.fixture
def target(databases):
    """An empty database for a test to restore into."""
    return emptied(databases[1])


def libpq(url: str) -> dict:
    """Return libpq's variables (PGHOST...) naming the database of a URL, as compose sets them."""
    parts = make_url(url)
    found = {"PGHOST": parts.host, "PGPORT": parts.port, "PGUSER": parts.username,
             "PGPASSWORD": parts.password, "PGDATABASE": parts.database}  # fmt: skip
    return {k: v for k, v in found.items() if v is not None}
