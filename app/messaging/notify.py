"""Tell the workers what to do: job ids carry the app's prefix; wake-ups are deduplicated."""

import functools
import logging
import uuid
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from app.infra import logs

PENDING_S = 5  # one wake-up per few seconds is plenty: a dispatch drains everything due
# The jobs, by name: the app queues them, and only a worker imports them.
DISPATCH = "workers.jobs.dispatch"
EXPAND = "workers.jobs.expand_campaign"
# The queues a worker listens to. Dispatch, ticks and expansions run on "default"; the outbox
# itself orders urgent rows first. "urgent" and "bulk" are listened to so that later jobs
# (case escalations, exports) can jump or yield the line without a redeploy.
QUEUES = ("urgent", "default", "bulk")
RQ_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # how RQ writes a job's times (rq.utils.utcformat)

log = logging.getLogger(__name__)


class Workers:
    """The app's handle on its background workers, through one queue in Redis."""

    def __init__(self, queue: Queue, redis: Redis, prefix: str):
        self.queue, self.redis, self.prefix = queue, redis, prefix

    @property
    def pending_key(self) -> str:
        """Return the key that says a dispatch is queued; a dispatch clears it as it starts."""
        return self.prefix + "dispatch:pending"

    def job_id(self, name: str) -> str:
        """Return a job id under the app's prefix (RQ ids allow no colons)."""
        return self.prefix.replace(":", "-") + name

    def enqueue(self, func: str, *args, at: datetime | None = None, **options):
        """Queue the job named func (dotted) with args, now or at a given time."""
        options.setdefault("job_id", self.job_id(f"{func.rsplit('.', 1)[1]}-{uuid.uuid4().hex}"))
        options.setdefault("meta", _meta())
        if at is not None:
            return self.queue.enqueue_at(at, func, *args, **options)
        return self.queue.enqueue(func, *args, **options)

    def kick(self) -> None:
        """Queue a dispatch unless one is already pending; never fail the caller.

        Best effort: if Redis is down the periodic tick still sends the rows.
        """
        try:
            if self.redis.set(self.pending_key, 1, nx=True, ex=PENDING_S):
                self.enqueue(DISPATCH, job_timeout=600)
        except RedisError:
            log.warning("could not wake the workers; the next tick will send")

    def wake_in(self, pipe) -> None:
        """Queue a dispatch inside pipe (a USSD hop's own save): no round trip of its own.

        Unlike kick(), there is no pending flag to check first, which would cost a trip:
        a report or a module's end is rare, and a dispatch with nothing due is cheap.
        The job is RQ's own (see _dispatch), written as enqueue_job writes it; pipe is a
        transaction (SessionStore.save makes it one): the session is not saved without it.
        """
        job_id = self.job_id(f"dispatch-{uuid.uuid4().hex}")
        at = datetime.now(UTC).strftime(RQ_TIME)
        fields = {**self._dispatch, "created_at": at, "enqueued_at": at}
        meta = _meta()
        if meta:
            fields["meta"] = self.queue.serializer.dumps(meta)
        pipe.sadd(self.queue.redis_queues_keys, self.queue.key)
        pipe.hset(self.queue.job_class.key_for(job_id), mapping=fields)
        pipe.rpush(self.queue.key, job_id)

    @functools.cached_property
    def _dispatch(self) -> dict:
        """Return the fields of a dispatch job's hash but its times and meta, made once by RQ.

        RQ builds a job (a pickled call, compressed) anew for every enqueue: a tenth of a
        report's save for the same bytes each time.
        """
        job = self.queue.create_job(DISPATCH, job_id="-", timeout=600)
        # What enqueue_job sets before it saves a job (create_job made it queued).
        job.origin, job.enqueued_at = self.queue.name, job.created_at
        fields = job.to_dict()
        for name in ("created_at", "enqueued_at", "meta"):
            fields.pop(name, None)
        return fields

    def start_campaign(self, campaign_id: int, when: datetime, now: datetime) -> None:
        """Queue a campaign's expansion for its start time (now if past); may raise RedisError.

        If Redis does not answer, a worker's tick still starts it once Redis is back.
        """
        self.enqueue(EXPAND, campaign_id, at=when if when > now else None, job_timeout=3600)


def _meta() -> dict:
    """Return what a job carries of the request that queued it: its id, for the worker's log."""
    request_id = logs.request_id()
    return {logs.META: request_id} if request_id else {}
