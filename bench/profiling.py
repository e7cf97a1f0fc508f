"""Profile each kind of USSD hop in process: wall and CPU time, round trips, SQL, hot functions."""

# Usage: python bench/profiling.py [--machine] [--repeat 20] [--top 8]
# Plays the journeys of bench/journeys.py (the mix and the navigation journey) through
# Kalan's WSGI app in this process, called directly as gunicorn calls it, each time from
# new known callers. A first pass times every hop (wall clock and this thread's CPU) and
# counts its Redis round trips and SQL statements; a second pass, from other callers on
# the same paths, runs each kind of hop under cProfile (timed in CPU) to name where the
# time goes. The profiler slows what it watches: the times come from the first pass.
# (Not profile.py: that name would hide the standard library's, which cProfile imports.)

import argparse
import cProfile
import gc
import pstats
import sys
import time
import uuid
from pathlib import Path

from common import ROOT, TOKEN, in_process, save, services, verdict
from cost import TARGET_TRIPS, counting
from journeys import ENDS, JOURNEYS, NAVIGATION, PER_THREAD, phone, seed, texts
from werkzeug.test import EnvironBuilder

# The kinds of hop reported, in order, with their names; "redial" is a session's first
# hop after another of the same caller today (the dropped call dialled again).
KINDS = {"nav": "navigation", "lesson": "lesson", "answer": "answer",
         "first": "first of the day", "redial": "redial", "gate": "gate", "resume": "resume",
         "save": "report save"}  # fmt: skip
PLAYED = {**JOURNEYS, "navigation": NAVIGATION}
# The wrappers every hop goes through (server, Flask, the hop itself) take all of its time
# cumulatively: functions above this share of the hop are not listed.
WRAPPER_SHARE = 0.95


def hops(first: int, repeat: int):
    """Yield (journey, session_id, caller, kind, text) for repeat plays of every journey."""
    for k in range(repeat):
        for n, (name, sessions) in enumerate(PLAYED.items()):
            caller = phone(1, 0, first + k * len(PLAYED) + n)
            for s, session in enumerate(sessions):
                session_id = "ATUid_" + uuid.uuid4().hex
                for (_, kind), text in zip(session, texts(session), strict=True):
                    kind = "redial" if kind == "first" and s else kind
                    yield name, session_id, caller, kind, text


def call(app, session_id: str, caller: str, text: str, clock=None) -> tuple[str, float, float]:
    """Call the WSGI app with one hop as gunicorn would; return the screen, wall and CPU µs."""
    form = {"sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
            "text": text, "networkCode": "99999"}  # fmt: skip
    environ = EnvironBuilder("/ussd", method="POST", query_string={"token": TOKEN},
                             data=form).get_environ()  # fmt: skip
    status = []
    wall, cpu = time.perf_counter(), time.thread_time()
    if clock:
        clock.enable()
    reply = app(environ, lambda s, headers, exc_info=None: status.append(s))
    body = b"".join(reply)
    if hasattr(reply, "close"):
        reply.close()
    if clock:
        clock.disable()
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    if not status[0].startswith("200"):
        raise SystemExit(f"bench: a hop answered {status[0]}: {body[:200]!r}")
    return body.decode(), wall * 1e6, cpu * 1e6


def measure(app, first: int, repeat: int) -> dict:
    """Time every hop of repeat plays; return per kind the lists of wall, CPU, trips, SQL."""
    rows: dict = {}
    screens: dict = {}
    with counting(app.extensions["engine"]) as tally:
        for name, session_id, caller, kind, text in hops(first, repeat):
            tally.reset()
            screens[name], wall, cpu = call(app, session_id, caller, text)
            row = rows.setdefault(kind, {"wall": [], "cpu": [], "trips": [], "sql": []})
            for key, value in zip(row, (wall, cpu, tally.trips, tally.statements), strict=True):
                row[key].append(value)
    for name, screen in screens.items():  # the last play of each journey kept to its path
        if ENDS[name] not in screen:
            raise SystemExit(f"bench: the {name} journey ended off its path: {screen!r}")
    return rows


def profiles(app, first: int, repeat: int) -> dict:
    """Play the same paths again, each kind of hop under a cProfile of its own, timed in CPU."""
    found: dict = {}
    for _, session_id, caller, kind, text in hops(first, repeat):
        clock = found.setdefault(kind, cProfile.Profile(time.thread_time))
        call(app, session_id, caller, text, clock)
    return found


