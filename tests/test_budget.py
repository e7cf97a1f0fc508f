"""The daily budget of calls: taken atomically, given back, counted per local day."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.voice import budget

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(make_app):
    return make_app(VOICE_DAILY_BUDGET="3")


def args(app, now=NOON) -> tuple:
    return app.extensions["redis"], app.config["REDIS_PREFIX"], app.config, now


def test_the_budget_is_taken_call_by_call_then_refused_and_counted(app):
    assert [budget.take(*args(app)) for _ in range(5)] == [True, True, True, False, False]
    assert budget.today(*args(app)) == (3, 2)
    assert budget.left(*args(app)) == 0


def test_a_call_given_back_can_be_placed_again(app):
    for _ in range(3):
        budget.take(*args(app))
    budget.give_back(*args(app))
    assert budget.left(*args(app)) == 1
    assert budget.take(*args(app))


def test_each_local_day_has_its_own_budget(make_app):
    app = make_app(VOICE_DAILY_BUDGET="1", TZ="Africa/Nairobi")  # UTC+3
    late = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)  # 23:30 in Nairobi
    assert budget.take(*args(app, late))
    assert not budget.take(*args(app, late + timedelta(minutes=20)))  # 23:50 there
    assert budget.take(*args(app, late + timedelta(minutes=40)))  # 00:10 the next day


def test_many_workers_at_the_last_call_take_it_once(app):
    budget.take(*args(app))
    budget.take(*args(app))
    start, taken = threading.Barrier(8), []

    def work():
        start.wait()
        taken.append(budget.take(*args(app)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(taken) == [False] * 7 + [True]
    assert budget.today(*args(app)) == (3, 7)


def test_refusals_are_counted_without_taking(app):
    budget.refuse(*args(app))
    assert budget.today(*args(app)) == (0, 1)
    assert budget.left(*args(app)) == 3
