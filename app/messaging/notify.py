"""Queue background work: job ids carry the app's key prefix, and wake-ups are deduplicated."""

import uuid
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError

PENDING_S = 5  # one wake-up per few seconds is plenty: a dispatch drains everything due
# The jobs, by name: the app queues them, and only a worker imports them.
DISPATCH = "workers.jobs.dispatch"
EXPAND = "workers.jobs.expand_campaign"


def job_id(name: str) -> str:
    """Return a job id under the app's prefix (RQ ids allow no colons)."""
    return current_app.config["REDIS_PREFIX"].replace(":", "-") + name


def enqueue(func: str, *args, at: datetime | None = None, **options):
    """Queue the job named func (dotted) with args, now or at a given time."""
    queue = current_app.extensions["queue"]
    options.setdefault("job_id", job_id(f"{func.rsplit('.', 1)[1]}-{uuid.uuid4().hex}"))
    if at is not None:
        return queue.enqueue_at(at, func, *args, **options)
    return queue.enqueue(func, *args, **options)


def kick() -> None:
    """Queue a dispatch unless one is already pending; never fail the caller.

    Best effort: if Redis is down the periodic tick still sends the rows.
    """
    app = current_app
    try:
        key = app.config["REDIS_PREFIX"] + "dispatch:pending"
        if app.extensions["redis"].set(key, 1, nx=True, ex=PENDING_S):
            enqueue(DISPATCH, job_timeout=600)
    except RedisError:
        app.logger.warning("could not wake the workers; the next tick will send")


def wake_in(pipe) -> None:
    """Queue a dispatch inside pipe (a USSD hop's own save): no round trip of its own.

    Unlike kick(), there is no pending flag to check first, which would cost a trip:
    a report or a module's end is rare, and a dispatch with nothing due is cheap.
    """
    queue = current_app.extensions["queue"]
    job = queue.create_job(DISPATCH, job_id=job_id(f"dispatch-{uuid.uuid4().hex}"), timeout=600)
    queue.enqueue_job(job, pipeline=pipe)


def start_campaign(campaign_id: int, when: datetime) -> None:
    """Queue a campaign's expansion for its start time (now if past); may raise RedisError.

    If Redis does not answer, a worker's tick still starts it once Redis is back.
    """
    from app.infra.models import utcnow

    enqueue(EXPAND, campaign_id, at=when if when > utcnow() else None, job_timeout=3600)
