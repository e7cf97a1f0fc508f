"""Expand and send a large campaign through the sandbox; print rates, peak memory, the ceiling."""

# Usage: python bench/campaign.py [--machine] [--sizes 10000,100000] [--ceiling-s 5]
# Each size runs in a fresh worker process, so its peak RSS is the worker's own. Then
# the HTTP client's ceiling: one process posting the same batches to the sandbox's
# Africa's Talking endpoint with requests, and no database, as fast as it can.
# The expansion's CPU time per recipient (the worker's, and on a PostgreSQL on this
# machine its server process's) says more than its rate on a machine shared with others.

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEXT = "Chaque enfant a sa place a l'ecole."
TARGET_SHARE = 0.75  # of the HTTP client's ceiling


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
        campaign = create(db, "bench", {"fr": TEXT}, {})
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
    cpu = process_cpu(pid)
    return None if cpu is None else (pid, cpu)


def process_cpu(pid: int) -> float | None:
    """Return a process's CPU seconds so far (user and system), or None if it is not on
    this machine (a database server elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def ceiling(base: str, batch: int, seconds: float, session: bool) -> dict:
    """Post the SDK's batch request to the sandbox for seconds; return SMS per second."""
    import requests

    http = requests.Session() if session else requests  # the SDK takes a new connection each time
    headers = {"Accept": "application/json", "User-Agent": "africastalking-python/2.0.0",
               "apiKey": "sandbox-key"}  # fmt: skip
    data = {"username": "sandbox", "to": ",".join(f"+2237{n:07d}" for n in range(batch)),
            "message": TEXT, "bulkSMSMode": 1, "enqueue": 1}  # fmt: skip
    sent, requests_made, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        reply = http.post(base + "/version1/messaging", headers=headers, data=data, timeout=10)
        if reply.status_code != 201:
            raise SystemExit(f"bench: the sandbox answered {reply.status_code}: {reply.text[:200]}")
        sent += len(reply.json()["SMSMessageData"]["Recipients"])
        requests_made += 1
    took = time.perf_counter() - start
    return {"sms_per_s": sent / took, "requests": requests_made, "seconds": took}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    parser.add_argument("--ceiling-s", type=float, default=5, help="seconds of each ceiling loop")
    parser.add_argument("--phase", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "worker":
        worker(args)
        return 0
    from common import gunicorn, prefix, save, services, verdict

    results: dict = {"sizes": {}, "batch": args.batch}
    with (
        services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label),
        gunicorn("sandbox:create_app()", ["--workers", "1", "--threads", "8"],
                 {**os.environ, "SANDBOX_DLR": "0"}) as sandbox,
    ):  # fmt: skip
        results["services"] = label
        for size in [int(s) for s in args.sizes.split(",")]:
            seed_contacts(db_url, size)
            config = {
                "REDIS_URL": redis_url,
                "DATABASE_URL": db_url,
                "REDIS_PREFIX": prefix(),
                "AT_API_BASE_URL": sandbox,
                "SMS_BATCH_SIZE": args.batch,
                "SMS_SEND_WINDOW": "always",
            }
            out = subprocess.run(
                [sys.executable, __file__, "--phase", "worker", "--config", json.dumps(config)],
                capture_output=True, text=True, check=True, cwd=ROOT,
            )  # fmt: skip
            results["sizes"][size] = json.loads(out.stdout.strip().splitlines()[-1])
        results["ceiling"] = {
            "post": ceiling(sandbox, args.batch, args.ceiling_s, session=False),
            "session": ceiling(sandbox, args.batch, args.ceiling_s, session=True),
        }
    print(f"campaign ({label}; batches of {args.batch}, the sandbox on gunicorn, 1 worker)")
    print(f"{'recipients':>10}{'expand/s':>11}{'send/s':>10}{'peak RSS MB':>13}"
          f"{'expand CPU us/rcpt (worker+db)':>32}")  # fmt: skip
    for size, r in results["sizes"].items():
        assert r["sent"] == size, r
        r["expand_per_s"], r["send_per_s"] = size / r["expand_s"], size / r["send_s"]
        server = r["expand_db_cpu_s"]
        cpu = f"{r['expand_cpu_s'] / size * 1e6:.1f}+" + (
            "?" if server is None else f"{server / size * 1e6:.1f}"
        )
        print(f"{size:>10}{r['expand_per_s']:>11.0f}{r['send_per_s']:>10.0f}"
              f"{r['peak_rss_mb']:>13.1f}{cpu:>32}")  # fmt: skip
    sizes = sorted(results["sizes"])
    if len(sizes) > 1:
        small, large = results["sizes"][sizes[0]], results["sizes"][sizes[-1]]
        print(f"memory ratio ({sizes[-1]} vs {sizes[0]} recipients): "
              f"{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}")  # fmt: skip
    post, kept = results["ceiling"]["post"], results["ceiling"]["session"]
    top = results["ceiling"]["sms_per_s"] = max(post["sms_per_s"], kept["sms_per_s"])
    largest = results["sizes"][sizes[-1]]
    share = results["send_share"] = largest["send_per_s"] / top
    print(f"HTTP client ceiling (one process, requests, batches of {args.batch}, no database): "
          f"{post['sms_per_s']:.0f} SMS/s with requests.post, as the SDK, "
          f"{kept['sms_per_s']:.0f} with one requests.Session")  # fmt: skip
    met = verdict(share >= TARGET_SHARE)
    print(f"send at {sizes[-1]} recipients: {largest['send_per_s']:.0f}/s, {share:.0%} of the "
          f"ceiling's {top:.0f}/s (target >= {TARGET_SHARE:.0%}: {met})")  # fmt: skip
    save("campaign", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
