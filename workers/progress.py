"""The clock's time between beats, spent writing the learners' steps to SQL as they come.

Hops queue a lesson's place and a quiz answer in a Redis stream (app/training/behind.py);
the clock reads it as one consumer of the group, waiting on it rather than sleeping, so
a step reaches SQL within milliseconds. A second clock is a second consumer: no harm.
"""

import logging
import os
import socket
import time
from collections.abc import Callable

from flask import Flask

from app.training import behind

WAIT_MS = 500  # under the Redis client's 1 s socket timeout (app/infra/sessions.py)
PAUSE_S = 1.0  # after a failure (the database or Redis away), before trying again
FORGET_EVERY_S = 600

log = logging.getLogger(__name__)


def follower(app: Flask, consumer: str | None = None) -> Callable[[float], None]:
    """Return a sleep(seconds) that writes the steps waiting in Redis meanwhile."""
    redis, engine = app.extensions["redis"], app.extensions["engine"]
    prefix = app.config["REDIS_PREFIX"]
    # Stable across a restart in a container (same host name and pid): its own
    # unacknowledged entries are then taken up at once, not after CLAIM_IDLE_MS.
    consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
    state = {"failing": False, "forgot_at": 0.0}

    def follow(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                block = max(1, int(min(left * 1000, WAIT_MS)))
                behind.drain_once(redis, prefix, engine, consumer, block_ms=block)
                if time.monotonic() - state["forgot_at"] > FORGET_EVERY_S:
                    behind.forget_consumers(redis, prefix, consumer)
                    state["forgot_at"] = time.monotonic()
                if state["failing"]:
                    log.warning("training steps are written to the database again")
                state["failing"] = False
            except Exception:  # keep following: the entries wait in Redis meanwhile
                if not state["failing"]:
                    log.exception("training steps could not be written; they wait in Redis")
                state["failing"] = True
                time.sleep(max(0.0, min(PAUSE_S, deadline - time.monotonic())))

    return follow
