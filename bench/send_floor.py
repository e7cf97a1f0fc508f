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
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from campaign import TEXT, ceiling, process_cpu, server_cpu  # noqa: E402
from send_profile import sending, sending_arguments  # noqa: E402

from app.infra.gateway import AT_HEADERS  # noqa: E402
from app.messaging.outbox import BULK_KINDS  # noqa: E402

# The Sender's statements (app/messaging/claims.py), written plainly: the same conditions,
# the same plans (the status compared in a form no index answers, the ids as an array the
# primary key answers), the same columns written, the same look for waiting reports.
BULK = ", ".join(f"'{kind}'" for kind in sorted(BULK_KINDS))
LIVE = "(SELECT id FROM campaigns WHERE status IN ('sending', 'expanding'))"
CHOOSE = f"""SELECT id, kind, phone, body, campaign_id, via, sender, attempts FROM outbox
WHERE status = 'queued' AND not_before <= now()
AND (campaign_id IS NULL OR campaign_id IN {LIVE}) AND urgent {{}}
ORDER BY urgent, id LIMIT %s FOR UPDATE OF outbox SKIP LOCKED"""
CHOOSE_URGENT, CHOOSE_OTHERS = CHOOSE.format(">= true"), CHOOSE.format("<= false")
START = f"""UPDATE outbox SET status = 'sending', lease_owner = %(owner)s,
provider = 'africastalking', lease_until = now() + interval '60 seconds'
WHERE id = ANY(%(ids)s::int[]) AND status || '' = 'queued'
AND not_before <= now() AND (kind NOT IN ({BULK}) OR NOT EXISTS (SELECT 1 FROM contacts c
WHERE c.phone = outbox.phone AND (c.opted_out_at IS NOT NULL OR c.unreachable_at IS NOT NULL)))
AND (campaign_id + 0 IS NULL OR campaign_id + 0 IN {LIVE}) {{}} RETURNING id"""
NO_WAIT = "AND set_config('synchronous_commit', 'off', true) = 'off'"
RECORD = f"""UPDATE outbox SET status = 'sent', sent_at = now(), provider_id = u.pid,
cost = %(cost)s, provider_parts = %(parts)s, lease_owner = NULL, lease_until = NULL,
status_code = %(code)s, provider_status = %(status)s
FROM unnest(%(ids)s::int[], %(pids)s::text[]) AS u(id, pid)
WHERE outbox.id = u.id AND outbox.id = ANY(%(ids)s::int[]) AND outbox.lease_owner = %(owner)s
AND outbox.status || '' = 'sending' {NO_WAIT}
RETURNING outbox.id, EXISTS (SELECT 1 FROM delivery_reports r WHERE
r.provider_id = outbox.provider_id AND r.applied IS false
AND (r.provider = outbox.provider OR r.provider IS NULL))"""
HEADERS = {**AT_HEADERS, "apiKey": "sandbox-key"}  # the adapter's own
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


def _ints(values: list[int]) -> str:
    """Return ids as one array literal, as the app binds them (app/infra/db.Listed)."""
    return "{" + ",".join(map(str, values)) + "}"


def _texts(values: list[str]) -> str:
    """Return plain words (provider ids) as one array literal, as the app binds them."""
    return '{"' + '","'.join(values) + '"}'


