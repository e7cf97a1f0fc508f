"""Count what each USSD hop costs: Redis round trips and SQL statements, by kind of hop.

Usage: python bench/cost.py [--machine] [--redis-url URL] [--database-url URL] [--show]
Plays the journeys of bench/journeys.py through the real /ussd endpoint (the
Flask app in this process, on real Redis and a real database) and counts, per
hop, the connections taken from the Redis pool (one per round trip) and the
statements sent to the database. Targets: at most 2 round trips a hop, and no
SQL on hops that only navigate.
"""

import argparse
import sys
import uuid

from common import TOKEN, environment, save, services
from journeys import ENDS, JOURNEYS, phone, seed, texts
from sqlalchemy import event

TARGET_TRIPS = 2


def play(app, counts: dict, show: bool, first_phone: int) -> None:
    """Play every journey once from new phones, adding each hop's costs to counts."""
    client = app.test_client()
    redis = app.extensions["redis"].connection_pool
    engine = app.extensions["engine"]
    trips = statements = 0
    original = redis.get_connection

    def counting(*args, **kwargs):
        nonlocal trips
        trips += 1
        return original(*args, **kwargs)

    def on_sql(*_):
        nonlocal statements
        statements += 1

    redis.get_connection = counting
    event.listen(engine, "before_cursor_execute", on_sql)
    try:
        for n, (name, sessions) in enumerate(JOURNEYS.items()):
            caller, screen = phone(0, 0, first_phone + n), ""
            for session in sessions:
                session_id = "ATUid_" + uuid.uuid4().hex
                for (value, kind), text in zip(session, texts(session), strict=True):
                    trips = statements = 0
                    response = client.post("/ussd?token=" + TOKEN, data={
                        "sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
                        "text": text, "networkCode": "99999"})  # fmt: skip
                    screen = response.get_data(as_text=True)
                    assert response.status_code == 200, screen
                    counts.setdefault(kind, []).append((trips, statements))
                    if show:
                        print(f"{name:<9}{kind:<8}{value!r:<11}{trips:>3}{statements:>4}  "
                              + screen.replace("\n", " | ")[:70])  # fmt: skip
            if ENDS[name] not in screen:
                raise SystemExit(f"bench: the {name} journey ended off its path: {screen!r}")
    finally:
        redis.get_connection = original
        event.remove(engine, "before_cursor_execute", on_sql)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--show", action="store_true", help="print every hop and its screen")
    args = parser.parse_args()
    from app import create_app

    with services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label):
        seed(db_url)
        env = environment(redis_url, db_url)
        config = {key: env[key] for key in ("REDIS_URL", "DATABASE_URL", "REDIS_PREFIX")}
        app = create_app({**config, "WEBHOOK_TOKEN": TOKEN, "TESTING": False})
        counts: dict[str, list[tuple[int, int]]] = {}
        with app.app_context():
            play(app, {}, False, 0)  # warm-up: the first hop of a process fills its caches
            play(app, counts, args.show, 100)
        app.extensions["engine"].dispose()
    print(f"cost per hop ({label})")
    print(f"{'hop':<9}{'count':>6}{'redis max':>11}{'redis mean':>12}{'sql max':>9}"
          f"{'sql mean':>10}")  # fmt: skip
    rows = {}
    for kind, values in counts.items():
        redis = [t for t, _ in values]
        sql = [s for _, s in values]
        rows[kind] = {"hops": len(values), "redis_max": max(redis),
                      "redis_mean": sum(redis) / len(redis), "sql_max": max(sql),
                      "sql_mean": sum(sql) / len(sql)}  # fmt: skip
        r = rows[kind]
        print(f"{kind:<9}{r['hops']:>6}{r['redis_max']:>11}{r['redis_mean']:>12.2f}"
              f"{r['sql_max']:>9}{r['sql_mean']:>10.2f}")  # fmt: skip
    worst = max(r["redis_max"] for r in rows.values())
    nav_sql = rows["nav"]["sql_max"]
    print(
        f"redis round trips per hop: at most {worst} (target <= {TARGET_TRIPS}); "
        f"SQL statements on navigation hops: {nav_sql} (target 0)"
    )
    save("cost", {"services": label, "kinds": rows})
    return 0 if worst <= TARGET_TRIPS and nav_sql == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
