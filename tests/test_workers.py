"""workers/: the periodic tick, the clock that queues it, and the worker's log and threads.

Jobs run in the test process, inside the app context, as a worker's forked job would;
the clock and the worker also run as the processes the Procfile starts.
"""

import logging
import os
import select as io_select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from flask import current_app
from redis import Redis
from rq import Worker

from app.infra.config import ROOT
from app.infra.models import Campaign, Contact, utcnow
from app.messaging import outbox
from app.messaging.campaigns.creation import create
from sandbox.devserver import _children
from sandbox.embedded import EmbeddedRedis
from workers import QuietTicks, clock, jobs

from .in_process import work

# -- the worker's log ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        ("kalan:default: workers.jobs.tick() (kalan-tick-179618830)", False),
        ("Successfully completed workers.jobs.tick() job in 0:00:00.24s on worker 2a17", False),
        ("kalan:default: Job OK (kalan-tick-179618830)", False),
        ("job kalan-tick-179618830 result is kept for 60 seconds", False),
        ("kalan:default: workers.jobs.dispatch() (kalan-dispatch-5d3b)", True),
        ("kalan:default: workers.jobs.expand_campaign(7) (kalan-expand_campaign-9f)", True),
        ("*** Listening on kalan:urgent, kalan:default, kalan:bulk...", True),
    ],
)
def test_only_the_tick_is_quiet(message, kept):
    record = logging.LogRecord("rq.worker", logging.INFO, __file__, 1, message, None, None)
    assert QuietTicks().filter(record) is kept


# -- helpers ------------------------------------------------------------------------------------


def add_contacts(db, count: int) -> list[str]:
    """Add community contacts who speak French; return their phones."""
    phones = [f"+2237100{n:04d}" for n in range(1, count + 1)]
    db.add_all(
        Contact(phone=p, role="community", language="fr", failed_streak=0, created_at=utcnow())
        for p in phones
    )
    db.commit()
    return phones


def sending(db, phones: list[str], **fields) -> Campaign:
    """A campaign already expanded into one queued row per phone, being sent."""
    campaign = create(db, "Rappel", {"fr": "Bonjour"}, {}, **fields)
    campaign.status, campaign.expanded_at = "sending", utcnow()
    db.flush()
    for phone in phones:
        outbox.add(
            db,
            current_app.config,
            "campaign",
            campaign.id,
            phone,
            "Bonjour",
            campaign_id=campaign.id,
        )
    db.commit()
    return campaign


def ticks(app) -> list[str]:
    """Return the ids of the tick jobs queued or run, by slot."""
    queue = app.extensions["queue"]
    ids = {*queue.job_ids, *queue.finished_job_registry.get_job_ids()}
    jobs_ = [queue.fetch_job(j) for j in ids]
    found = [j.id for j in jobs_ if j is not None and j.func_name == "workers.jobs.tick"]
    return sorted(found, key=lambda name: int(name.rsplit("-", 1)[1]))


def tick_ids(app, *slots: int) -> list[str]:
    """Return the job ids of the ticks of these slots."""
    with app.app_context():
        return [app.extensions["workers"].job_id(f"tick-{slot}") for slot in slots]


def align(tick_s: int) -> int:
    """Sleep until just after a slot of tick_s begins; return that slot."""
    time.sleep(clock.until_next_slot(tick_s, time.time()))
    return int(time.time()) // tick_s


class Moved:
    """The time enqueue_tick reads (workers.jobs.utcnow), moved only by the test or by the
    clock's sleep: a loaded machine slow between two steps cannot move a beat to another slot.
    """

    def __init__(self, monkeypatch):
        self.now = time.time()
        monkeypatch.setattr(jobs, "utcnow", lambda: datetime.fromtimestamp(self.now, UTC))

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def align(self, tick_s: int) -> int:
        """Move to just after a slot of tick_s begins; return that slot."""
        self.sleep(clock.until_next_slot(tick_s, self.now))
        return int(self.now) // tick_s


def subprocess_env(app, redis_url: str, database_url: str, **settings) -> dict:
    """The environment of a worker or clock process for this app."""
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "REDIS_PREFIX": app.config["REDIS_PREFIX"],
        "WEBHOOK_TOKEN": "",
        **{name: str(value) for name, value in settings.items()},
    }


