"""USSD throughput under load: Kalan's /ussd beside a bare Flask endpoint, same server settings.

Usage: python bench/throughput.py [--machine] [--duration 10] [--concurrency 16,64,256]
       [--paced-s 30] [--journeys training,report,resumed]
Both apps run under gunicorn with the same settings. wrk replays the journeys
of bench/journeys.py (training, report, a dropped call resumed), each from a new
known caller, at each concurrency (closed loop: each connection sends its next hop as
soon as the last is answered); then 64 people at once, each reading about --pace-ms
between hops. Prints requests per second, p50 and p99 latency, and
"ratio: X", Kalan's requests per second over the bare app's at 64 connections.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from common import ROOT, TOKEN, ensure_wrk, environment, gunicorn, save, services
from journeys import ENDS, JOURNEYS, OTHERS, PER_THREAD, RUNS, phone, seed, texts

# Both apps get the Procfile's settings (WEB_CONCURRENCY's default): what is deployed.
# On this 2-core machine they beat 2 or 3 processes of 4 threads, and 4 of 2 threads.
SETTINGS = "--workers 4 --timeout 9"
TARGET_RATIO, TARGET_P99_MS = 0.6, 50


def write_journeys(path: Path, journeys: dict) -> None:
    """Write the journeys for sessions.lua: journey, session and text, a hop a line."""
    lines = []
    for name, sessions in journeys.items():
        for n, session in enumerate(sessions):
            lines += [f"{name}\t{n}\t{text}" for text in texts(session)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_journeys(base: str, journeys: dict) -> None:
    """Play each journey once over HTTP and check it ends where it should."""
    for n, (name, sessions) in enumerate(journeys.items()):
        caller, screen = phone(RUNS - 1, 1, PER_THREAD - 1 - n), ""
        for session in sessions:
            session_id = uuid.uuid4().hex
            for text in texts(session):
                form = {"sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
                        "text": text, "networkCode": "99999"}  # fmt: skip
                screen = requests.post(base + "/ussd?token=" + TOKEN, data=form, timeout=10).text
        if ENDS[name] not in screen:
            raise SystemExit(f"bench: the {name} journey ended off its path: {screen!r}")


def wrk(base: str, journeys: Path, connections: int, seconds: int, run: int) -> dict:
    """Run wrk with sessions.lua; return its figures."""
    env = {
        "JOURNEYS": str(journeys),
        "POOL": str(max(64, 4 * connections)),
        "RUN": str(run),
        "PER_THREAD": str(PER_THREAD),
        "WEBHOOK_TOKEN": TOKEN,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s",
         str(ROOT / "bench" / "sessions.lua"), base + "/ussd"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON "))
    figures = json.loads(line[5:])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    return figures


def settle(base: str) -> None:
    """Wait until the server has worked off the last run's backlog.

    When wrk stops, the requests it had queued are still served, to nobody; the
    next run would otherwise start behind them and count their time as its own.
    """
    for _ in range(100):
        started = time.perf_counter()
        requests.get(base + "/healthz", timeout=10)
        if time.perf_counter() - started < 0.02:
            return
        time.sleep(0.1)


def paced(base: str, journeys: dict, people: int, seconds: int, run: int, think_ms: int) -> dict:
    """Play journeys from people callers at once, each reading for a while between hops.

    A thread per caller, as people are: wrk's pacing starts every connection together,
    which measures a burst, not a crowd. Think times are drawn between half and one and
    a half times think_ms.
    """
    latencies, bad, lock = [], [0], threading.Lock()
    stop = time.monotonic() + seconds
    names = list(journeys)

    def person(k: int) -> None:
        http, rng, cycle = requests.Session(), random.Random(k), 0
        time.sleep(rng.uniform(0, think_ms / 1000))  # people do not all dial at once
        while time.monotonic() < stop:
            caller = phone(run, k % 2, k // 2 + cycle * (people // 2 + 1))
            for session in journeys[names[(k + cycle) % len(names)]]:
                session_id = uuid.uuid4().hex
                for (_, kind), text in zip(session, texts(session), strict=True):
                    form = {
                        "sessionId": session_id,
                        "serviceCode": "*123#",
                        "phoneNumber": caller,
                        "text": text,
                        "networkCode": "99999",
                    }
                    started = time.perf_counter()
                    reply = http.post(base + "/ussd?token=" + TOKEN, data=form, timeout=10)
                    took = (time.perf_counter() - started) * 1e6
                    with lock:
                        latencies.append((took, kind, time.monotonic() - started_all))
                        bad[0] += reply.status_code != 200 or reply.text[:4] not in ("CON ", "END ")
                    if time.monotonic() >= stop:
                        return
                    time.sleep(rng.uniform(think_ms / 2000, think_ms * 3 / 2000))
            cycle += 1  # fmt: skip

    threads = [threading.Thread(target=person, args=(k,)) for k in range(people)]
    started_all = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = percentiles([took for took, _, _ in latencies])
    figures.update(rps=len(latencies) / (time.monotonic() - started_all), bad_answers=bad[0])
    # Where the tail is: by kind of hop, and the slowest hops with when they came.
    kinds = {kind for _, kind, _ in latencies}
    figures["kinds"] = {k: percentiles([t for t, kind, _ in latencies if kind == k])
                        for k in sorted(kinds)}  # fmt: skip
    figures["slowest"] = [{"us": t, "kind": k, "at_s": round(at, 2)}
                          for t, k, at in sorted(latencies, reverse=True)[:10]]  # fmt: skip
    return figures


def percentiles(latencies: list[float]) -> dict:
    """Return the count, p50, p99 and maximum of latencies in microseconds."""
    ordered = sorted(latencies)
    return {"requests": len(ordered), "p50_us": ordered[len(ordered) // 2],
            "p99_us": ordered[int(len(ordered) * 0.99)], "max_us": ordered[-1]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--concurrency", default="16,64,256")
    parser.add_argument("--pace-ms", type=int, default=1000)
    # Longer than a closed-loop run: at about 60 hops a second, 30 s gives some 1,800
    # latencies, so the p99 is not decided by a handful of them.
    parser.add_argument("--paced-s", type=int, default=30, help="seconds of the paced crowd")
    parser.add_argument("--settings", default=SETTINGS, help="gunicorn settings for both apps")
    parser.add_argument("--journeys", default=",".join(JOURNEYS),
                        help=f"a comma list of {', '.join({**JOURNEYS, **OTHERS})}")  # fmt: skip
    args = parser.parse_args()
    known = {**JOURNEYS, **OTHERS}
    unknown = [n for n in args.journeys.split(",") if n not in known]
    if unknown:
        parser.error(f"unknown journeys: {', '.join(unknown)} (known: {', '.join(known)})")
    chosen = {n: known[n] for n in args.journeys.split(",")}
    ensure_wrk()
    levels = [int(c) for c in args.concurrency.split(",")]
    results: dict = {"settings": args.settings, "journeys": list(chosen), "kalan": {}, "bare": {}}
    with (
        tempfile.TemporaryDirectory() as tmp,
        services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label),
    ):
        journeys = Path(tmp) / "journeys.tsv"
        write_journeys(journeys, chosen)
        seed(db_url)
        env = environment(redis_url, db_url)
        results["services"] = label
        for target, app, cwd in (("bare", "bare:create_app()", ROOT / "bench"),
                                 ("kalan", "app:create_app()", ROOT)):  # fmt: skip
            with gunicorn(app, args.settings.split(), env, cwd) as base:
                if target == "kalan":
                    check_journeys(base, chosen)
                wrk(base, journeys, 16, 3, 0)  # warm-up
                for run, level in enumerate(levels, 1):
                    settle(base)
                    results[target][level] = wrk(base, journeys, level, args.duration, run)
                settle(base)
                results[target]["paced"] = paced(base, chosen, 64, args.paced_s,
                                                 len(levels) + 1, args.pace_ms)  # fmt: skip
    print(
        f"USSD throughput ({label}; gunicorn {args.settings}; wrk, 2 threads; "
        f"journeys {', '.join(chosen)})"
    )
    print(f"{'app':<7}{'sessions':>9}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}")
    for target in ("bare", "kalan"):
        for level, f in results[target].items():
            errors = sum(v for k, v in f.items() if k.startswith("errors_")) + f["bad_answers"]
            shown = "64 paced" if level == "paced" else str(level)
            print(f"{target:<7}{shown:>9}{f['rps']:>9.0f}{f['p50_us'] / 1000:>8.1f}"
                  f"{f['p99_us'] / 1000:>8.1f}{errors:>8}")  # fmt: skip
    kinds = results["kalan"]["paced"]["kinds"]
    print("kalan 64 paced, p99 ms by hop: "
          + ", ".join(f"{k} {f['p99_us'] / 1000:.1f}" for k, f in kinds.items()))  # fmt: skip
    ratio = results["kalan"][64]["rps"] / results["bare"][64]["rps"]
    p99 = results["kalan"][64]["p99_us"] / 1000
    calm = results["kalan"]["paced"]["p99_us"] / 1000
    results["ratio"] = ratio
    print(f"ratio: {ratio:.2f}")
    print(f"targets: ratio >= {TARGET_RATIO} {'met' if ratio >= TARGET_RATIO else 'NOT met'}; "
          f"p99 at 64 sessions {p99:.1f} ms saturated, {calm:.1f} ms paced "
          f"(< {TARGET_P99_MS} ms: {'met' if calm < TARGET_P99_MS else 'NOT met'})")  # fmt: skip
    save("throughput" if list(chosen) == list(JOURNEYS) else "throughput-" + "-".join(chosen),
         results)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
