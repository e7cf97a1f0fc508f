"""A campaign at a rate of its own, end to end: print how long it took against recipients / rate."""

# Usage: python bench/campaign_rate.py [--recipients 100,301] [--rate 10] [--machine]
# For each size it seeds that many contacts, creates a campaign at --rate and starts it as
# `kalan campaign create` does, with a real worker, the clock and the sandbox as `make run`
# runs them; it times the campaign from its creation to its last send.

import argparse
import os
import subprocess
import sys
import time
from collections import Counter

from campaign import seed_contacts
from common import ROOT, gunicorn, prefix, save, services


def wait_for_worker(app, timeout_s: float = 60) -> None:
    """Return once a worker listens on the app's queue and has run its first tick."""
    from rq import Worker

    deadline = time.monotonic() + timeout_s
    while not Worker.count(queue=app.extensions["queue"]):
        if time.monotonic() > deadline:
            raise SystemExit("bench: no worker started")
        time.sleep(0.1)
    time.sleep(1)


def run_one(env: dict, database_url: str, recipients: int, rate: int) -> dict:
    """Send one campaign of recipients at rate through a worker; return its figures."""
    from sqlalchemy import select

    from app import create_app
    from app.infra.models import Campaign, Message, utcnow
    from app.messaging.campaigns.creation import create

    seed_contacts(database_url, recipients)
    names = ("REDIS_URL", "DATABASE_URL", "REDIS_PREFIX", "AT_API_BASE_URL", "SMS_SEND_WINDOW")
    app = create_app({name: env[name] for name in names})
    workers = [
        subprocess.Popen([sys.executable, "-m", module], env=env, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for module in ("workers", "workers.clock")
    ]  # fmt: skip
    try:
        wait_for_worker(app)
        with app.app_context(), app.extensions["db"]() as db:
            campaign = create(db, "bench", {"fr": "Chaque enfant a sa place a l'ecole."}, {},
                              rate=rate)  # fmt: skip
            db.commit()
            created = utcnow()
            app.extensions["workers"].start_campaign(campaign.id, created, created)
            deadline = time.monotonic() + recipients / rate * 20 + 60
            while db.get(Campaign, campaign.id).status != "done":
                if time.monotonic() > deadline:
                    raise SystemExit(f"bench: the campaign of {recipients} did not finish")
                time.sleep(0.2)
                db.expire_all()
            sent = list(db.scalars(select(Message.sent_at).where(Message.status == "sent")))
    finally:
        for proc in workers:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        app.extensions["engine"].dispose()
    busiest = max(Counter(int((at - created).total_seconds()) for at in sent).values())
    return {
        "recipients": recipients,
        "rate": rate,
        "sent": len(sent),
        "target_s": recipients / rate,
        "first_s": (min(sent) - created).total_seconds(),
        "took_s": (max(sent) - created).total_seconds(),
        "busiest_second": busiest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", default="100,301")
    parser.add_argument("--rate", type=int, default=10)
    parser.add_argument("--machine", action="store_true", help="the machine's Redis, PostgreSQL")
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    results = []
    chosen = services(args.redis_url, args.database_url, args.machine)
    with chosen as (redis_url, database_url, label):
        sandbox_env = {**os.environ, "SANDBOX_DLR": "0"}
        with gunicorn("sandbox:create_app()", ["--workers", "1", "--threads", "8"], sandbox_env) \
                as sandbox:  # fmt: skip
            for size in [int(s) for s in args.recipients.split(",")]:
                env = {
                    **os.environ,
                    "APP_ENV": "development",
                    "REDIS_URL": redis_url,
                    "DATABASE_URL": database_url,
                    "REDIS_PREFIX": prefix(),
                    "AT_API_BASE_URL": sandbox,
                    "SMS_SEND_WINDOW": "always",
                }
                results.append(run_one(env, database_url, size, args.rate))
    print(f"{label}; SMS_TICK_S {os.environ.get('SMS_TICK_S') or 10}")
    print(
        f"{'recipients':>10}{'rate/s':>8}{'target s':>10}{'first s':>9}{'took s':>8}{'ratio':>7}"
        f"{'max/s':>7}"
    )
    for r in results:
        assert r["sent"] == r["recipients"], r
        print(
            f"{r['recipients']:>10}{r['rate']:>8}{r['target_s']:>10.1f}{r['first_s']:>9.1f}"
            f"{r['took_s']:>8.1f}"
            f"{r['took_s'] / r['target_s']:>7.2f}{r['busiest_second']:>7}"
        )
    print("first: the first send after creation; ratio: took over target (recipients / rate)")
    save("campaign_rate", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