def wait_for(predicate, timeout_s: float = 20):
    """Poll predicate until it returns something truthy; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting after {timeout_s} s")


def stop(proc: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, as Ctrl-C in `make run` does."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)  # RQ may wait a minute on its command channel: not tested here
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- enqueue_tick -------------------------------------------------------------------------------


def test_enqueue_tick_queues_one_tick_per_slot(make_app):
    """Workers and clocks may all ask: a slot of SMS_TICK_S gets one tick, queued or run."""
    app = make_app(SMS_TICK_S=3600)
    if clock.until_next_slot(3600, time.time()) < 10:
        time.sleep(10)  # not at the very end of a slot: all of this happens in one
    with app.app_context():
        slot = int(time.time()) // 3600
        asked = [jobs.enqueue_tick(app), jobs.enqueue_tick(app)]  # queued
        work(app)
        asked.append(jobs.enqueue_tick(app))  # run
    assert asked == [True, False, False]
    (tick_id,) = tick_ids(app, slot)
    assert ticks(app) == [tick_id]
    job = app.extensions["queue"].fetch_job(tick_id)
    assert job.get_status() == "finished"
    assert (job.result_ttl, job.failure_ttl, job.timeout) == (60, 3600, 600)


def test_ticks_do_not_pile_up_while_no_worker_takes_them(make_app, monkeypatch):
    """A tick still waiting for a worker stands for the slots after it, until one starts it."""
    app = make_app(SMS_TICK_S=1)
    now = Moved(monkeypatch)
    with app.app_context():
        slot = now.align(1)
        asked = [jobs.enqueue_tick(app)]
        now.sleep(clock.until_next_slot(1, now()))
        asked.append(jobs.enqueue_tick(app))  # the first one still waits
        work(app)
        asked.append(jobs.enqueue_tick(app))  # taken: this slot gets its own
    assert asked == [True, False, True]
    first, then = ticks(app)
    assert first == tick_ids(app, slot)[0] and then != first


def test_a_tick_a_killed_worker_took_but_never_started_does_not_stop_the_ticks(
    make_app, monkeypatch
):
    """RQ moves a job to its queue's intermediate list as a worker takes it, and marks it
    started only then: a worker killed between the two leaves the tick there, still
    "queued", for RQ's cleanup (ten minutes and more). The next slot gets a tick of its own,
    or nothing would be sent meanwhile (seen in the worker-kill fault test)."""
    app = make_app(SMS_TICK_S=1)
    now = Moved(monkeypatch)
    queue, redis = app.extensions["queue"], app.extensions["redis"]
    with app.app_context():
        slot = now.align(1)
        asked = [jobs.enqueue_tick(app)]
        taken = redis.lmove(queue.key, queue.intermediate_queue_key, "LEFT", "RIGHT")
        now.sleep(clock.until_next_slot(1, now()))
        asked.append(jobs.enqueue_tick(app))
    assert asked == [True, True]
    assert taken.decode() == tick_ids(app, slot)[0]
    assert queue.fetch_job(taken.decode()).get_status() == "queued"  # as the kill left it
    assert queue.get_job_ids() == tick_ids(app, slot + 1)


# -- the clock ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tick_s", "now", "expected"),
    [
        (10, 1000.0, 10.01),  # on a slot's first instant: the next one
        (10, 1003.5, 6.51),
        (10, 1009.999, 0.011),
        (1, 7.25, 0.76),
    ],
)
def test_the_clock_wakes_just_after_the_next_slot_begins(tick_s, now, expected):
    assert clock.until_next_slot(tick_s, now) == pytest.approx(expected)


def test_the_clock_queues_a_tick_in_each_slot(make_app, monkeypatch):
    """Three beats, a slot apart, with a worker that takes each tick: three ticks, in three
    consecutive slots. On time the test moves: a worker slower than a slot on a busy
    machine would have put a beat in a later slot."""
    app = make_app(SMS_TICK_S=2)
    now, naps = Moved(monkeypatch), []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        work(app)  # a worker takes the tick while the clock sleeps, as another process would
        now.sleep(seconds)

    first = now.align(2)
    assert clock.run(app, beats=3, sleep=sleep, clock=now) == 3
    assert naps == [pytest.approx(2.0)] * 2  # it sleeps between beats only, a slot each
    assert ticks(app) == tick_ids(app, first, first + 1, first + 2)


def test_the_clock_leaves_one_tick_waiting_while_no_worker_runs(make_app, monkeypatch):
    """On real time and sleep; the slot expected is the one the first beat read, not one
    read before it (a loaded machine could be a slot later by then)."""
    app = make_app(SMS_TICK_S=1)
    read = []  # what each beat's enqueue_tick took for now
    monkeypatch.setattr(jobs, "utcnow", lambda: read.append(utcnow()) or read[-1])
    align(1)
    assert clock.run(app, beats=3) == 3
    slots = [int(at.timestamp()) for at in read]
    assert len(set(slots)) == 3  # a beat a slot
    assert ticks(app) == tick_ids(app, slots[0])


def test_the_clock_keeps_beating_when_redis_does_not_answer(make_app, caplog):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", SMS_TICK_S=10)
    naps = []
    # Each beat wakes just after the next slot begins, wherever in its slot it started.
    assert clock.run(app, beats=3, sleep=naps.append, clock=lambda: 1003.5) == 3
    assert naps == [pytest.approx(6.51)] * 2
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        "could not queue a tick"
    ] * 3


def test_the_clock_and_the_worker_run_as_processes_of_their_own(make_app, database_url, tmp_path):
    """`python -m workers.clock` and `python -m workers`, as the Procfile starts them: a tick in
    every slot, each run by the worker."""
    # A Redis of its own: a worker registers itself outside our key prefix.
    private = EmbeddedRedis(tmp_path / "redis").start()
    app = make_app(REDIS_URL=private.url, SMS_TICK_S=1)
    env = subprocess_env(app, private.url, database_url, SMS_TICK_S=1)
    procs = [
        subprocess.Popen([sys.executable, "-m", module], env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for module in ("workers", "workers.clock")
    ]  # fmt: skip
    try:
        registry = app.extensions["queue"].finished_job_registry
        wait_for(lambda: len(registry.get_job_ids()) >= 4)  # the worker's own, then the clock's
        assert all(proc.poll() is None for proc in procs)
        slots = [int(name.rsplit("-", 1)[1]) for name in ticks(app)]
    finally:
        for proc in procs:
            stop(proc)
        private.stop()
    assert len(set(slots)) == len(slots) >= 4  # one tick a slot, and not only the worker's own


def test_every_way_of_running_kalan_starts_the_clock_beside_the_worker():
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert (procfile["worker"], procfile["clock"]) == (
        "python -m workers",
        "python -m workers.clock",
    )
    children = _children({"PORT": "5000", "SANDBOX_PORT": "5001"})
    assert children["worker"][1:] == ["-m", "workers"]
    assert children["clock"][1:] == ["-m", "workers.clock"]


# `python -m workers`, with a way to ask which threads it runs: a signal that lists them.
LIST_THREADS = """
import runpy, signal, threading
def show(*_):
    print(sorted(type(t).__name__ for t in threading.enumerate()), flush=True)
