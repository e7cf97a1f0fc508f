"""Expand and send a large campaign through the sandbox; print rates and peak memory.

Usage: python bench/campaign.py [--sizes 10000,100000] [--database-url URL] [--redis-url URL]
Each size runs in a fresh worker process, so its peak RSS is the worker's own.
Its contacts and outbox are emptied first: give --database-url a database of its own.
The expansion's CPU time per recipient (the worker's, and on a PostgreSQL on this
machine its server process's) says more than its rate on a machine shared with others.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(args) -> None:
    """Expand then send one campaign; print timings and peak RSS as JSON."""
    from sqlalchemy import func, select

    from app import create_app
    from app.infra.models import Message
    from app.messaging.campaigns.creation import create
    from app.messaging.campaigns.expansion import expand
    from app.messaging.sender import Sender
    from app.messaging.throttle import Throttle

    app = create_app(json.loads(args.config))
    with app.app_context(), app.extensions["db"]() as db:
        start = time.perf_counter()
        campaign = create(db, "bench", {"fr": "Chaque enfant a sa place a l'ecole."}, {})
        db.commit()
        cpu, before = time.process_time(), server_cpu(db)
        expand(db, campaign.id, app.config)
        expanded = time.perf_counter()
        cpu, after = time.process_time() - cpu, server_cpu(db)
        # One server process throughout, or its time is not the expansion's alone.
        same = before and after and before[0] == after[0]
        server = after[1] - before[1] if same else None
        throttle = Throttle(app.extensions["redis"], app.config["REDIS_PREFIX"] + "t", 10**6)
        sender = Sender(db, app.extensions["routing"], lambda provider: throttle, app.config)
        sent = 0
        while True:
            tally = sender.run(budget_s=3600)
            sent += tally.sent
            if not tally.claimed:
                break
        done = time.perf_counter()
        rows = db.scalar(select(func.count()).where(Message.status == "sent"))
    print(
        json.dumps(
            {
                "recipients": campaign.recipients,
                "sent": rows,
                "expand_s": expanded - start,
                "send_s": done - expanded,
                "expand_cpu_s": cpu,
                "expand_db_cpu_s": server,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def server_cpu(db) -> tuple[int, float] | None:
    """Return the session's PostgreSQL process and its CPU seconds so far, if readable here."""
    from sqlalchemy import text

    if db.get_bind().dialect.name != "postgresql":
        return None
    pid = db.scalar(text("SELECT pg_backend_pid()"))
    db.commit()
    try:  # only for a server on this machine
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed_contacts(url: str, count: int) -> None:
    """Insert count contacts, fast, in chunks."""
    from sqlalchemy import delete, insert, text

    from app.infra.db import make_engine
    from app.infra.models import Contact, Message, utcnow

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(delete(Message))
        conn.execute(delete(Contact))
        now = utcnow()
        for first in range(0, count, 10_000):
            rows = [
                {"phone": f"+2237{n:07d}", "role": "community", "language": "fr", "created_at": now}
                for n in range(first, min(count, first + 10_000))
            ]
            conn.execute(insert(Contact), rows)
    if engine.dialect.name == "postgresql":
        # What the rows deleted above leave behind would slow the next run's look-ups,
        # and a server may run without autovacuum (this machine's does): each run
        # starts from tables vacuumed and analyzed, whatever ran before.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE contacts, outbox"))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--phase", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "worker":
        worker(args)
        return 0
    from app.infra.db import make_engine
    from app.infra.migrate import upgrade
    from sandbox.embedded import EmbeddedRedis, free_port

    with tempfile.TemporaryDirectory() as tmp:
        redis = None if args.redis_url else EmbeddedRedis(Path(tmp) / "redis").start()
        redis_url = args.redis_url or redis.url
        db_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        upgrade(make_engine(db_url))
        port = free_port()
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "8", "--no-control-socket", "--log-level", "warning",
             "sandbox:create_app()"],
            env={**os.environ, "SANDBOX_DLR": "0"}, cwd=ROOT,
        )  # fmt: skip
        time.sleep(1.5)
        results = {}
        try:
            for size in [int(s) for s in args.sizes.split(",")]:
                seed_contacts(db_url, size)
                config = {
                    "REDIS_URL": redis_url,
                    "DATABASE_URL": db_url,
                    "REDIS_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:",
                    "AT_API_BASE_URL": f"http://127.0.0.1:{port}",
                    "SMS_BATCH_SIZE": args.batch,
                    "SMS_SEND_WINDOW": "always",
                }
                out = subprocess.run(
                    [sys.executable, __file__, "--phase", "worker", "--config", json.dumps(config)],
                    capture_output=True, text=True, check=True, cwd=ROOT,
                )  # fmt: skip
                results[size] = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            sandbox.terminate()
            sandbox.wait()
            if redis:
                redis.stop()
    print(f"{'recipients':>10}{'expand/s':>11}{'send/s':>10}{'peak RSS MB':>13}"
          f"{'expand CPU us/rcpt (worker+db)':>32}")  # fmt: skip
    for size, r in results.items():
        assert r["sent"] == size, r
        server = r["expand_db_cpu_s"]
        cpu = f"{r['expand_cpu_s'] / size * 1e6:.1f}+" + (
            "?" if server is None else f"{server / size * 1e6:.1f}"
        )
        print(
            f"{size:>10}{size / r['expand_s']:>11.0f}{size / r['send_s']:>10.0f}"
            f"{r['peak_rss_mb']:>13.1f}{cpu:>32}"
        )
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(
            f"memory ratio ({sizes[-1]} vs {sizes[0]} recipients): "
            f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "campaign.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
