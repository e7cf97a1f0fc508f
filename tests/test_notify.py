"""Waking the workers from a hop's own save: RQ's job, written in the save's transaction."""

import pytest
from redis.exceptions import ResponseError
from rq.job import Job, JobStatus

from app.infra import logs
from app.messaging.notify import DISPATCH

from . import in_process

TIMES = (b"created_at", b"enqueued_at")


def writes(pipe, job_id: str) -> set:
    """Return the commands a pipeline holds, by name and key, the job's id made generic."""
    return {(args[0], str(args[1]).replace(job_id, "<id>")) for args, _ in pipe.command_stack}


def test_a_hops_dispatch_is_the_job_rq_itself_writes_and_a_worker_runs_it(app):
    """The hash, the queue and the queues' set are RQ's own enqueue's, but the times."""
    workers, queue, redis = (
        app.extensions["workers"],
        app.extensions["queue"],
        app.extensions["redis"],
    )
    token = logs.REQUEST_ID.set("4f1c2a9e8d7b6a5f")
    try:
        pipe = redis.pipeline(transaction=True)
        workers.wake_in(pipe)
        (ours,) = [args[2] for args, _ in pipe.command_stack if args[0] == "RPUSH"]
        our_writes = writes(pipe, ours)
        pipe.execute()
        theirs = queue.create_job(DISPATCH, job_id=workers.job_id("dispatch-rq"), timeout=600,
                                  meta={logs.META: "4f1c2a9e8d7b6a5f"})  # fmt: skip
        pipe = redis.pipeline(transaction=True)
        queue.enqueue_job(theirs, pipeline=pipe)
        # The same kinds of write to the same keys: a later RQ that enqueues otherwise (a
        # registry, a script) fails here, not in production.
        assert writes(pipe, theirs.id) == our_writes
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
    store, counted = app.extensions["sessions"], app.config["REDIS_PREFIX"] + "notify-count"

    def also(pipe):  # a count queued before the job, as a hop's other writes may be
        pipe.incr(counted)
        workers.wake_in(pipe)

    loaded = store.load("ATUid_notify", "+22370000001")
    with pytest.raises(ResponseError):  # a command Redis refuses: the whole save is refused
        store.save("ATUid_notify", loaded, {"n": 1}, also=also, together=[("NO-SUCH-COMMAND",)])
    assert (queue.job_ids, redis.exists(counted), store.peek("ATUid_notify")) == ([], 0, None)
    store.release("ATUid_notify", loaded)
    store.save("ATUid_notify", store.load("ATUid_notify", "+22370000001"), {"n": 1}, also=also)
    assert len(queue.job_ids) == 1 and redis.get(counted) == b"1"