signal.signal(signal.SIGUSR1, show)
runpy.run_module("workers", run_name="__main__", alter_sys=True)
"""


def test_the_worker_starts_no_thread_of_its_own(make_app, database_url, tmp_path):
    """RQ forks a child for every job: a thread of ours could hold a lock at that moment.
    Only RQ's own listener for commands (redis-py's pub/sub thread) runs beside the main one."""
    # A Redis of its own: a worker registers itself outside our key prefix.
    private = EmbeddedRedis(tmp_path / "redis").start()
    redis = Redis.from_url(private.url)
    app = make_app(REDIS_URL=private.url)
    proc = subprocess.Popen(
        [sys.executable, "-c", LIST_THREADS], env=subprocess_env(app, private.url, database_url),
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: Worker.all(connection=redis))  # registered: working its queues
        # The tick it queued on start has run: the worker is past its setup.
        wait_for(lambda: app.extensions["queue"].finished_job_registry.get_job_ids())
        proc.send_signal(signal.SIGUSR1)
        ready, _, _ = io_select.select([proc.stdout], [], [], 10)
        assert ready, "the worker did not list its threads"
        threads = proc.stdout.readline().strip()
    finally:
        stop(proc)
        redis.close()
        private.stop()
    assert threads in ("['_MainThread']", "['PubSubWorkerThread', '_MainThread']")
