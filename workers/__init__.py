"""RQ workers: background jobs run outside the USSD request path."""

from flask import Flask
from rq import Queue, Worker

# Urgent work (case alerts) is taken before routine work, and bulk campaign
# batches last, whatever order they were queued in.
QUEUES = ("urgent", "default", "bulk")


def queues(app: Flask) -> list[Queue]:
    """Return the app's queues, bound to its Redis connection."""
    prefix, redis = app.config["REDIS_PREFIX"], app.extensions["redis"]
    return [Queue(prefix + name, connection=redis) for name in QUEUES]


def run(app: Flask, burst: bool = False) -> None:
    """Work the app's queues, with RQ's scheduler, inside one app context."""
    from . import jobs  # loaded once here, not in every forked job

    with app.app_context():
        # Whatever a previous worker left half done is picked up now.
        jobs.schedule_tick(app, delay_s=0)
        worker = Worker(queues(app), connection=app.extensions["redis"])
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
