"""What the benchmarks share: the services they run on, gunicorn, wrk, and the results folder."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

from sandbox.embedded import EmbeddedRedis, free_port  # noqa: E402

# The webhook token every bench request carries: long and varied enough for production's check.
TOKEN = "bench-3f9c2a7e5d1b8046c9e2f7a1d4b3c8e5f0a9d6b2"
MACHINE_REDIS = "redis://127.0.0.1:6379/0"
MACHINE_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def answers(host: str, port: int) -> bool:
    """Return True when something listens on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def services(redis_url: str | None, database_url: str | None, machine: bool):
    """Yield (redis_url, database_url, label) for a run, and clean up what it made."""
    # With machine=True, the machine's Redis and PostgreSQL when they answer (a database
    # of the run's own, dropped at the end), as in production; otherwise an embedded
    # Redis and a SQLite file, as `make run` uses.
    from sqlalchemy import create_engine, text

    from app.infra.db import make_engine
    from app.infra.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        if not redis_url and machine and answers("127.0.0.1", 6379):
            redis_url = MACHINE_REDIS
        if redis_url:  # a shared Redis: the run's own keys go at the end
            stack.callback(forget, redis_url)
        else:
            server = EmbeddedRedis(Path(tmp) / "redis").start()
            stack.callback(server.stop)
            redis_url = server.url
        if not database_url and machine and answers("127.0.0.1", 5432):
            name = f"kalan_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(MACHINE_POSTGRES, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))

            def drop():
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            stack.callback(drop)
            database_url = MACHINE_POSTGRES.rsplit("/", 1)[0] + f"/{name}"
        if not database_url:
            database_url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(database_url)
        upgrade(engine)
        engine.dispose()
        kind = "PostgreSQL" if database_url.startswith("postgresql") else "SQLite"
        label = f"Redis {redis_url.rsplit('@', 1)[-1]}, {kind}"
        yield redis_url, database_url, label


# The key prefixes prefix() gave out in this process: forget() deletes those only, as
# the shared Redis may hold another run's keys (a benchmark running in another terminal).
ISSUED: list[str] = []


def forget(redis_url: str) -> None:
    """Delete what this process's benchmarks left in a shared Redis: sessions, queues, jobs."""
    from redis import Redis

    # Each prefix is bench:<random>:; RQ spells it in its job ids with "-" for ":".
    redis = Redis.from_url(redis_url)
    patterns = [p for issued in ISSUED for p in (f"{issued}*", f"rq:*{issued}*",
                                                   f"rq:*{issued.replace(':', '-')}*")]  # fmt: skip
    for pattern in patterns:
        batch = []
        for key in redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) == 1000:
                redis.delete(*batch)
                batch = []
        if batch:
            redis.delete(*batch)
    queues = [q for q in redis.smembers("rq:queues") if any(p.encode() in q for p in ISSUED)]
    if queues:
        redis.srem("rq:queues", *queues)
    redis.close()


def prefix() -> str:
    """Return a new key prefix of this run's, which forget() will delete."""
    issued = f"bench:{uuid.uuid4().hex[:8]}:"
    ISSUED.append(issued)
    return issued


def environment(redis_url: str, database_url: str, **extra) -> dict:
    """Return the environment of a production-like Kalan process on these services."""
    return {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "WEBHOOK_TOKEN": TOKEN,
        "METRICS_TOKEN": "bench-metrics-" + uuid.uuid4().hex,
        "REPORTER_KEY": Fernet.generate_key().decode(),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "REDIS_PREFIX": prefix(),
        # Production refuses the sandbox's account; nothing is sent during a USSD bench.
        "AT_USERNAME": "bench-account",
        "AT_API_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "AT_API_BASE_URL": "",
        **extra,
    }


def in_process(redis_url: str, database_url: str) -> dict:
    """Return the settings of a Kalan app built in this process on these services, as the
    profiles use it: its own key prefix, the bench's webhook token, not in testing mode."""
    env = environment(redis_url, database_url)
    config = {key: env[key] for key in ("REDIS_URL", "DATABASE_URL", "REDIS_PREFIX")}
    return {**config, "WEBHOOK_TOKEN": TOKEN, "TESTING": False}


@contextlib.contextmanager
def gunicorn(app: str, settings: list[str], env: dict, cwd: Path = ROOT):
    """Serve app ("module:factory()") with gunicorn settings; yield its base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", *settings,
         "--no-control-socket", "--log-level", "warning", app],
        env=env, cwd=cwd,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(base + "/healthz", timeout=2)
                break
            except requests.RequestException:  # not listening yet
                if server.poll() is not None:
                    raise RuntimeError(
                        f"gunicorn for {app} exited with {server.returncode}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def ensure_wrk() -> str:
    """Return wrk's path, installing Debian's package when missing and allowed."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
            subprocess.run(step, env=env, capture_output=True, timeout=600, check=False)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench: wrk is needed (Debian: apt-get install wrk)")
    return found


def median(values: list[float]) -> float:
    """Return the median of values (the mean of the middle two for an even count)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def verdict(met: bool) -> str:
    """Return how a figure stands against its target, in one word."""
    return "met" if met else "missed"


def save(name: str, data) -> Path:
    """Write results as bench/results/<name>.json and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path
