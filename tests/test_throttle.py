"""The shared send rate: a token bucket in the test Redis that all workers obey."""

import threading
import time

import pytest

from app.messaging.throttle import Throttle


@pytest.fixture
def redis(app):
    return app.extensions["redis"]


@pytest.fixture
def key(app):
    return app.config["REDIS_PREFIX"] + "throttle:test"


class Clock:
    """Seconds that pass only when the test or the throttle sleeps."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(("rate", "n"), [(50, 1), (50, 25), (50, 50), (20, 20), (1, 1)])
def test_acquire_within_burst_does_not_wait(redis, key, rate, n):
    naps = []
    assert Throttle(redis, key, rate).acquire(n, sleep=naps.append) == 0
    assert naps == []


def test_burst_is_one_second_of_rate_and_then_it_waits(redis, key):
    """On the test's own clock: on Redis's, a machine slow between the two acquires (20 ms
    is a token) refilled the bucket meanwhile, and the wait came out shorter than 0.18 s."""
    clock = Clock()
    throttle = Throttle(redis, key, 50, clock=clock)
    assert throttle.burst == 50
    assert throttle.acquire(50, sleep=clock.sleep) == 0
    naps = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.sleep(seconds)

    started = clock()
    waited = throttle.acquire(10, sleep=sleep)  # the bucket is empty: 10 tokens take 0.2 s
    assert naps == [pytest.approx(0.2)]
    assert waited == pytest.approx(0.2) == clock() - started


def test_acquire_sleeps_for_real_by_default(redis, key):
    """With Redis's clock and time.sleep: 60 tokens at 50/s, from a full bucket of 50, take
    at least 0.2 s, counted from before the burst (so no refill meanwhile can shorten it)."""
    throttle = Throttle(redis, key, 50)
    started = time.monotonic()
    assert throttle.acquire(50) == 0
    throttle.acquire(10)
    assert time.monotonic() - started >= 0.18


def test_state_lives_in_redis_under_the_prefix(redis, key):
    Throttle(redis, key, 50).acquire(20)
    tokens = float(redis.hget(key, "tokens"))
    assert 29 <= tokens <= 31  # 50 - 20, plus what refilled meanwhile
    assert 0 < redis.pttl(key) <= 60_000


def test_two_workers_on_one_key_share_the_rate(redis, key):
    """Two Throttle objects in two threads together take N tokens no faster than the rate."""
    rate, total = 50, 150
    workers = [Throttle(redis, key, rate), Throttle(redis, key, rate)]
    taken = [0, 0]
    errors = []

    def work(index: int) -> None:
        try:
            for _ in range(total // 2):
                workers[index].acquire(1)
                taken[index] += 1
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert errors == []
    assert taken == [total // 2, total // 2]
    # The first burst is free; every token after it costs 1/rate seconds.
    assert elapsed >= (total - workers[0].burst) / rate * 0.9


def test_acquire_more_than_burst_goes_in_steps(redis, key):
    """1,500 at 1,000/s: the burst at once, then one wait of exactly the 500 missing.

    The test's own clock moves only when the throttle sleeps, so a loaded machine that
    oversleeps cannot refill the bucket behind the test's back.
    """
    clock = Clock()
    throttle = Throttle(redis, key, 1000, clock=clock)
    naps = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        clock.sleep(seconds)

    started = clock()
    waited = throttle.acquire(1500, sleep=sleep)  # a burst of 1000, then 500 more
    assert naps == [pytest.approx(0.5)]
    assert waited == pytest.approx(0.5) == clock() - started
    assert float(redis.hget(key, "tokens")) == pytest.approx(0, abs=1e-9)  # everything taken


class Stop(Exception):
    """Raised by a test's sleep to end an acquire after its first wait."""


def test_fractional_rate_waits_for_the_next_whole_token(redis, key):
    """On the test's own clock: on Redis's, a machine slow for 0.1 s between the two
    acquires had refilled a twentieth of a token, and the wait came out under 1.9 s."""
    clock = Clock()
    throttle = Throttle(redis, key, 0.5, clock=clock)
    assert throttle.burst == 1.0
    assert throttle.acquire(1, sleep=clock.sleep) == 0
    naps = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        raise Stop

    with pytest.raises(Stop):
        throttle.acquire(1, sleep=sleep)
    assert naps == [pytest.approx(2.0)]  # one token every two seconds


def test_take_waits_a_grace_for_a_bucketful_asked_a_little_early(redis, key):
    """A worker that wakes 1 ms before the bucket is full again takes all 10, after 1 ms;
    a wait longer than the grace is not made, and what there is, is taken."""
    clock = Clock()
    throttle = Throttle(redis, key, 10, clock=clock)
    assert throttle.take(10) == 10
    clock.sleep(0.999)
    asked = clock()
    assert throttle.take(10, grace_s=0.05, sleep=clock.sleep) == 10
    assert clock() - asked == pytest.approx(0.001, abs=1e-6) and throttle.take(1) == 0
    clock.sleep(0.999)
    assert throttle.take(10) == 9  # without a grace: one short
    clock.sleep(0.5)
    assert throttle.take(10, grace_s=0.05, sleep=clock.sleep) == 5  # 0.5 s away: not waited
