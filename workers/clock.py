"""`python -m workers.clock`: queue the periodic tick, in a process of its own.

Not a thread of the worker: RQ forks a child for every job, and a fork taken
while another thread holds a lock (Redis's connection pool, logging) can
leave the child stuck on it. Not RQ's scheduler either: after a worker is
killed its scheduler lock outlives it for a minute, and the outbox must not
wait that long. Run one clock beside the workers (Procfile: `clock`); a
second one does no harm: each time slot gets one tick, and while no worker
takes them only one waits in the queue (enqueue_tick).

Between beats it writes the learners' steps that hops queued in Redis to SQL
(workers/progress.py), waiting on their stream instead of sleeping.
"""

import time
from collections.abc import Callable

from flask import Flask

from app import create_app

from . import jobs, progress


def until_next_slot(tick_s: int, now: float) -> float:
    """Return the seconds from now to just after the next slot of tick_s begins."""
    # Just after, not on it: woken a hair early, a beat would still be in the slot before,
    # whose tick is queued already, and queue nothing.
    return tick_s - now % tick_s + 0.01


def run(
    app: Flask,
    beats: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> int:
    """Queue a tick now and at the start of every SMS_TICK_S slot; return the beats done.

    beats stops the loop after that many (None: never, as in production).
    """
    tick_s = max(1, app.config["SMS_TICK_S"])
    done = 0
    while beats is None or done < beats:
        if done:
            sleep(until_next_slot(tick_s, clock()))
        try:
            with app.app_context():
                jobs.enqueue_tick(app)
        except Exception:  # keep beating: a Redis hiccup must not stop the clock
            app.logger.exception("could not queue a tick")
        done += 1
    return done


if __name__ == "__main__":
    app = create_app()
    run(app, sleep=progress.follower(app))
