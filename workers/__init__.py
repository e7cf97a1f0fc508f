"""RQ workers: background jobs run outside the USSD request path."""

import logging

from flask import Flask
from rq import Queue, Worker
from rq.job import Job

from app.infra import logs
from app.messaging.notify import QUEUES


class LoggedJob(Job):
    """A job whose log lines carry the id of the request that queued it, if any."""

    def perform(self):
        """Run the job with the request's id in the log context (see app/infra/logs.py)."""
        token = logs.REQUEST_ID.set(self.meta.get(logs.META))
        try:
            return super().perform()
        finally:
            logs.REQUEST_ID.reset(token)


def queues(app: Flask) -> list[Queue]:
    """Return the app's queues, bound to its Redis connection."""
    prefix, redis = app.config["REDIS_PREFIX"], app.extensions["redis"]
    return [Queue(prefix + name, connection=redis) for name in QUEUES]


class KalanWorker(Worker):
    """RQ's worker, whose listener for commands stops within a second of being told to."""

    def subscribe(self) -> None:
        """Listen on the worker's channel as RQ does, looking every second, not every minute.

        RQ's listener thread waits up to sleep_time for a message, and redis-py (8.2) joins
        it without a timeout when the worker stops: with RQ's 60 s, a stopped worker (SIGTERM,
        Ctrl-C, a deploy) sat up to a minute before exiting. A look a second costs nothing.
        """
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class QuietTicks(logging.Filter):
    """Drop RQ's lines about the periodic tick: four every 10 s would drown the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "jobs.tick()" not in message and "-tick-" not in message


def run(app: Flask, burst: bool = False) -> None:
    """Work the app's queues, with RQ's scheduler, inside one app context.

    The periodic tick comes from the clock, a process of its own (workers.clock).
    """
    from . import jobs  # loaded once here, not in every forked job

    with app.app_context():
        jobs.enqueue_tick(app)  # whatever a lost worker left half done starts now
        worker = KalanWorker(queues(app), connection=app.extensions["redis"], job_class=LoggedJob)
        logging.getLogger("rq.worker").addFilter(QuietTicks())
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
