"""The send's floor: the outbox protocol's SQL and the provider request, with none of our layers."""

# Usage: python bench/send_floor.py [--machine] [--size 20000] [--batch 100] [--rounds 3]
# A campaign is expanded into the outbox as bench/send_split.py does. Then, in turns, each
# sends a campaign of that size: the Sender; a bare loop, psycopg and requests only, with
# the statements the protocol needs (a locked choice, a start that waits for the disk at
# commit, the request in a thread of its own, the last record written while it is out, as
# the Sender does); and the bare loop again with a start that does not wait for the disk.
# Then the HTTP client alone (bench/campaign.py's ceiling). What the bare loop misses of
# the ceiling is the protocol's, on this machine; what the Sender misses of the bare loop
# is ours. Figures in SMS per second and ms of CPU a batch (this process, and PostgreSQL's
# backend when it runs here).

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from campaign import TEXT, ceiling, server_cpu  # noqa: E402
from send_profile import sending, sending_arguments  # noqa: E402

# The checks the protocol makes (its campaign still running; at the start, its phone not
# opted out nor unreachable), written plainly.
LIVE = """(campaign_id IS NULL OR campaign_id IN
(SELECT id FROM campaigns WHERE status IN ('sending', 'expanding')))"""
CHOOSE = f"""SELECT id, phone FROM outbox WHERE status = 'queued' AND not_before <= now()
AND {LIVE} ORDER BY urgent, id LIMIT %s FOR UPDATE OF outbox SKIP LOCKED"""
START = f"""UPDATE outbox SET status = 'sending', lease_owner = %s, provider = 'africastalking',
lease_until = now() + interval '60 seconds' WHERE id = ANY(%s) AND status = 'queued'
AND not_before <= now() AND {LIVE} AND NOT EXISTS (SELECT 1 FROM contacts c
WHERE c.phone = outbox.phone AND (c.opted_out_at IS NOT NULL OR c.unreachable_at IS NOT NULL))"""
RECORD = """UPDATE outbox SET status = 'sent', sent_at = now(), provider_id = u.pid,
cost = u.cost, lease_owner = NULL, lease_until = NULL FROM unnest(%s::int[], %s::text[],
%s::text[]) AS u(id, pid, cost) WHERE outbox.id = u.id AND outbox.lease_owner = %s
AND outbox.status = 'sending'"""
HEADERS = {"Accept": "application/json", "apiKey": "sandbox-key"}
# The Sender; the bare loop; the bare loop whose start does not wait for the disk.
NAMES = ("kalan", "bare", "bare-nowait")


def expanded(app) -> int:
    """Expand a campaign to every seeded contact; return its id."""
    from app.messaging.campaigns.creation import create
    from app.messaging.campaigns.expansion import expand

    with app.app_context(), app.extensions["db"]() as db:
        campaign = create(db, "bench", {"fr": TEXT}, {})
        db.commit()
        expand(db, campaign.id, app.config)
        return campaign.id


def bare(dsn: str, base: str, batch: int, durable: bool = True) -> dict:
    """Send every queued row with the protocol's statements alone; return the figures.
    Not durable, the start does not wait for the disk either: what that rule costs."""
    import psycopg
    import requests

    http, owner = requests.Session(), uuid.uuid4().hex

    def ask(rows):
        data = {"username": "sandbox", "to": ",".join(r[1] for r in rows), "message": TEXT,
                "bulkSMSMode": 1, "enqueue": 1}  # fmt: skip
        reply = http.post(base + "/version1/messaging", headers=HEADERS, data=data, timeout=10)
        return rows, reply.json()["SMSMessageData"]["Recipients"]

    def record(cur, asked) -> int:
        rows, recipients = asked.result()
        by_phone = {r["number"]: r for r in recipients}
        ids = [r[0] for r in rows]
        pids = [by_phone[r[1]]["messageId"] for r in rows]
        costs = [by_phone[r[1]]["cost"] for r in rows]
        cur.execute("SET LOCAL synchronous_commit = off")  # as the Sender's record: NO_WAIT
        cur.execute(RECORD, (ids, pids, costs, owner))
        cur.connection.commit()
        return len(rows)

    with psycopg.connect(dsn) as conn, conn.cursor() as cur, ThreadPoolExecutor(1) as thread:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
        before, sent, out = _backend_cpu(pid), 0, None
        wall, cpu = time.perf_counter(), time.process_time()
        while True:
            if out is not None:
                out.result()  # the last request answers before anything is started
            if not durable:
                cur.execute("SET LOCAL synchronous_commit = off")
            rows = cur.execute(CHOOSE, (batch,)).fetchall()
            if rows:
                cur.execute(START, (owner, [r[0] for r in rows]))
            conn.commit()  # waits for the disk: the rows are sending before they leave
            last, out = out, thread.submit(ask, rows) if rows else None
            if last is not None:
                sent += record(cur, last)
            if out is None:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = _backend_cpu(pid)
    pg = None if before is None or after is None else after - before
    return {"sent": sent, "wall": wall, "cpu": cpu, "postgres": pg}


