"""USSD throughput: Kalan, two I/O floors and bare Flask, interleaved over rounds under wrk."""

# Usage: python bench/throughput.py [--machine] [--rounds 3] [--duration 10]
#        [--concurrency 64] [--paced-s 30] [--ramp-s 10] [--journeys training,report,resumed]
# Every app runs under gunicorn with the same settings, all started once and kept up
# while rounds alternate between them in a rotated order, so that the machine's drift
# (other work on its 2 cores) falls on every app alike. Each round measures, for each app,
# the navigation journey (menus only) and the realistic mix, at each concurrency (closed
# loop: a connection sends its next hop as soon as the last is answered); a ratio is
# taken within a round, and the median of the rounds' ratios is what is reported. Then 64
# people call Kalan at once, each reading about --pace-ms between hops (bench/crowd.py):
# they dial over --ramp-s seconds, and --paced-s seconds of hops are counted after that.

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import cpu_split
import requests
import timed_app
from common import ROOT, TOKEN, ensure_wrk, environment, gunicorn, median, save, services, verdict
from crowd import paced, show_paced
from journeys import ENDS, JOURNEYS, NAVIGATION, OTHERS, PER_THREAD, RUNS, phone, seed, texts

# Every app gets the Procfile's settings (WEB_CONCURRENCY's default): what is deployed.
SETTINGS = "--workers 4 --timeout 9"
BENCH = ROOT / "bench"
APPS = {
    "bare": ("bare:create_app()", BENCH),  # the framework alone, no I/O
    "flask-redis": ("floor:create_flask_redis()", BENCH),  # Flask + a hop's Redis I/O
    "lean": ("floor:create_lean()", BENCH),  # the same I/O without Flask nor redis-py
    "kalan": ("app:create_app()", ROOT),
}
# Kalan also gets the Procfile's hooks, as deployed: its workers freeze what they loaded
# (a full garbage collection over it stalled a hop for 30 to 80 ms, issue 19).
HOOKS = {"kalan": ["-c", "python:app.web.gunicorn_conf"]}
RATIOS = [("kalan", "bare"), ("flask-redis", "bare"), ("lean", "bare"), ("kalan", "flask-redis")]
TARGETS = {"navigation": 0.7, "mix": 0.4}  # Kalan over bare Flask, req/s


