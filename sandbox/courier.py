"""Callbacks to Kalan posted in the background, each at its due time, retried a few times."""

import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from sandbox.transport import post_form

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Job:
    """One callback waiting in the queue, ordered by due time then by arrival."""

    due: float
    seq: int
    url: str = field(compare=False)
    form: list | dict = field(compare=False)
    on_due: Callable[[], None] | None = field(compare=False, default=None)
    attempt: int = field(compare=False, default=0)


class Courier:
    """One daemon thread draining a queue of callbacks, started on first use.

    A callback Kalan does not answer with 200 is tried again after
    backoff, 2 × backoff, 4 × backoff… up to retries more times, then dropped
    with a warning. Nothing a callback does can stop the thread.
    """

    def __init__(self, retries: int = 3, backoff: float = 0.5, timeout: float = 5.0) -> None:
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._wake = threading.Condition()

    def schedule(
        self, url: str, form: list | dict, delay: float, on_due: Callable[[], None] | None = None
    ) -> None:
        """Post form to url in delay seconds; call on_due just before the first try."""
        with self._wake:
            if self._closed:
                raise RuntimeError("courier closed")
            job = _Job(time.monotonic() + delay, next(self._seq), url, form, on_due)
            heapq.heappush(self._queue, job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="courier", daemon=True)
                self._thread.start()
            self._wake.notify()

    def idle(self) -> bool:
        """Tell whether nothing is queued or being posted."""
        with self._wake:
            return not self._queue and not self._busy

    def close(self) -> None:
        """Stop the thread, dropping whatever is still queued."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(self.timeout + 1)

    def _run(self) -> None:
        """Post each job when it falls due, until closed."""
        with requests.Session() as http:
            while True:
                job = self._next()
                if job is None:
                    return
                try:
                    self._deliver(http, job)
                except Exception:
                    log.exception("callback to %s failed unexpectedly", job.url)
                finally:
                    with self._wake:
                        self._busy = False

    def _next(self) -> _Job | None:
        """Wait for the earliest job to fall due and take it; None once closed."""
        with self._wake:
            while not self._closed:
                wait = self._queue[0].due - time.monotonic() if self._queue else None
                if wait is not None and wait <= 0:
                    self._busy = True
                    return heapq.heappop(self._queue)
                self._wake.wait(wait)
            return None

    def _deliver(self, http: requests.Session, job: _Job) -> None:
        """Post one job, and queue it again if Kalan did not take it."""
        if job.attempt == 0 and job.on_due is not None:
            job.on_due()
        delivery = post_form(http, job.url, job.form, self.timeout)
        if delivery.ok:
            return
        if job.attempt >= self.retries:
            log.warning(
                "giving up on callback to %s after %d tries: %s",
                re.sub(r"(token=)[^&]*", r"\1[hidden]", job.url),  # logs keep no secret
                job.attempt + 1,
                delivery.outcome,
            )
            return
        pause = self.backoff * 2**job.attempt
        with self._wake:
            job.due = time.monotonic() + pause
            job.attempt += 1
            job.seq = next(self._seq)
            heapq.heappush(self._queue, job)