def _backend_cpu(pid: int) -> float | None:
    """Return a local PostgreSQL backend's CPU seconds, or None if it is not on this machine."""
    import os

    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sender(app) -> dict:
    """Send every queued row with the Sender; return the figures."""
    from app.messaging.sender import Sender
    from app.messaging.throttle import Throttle

    with app.app_context(), app.extensions["db"]() as db:
        throttle = Throttle(app.extensions["redis"], app.config["REDIS_PREFIX"] + "t", 10**6)
        worker = Sender(db, app.extensions["routing"], lambda provider: throttle, app.config)
        worker.run(budget_s=0.01)  # connected, and the backend that serves the session known
        before = server_cpu(db)
        wall, cpu, sent = time.perf_counter(), time.process_time(), 0
        while tally := worker.run(budget_s=3600):
            sent += tally.sent
            if not tally.claimed:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = server_cpu(db)
    same = before and after and before[0] == after[0]
    pg = after[1] - before[1] if same else None
    return {"sent": sent, "wall": wall, "cpu": cpu, "postgres": pg}


def main() -> int:
    parser = sending_arguments(__doc__, 20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ceiling-s", type=float, default=5)
    args = parser.parse_args()
    from app import create_app

    with sending(args) as (config, sandbox, label):
        app = create_app(config)
        dsn = app.extensions["engine"].url.render_as_string(hide_password=False)
        dsn = dsn.replace("postgresql+psycopg://", "postgresql://")
        if not dsn.startswith("postgresql://"):
            raise SystemExit("bench: the floor needs PostgreSQL (--machine, or --database-url)")
        runs: dict[str, list] = {name: [] for name in (*NAMES, "ceiling")}
        for n in range(args.rounds):
            for name in NAMES[n % 3 :] + NAMES[: n % 3]:  # in an order rotated every round
                expanded(app)
                if name == "kalan":
                    run = sender(app)
                else:
                    run = bare(dsn, sandbox, args.batch, durable=name == "bare")
                runs[name].append(run)
            top = ceiling(sandbox, args.batch, args.ceiling_s, session=True)["sms_per_s"]
            runs["ceiling"].append(top)
    print(f"send floor ({label}; {args.size} recipients a run, batches of {args.batch}, "
          f"{args.rounds} rounds in turns)")  # fmt: skip
    print(f"{'':<10}{'SMS/s by round':>30}{'median':>9}{'CPU ms/batch':>14}{'PG ms/batch':>13}")
    medians = {}
    for name in NAMES:
        rates = [r["sent"] / r["wall"] for r in runs[name]]
        medians[name] = sorted(rates)[len(rates) // 2]
        batches = [r["sent"] / args.batch for r in runs[name]]
        cpu = sorted(r["cpu"] * 1000 / b for r, b in zip(runs[name], batches, strict=True))
        pgs = sorted(r["postgres"] * 1000 / b for r, b in zip(runs[name], batches, strict=True)
                     if r["postgres"] is not None)  # fmt: skip
        pg = f"{pgs[len(pgs) // 2]:.2f}" if pgs else "?"
        shown = " ".join(f"{rate:>9.0f}" for rate in rates)
        print(f"{name:<10}{shown:>30}{medians[name]:>9.0f}{cpu[len(cpu) // 2]:>14.2f}{pg:>13}")
    tops = sorted(runs["ceiling"])
    top = tops[len(tops) // 2]
    print(f"{'ceiling':<10}{' '.join(f'{t:>9.0f}' for t in runs['ceiling']):>30}{top:>9.0f}")
    kalan, floor = medians["kalan"], medians["bare"]
    print(f"bare/ceiling {floor / top:.2f}; kalan/bare {kalan / floor:.2f}; "
          f"kalan/ceiling {kalan / top:.2f}; bare-nowait/ceiling "
          f"{medians['bare-nowait'] / top:.2f}")  # fmt: skip
    from common import save

    save("send_floor", {"services": label, "size": args.size, "batch": args.batch,
                        "medians": medians, "ceiling": top,
                        "runs": {name: runs[name] for name in NAMES}})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
