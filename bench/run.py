"""`make bench`: every benchmark in turn, each printing its table, then the figures that count."""

# Usage: python bench/run.py [--quick] [--embedded] [--redis-url URL]
# On the machine's Redis and PostgreSQL when they answer (else an embedded Redis and
# SQLite); JSON in bench/results/. Ends with four lines: the ratios of Kalan's req/s over
# bare Flask's (navigation, then the realistic mix), and a 100,000-recipient campaign's
# expansion and send rates, the latter against the HTTP client's ceiling.

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import RESULTS, verdict

HERE = Path(__file__).resolve().parent
TARGET_EXPAND = 20_000  # recipients per second
TARGET_P99_MS = 25


def steps(quick: bool, machine: list[str]) -> list[list[str]]:
    """Return the scripts to run with their arguments; quick ones are shorter and smaller."""
    if quick:
        return [
            ["throughput.py", *machine, "--rounds", "2", "--duration", "3", "--settle-s", "1",
             "--paced-s", "8"],
            ["profiling.py", *machine, "--repeat", "3"],
            ["campaign.py", *machine, "--sizes", "2000,20000", "--ceiling-s", "2"],
            ["campaign_rate.py", *machine, "--recipients", "100"],
        ]  # fmt: skip
    # About 5 min of throughput (3 rounds x 4 apps x 2 measurements of 8 s, and the paced
    # crowd), 2 of campaigns, 1 of campaigns at a rate, 2 of the send's floor: some 11 min
    # on a quiet machine.
    return [
        ["throughput.py", *machine, "--rounds", "3", "--duration", "8", "--paced-s", "30"],
        ["profiling.py", *machine],
        ["campaign.py", *machine, "--sizes", "10000,100000"],
        ["campaign_rate.py", *machine, "--recipients", "100,301"],
        # The send's floor: the protocol's SQL with none of our layers (PostgreSQL only).
        *([["send_floor.py", *machine]] if machine[:1] == ["--machine"] else []),
    ]


def fresh(name: str, since: float) -> dict:
    """Return bench/results/<name>.json if this run wrote it, else {}."""
    path = RESULTS / f"{name}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return {}
    return json.loads(path.read_text())


def summary(since: float) -> None:
    """Print the floors' ratios, every app's latencies, the paced p99, then the four lines."""
    throughput, campaign = fresh("throughput", since), fresh("campaign", since)
    measures = throughput.get("measures", {})
    print("\nsummary (medians of the rounds, 64 connections)")
    for measure in ("navigation", "mix"):
        found = measures.get(f"{measure}@64")
        if not found:
            continue
        ratios = found["ratios"]
        print(f"{measure}: " + ", ".join(f"{k} {v['median']:.2f}" for k, v in ratios.items()))
        apps = found["apps"].items()
        print("  " + "; ".join(f"{app} p50 {a['p50_us'] / 1000:.1f} ms, "
                               f"p99 {a['p99_us'] / 1000:.1f} ms" for app, a in apps))  # fmt: skip
    paced = throughput.get("paced")
    if paced:
        worst = max(paced["kinds"].items(), key=lambda kv: kv[1]["p99_us"])
        p99 = paced["p99_us"] / 1000
        print(f"paced (64 callers): p99 {p99:.1f} ms (target < {TARGET_P99_MS} ms: "
              f"{verdict(p99 < TARGET_P99_MS)}); worst kind of hop {worst[0]}, "
              f"{worst[1]['p99_us'] / 1000:.1f} ms")  # fmt: skip
    floor_line(since)
    print()
    for measure, target in (("navigation", 0.7), ("mix", 0.4)):
        value = throughput.get(f"ratio_{measure}")
        if value is None:
            print(f"ratio {measure}: n/a")
        else:
            print(f"ratio {measure}: {value:.2f} (target >= {target}: {verdict(value >= target)})")
    sizes = campaign.get("sizes", {})
    largest = sizes[max(sizes, key=int)] if sizes else None
    if largest:
        per_s, recipients = largest["expand_per_s"], largest["recipients"]
        print(f"campaign expand/s: {per_s:.0f} ({recipients:,} recipients; target >= "
              f"{TARGET_EXPAND:,}/s: {verdict(per_s >= TARGET_EXPAND)})")  # fmt: skip
        share, top = campaign["send_share"], campaign["ceiling"]["sms_per_s"]
        print(f"campaign send/s: {largest['send_per_s']:.0f} ({share:.0%} of the HTTP client "
              f"ceiling, {top:.0f} SMS/s measured in this run; target >= 75%: "
              f"{verdict(share >= 0.75)})")  # fmt: skip
    else:
        print("campaign expand/s: n/a\ncampaign send/s: n/a")


def floor_line(since: float) -> None:
    """Print what the send's floor reached, if bench/send_floor.py ran."""
    floor = fresh("send_floor", since)
    if floor and floor["medians"]["bare"] and floor["ceiling"]:
        medians, top = floor["medians"], floor["ceiling"]
        print(f"send floor (the protocol's SQL, none of our layers): {medians['bare']:.0f} SMS/s, "
              f"{medians['bare'] / top:.0%} of its ceiling of {top:.0f}; the Sender "
              f"{medians['kalan'] / medians['bare']:.0%} of that floor")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs, a smaller campaign")
    parser.add_argument("--embedded", action="store_true", help="embedded Redis and SQLite")
    parser.add_argument("--redis-url", help="a Redis of your choice (the run's keys are deleted)")
    args = parser.parse_args()
    machine = [] if args.embedded else ["--machine"]
    if args.redis_url:
        machine += ["--redis-url", args.redis_url]
    started, failed = time.time(), []
    for step in steps(args.quick, machine):
        print(f"\n$ python bench/{' '.join(step)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / step[0]), *step[1:]], cwd=HERE).returncode:
            failed.append(step[0])
    if failed:
        print(f"\nbench: {', '.join(failed)} missed a target or failed (see above)")
    summary(started)
    return 0  # figures, not a test: a missed target is reported, not an error


if __name__ == "__main__":
    raise SystemExit(main())
