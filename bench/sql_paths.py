"""Cost of two SQL paths: a caller's first hop of the day, and the hop that saves a report.

Usage: python bench/sql_paths.py [--machine] [--hops N] [--redis-url URL] [--database-url URL]
Plays hops through the real /ussd endpoint (the Flask app in this process, on real Redis
and a real database). Per kind of hop: CPU µs of this thread and wall µs, median of N
hops; then, in a pass of their own, the SQL statements each sends (SQLAlchemy's
before_cursor_execute) and, on PostgreSQL, its round trips to the server (the
ReadyForQuery messages of libpq's trace: a BEGIN, a COMMIT or a ROLLBACK counts too).
Each pass plays hops of its own: every caller is new today, and every report names a site
of its own. Results in bench/results/sql_paths.json.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid

from common import TOKEN, environment, forget, save, services
from sqlalchemy import event, insert

SITE = "Massiogo"
# Signaler, the answers about a site, who may call back, then Envoyer (helpers.body's path).
REPORT = ["2", "1", "1", "2", SITE, "2", "2", "1", "2", "3"]
KINDS = {  # what is played before the timed hop, and the timed hop
    "first, known contact": ([], ""),
    "first, new phone": ([], ""),
    "save, anonymous": (["", *REPORT, "2"], "1"),
    "save, SMS receipt": (["", *REPORT, "3"], "1"),
}


def phones(kind: int, run: int, count: int) -> list[str]:
    """Return count phones of their own for a kind of hop and a pass."""
    return [f"+2237{kind}{run}{n:05d}" for n in range(count)]


def seed(app, runs: int, count: int) -> None:
    """Add the known callers (French-speaking community members) and two focal points."""
    from app.cases import focal_points
    from app.infra.models import Contact, utcnow

    rows = [{"phone": p, "role": "community", "language": "fr", "failed_streak": 0,
             "created_at": utcnow()} for kind in range(len(KINDS)) if kind != 1
            for run in range(runs) for p in phones(kind, run, count)]  # fmt: skip
    with app.extensions["db"]() as db:
        db.execute(insert(Contact), rows)
        focal_points.add(db, "+22370999001", "all", "supervisor", "1234")
        focal_points.add(db, "+22370999002", "kadiolo", "agent", "1234")
        db.commit()


def play(client, phone: str, before: list[str], last: str, mark=None):
    """Play a session's first hops, then time its last one (after mark()): CPU µs, wall µs."""
    session_id, typed = "ATUid_" + uuid.uuid4().hex, []

    def post(value: str) -> str:
        if value:  # every report names a site of its own: none joins another's case
            typed.append(SITE + phone[-7:] if value == SITE else value)
        form = {"sessionId": session_id, "serviceCode": "*123#", "phoneNumber": phone,
                "text": "*".join(typed), "networkCode": "99999"}  # fmt: skip
        reply = client.post("/ussd?token=" + TOKEN, data=form).get_data(as_text=True)
        assert reply.startswith(("CON ", "END ")), reply
        return reply

    for value in before:
        post(value)
    if mark:
        mark()
    cpu, wall = time.thread_time(), time.perf_counter()
    reply = post(last)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert not before or reply.startswith("END Merci. Référence"), reply
    return cpu * 1e6, wall * 1e6


def counts(app, client, kind: str, phones_: list[str], postgres: bool) -> tuple[int, int]:
    """Play hops of a kind; return the median of their statements and round trips (0 on
    SQLite). The median: a statement's fifth run on a connection also prepares it, once."""
    engine, seen, found = app.extensions["engine"], {"sql": 0, "from": 0}, []
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "libpq.trace")
        fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

        def mark():
            seen["sql"], seen["from"] = 0, os.path.getsize(trace)

        engine.dispose()  # every connection from now on is traced, and none after
        listeners = [(engine, "before_cursor_execute", lambda *_: seen.update(sql=seen["sql"] + 1))]
        if postgres:
            listeners.append((engine.pool, "connect", lambda dbapi, *_: dbapi.pgconn.trace(fd)))
        for target, name, listener in listeners:
            event.listen(target, name, listener)
        for phone in phones_:
            play(client, phone, *KINDS[kind], mark)
            with open(trace, "rb") as lines:
                lines.seek(seen["from"])
                found.append((seen["sql"], sum(b"ReadyForQuery" in line for line in lines)))
        for target, name, listener in listeners:
            event.remove(target, name, listener)
        engine.dispose()
        os.close(fd)
    return tuple(statistics.median_low(c[i] for c in found) for i in (0, 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--hops", type=int, default=200, help="timed hops per kind")
    args = parser.parse_args()
    from app import create_app

    results = {}
    with services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label):
        env = environment(redis_url, db_url)
        names = ("REDIS_URL", "DATABASE_URL", "REDIS_PREFIX", "REPORTER_KEY")
        app = create_app({**{k: env[k] for k in names}, "WEBHOOK_TOKEN": TOKEN, "TESTING": False})
        client, engine = app.test_client(), app.extensions["engine"]
        postgres = engine.dialect.name == "postgresql"
        with app.app_context():
            seed(app, 3, args.hops)
            for k, kind in enumerate(KINDS):  # warm-up: the first hops of a process fill caches
                for phone in phones(k, 0, 20):
                    play(client, phone, *KINDS[kind])
            for k, kind in enumerate(KINDS):
                sql, trips = counts(app, client, kind, phones(k, 1, 20), postgres)
                times = [play(client, phone, *KINDS[kind]) for phone in phones(k, 2, args.hops)]
                cpu, wall = (round(statistics.median(t[i] for t in times)) for i in (0, 1))
                results[kind] = {"cpu_us": cpu, "wall_us": wall, "statements": sql,
                                 "round_trips": trips if postgres else None}  # fmt: skip
        engine.dispose()
        forget(redis_url)
    print(f"SQL paths ({label}), median of {args.hops} hops per kind")
    print(f"{'hop':<22}{'CPU µs':>9}{'wall µs':>9}{'SQL':>5}{'trips':>7}")
    for kind, r in results.items():
        trips = "-" if r["round_trips"] is None else r["round_trips"]
        print(f"{kind:<22}{r['cpu_us']:>9}{r['wall_us']:>9}{r['statements']:>5}{trips:>7}")
    save("sql_paths", {"services": label, "hops": args.hops, "kinds": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