def bare(dsn: str, base: str, batch: int, durable: bool = True) -> dict:
    """Send every queued row with the protocol's statements alone; return the figures (a
    first batch, sent before the clock starts, warms the connection, as the Sender's warm-up
    does). Not durable, the start does not wait for the disk either: what that rule costs."""
    import orjson
    import psycopg
    import requests

    http, owner = requests.Session(), uuid.uuid4().hex
    start = START.format("" if durable else NO_WAIT)
    url, form = base + "/version1/messaging", urlencode([("username", "sandbox"),
        ("message", TEXT), ("bulkSMSMode", 1), ("enqueue", 1)])  # fmt: skip

    def ask(rows):
        """Post a batch as the app's adapter does (app/infra/gateway.py)."""
        body = "to=%2B" + "%2C%2B".join(r[2][1:] for r in rows) + "&" + form
        reply = http.post(url, headers=HEADERS, data=body.encode(), timeout=10)
        if reply.status_code != 201:
            raise SystemExit(f"bench: the sandbox answered {reply.status_code}")
        return rows, orjson.loads(reply.content)["SMSMessageData"]["Recipients"]

    def record(cur, asked) -> int:
        """Write a request's outcomes in one statement that commits on its own."""
        rows, recipients = asked.result()
        by_phone = {r["number"]: r for r in recipients}
        answers = [by_phone.get(r[2]) for r in rows]
        if not all(a and a["status"] == "Success" for a in answers):
            raise SystemExit("bench: the sandbox refused or left out a number")
        ids = _ints([r[0] for r in rows])
        params = {"ids": ids, "pids": _texts([a["messageId"] for a in answers]),
                  "cost": answers[0]["cost"], "parts": 1, "code": answers[0]["statusCode"],
                  "status": answers[0]["status"], "owner": owner}  # fmt: skip
        cur.connection.autocommit = True
        written = cur.execute(RECORD, params).fetchall()
        cur.connection.autocommit = False
        if any(waiting for _id, waiting in written):
            raise SystemExit("bench: a delivery report came first (the sandbox's are off)")
        return len(written)

    def started(cur, rows) -> list:
        """Start the chosen rows, and commit; return those the start took."""
        took = set()
        if rows:
            params = {"owner": owner, "ids": _ints([r[0] for r in rows])}
            took = {row[0] for row in cur.execute(start, params)}
        cur.connection.commit()  # durable: the rows are sending before they leave
        if rows and not took:
            raise SystemExit("bench: a batch was chosen and none of it could start")
        return [r for r in rows if r[0] in took]

    def chosen(cur) -> list:
        rows = cur.execute(CHOOSE_URGENT, (batch,)).fetchall()
        if len(rows) < batch:
            rows += cur.execute(CHOOSE_OTHERS, (batch - len(rows),)).fetchall()
        return rows

    # No server-side prepared statements: the app has none either (app/infra/db.py).
    with (
        psycopg.connect(dsn, prepare_threshold=None) as conn,
        conn.cursor() as cur,
        ThreadPoolExecutor(1) as thread,
    ):
        pid = cur.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.commit()
        first = started(cur, chosen(cur))
        if first:
            record(cur, thread.submit(ask, first))
        out, sent = None, 0
        wall, cpu, before = time.perf_counter(), time.process_time(), process_cpu(pid)
        while True:
            if out is not None:
                out.result()  # the last request answers before anything is started
            rows = started(cur, chosen(cur))
            last, out = out, thread.submit(ask, rows) if rows else None
            if last is not None:
                sent += record(cur, last)
            if out is None:
                break
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        after = process_cpu(pid)
    pg = None if before is None or after is None else after - before
    return {"sent": sent, "wall": wall, "cpu": cpu, "postgres": pg}


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


def emptied(dsn: str) -> None:
    """Empty the outbox and vacuum it, so that every run starts from the same table."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM outbox")
        conn.execute("VACUUM ANALYZE outbox")


def main() -> int:
    parser = sending_arguments(__doc__, 20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ceiling-s", type=float, default=5)
    args = parser.parse_args()
    from app import create_app

    with sending(args) as (config, sandbox, label):
        app = create_app(config)
        url = app.extensions["engine"].url
        if url.get_backend_name() != "postgresql":
            print("send floor: skipped (it needs PostgreSQL: --machine, or --database-url)")
            return 0
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        runs: dict[str, list] = {name: [] for name in (*NAMES, "ceiling")}
        for name in NAMES:  # a round not counted: every sender's process and caches warm
            emptied(dsn)
            expanded(app)
            if name == "kalan":
                sender(app)
            else:
                bare(dsn, sandbox, args.batch)
        for n in range(args.rounds):
            for name in NAMES[n % 3 :] + NAMES[: n % 3]:  # in an order rotated every round
                emptied(dsn)
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
    print(f"{'':<12}{'SMS/s by round':>30}{'median':>9}{'CPU ms/batch':>14}{'PG ms/batch':>13}")
    medians = {}
    for name in NAMES:
        done = [r for r in runs[name] if r["sent"]]
        rates = [r["sent"] / r["wall"] for r in done] or [0.0]
        medians[name] = sorted(rates)[len(rates) // 2]
        cpu = sorted(r["cpu"] * 1000 * args.batch / r["sent"] for r in done) or [0.0]
        pgs = sorted(r["postgres"] * 1000 * args.batch / r["sent"] for r in done
                     if r["postgres"] is not None)  # fmt: skip
        pg = f"{pgs[len(pgs) // 2]:.2f}" if pgs else "?"
        shown = " ".join(f"{rate:>9.0f}" for rate in rates)
        print(f"{name:<12}{shown:>30}{medians[name]:>9.0f}{cpu[len(cpu) // 2]:>14.2f}{pg:>13}")
    tops = sorted(runs["ceiling"])
    top = tops[len(tops) // 2]
    print(f"{'ceiling':<12}{' '.join(f'{t:>9.0f}' for t in runs['ceiling']):>30}{top:>9.0f}")
    kalan, floor = medians["kalan"], medians["bare"]
    if floor and top:
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
