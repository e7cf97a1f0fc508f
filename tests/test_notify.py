"""Waking the workers from a hop's own save: RQ's job, written in the save's transaction."""

import pytest
from redis.exceptions import ResponseError
from rq.job import Job, JobStatus

from app.infra import logs
from app.messaging.notify import DISPATCH

from . import in_process

TIMES = (b"created_at", b"enqueued_at")


def test_a_hops_dispatch_is_the_job_rq_itself_writes_and_a_worker_runs_it(app):
    """The hash, the queue and the queues' set are RQ's own enqueue's, but the times."""
    workers, queue, redis = (
        app.extensions["workers"],
        app.extensions["queue"],
        app.extensions["redis"],
    )
    token = logs.REQUEST_ID.set("4f1c2a9e8d7b6a5f")
    try:
        pipe = redis.pipeline(transaction=False)
        workers.wake_in(pipe)
        pipe.execute()
        (ours,) = queue.job_ids
        theirs = queue.create_job(DISPATCH, job_id=workers.job_id("dispatch-rq"), timeout=600,
                                  meta={logs.META: "4f1c2a9e8d7b6a5f"})  # fmt: skip
        pipe = redis.pipeline(transaction=False)
        queue.enqueue_job(theirs, pipeline=pipe)
        pipe.execute()
    finally:
        logs.REQUEST_ID.reset(token)
    written = [redis.hgetall(Job.key_for(job_id)) for job_id in (ours, theirs.id)]
    assert [{k: v for k, v in fields.items() if k not in TIMES} for fields in written] == [
        {k: v for k, v in written[1].items() if k not in TIMES}
    ] * 2
    fetched = Job.fetch(ours, connection=redis)  # RQ reads its times and its meta
    assert fetched.created_at and fetched.enqueued_at
    assert fetched.meta == {logs.META: "4f1c2a9e8d7b6a5f"}
    assert queue.job_ids == [ours, theirs.id]
    assert queue.key.encode() in redis.smembers(queue.redis_queues_keys)
    in_process.work(app)
    assert [Job.fetch(j, connection=redis).get_status() for j in (ours, theirs.id)] == [
        JobStatus.FINISHED
    ] * 2


def test_a_hops_dispatch_is_queued_in_the_saves_transaction(app):
    """The session and its job are written together, or neither: a save Redis refuses
    leaves no job behind it."""
    workers, queue, redis = (
        app.extensions["workers"],
        app.extensions["queue"],
        app.extensions["redis"],
    )
    session = app.config["REDIS_PREFIX"] + "session:ATUid_notify"
    pipe = redis.pipeline(transaction=False)
    workers.wake_in(pipe)
    pipe.execute_command("SET", session, b"{}")
    pipe.execute_command("SET", session)  # a malformed command: Redis refuses the whole
    with pytest.raises(ResponseError):
        pipe.execute()
    assert (queue.job_ids, redis.exists(session)) == ([], 0)
