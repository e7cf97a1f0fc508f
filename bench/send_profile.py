"""Profile the Sender in-process: CPU per message sent, against the bare HTTP client's."""

# Usage: python bench/send_profile.py [--machine] [--size 10000] [--top 25] [--sort tottime]
# One process: it seeds contacts, expands a campaign, then sends it through the sandbox
# under cProfile, timing the CPU this process spent (time.process_time: the machine is
# shared, wall rates are noisy). Then the HTTP client alone: the same batches posted
# with requests.post, as the SDK posts them, and no database. Both figures come from
# the same run, so a change's before and after compare on the same footing.

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from campaign import TEXT, seed_contacts  # noqa: E402
from common import gunicorn, prefix, services  # noqa: E402


@contextlib.contextmanager
def sending(args):
    """Yield the settings of an app that sends args.size contacts' campaign through a
    sandbox of its own, the sandbox's URL, and the services' label."""
    with (
        services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label),
        gunicorn("sandbox:create_app()", ["--workers", "1", "--threads", "8"],
                 {**os.environ, "SANDBOX_DLR": "0"}) as sandbox,
    ):  # fmt: skip
        seed_contacts(db_url, args.size)
        config = {"REDIS_URL": redis_url, "DATABASE_URL": db_url, "REDIS_PREFIX": prefix(),
                  "AT_API_BASE_URL": sandbox, "SMS_BATCH_SIZE": args.batch,
                  "SMS_SEND_WINDOW": "always"}  # fmt: skip
        yield config, sandbox, label


def send_cpu(config: dict, top: int, sort: str) -> tuple[float, int, float, str]:
    """Expand and send a campaign; return CPU s per message, messages, wall s, the profile."""
    from sqlalchemy import func, select

    from app import create_app
    from app.infra.models import Message
    from app.messaging.campaigns.creation import create
    from app.messaging.campaigns.expansion import expand
    from app.messaging.sender import Sender
    from app.messaging.throttle import Throttle

    app = create_app(config)
    with app.app_context(), app.extensions["db"]() as db:
        campaign = create(db, "bench", {"fr": TEXT}, {})
        db.commit()
        expand(db, campaign.id, app.config)
        throttle = Throttle(app.extensions["redis"], app.config["REDIS_PREFIX"] + "t", 10**6)
        sender = Sender(db, app.extensions["routing"], lambda provider: throttle, app.config)
        profile = cProfile.Profile(time.process_time)  # CPU, not waits: the machine is shared
        wall, cpu = time.perf_counter(), time.process_time()
        if top:
            profile.enable()
        while sender.run(budget_s=3600).claimed:
            pass
        profile.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        sent = db.scalar(select(func.count()).where(Message.status == "sent"))
    out = io.StringIO()
    if top:
        pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(top)
    return cpu / max(1, sent), sent, wall, out.getvalue()


def client_cpu(base: str, batch: int, requests_made: int) -> float:
    """Post requests_made batches as the SDK does; return CPU s per message."""
    import requests

    headers = {"Accept": "application/json", "User-Agent": "africastalking-python/2.0.0",
               "apiKey": "sandbox-key"}  # fmt: skip
    data = {"username": "sandbox", "to": ",".join(f"+2237{n:07d}" for n in range(batch)),
            "message": TEXT, "bulkSMSMode": 1, "enqueue": 1}  # fmt: skip
    sent, cpu = 0, time.process_time()
    for _ in range(requests_made):
        reply = requests.post(base + "/version1/messaging", headers=headers, data=data, timeout=10)
        sent += len(reply.json()["SMSMessageData"]["Recipients"])
    return (time.process_time() - cpu) / sent


def sending_arguments(doc: str, size: int) -> argparse.ArgumentParser:
    """Return a parser of what every sandboxed send takes: its size, batch and services."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--size", type=int, default=size)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    return parser


def main() -> int:
    parser = sending_arguments(__doc__, 10000)
    parser.add_argument("--top", type=int, default=25, help="profile lines shown (0: no profiler)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    args = parser.parse_args()
    with sending(args) as (config, sandbox, label):
        per_message, sent, wall, profile = send_cpu(config, args.top, args.sort)
        client = client_cpu(sandbox, args.batch, max(20, args.size // args.batch // 2))
    if args.top:
        print(profile)
    print(f"send profile ({label}; {sent} sent in batches of {args.batch}, {wall:.1f} s wall)")
    print(
        f"sender CPU per message: {per_message * 1e6:8.1f} us "
        + (" (under cProfile)" if args.top else "")
    )
    print(f"client CPU per message: {client * 1e6:8.1f} us (requests.post, no database)")
    print(f"client share of the sender's CPU: {client / per_message:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
