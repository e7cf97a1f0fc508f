"""workers/__init__.py: the worker's log keeps what matters and drops the periodic tick."""

import logging

import pytest

from workers import QuietTicks


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
