"""workers/progress.py: the clock writes the learners' steps to SQL between its beats."""

import logging

from app.training import behind
from workers import clock, progress

from .conftest import Dial
from .test_behind import place, stream
from .test_training import open_module


def queue_two_lessons(app, phone: str) -> None:
    """Open module 1 and read on to lesson 3: two steps queued, none written."""
    caller = Dial(app.test_client(), phone=phone)
    caller()
    open_module(caller)
    caller("1", "1")
    assert len(stream(app)) == 2


def test_the_clock_writes_the_steps_between_its_beats(app, agent):
    queue_two_lessons(app, agent)
    # Two beats: between them, the time to the next slot (0.51 s) is spent on the stream.
    follow = progress.follower(app, "clock")
    assert clock.run(app, beats=2, sleep=follow, clock=lambda: 9.5) == 2
    assert place(app) == ("started", "l3") and stream(app) == []


def test_steps_wait_in_redis_while_the_database_is_away(app, agent, make_app, caplog):
    """The clock says so once, keeps beating, and writes them as soon as it can: its own
    entries first, without waiting for CLAIM_IDLE_MS."""
    queue_two_lessons(app, agent)
    away = make_app(DATABASE_URL="postgresql://kalan@127.0.0.1:1/kalan")  # nothing listens
    with caplog.at_level(logging.WARNING):
        progress.follower(away, "clock")(1.5)  # two tries, a pause between them
    failed = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in failed] == [
        "training steps could not be written; they wait in Redis"
    ]
    name = behind.key(app.config["REDIS_PREFIX"])
    assert app.extensions["redis"].xpending(name, behind.GROUP)["pending"] == 2
    assert place(app) == ("started", "l1")
    progress.follower(app, "clock")(0.1)
    assert place(app) == ("started", "l3") and stream(app) == []
