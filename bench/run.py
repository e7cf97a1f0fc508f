"""`make bench`: every benchmark in turn, on the machine's Redis and PostgreSQL when they
answer (else an embedded Redis and SQLite), each printing its table; JSON in bench/results/.

Usage: python bench/run.py [--quick] [--embedded]
"""

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, a smaller campaign")
    parser.add_argument("--embedded", action="store_true", help="embedded Redis and SQLite")
    args = parser.parse_args()
    machine = [] if args.embedded else ["--machine"]
    duration, paced = ("5", "10") if args.quick else ("10", "30")
    steps = [
        ["throughput.py", *machine, "--duration", duration, "--paced-s", paced],
        ["cost.py", *machine],
        ["hop_cpu.py", *machine, "--learners", "100" if args.quick else "300"],
        ["campaign.py", "--sizes", "2000,20000" if args.quick else "10000,100000"],
        ["campaign_rate.py", *machine, "--recipients", "100" if args.quick else "100,301"],
    ]
    failed = []
    for step in steps:
        print(f"\n$ python bench/{' '.join(step)}", flush=True)
        if subprocess.run([sys.executable, str(HERE / step[0]), *step[1:]], cwd=HERE).returncode:
            failed.append(step[0])
    if failed:
        print(f"\nbench: {', '.join(failed)} missed a target or failed (see above)")
    return 0  # figures, not a test: a missed target is reported, not an error


if __name__ == "__main__":
    raise SystemExit(main())
