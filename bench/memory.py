"""Memory per process: gunicorn's web workers after traffic, an RQ worker and the clock.

Usage: python bench/memory.py [--machine] [--hops 2000] [--workers 4]
Serves Kalan under the Procfile's gunicorn settings, replays the realistic journeys
from one client until --hops hops were answered, then reads each process's resident
(RSS) and unique (USS) memory with psutil. USS is what one more process costs: the
code pages the workers share with their parent are counted once, in the parent.
"""

import argparse
import subprocess
import sys
import time
import uuid

import psutil
import requests
from common import ROOT, TOKEN, environment, gunicorn, save, services
from journeys import JOURNEYS, phone, seed, texts


def replay(base: str, hops: int) -> int:
    """Play the journeys round-robin from new known callers until hops were answered."""
    done, n = 0, 0
    url = base + "/ussd?token=" + TOKEN
    while done < hops:
        for sessions in JOURNEYS.values():
            caller = phone(0, 0, n)
            n += 1
            for session in sessions:
                session_id = uuid.uuid4().hex
                for text in texts(session):
                    form = {"sessionId": session_id, "serviceCode": "*123#", "text": text,
                            "phoneNumber": caller, "networkCode": "99999"}  # fmt: skip
                    requests.post(url, data=form, timeout=10).raise_for_status()
                    done += 1
    return done


def measure(pid: int) -> dict:
    """Return a process's RSS and USS in MB."""
    info = psutil.Process(pid).memory_full_info()
    return {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1)}


def idle(module: list[str], env: dict, seconds: float = 4.0) -> dict:
    """Start a worker-side process, let it settle, and return its memory."""
    process = subprocess.Popen([sys.executable, "-m", *module], env=env, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(seconds)
        if process.poll() is not None:
            raise SystemExit(f"bench: python -m {' '.join(module)} exited early")
        return measure(process.pid)
    finally:
        process.kill()  # only its memory was wanted; an idle RQ worker takes long to stop
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", action="store_true", help="the machine's Redis and PostgreSQL")
    parser.add_argument("--hops", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with services(None, None, args.machine) as (redis_url, database_url, label):
        seed(database_url)
        env = environment(redis_url, database_url)
        settings = ["--workers", str(args.workers), "--timeout", "9"]
        with gunicorn("app:create_app()", settings, env) as base:
            hops = replay(base, args.hops)
            port = base.rsplit(":", 1)[1]
            master = next(p for p in psutil.process_iter(["cmdline"])
                          if "gunicorn" in (line := " ".join(p.info["cmdline"] or ()))
                          and port in line)  # fmt: skip
            web = [measure(child.pid) for child in master.children()]
            parent = measure(master.pid)
        worker = idle(["workers"], env)
        clock = idle(["workers.clock"], env)
    rows = [("web master", parent), *[(f"web worker {i + 1}", w) for i, w in enumerate(web)],
            ("rq worker (idle)", worker), ("clock (idle)", clock)]  # fmt: skip
    print(f"{label}; {hops} hops answered before reading web workers' memory")
    print(f"{'process':<18} {'RSS MB':>8} {'USS MB':>8}")
    for name, figures in rows:
        print(f"{name:<18} {figures['rss_mb']:>8} {figures['uss_mb']:>8}")
    uss = sorted(w["uss_mb"] for w in web)
    print(f"web worker USS median: {uss[len(uss) // 2]} MB")
    save("memory", {"label": label, "hops": hops, "processes": dict(rows)})


if __name__ == "__main__":
    main()
