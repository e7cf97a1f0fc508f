"""Run what an app queued in the test process, as a worker's forked job would."""

from rq import SimpleWorker

from workers import queues


class InProcess(SimpleWorker):
    """RQ's worker that runs jobs in this process, without its channel for commands.

    That channel's thread waits up to 60 s for a message, and redis-py (8.2) joins it
    without a timeout when the worker stops: a burst could take a minute to end.
    """

    def subscribe(self) -> None:
        pass


def work(app) -> None:
    """Run what is queued in this process, as a worker would, until the queue is empty."""
    with app.app_context():
        InProcess(queues(app), connection=app.extensions["redis"]).work(burst=True)
