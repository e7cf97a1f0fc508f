"""RQ workers: background jobs run outside the USSD request path."""

from flask import Flask
from rq import Queue, Worker

# Urgent work (case alerts) is taken before routine work, and bulk campaign
# batches last, whatever order they were queued in.
QUEUES = ("urgent", "default", "bulk")


def queues(app: Flask) -> list[Queue]:
    """Return the app's queues, bound to its Redis connection."""
    return [Queue(name, connection=app.extensions["redis"]) for name in QUEUES]


def run(app: Flask, burst: bool = False) -> None:
    """Work the app's queues, with RQ's scheduler, inside one app context."""
    with app.app_context():
        worker = Worker(queues(app), connection=app.extensions["redis"])
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
