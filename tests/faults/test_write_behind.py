"""Steps written behind (app/training/behind.py) through a killed clock and a Redis restart:
no answer lost, none written twice."""

import os
import signal

import pytest
from sqlalchemy import select, update

from app.infra.db import make_engine
from app.infra.models import Contact, ModuleProgress, QuizAnswer, utcnow
from app.training import behind
from sandbox.embedded import EmbeddedRedis

from ..conftest import Dial
from ..databases import waiting_on_a_lock
from ..helpers import write_behind
from ..test_training import answer_all, course, open_module, read_lessons
from .test_worker_kill import kill_hard, start, wait_for

LEARNERS = ("+22376100001", "+22376100002", "+22376100003")
ANSWERED = 3  # questions each learner answers: the quiz stays open, nothing is scored


def learn(app, phone: str, count: int = ANSWERED) -> Dial:
    """Open module 1, read its lessons and answer count questions; return the caller."""
    caller = Dial(app.test_client(), phone=phone)
    caller()
    open_module(caller)
    read_lessons(caller, course(app).modules[0])
    answer_all(caller, app, course(app).modules[0], count=count)
    return caller


def agents(app) -> None:
    with app.extensions["db"]() as db:
        for phone in LEARNERS:
            db.add(Contact(phone=phone, role="agent", organisation="RMCR", language="fr",
                           created_at=utcnow()))  # fmt: skip
        db.commit()


def written(app) -> tuple[list, list]:
    """Return each module row's (status, position) and every answer kept, as SQL has them."""
    with app.extensions["db"]() as db:
        rows = db.execute(select(ModuleProgress.status, ModuleProgress.position)).all()
        answers = db.execute(select(QuizAnswer.contact_id, QuizAnswer.question)).all()
    return sorted(tuple(r) for r in rows), sorted(tuple(a) for a in answers)


def env_for(app, redis_url: str, database_url: str) -> dict:
    """The environment of `python -m workers.clock` for this app, beating every second."""
    return {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database_url,
            "REDIS_PREFIX": app.config["REDIS_PREFIX"], "WEBHOOK_TOKEN": "",
            "SMS_TICK_S": "1"}  # fmt: skip


def test_a_clock_killed_mid_batch_loses_and_doubles_nothing(make_app, database_url, tmp_path):
    """The clock reads a batch and is killed with -9 while writing it; the batch is taken
    over and written once. A clock started afterwards writes new steps within seconds."""
    private = EmbeddedRedis(tmp_path / "redis").start()  # the clock's RQ keys stay in it
    app = make_app(REDIS_URL=private.url, SMS_TICK_S=1)
    agents(app)
    callers = [learn(app, phone) for phone in LEARNERS]
    queued = len(app.extensions["redis"].xrange(behind.key(app.config["REDIS_PREFIX"])))
    assert queued == len(LEARNERS) * (course(app).modules[0].lessons + ANSWERED)
    before = written(app)
    assert before[1] == []  # the answers are all in the stream
    # The last learner's row held by another transaction: the clock's batch stops there,
    # the first learners' rows already moved in its own transaction.
    outside = make_engine(database_url)
    held = outside.connect()
    lock = held.begin()
    last = held.scalar(select(Contact.id).where(Contact.phone == LEARNERS[-1]))
    held.execute(update(ModuleProgress).where(ModuleProgress.contact_id == last)
                 .values(reminders=ModuleProgress.reminders))  # fmt: skip
    env = env_for(app, private.url, database_url)
    name = behind.key(app.config["REDIS_PREFIX"])
    app.extensions["redis"].xgroup_create(name, behind.GROUP, id="0")
    clock = start(env, "workers.clock")
    try:
        wait_for(lambda: app.extensions["redis"].xpending(name, behind.GROUP)["pending"], 30)
        if outside.dialect.name == "postgresql":  # in the middle of its statements
            wait_for(lambda: waiting_on_a_lock(outside), 30)
        kill_hard(clock)
        lock.rollback()
        held.close()
        assert written(app) == before  # the killed batch wrote nothing
        pending = app.extensions["redis"].xpending(name, behind.GROUP)["pending"]
        assert pending == queued
        # The next consumer takes the batch over once it is idle (CLAIM_IDLE_MS; 0 here).
        engine, redis = app.extensions["engine"], app.extensions["redis"]
        assert behind.drain(redis, app.config["REDIS_PREFIX"], engine, "next", idle_ms=0) == queued
        statuses, answers = written(app)
        assert statuses == [("started", "q")] * len(LEARNERS)
        assert len(answers) == len(set(answers)) == len(LEARNERS) * ANSWERED
        assert redis.xlen(name) == 0 and redis.xpending(name, behind.GROUP)["pending"] == 0
        # As `make run` runs it: a clock writes a new answer within seconds.
        clock = start(env, "workers.clock")
        answer_all(callers[0], app, course(app).modules[0], count=1)
        wait_for(lambda: len(written(app)[1]) == len(answers) + 1, 20)
    finally:
        if clock.poll() is None:
            os.killpg(clock.pid, signal.SIGTERM)
            clock.wait(timeout=30)
        held.close()
        outside.dispose()
        private.stop()


def aof_written(redis) -> bool:
    """Tell whether Redis has handed every write to the append-only file (the OS has it)."""
    return redis.info("persistence")["aof_buffer_length"] == 0


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_steps_survive_a_redis_restart_with_its_append_only_file(make_app, tmp_path, how):
    """Redis with appendonly yes (appendfsync everysec, the default) stopped, or killed with
    -9, while steps wait and a consumer holds some unacknowledged: all written, once."""
    private = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    app = make_app(REDIS_URL=private.url)
    agents(app)
    learn(app, LEARNERS[0])
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    name = behind.key(prefix)
    queued = redis.xlen(name)
    redis.xgroup_create(name, behind.GROUP, id="0")
    redis.xreadgroup(behind.GROUP, "dead", {name: ">"}, count=4)  # read, never written
    try:
        if how == "killed":
            wait_for(lambda: aof_written(redis), 10)
            private.process.send_signal(signal.SIGKILL)
            private.process.wait()
            private.process = None
        else:
            private.stop()
        private.start()
        assert redis.xlen(name) == queued
        assert redis.xpending(name, behind.GROUP)["pending"] == 4
        assert behind.drain(redis, prefix, app.extensions["engine"], "next", idle_ms=0) == queued
        assert write_behind(app) == 0  # nothing left to write
    finally:
        private.stop()
    statuses, answers = written(app)
    assert statuses == [("started", "q")] and len(answers) == len(set(answers)) == ANSWERED
