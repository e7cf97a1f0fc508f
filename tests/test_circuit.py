"""app/messaging/circuit.py on real Redis: a circuit opens, sends elsewhere, and closes."""

import uuid

import pytest
from redis import Redis

from app.messaging.circuit import CLOSED, OPEN, PROBING, Circuit


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def circuit(redis_url):
    redis = Redis.from_url(redis_url)
    prefix = f"kalan-test:{uuid.uuid4().hex[:12]}:"
    clock = Clock()
    yield Circuit(redis, prefix, clock=clock), clock
    keys = list(redis.scan_iter(match=prefix + "*"))
    if keys:
        redis.delete(*keys)
    redis.close()


def test_failures_past_the_threshold_open_the_circuit_and_route_on(circuit):
    breaker, clock = circuit
    for _ in range(4):
        breaker.record("orange", ok=False)
    assert breaker.state("orange") == CLOSED  # four is not enough
    breaker.record("orange", ok=False)
    assert breaker.state("orange") == OPEN
    assert breaker.pick(("orange", "infobip")) == "infobip"


def test_failures_among_many_successes_keep_it_closed(circuit):
    breaker, _ = circuit
    for _ in range(10):
        breaker.record("orange", ok=True)
    for _ in range(6):
        breaker.record("orange", ok=False)
    assert breaker.state("orange") == CLOSED  # 6 of 16: under half


def test_failures_older_than_the_window_are_forgotten(circuit):
    breaker, clock = circuit
    for _ in range(4):
        breaker.record("orange", ok=False)
    clock.now += 121
    breaker.record("orange", ok=False)
    assert breaker.state("orange") == CLOSED


def test_after_a_while_one_probe_and_only_one_closes_it(circuit):
    breaker, clock = circuit
    for _ in range(5):
        breaker.record("orange", ok=False)
    clock.now += 61
    assert breaker.state("orange") == PROBING
    assert breaker.may_send("orange")  # this worker probes
    assert not breaker.may_send("orange")  # another worker waits for it
    assert breaker.pick(("orange", "infobip")) == "infobip"
    breaker.record("orange", ok=True)
    assert breaker.state("orange") == CLOSED and breaker.may_send("orange")


def test_a_failed_probe_opens_it_again(circuit):
    breaker, clock = circuit
    for _ in range(5):
        breaker.record("orange", ok=False)
    clock.now += 200  # the window's failures are gone too
    assert breaker.may_send("orange")
    breaker.record("orange", ok=False)
    assert breaker.state("orange") == OPEN
    clock.now += 61
    assert breaker.may_send("orange")  # the next probe, in its time


def test_every_provider_of_a_route_open_gives_none(circuit):
    breaker, _ = circuit
    for provider in ("orange", "infobip"):
        for _ in range(5):
            breaker.record(provider, ok=False)
    assert breaker.pick(("orange", "infobip")) is None


def test_once_its_probe_closes_it_the_old_failures_no_longer_count(circuit):
    breaker, clock = circuit
    for _ in range(5):
        breaker.record("orange", ok=False)
    clock.now += 61
    assert breaker.may_send("orange")
    breaker.record("orange", ok=True)  # the probe went through: count afresh
    for _ in range(4):
        breaker.record("orange", ok=False)
    assert breaker.state("orange") == CLOSED  # four, not nine


@pytest.mark.parametrize(
    ("oks", "state"),
    [
        ([True] * 10 + [False] * 6, CLOSED),  # 6 of 16: under half
        ([False] * 5, OPEN),
        ([True] + [False] * 4, CLOSED),  # the probe closes it, then four are too few
        ([False] + [True] + [False] * 5, OPEN),  # a failed probe, then a success, then five
    ],
)
def test_a_requests_outcomes_count_in_order_as_one_by_one(circuit, oks, state):
    """One round trip per request: the same as recording each recipient in turn."""
    breaker, clock = circuit
    for _ in range(5):
        breaker.record("orange", ok=False)
    clock.now += 200  # the window's failures are gone; the circuit waits for its probe
    breaker.record_many("orange", oks)
    assert breaker.state("orange") == state
    # And one by one, on another provider, to the same end.
    for _ in range(5):
        breaker.record("infobip", ok=False)
    clock.now += 200
    for ok in oks:
        breaker.record("infobip", ok=ok)
    assert breaker.state("infobip") == state


def test_a_request_whose_failures_open_it_and_successes_close_it_counts_afresh(circuit):
    """Five failures open the circuit mid-request; the success after them closes it and the
    count starts again, as when recorded one by one: three more failures are not five."""
    breaker, _ = circuit
    breaker.record_many("orange", [False] * 5 + [True] * 6)
    assert breaker.state("orange") == CLOSED
    breaker.record_many("orange", [False] * 3)
    assert breaker.state("orange") == CLOSED  # 3 of 8 since it closed, not 8 of 14
