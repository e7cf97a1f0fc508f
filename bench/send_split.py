"""Where a batch's time goes as one worker sends a campaign: our parts, PostgreSQL, the sandbox."""

# Usage: python bench/send_split.py [--machine] [--size 20000] [--batch 100]
# One process sends a campaign through the sandbox, as bench/send_profile.py does, with
# each part of the Sender timed (wall and this thread's CPU): the choice, the start, the
# provider request (the HTTP client), the record, and the Redis scripts (throttle,
# circuit). Beside them, the CPU of the session's PostgreSQL backend (when it runs on
# this machine) and of the sandbox's gunicorn processes over the same send. Then the
# HTTP client alone, as in bench/campaign.py's ceiling. Figures per batch, in ms.

import functools
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from campaign import TEXT, ceiling, server_cpu  # noqa: E402
from cpu_split import serving_cpu  # noqa: E402
from send_profile import sending, sending_arguments  # noqa: E402

SPENT: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])  # part -> wall, cpu, calls


def timed(part: str, function):
    """Return function, its wall and CPU time added to SPENT[part]."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = SPENT[part]
            spent[0] += time.perf_counter() - wall
            spent[1] += time.thread_time() - cpu
            spent[2] += 1

    return wrapper


def send(config: dict, sandbox: str) -> dict:
    """Expand and send a campaign with each part timed; return the split."""
    from sqlalchemy import func, select

    from app import create_app
    from app.infra.models import Message
    from app.messaging import claims, sender
    from app.messaging.campaigns.creation import create
    from app.messaging.campaigns.expansion import expand
    from app.messaging.routing import Routing
    from app.messaging.throttle import Throttle

    app = create_app(config)
    with app.app_context(), app.extensions["db"]() as db:
        campaign = create(db, "bench", {"fr": TEXT}, {})
        db.commit()
        expand(db, campaign.id, app.config)
        for name in ("choose", "start", "record"):
            setattr(claims, name, timed(name, getattr(claims, name)))
        routing = app.extensions["routing"]
        for gateway in routing.gateways.values():
            gateway.send = timed("request", gateway.send)
        Routing.sent = timed("redis", Routing.sent)
        Throttle.try_acquire = timed("redis", Throttle.try_acquire)
        throttle = Throttle(app.extensions["redis"], app.config["REDIS_PREFIX"] + "t", 10**6)
        worker = sender.Sender(db, routing, lambda provider: throttle, app.config)
        worker.run(budget_s=0.01)  # connected, and the backend that serves the session known
        before = server_cpu(db)
        box, wall, cpu = (
            sum(serving_cpu(sandbox).values()),
            time.perf_counter(),
            time.process_time(),
        )
        SPENT.clear()
        while worker.run(budget_s=3600).claimed:
            pass
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after, box = server_cpu(db), sum(serving_cpu(sandbox).values()) - box
        sent = db.scalar(select(func.count()).where(Message.status == "sent"))
    same = before and after and before[0] == after[0]
    return {"sent": sent, "wall": wall, "cpu": cpu, "sandbox": box,
            "postgres": after[1] - before[1] if same else None}  # fmt: skip


def main() -> int:
    parser = sending_arguments(__doc__, 20000)
    parser.add_argument("--ceiling-s", type=float, default=5)
    args = parser.parse_args()
    with sending(args) as (config, sandbox, label):
        run = send(config, sandbox)
        box = sum(serving_cpu(sandbox).values())
        top = max(ceiling(sandbox, args.batch, args.ceiling_s, session=s)["sms_per_s"]
                  for s in (False, True))  # fmt: skip
        box = sum(serving_cpu(sandbox).values()) - box
    batches = run["sent"] / args.batch
    per = 1000 / batches  # ms per batch
    print(f"send split ({label}; {run['sent']} sent in batches of {args.batch}; ms per batch)")
    print(f"{'part':<12}{'wall':>8}{'CPU':>8}")
    ours_wall, ours_cpu = run["wall"], run["cpu"]
    for part, (wall, cpu, _calls) in sorted(SPENT.items()):
        # The request runs in a thread of its own, beside the rest: its wall time is not
        # the worker's, whose main thread waits only for what is left of it.
        aside = part == "request"
        print(f"{part:<12}{wall * per:>8.2f}{cpu * per:>8.2f}" + "  (in its own thread)" * aside)
        ours_wall -= 0 if aside else wall
        ours_cpu -= cpu
    print(f"{'the rest':<12}{ours_wall * per:>8.2f}{ours_cpu * per:>8.2f}  "
          "(routing, chunks, tally; waiting for the request)")  # fmt: skip
    print(f"{'worker':<12}{run['wall'] * per:>8.2f}{run['cpu'] * per:>8.2f}  "
          f"({run['sent'] / run['wall']:.0f} SMS/s)")  # fmt: skip
    pg = "?" if run["postgres"] is None else f"{run['postgres'] * per:.2f}"
    print(f"PostgreSQL backend CPU: {pg}; sandbox CPU: {run['sandbox'] * per:.2f}")
    print(f"HTTP client ceiling: {top:.0f} SMS/s ({args.batch * 1000 / top:.2f} ms a batch); "
          f"the sandbox's CPU then: {box / (top * args.ceiling_s * 2 / args.batch) * 1000:.2f}"
          " ms a batch")  # fmt: skip
    print(
        f"send/s: {run['sent'] / run['wall']:.0f}, {run['sent'] / run['wall'] / top:.0%} "
        "of the ceiling"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
