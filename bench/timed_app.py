"""Gunicorn settings that time each worker's app apart from gunicorn's own work on a request.

Usage: gunicorn -c python:timed_app ... (bench/ on PYTHONPATH; bench/throughput.py --in-app).
Each worker adds up the CPU its thread spends inside the WSGI app (the body joined, as
gunicorn iterates it) and keeps that sum, its whole CPU since it started and its requests
in TIMED_APP_DIR/<pid>.json: what is left is gunicorn's (accepting, parsing, writing,
closing). With TIMED_APP_HOOKS=1, Kalan's own settings apply too.
"""

import json
import os
import threading
import time

if os.environ.get("TIMED_APP_HOOKS"):
    from app.web.gunicorn_conf import child_exit, logger_class, on_starting  # noqa: F401
    from app.web.gunicorn_conf import post_worker_init as kalan_post_worker_init
else:
    kalan_post_worker_init = None

# Written every FLUSH requests, so that a reader between two measurements is at most that
# many requests behind in each worker (of some ten thousand a measurement).
FLUSH = 32
_SPENT = {"app_s": 0.0, "requests": 0, "worker_s": 0.0}


def post_worker_init(worker) -> None:
    """Apply Kalan's hook if asked, then wrap the worker's app in a CPU timer."""
    if kalan_post_worker_init is not None:
        kalan_post_worker_init(worker)
    inner = worker.wsgi
    path = os.path.join(os.environ["TIMED_APP_DIR"], f"{os.getpid()}.json")
    started, lock = time.process_time(), threading.Lock()

    def timed(environ, start_response):
        begun = time.thread_time()
        body = inner(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):  # as a server must: the app's own clean-up runs
                body.close()
            spent = time.thread_time() - begun
            with lock:
                _SPENT["app_s"] += spent
                _SPENT["requests"] += 1
                if _SPENT["requests"] % FLUSH == 0:
                    _SPENT["worker_s"] = time.process_time() - started
                    # Whole or not at all: a reader never finds the file half written.
                    with open(path + ".tmp", "w", encoding="utf-8") as out:
                        json.dump(_SPENT, out)
                    os.replace(path + ".tmp", path)

    worker.wsgi = timed


def spent(folder: str) -> dict[str, float]:
    """Return the app's CPU, its workers' CPU and their requests, summed over the workers."""
    total = {"app_s": 0.0, "requests": 0, "worker_s": 0.0}
    for name in os.listdir(folder):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as found:
                figures = json.load(found)
        except (OSError, ValueError):  # being written
            continue
        for key in total:
            total[key] += figures[key]
    return total


def split(before: dict, after: dict) -> dict[str, float]:
    """Return the µs per request spent in the app and in gunicorn around it, between two reads."""
    requests = max(after["requests"] - before["requests"], 1)
    app = (after["app_s"] - before["app_s"]) / requests * 1e6
    worker = (after["worker_s"] - before["worker_s"]) / requests * 1e6
    return {"in app": app, "gunicorn": worker - app}
