"""Count what each USSD hop costs: Redis round trips and SQL statements, by kind of hop."""

# Usage: python bench/cost.py [--machine] [--redis-url URL] [--database-url URL] [--show]
# Plays the journeys of bench/journeys.py through the real /ussd endpoint (the Flask app
# in this process, on real Redis and a real database) and counts, per hop, the Redis
# round trips and the statements sent to the database. Targets: at most 2 round trips
# a hop, and no SQL on hops that only navigate.

import argparse
import contextlib
import socket
import sys
import uuid
from dataclasses import dataclass

from common import TOKEN, in_process, save, services
from journeys import ENDS, JOURNEYS, phone, seed, texts
from sqlalchemy import event

TARGET_TRIPS = 2


@dataclass
class Tally:
    """What hops cost so far: Redis round trips and SQL statements."""

    trips: int = 0
    statements: int = 0

    def reset(self) -> None:
        """Start counting the next hop."""
        self.trips = self.statements = 0


@contextlib.contextmanager
def counting(engine):
    """Yield a Tally of the round trips over Python sockets and the engine's statements."""
    # A round trip is a socket's first send after it last read: a pipeline sent in
    # chunks is one, whatever the client. PostgreSQL's driver talks from C, unseen.
    tally, sending = Tally(), set()
    names = ("send", "sendall", "recv", "recv_into")
    originals = {name: getattr(socket.socket, name) for name in names}

    def wrap(name: str):
        original = originals[name]

        def sends(sock, *args, **kwargs):
            if id(sock) not in sending:
                sending.add(id(sock))
                tally.trips += 1
            return original(sock, *args, **kwargs)

        def reads(sock, *args, **kwargs):
            sending.discard(id(sock))
            return original(sock, *args, **kwargs)

        return sends if name.startswith("send") else reads

    def on_sql(*_):
        tally.statements += 1

    for name in names:
        setattr(socket.socket, name, wrap(name))
    event.listen(engine, "before_cursor_execute", on_sql)
    try:
        yield tally
    finally:
        for name, original in originals.items():
            setattr(socket.socket, name, original)
        event.remove(engine, "before_cursor_execute", on_sql)


def play(app, counts: dict, show: bool, first_phone: int) -> None:
    """Play every journey once from new phones, adding each hop's costs to counts."""
    client = app.test_client()
    with counting(app.extensions["engine"]) as tally:
        for n, (name, sessions) in enumerate(JOURNEYS.items()):
            caller, screen = phone(0, 0, first_phone + n), ""
            for session in sessions:
                session_id = "ATUid_" + uuid.uuid4().hex
                for (value, kind), text in zip(session, texts(session), strict=True):
                    tally.reset()
                    response = client.post("/ussd?token=" + TOKEN, data={
                        "sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
                        "text": text, "networkCode": "99999"})  # fmt: skip
                    screen = response.get_data(as_text=True)
                    assert response.status_code == 200, screen
                    counts.setdefault(kind, []).append((tally.trips, tally.statements))
                    if show:
                        line = screen.replace("\n", " | ")[:70]
                        print(f"{name:<9}{kind:<8}{value!r:<11}{tally.trips:>3}"
                              f"{tally.statements:>4}  {line}")  # fmt: skip
            if ENDS[name] not in screen:
                raise SystemExit(f"bench: the {name} journey ended off its path: {screen!r}")


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
        app = create_app(in_process(redis_url, db_url))
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
