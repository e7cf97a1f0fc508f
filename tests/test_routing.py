"""app/messaging/routing.py: a provider per operator and port, circuits, what counts as failing."""

from datetime import UTC, datetime

import pytest

from app.infra.gateway import FAILED, NOT_TRIED, RETRY, SENT, UNKNOWN, Result
from app.infra.routes import PROVIDERS, parse_ported, parse_routes
from app.messaging.circuit import CLOSED, OPEN, Circuit
from app.messaging.routing import Routing

from .helpers import ROUTES, routed_app
from .test_sender import Clock

ORANGE, MOOV, TELECEL = "+22376000001", "+22365000001", "+22350000001"
FIXED = "+22320000001"  # a landline: no operator to route by, so the default route
BOTH = ("orange", "infobip")
OPEN_S = 60


def orange_phones(count: int, first: int) -> list[str]:
    """Return count Orange Mali numbers: +22376, then first, first + 1... in six digits."""
    return [f"+22376{first + n:06d}" for n in range(count)]


@pytest.fixture
def clock():
    """A clock the test moves by hand."""
    return Clock(datetime.now(UTC))


@pytest.fixture
def routing(make_app, sandbox, clock):
    """Return a factory of Routings over the configured gateways (or some of them), the routes
    of ROUTES, and a circuit on the test's clock that opens at the first failure."""
    app = routed_app(make_app, sandbox)
    gateways = app.extensions["gateways"]
    assert tuple(gateways) == PROVIDERS  # all three are set up

    def make(configured=PROVIDERS, circuit=True, failures_min=1) -> Routing:
        breaker = None
        if circuit:
            breaker = Circuit(app.extensions["redis"], app.config["REDIS_PREFIX"],
                              failures_min=failures_min, open_s=OPEN_S,
                              clock=clock.seconds)  # fmt: skip
        chosen = {name: gateways[name] for name in configured}
        return Routing(chosen, parse_routes(ROUTES), circuit=breaker)

    return make


@pytest.mark.parametrize(
    ("phone", "via", "configured", "route"),
    [
        (ORANGE, None, PROVIDERS, BOTH),
        (MOOV, None, PROVIDERS, ("infobip",)),
        (TELECEL, None, PROVIDERS, ("africastalking",)),  # no route of its own: "*"
        (FIXED, None, PROVIDERS, ("africastalking",)),
        # A reply goes back the way the person wrote, then along the route.
        (ORANGE, "infobip", PROVIDERS, ("infobip", "orange")),
        (ORANGE, "orange", PROVIDERS, BOTH),
        (MOOV, "orange", PROVIDERS, ("orange", "infobip")),
        (TELECEL, "infobip", PROVIDERS, ("infobip", "africastalking")),
        # A provider not set up is left out, pinned or routed.
        (ORANGE, None, ("africastalking", "infobip"), ("infobip",)),
        (MOOV, "orange", ("africastalking", "infobip"), ("infobip",)),
        (ORANGE, None, ("africastalking",), ()),
    ],
)
def test_the_route_of_a_phone(routing, phone, via, configured, route):
    assert routing(configured).route(phone, via) == route


@pytest.mark.parametrize(
    ("phone", "via", "shut", "picked"),
    [
        (ORANGE, None, (), "orange"),
        (ORANGE, None, ("orange",), "infobip"),
        (ORANGE, None, BOTH, None),
        (ORANGE, "infobip", ("infobip",), "orange"),  # a shut pin: the route serves
        (MOOV, "orange", ("orange",), "infobip"),
        (MOOV, None, ("infobip",), None),
        (TELECEL, None, BOTH, "africastalking"),
        (FIXED, "infobip", ("infobip",), "africastalking"),
    ],
)
def test_pick_skips_an_open_circuit(routing, phone, via, shut, picked):
    chosen = routing()
    for provider in shut:
        chosen.failed(provider)
    assert chosen.pick(phone, via) == picked


@pytest.mark.parametrize(
    ("phone", "via", "after_s"),
    [(ORANGE, None, OPEN_S), (MOOV, None, OPEN_S + 10), (ORANGE, "infobip", OPEN_S),
     (MOOV, "orange", OPEN_S), (TELECEL, None, None)],
)  # fmt: skip
def test_reopens_is_when_the_first_circuit_of_the_route_may_be_probed(
    routing, clock, phone, via, after_s
):
    chosen = routing()
    start = clock.seconds()
    chosen.failed("orange")
    clock.sleep(10)
    chosen.failed("infobip")
    expected = None if after_s is None else start + after_s
    assert chosen.reopens(phone, via) == pytest.approx(expected, abs=0.001)


def test_without_circuits_the_first_of_the_route_always_takes_it(routing):
    chosen = routing(circuit=False)
    chosen.failed("orange")
    chosen.sent("orange", [Result(ORANGE, RETRY)] * 10)
    assert (chosen.pick(ORANGE), chosen.pick(MOOV, "orange")) == ("orange", "orange")
    assert chosen.reopens(ORANGE) is None


def test_a_batch_routes_each_phone_by_its_own_operator_and_port(routing):
    """Routes are looked up once per prefix in a batch: a ported number among its old
    range's, another operator's and a landline each still get their own."""
    plain = routing(circuit=False)
    ported = Routing(plain.gateways, plain.routes, parse_ported("+22376000002=moov-ml"))
    choices = ported.choices()
    phones = [ORANGE, "+22376000002", "+22376000003", MOOV, FIXED]
    assert [choices.pick(p) for p in phones] == [
        "orange", "infobip", "orange", "infobip", "africastalking"
    ]  # fmt: skip
    assert [choices.pick(p, "africastalking") for p in phones] == ["africastalking"] * 5


@pytest.mark.parametrize(
    ("outcome", "status", "state"),
    [
        (SENT, "Created", CLOSED),
        (RETRY, "ServiceUnavailable", OPEN),
        (UNKNOWN, "timeout: ReadTimeout", OPEN),
        (FAILED, "SVC0004", CLOSED),  # the number was refused: nothing said of Orange
        (RETRY, NOT_TRIED, CLOSED),  # the adapter did not ask Orange at all
    ],
)
def test_sent_counts_what_says_something_of_the_provider(routing, outcome, status, state):
    chosen = routing()
    chosen.sent("orange", [Result(p, outcome, status=status) for p in orange_phones(3, 1)])
    assert chosen.circuit.state("orange") == state


def test_a_failed_request_counts_once_whatever_its_size(routing):
    chosen = routing(failures_min=2)
    chosen.failed("orange")
    assert chosen.circuit.state("orange") == CLOSED
    chosen.failed("orange")
    assert chosen.circuit.state("orange") == OPEN