def write_journeys(path: Path, journeys: dict) -> Path:
    """Write the journeys for sessions.lua: journey, session and text, a hop a line."""
    lines = []
    for name, sessions in journeys.items():
        for n, session in enumerate(sessions):
            lines += [f"{name}\t{n}\t{text}" for text in texts(session)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


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
    # Each of wrk's 2 threads keeps twice as many sessions going as it has connections:
    # enough that a session's last hop was answered before its next is sent, and few
    # enough that a run gets past their dials. With four times as many, a slow server
    # (40 hops a second on a busy machine) was measured on first hops only.
    env = {"JOURNEYS": str(journeys), "POOL": str(max(16, connections)), "RUN": str(run),
           "PER_THREAD": str(PER_THREAD), "WEBHOOK_TOKEN": TOKEN,
           "PATH": "/usr/bin:/bin"}  # fmt: skip
    out = subprocess.run(
        [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s",
         str(BENCH / "sessions.lua"), base + "/ussd"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    line = next((x for x in out.stdout.splitlines() if x.startswith("JSON ")), None)
    if out.returncode or not line:
        raise SystemExit(f"bench: wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    figures = json.loads(line[5:])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(v for k, v in figures.items() if k.startswith("errors_"))
    figures["errors"] += figures["bad_answers"]
    return figures


def settle(base: str, pause_s: float) -> None:
    """Wait until the server has worked off the last run's backlog, then pause_s more."""
    # When wrk stops, the requests it had queued are still served, to nobody; the next
    # run would otherwise start behind them. The pause lets the databases catch up too.
    for _ in range(100):
        started = time.perf_counter()
        requests.get(base + "/healthz", timeout=10)
        if time.perf_counter() - started < 0.02:
            break
        time.sleep(0.1)
    time.sleep(pause_s)


def summarize(rounds: list[dict]) -> dict:
    """Return the median over rounds of one app's req/s, p50 and p99, and its errors."""
    return {"rps": median([f["rps"] for f in rounds]),
            "p50_us": median([f["p50_us"] for f in rounds]),
            "p99_us": median([f["p99_us"] for f in rounds]),
            "cpu_us": {part: median([f["cpu_us"][part] for f in rounds])
                       for part in rounds[0]["cpu_us"]},
            "errors": sum(f["errors"] for f in rounds), "rounds": rounds}  # fmt: skip


def ratios(apps: dict) -> dict:
    """Return each ratio of RATIOS whose apps ran: per round, and the median of those."""
    out = {}
    for top, bottom in RATIOS:
        if top in apps and bottom in apps:
            per_round = [a["rps"] / b["rps"] for a, b in
                         zip(apps[top]["rounds"], apps[bottom]["rounds"], strict=True)]  # fmt: skip
            out[f"{top}/{bottom}"] = {"rounds": per_round, "median": median(per_round)}
    return out


def show(title: str, apps: dict, found: dict) -> None:
    """Print one measurement's table: req/s per round and median, latencies, then ratios."""
    count = len(next(iter(apps.values()))["rounds"])
    heads = "".join(f"{'round ' + str(r + 1):>9}" for r in range(count))
    print(f"\n{title}\n{'app':<18}{heads}{'median':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>8}")
    for name, a in apps.items():
        cells = "".join(f"{f['rps']:>9.0f}" for f in a["rounds"])
        print(f"{name:<18}{cells}{a['rps']:>9.0f}{a['p50_us'] / 1000:>8.1f}"
              f"{a['p99_us'] / 1000:>8.1f}{a['errors']:>8}")  # fmt: skip
    for name, r in found.items():
        print(f"{name:<18}" + "".join(f"{x:>9.2f}" for x in r["rounds"]) + f"{r['median']:>9.2f}")
    # The machine's CPU per request, by process: what each app costs, and where.
    parts = list(next(iter(apps.values()))["cpu_us"])  # with --in-app, the server's split too
    print(f"{'CPU us/request':<18}" + "".join(f"{part:>9}" for part in parts))
    for name, a in apps.items():
        print(f"{name:<18}" + "".join(f"{a['cpu_us'][part]:>9.0f}" for part in parts))


def schedule(rounds: int, measures: list, apps: list) -> list[tuple]:
    """Return the runs in order: (round, app, measure, kalan's run), apps rotated each round."""
    plan = []
    for n in range(rounds):
        order = apps[n % len(apps) :] + apps[: n % len(apps)]
        for app in order:
            for k, measure in enumerate(measures):
                plan.append((n, app, measure, 1 + n * len(measures) + k))
    return plan


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every app")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--settle-s", type=float, default=2, help="pause between measurements")
    parser.add_argument("--concurrency", default="64", help="a comma list of connections")
    parser.add_argument("--apps", default=",".join(APPS), help=f"some of {', '.join(APPS)}")
    parser.add_argument("--only", choices=("navigation", "mix"), help="one measurement only")
    parser.add_argument("--pace-ms", type=int, default=1000)
    # At about 60 hops a second, 30 s gives some 1,800 latencies: the p99 is not a handful.
    parser.add_argument("--paced-s", type=int, default=30, help="seconds of the paced crowd")
    # Over about ten hops' reading, the callers' dials and journeys are out of step.
    parser.add_argument("--ramp-s", type=float, default=10, help="the crowd's dials spread, s")
    parser.add_argument("--settings", default=SETTINGS, help="gunicorn settings for every app")
    parser.add_argument(
        "--in-app", action="store_true", help="split each server's CPU: in the app, and around it"
    )
    known = {**JOURNEYS, **OTHERS}
    parser.add_argument("--journeys", default=",".join(JOURNEYS),
                        help=f"the mix: a comma list of {', '.join(known)}")  # fmt: skip
    args = parser.parse_args()
    mix = {n: known[n] for n in args.journeys.split(",") if n in known}
    apps = args.apps.split(",")
    levels = [int(c) for c in args.concurrency.split(",")]
    measures = [(m, c) for m in ("navigation", "mix") if args.only in (None, m) for c in levels]
    if len(mix) != len(args.journeys.split(",")) or not set(apps) <= set(APPS):
        parser.error(f"journeys are some of {', '.join(known)}; apps some of {', '.join(APPS)}")
    # Kalan's callers start fresh in each measurement: a run of callers each, 0 warms up,
    # the last run checks the journeys, the one before it is the paced crowd's.
    if args.rounds * len(measures) > RUNS - 3:
        parser.error(f"at most {(RUNS - 3) // len(measures)} rounds with these measurements")
    ensure_wrk()
    results: dict = {"settings": args.settings, "mix": list(mix), "apps": apps,
                     "rounds": args.rounds, "duration_s": args.duration,
                     "measures": {}}  # fmt: skip
    raw: dict = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label),
        contextlib.ExitStack() as servers,
    ):
        files = {"navigation": write_journeys(Path(tmp) / "nav.tsv", {"navigation": NAVIGATION}),
                 "mix": write_journeys(Path(tmp) / "mix.tsv", mix)}  # fmt: skip
        seed(db_url)
        env = environment(redis_url, db_url)
        results["services"] = label
        timed = {name: Path(tmp) / f"timed-{name}" for name in apps} if args.in_app else {}
        bases = {}
        for name in apps:
            settings, app_env = [*HOOKS.get(name, []), *args.settings.split()], env
            if args.in_app:  # each worker times its app apart from gunicorn (bench/timed_app.py)
                timed[name].mkdir()
                settings = ["-c", "python:timed_app", *args.settings.split()]
                app_env = {**env, "TIMED_APP_DIR": str(timed[name]), "PYTHONPATH": str(BENCH),
                           "TIMED_APP_HOOKS": "1" if name in HOOKS else ""}  # fmt: skip
            bases[name] = servers.enter_context(
                gunicorn(APPS[name][0], settings, app_env, APPS[name][1])
            )
        if "kalan" in bases:
            check_journeys(bases["kalan"], {**mix, "navigation": NAVIGATION})
        for name in apps:  # warm-up: every process imports, connects and fills its caches
            wrk(bases[name], files["mix"], 16, 3, 0)
        plan = schedule(args.rounds, measures, apps)
        for n, (round_, name, (measure, level), run) in enumerate(plan, 1):
            settle(bases[name], args.settle_s)
            before = cpu_split.snapshot(bases[name])
            inside = timed_app.spent(timed[name]) if timed else None
            figures = wrk(bases[name], files[measure], level, args.duration, run)
            figures["cpu_us"] = cpu_split.per_request(
                before, cpu_split.snapshot(bases[name]), figures["requests"]
            )
            if inside is not None:
                figures["cpu_us"].update(timed_app.split(inside, timed_app.spent(timed[name])))
            raw.setdefault((measure, level), {}).setdefault(name, []).append(figures)
            print(f"[{n}/{len(plan)}] round {round_ + 1} {name:<12}{measure:<11}{level:>4} "
                  f"connections: {figures['rps']:>6.0f} req/s",
                  file=sys.stderr, flush=True)  # fmt: skip
        if "kalan" in bases and args.paced_s > 0:  # --paced-s 0: no paced crowd
            settle(bases["kalan"], args.settle_s)
            results["paced"] = paced(bases["kalan"], mix, 64, args.paced_s, RUNS - 2, args.pace_ms,
                                     args.ramp_s)  # fmt: skip
    print(f"USSD throughput ({label}; gunicorn {args.settings}; wrk, 2 threads; "
          f"{args.rounds} rounds of {args.duration} s per app and measurement, "
          f"apps in a rotated order)")  # fmt: skip
    for (measure, level), figures in raw.items():
        apps_figures = {name: summarize(rounds) for name, rounds in figures.items()}
        found = ratios(apps_figures)
        what = "menus only" if measure == "navigation" else ", ".join(mix)
        show(f"{measure} ({what}), {level} connections: req/s", apps_figures, found)
        results["measures"][f"{measure}@{level}"] = {"apps": apps_figures, "ratios": found}
    if "paced" in results:
        show_paced(results["paced"], args.paced_s)
    print()
    for measure in ("navigation", "mix"):
        ratio = results["measures"].get(f"{measure}@64", {}).get("ratios", {}).get("kalan/bare")
        if ratio:
            value = results[f"ratio_{measure}"] = ratio["median"]
            print(
                f"ratio {measure}: {value:.2f} "
                f"(target >= {TARGETS[measure]}: {verdict(value >= TARGETS[measure])})"
            )
    save("throughput", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
