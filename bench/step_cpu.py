"""CPU time per USSD hop, by kind: the lessons and answers of the training journey above all.

Usage: python bench/step_cpu.py [--machine] [--learners N] [--redis-url URL] [--database-url URL]
Plays bench/journeys.py's training journey for N new learners through the real /ussd
endpoint (the Flask app in this process, on real Redis and a real database) and adds up
this process's CPU time (time.process_time) per kind of hop. Where steps are written
behind (app/training/behind.py), it then writes them as the clock does and gives the CPU
per step: the work the hop no longer does. The database's own CPU is not counted.
"""

import argparse
import sys
import time
import uuid

from common import TOKEN, in_process, save, services
from journeys import TRAINING, phone, seed, texts


def play(app, learners: int, first: int) -> dict[str, list[float]]:
    """Play the training journey for learners callers; return each hop's CPU (s) by kind."""
    client, spent = app.test_client(), {}
    for n in range(first, first + learners):
        caller, lessons = phone(0, 0, n), 0
        for session in TRAINING:
            session_id = "ATUid_" + uuid.uuid4().hex
            for (_value, kind), text in zip(session, texts(session), strict=True):
                if kind == "lesson":  # the module's first step opens its row: the full path
                    lessons += 1
                    kind = "lesson" if lessons > 1 else "lesson 1"
                form = {"sessionId": session_id, "serviceCode": "*123#", "phoneNumber": caller,
                        "text": text, "networkCode": "99999"}  # fmt: skip
                start = time.process_time()
                response = client.post("/ussd?token=" + TOKEN, data=form)
                spent.setdefault(kind, []).append(time.process_time() - start)
                assert response.status_code == 200, response.get_data(as_text=True)
    return spent


def write_behind(app) -> tuple[int, float]:
    """Write the queued steps as the clock does; return how many, and the CPU it took."""
    try:
        from app.training import behind
    except ImportError:  # a release that writes them in the hop
        return 0, 0.0
    start = time.process_time()
    done = behind.drain(app.extensions["redis"], app.config["REDIS_PREFIX"],
                        app.extensions["engine"], "bench")  # fmt: skip
    return done, time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--database-url")
    parser.add_argument("--machine", action="store_true", help="use the machine's Redis and PG")
    parser.add_argument("--learners", type=int, default=300)
    args = parser.parse_args()
    from app import create_app

    with services(args.redis_url, args.database_url, args.machine) as (redis_url, db_url, label):
        seed(db_url)
        app = create_app(in_process(redis_url, db_url))
        with app.app_context():
            play(app, 20, 0)  # warm-up: the first hops of a process fill its caches
            write_behind(app)
            spent = play(app, args.learners, 100)
            steps, writing = write_behind(app)
        app.extensions["engine"].dispose()
    print(f"CPU per hop, this process ({label}, {args.learners} learners)")
    rows = {kind: {"hops": len(v), "cpu_ms": 1000 * sum(v) / len(v)} for kind, v in spent.items()}
    for kind, row in rows.items():
        print(f"{kind:<10}{row['hops']:>7} hops {row['cpu_ms']:>8.3f} ms")
    if steps:
        rows["writer"] = {"steps": steps, "cpu_ms": 1000 * writing / steps}
        print(f"{'writer':<10}{steps:>7} steps{rows['writer']['cpu_ms']:>8.3f} ms a step")
    save("hop_cpu", {"services": label, "kinds": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
