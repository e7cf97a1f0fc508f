"""Time USSD hops over real HTTP against gunicorn, as `make run` serves them."""

# Prints latency percentiles per hop kind and writes bench/results/hops.json.
# Usage: python bench/hops.py [--sessions N] [--redis-url URL] [--database-url URL]

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.embedded import EmbeddedRedis, free_port  # noqa: E402

# One realistic session: first contact, menus, paging, back, free text, resume.
SCRIPT = ["", "1", "5", "5", "99", "99", "0", "00", "5", "2", "Awa Traore", "1", "1", "9", "00"]


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0..100) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def run(base: str, sessions: int) -> dict[str, list[float]]:
    """Play the script sessions times; return latencies in ms by hop kind."""
    http = requests.Session()
    times: dict[str, list[float]] = {"first": [], "navigate": [], "resent": []}
    for n in range(sessions):
        session_id, phone = "ATUid_" + uuid.uuid4().hex, f"+2237{n % 100000:07d}"
        sent: list[str] = []
        for value in SCRIPT:
            if value:
                sent.append(value)
            form = {
                "sessionId": session_id,
                "serviceCode": "*123#",
                "phoneNumber": phone,
                "text": "*".join(sent),
                "networkCode": "99999",
            }
            # Each answer is sent twice: gateways resend hops they got no reply for.
            for kind in ("navigate", "resent") if sent else ("first",):
                start = time.perf_counter()
                response = http.post(base + "/ussd", data=form, timeout=5)
                times[kind].append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis = None
        if not args.redis_url:
            redis = EmbeddedRedis(Path(tmp) / "redis").start()
        env = {
            **os.environ,
            "REDIS_URL": args.redis_url or redis.url,
            "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.db",
            "REDIS_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:",
        }
        subprocess.run([sys.executable, "-m", "app.cli", "db", "upgrade"], env=env, check=True)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--no-control-socket", "--log-level", "warning", "app:create_app()"],
            env=env, cwd=ROOT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    requests.get(base + "/healthz", timeout=5)
                    break
                except requests.RequestException:  # not listening, or still booting
                    time.sleep(0.1)
            run(base, 5)  # warm-up
            times = run(base, args.sessions)
        finally:
            server.terminate()
            server.wait()
            if redis:
                redis.stop()
    rows = {}
    print(f"{'hop':<10}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for kind, values in times.items():
        row = {
            "count": len(values),
            "p50": statistics.median(values),
            "p95": percentile(values, 95),
            "p99": percentile(values, 99),
            "max": max(values),
        }
        rows[kind] = row
        print(
            f"{kind:<10}{row['count']:>7}"
            + "".join(f"{row[k]:>9.2f}" for k in ("p50", "p95", "p99", "max"))
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hops.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