def hot(clock: cProfile.Profile, hops_count: int, total_us: float, top: int) -> list[dict]:
    """Return the top functions by cumulative CPU, in µs per hop, below the wrappers."""
    stats = pstats.Stats(clock).stats
    rows = []
    for (path, line, function), (_, _, _, cumulative, _) in stats.items():
        us = cumulative * 1e6 / hops_count
        if us < WRAPPER_SHARE * total_us:
            rows.append({"function": f"{short(path)}:{line} {function}", "us": us})
    rows.sort(key=lambda r: r["us"], reverse=True)
    return rows[:top]


def short(path: str) -> str:
    """Return a source path from the project root or from site-packages."""
    if path.startswith(str(ROOT)):
        return str(Path(path).relative_to(ROOT))
    return path.split("site-packages/")[-1] if "site-packages/" in path else path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--repeat", type=int, default=20, help="plays of every journey")
    parser.add_argument("--top", type=int, default=8, help="functions listed per kind of hop")
    args = parser.parse_args()
    if 3 * (args.repeat + 1) * len(PLAYED) > PER_THREAD:  # three passes of new callers
        parser.error(f"at most {PER_THREAD // (3 * len(PLAYED)) - 1} plays")
    from app import create_app

    with services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label):
        seed(db_url)
        app = create_app(in_process(redis_url, db_url))
        measure(app, 0, 1)  # warm-up: the first hops of a process fill its caches
        # As a web worker does once it has loaded (app/web/gunicorn_conf.post_worker_init):
        # otherwise a full collection over the loaded app lands on some hop and is counted.
        gc.collect()
        gc.freeze()
        played = len(PLAYED) * (args.repeat + 1)
        rows = measure(app, played, args.repeat)
        clocks = profiles(app, 2 * played, args.repeat)
        app.extensions["engine"].dispose()
    table = {}
    for kind, name in KINDS.items():
        if kind not in rows:
            continue
        r, count = rows[kind], len(rows[kind]["wall"])
        table[kind] = {"name": name, "hops": count, **{f"{k}_mean": sum(v) / count
                       for k, v in r.items()}, "trips_max": max(r["trips"]),
                       "sql_max": max(r["sql"])}  # fmt: skip
        table[kind]["hot"] = hot(clocks[kind], count, table[kind]["cpu_mean"], args.top)
    show(table, label, args.repeat)
    worst = max(t["trips_max"] for t in table.values())
    nav_sql = table["nav"]["sql_max"]
    print(f"\nredis round trips per hop: at most {worst} (target <= {TARGET_TRIPS}: "
          f"{verdict(worst <= TARGET_TRIPS)}); SQL statements on navigation hops: at most "
          f"{nav_sql} (target 0: {verdict(nav_sql == 0)})")  # fmt: skip
    save("profile", {"services": label, "repeat": args.repeat, "kinds": table})
    return 0 if worst <= TARGET_TRIPS and nav_sql == 0 else 1


def show(table: dict, label: str, repeat: int) -> None:
    """Print the cost of each kind of hop, then where each one's CPU goes."""
    print(f"profile per kind of hop ({label}; {repeat} plays of {', '.join(PLAYED)}; "
          f"in process, direct WSGI calls; means)")  # fmt: skip
    print(f"{'hop':<18}{'count':>6}{'wall µs':>9}{'CPU µs':>8}{'redis':>7}{'max':>5}"
          f"{'SQL':>6}{'max':>5}")  # fmt: skip
    for t in table.values():
        print(f"{t['name']:<18}{t['hops']:>6}{t['wall_mean']:>9.0f}{t['cpu_mean']:>8.0f}"
              f"{t['trips_mean']:>7.2f}{t['trips_max']:>5}{t['sql_mean']:>6.2f}"
              f"{t['sql_max']:>5}")  # fmt: skip
    print("\ntop functions by cumulative CPU (cProfile, CPU µs per hop; slowed by the profiler)")
    for t in table.values():
        print(f"{t['name']}:")
        for row in t["hot"]:
            print(f"  {row['us']:>8.0f}  {row['function']}")


if __name__ == "__main__":
    sys.exit(main())
