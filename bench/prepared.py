"""What psycopg's prepared statements would save on the USSD journeys: Kalan goes without them,
as PgBouncer in transaction pooling cannot keep them (app/infra/db.py).

Usage: python bench/prepared.py [--rounds 8] [--plays 25] [--redis-url URL] [--database-url URL]
Plays the journeys of bench/journeys.py through /ussd (the Flask app in this process, on the
machine's Redis and a PostgreSQL database of the run's own) with two apps in turn, round after
round: Kalan's engine (no prepared statements) and the same with psycopg's default
(prepare_threshold=5: a statement run five times on a connection is prepared). Prints the CPU
time per journey of this process and of the PostgreSQL backends that served it, read from
/proc: the server must run on this machine.
"""

import argparse
import logging
import os
import sys
import time
import uuid

from common import TOKEN, in_process, save, services
from journeys import ENDS, JOURNEYS, PER_THREAD, phone, seed, texts
from sqlalchemy import event

TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: set[int]) -> float:
    """Return the CPU seconds the backends have used so far (user and system)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def make(config: dict, threshold: int | None):
    """Return an app whose connections prepare at threshold, the set of their backends, and
    a list holding the most statements a connection has had prepared at once."""
    from app import create_app

    app, pids, peak = create_app(config), set(), [0]
    engine = app.extensions["engine"]

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, _record):
        dbapi_connection.prepare_threshold = threshold
        pids.add(dbapi_connection.info.backend_pid)

    @event.listens_for(engine, "after_cursor_execute")
    def _count(conn, *_):
        # psycopg's own cache (no public reader): a ROLLBACK, such as the one that ends
        # every request's session, empties it.
        peak[0] = max(peak[0], len(conn.connection.dbapi_connection._prepared._names))

    return app, pids, peak


def play(app, first: int) -> None:
    """Play every journey once, from phones first, first + 1...; check where each ends."""
    client, screen = app.test_client(), ""
    for n, (name, sessions) in enumerate(JOURNEYS.items()):
        caller = phone(0, 0, first + n)
        for session in sessions:
            session_id = "ATUid_" + uuid.uuid4().hex
            for text in texts(session):
                response = client.post("/ussd?token=" + TOKEN, data={
                    "sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
                    "text": text, "networkCode": "99999"})  # fmt: skip
                screen = response.get_data(as_text=True)
        if ENDS[name] not in screen:
            raise SystemExit(f"bench: the {name} journey ended off its path: {screen!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=8, help="rounds, each arm once a round")
    parser.add_argument("--plays", type=int, default=25, help="plays of the journeys a round")
    args = parser.parse_args()
    per_arm = len(JOURNEYS) * args.plays * args.rounds
    if 2 * per_arm > PER_THREAD:
        raise SystemExit(f"bench: at most {PER_THREAD // 2} callers per arm, not {per_arm}")
    logging.disable(logging.WARNING)  # a report's "no focal point covers": not a figure
    with services(args.redis_url, args.database_url, True) as (redis_url, db_url, label):
        if not db_url.startswith("postgresql"):
            raise SystemExit("bench: needs PostgreSQL on this machine (127.0.0.1:5432)")
        seed(db_url)
        config = in_process(redis_url, db_url)
        arms = {"unprepared": make(config, None), "prepared": make(config, 5)}
        used = {name: [0.0, 0.0] for name in arms}  # this process, the backends
        callers = {"unprepared": 0, "prepared": PER_THREAD // 2}
        for name, (app, _, _) in arms.items():  # warm-up: caches filled, statements prepared
            play(app, callers[name])
            callers[name] += len(JOURNEYS)
        for _ in range(args.rounds):
            for name, (app, pids, _) in arms.items():
                client, server = time.process_time(), backend_cpu(pids)
                for _ in range(args.plays):
                    play(app, callers[name])
                    callers[name] += len(JOURNEYS)
                used[name][0] += time.process_time() - client
                used[name][1] += backend_cpu(pids) - server
        for app, _, _ in arms.values():
            app.extensions["engine"].dispose()
    journeys = args.rounds * args.plays * len(JOURNEYS)
    print(f"CPU per journey, {journeys} journeys per arm ({label}; journeys: "
          f"{', '.join(JOURNEYS)})")  # fmt: skip
    print(f"{'arm':<12}{'kalan ms':>10}{'postgres ms':>13}{'total ms':>10}")
    rows = {}
    for name, (client, server) in used.items():
        rows[name] = {"kalan_ms": 1000 * client / journeys, "postgres_ms": 1000 * server / journeys}
        total = rows[name]["kalan_ms"] + rows[name]["postgres_ms"]
        print(f"{name:<12}{rows[name]['kalan_ms']:>10.2f}{rows[name]['postgres_ms']:>13.2f}"
              f"{total:>10.2f}")  # fmt: skip
        rows[name]["most_prepared"] = arms[name][2][0]
    print(
        "most statements prepared at once on a connection: "
        + ", ".join(f"{name} {row['most_prepared']}" for name, row in rows.items())
    )
    save("prepared", {"services": label, "journeys_per_arm": journeys, "arms": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
