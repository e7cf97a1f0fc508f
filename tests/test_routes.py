"""app/infra/routes.py: a phone's operator from phonenumbers' carrier data, and its route."""

import random

import pytest

from app.infra.routes import (
    RouteError,
    operator,
    parse_ported,
    parse_routes,
    providers_for,
)

ROUTES = "orange-ml=orange,infobip; moov-ml=infobip; *=africastalking"


@pytest.mark.parametrize(
    ("phone", "code"),
    [
        ("+22370000001", "orange-ml"),  # Orange Mali's ranges
        ("+22376000001", "orange-ml"),
        ("+22366000001", "moov-ml"),  # Sotelma, Moov Africa Malitel's company
        ("+22399000001", "moov-ml"),
        ("+22350000001", "telecel-ml"),  # Atel: Telecel Mali
        ("+22320000001", None),  # a fixed line: no operator to route by
        ("+254712345678", "safaricom-ke"),  # elsewhere, the carrier's own name
        ("not a phone", None),
    ],
)
def test_the_operator_comes_from_the_carrier_data(phone, code):
    assert operator(phone) == code


def test_the_operator_cache_answers_as_phonenumbers_does_for_every_range():
    """Kept per carrier prefix and length: each of Mali's 10,000 four-digit ranges (and
    Kenya's mobile ones), asked again for another number, gives phonenumbers' own answer."""
    rng = random.Random(7)
    mali = [(f"+223{n:04d}", 4) for n in range(10_000)]  # then 4 more digits: 8 in all
    kenya = [(f"+2547{n:02d}", 6) for n in range(100)]  # 9 in all
    cache = {}
    for head, digits in mali + kenya:
        first, second = (head + f"{rng.randrange(10**digits):0{digits}d}" for _ in range(2))
        operator(first, cache=cache)
        assert operator(second, cache=cache) == operator(second), second
    for phone in ("+2237612", "+22376123456789", "+22376000001", "not a phone"):
        assert operator(phone, cache=cache) == operator(phone)


def test_a_ported_number_goes_by_its_override_the_longest_prefix_first():
    ported = parse_ported("+22370=moov-ml, +2237000=telecel-ml")
    assert ported == [("+2237000", "telecel-ml"), ("+22370", "moov-ml")]
    assert operator("+22370000001", ported) == "telecel-ml"
    assert operator("+22370100001", ported) == "moov-ml"
    assert operator("+22376000001", ported) == "orange-ml"


@pytest.mark.parametrize(
    ("phone", "providers"),
    [
        ("+22370000001", ("orange", "infobip")),
        ("+22366000001", ("infobip",)),
        ("+22350000001", ("africastalking",)),  # Telecel has no route of its own
        ("+22320000001", ("africastalking",)),
    ],
)
def test_each_operator_takes_its_route_and_the_rest_the_default(phone, providers):
    assert providers_for(phone, parse_routes(ROUTES)) == providers


def test_without_a_default_an_unrouted_operator_has_no_provider():
    assert providers_for("+22350000001", parse_routes("orange-ml=orange")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("orange-ml", "a route looks like"),
        ("orange-ml=", "a route looks like"),
        ("Orange ML=orange", "a route looks like"),
        ("orange-ml=orange,sms-co", "unknown provider 'sms-co'"),
        ("*=orange; *=infobip", "routed twice"),
        ("*=orange,orange", "names a provider twice"),
    ],
)
def test_a_route_that_cannot_be_read_says_why(text, message):
    with pytest.raises(RouteError, match=message):
        parse_routes(text)


@pytest.mark.parametrize(
    "text", ["2237612=moov-ml", "+223=moov-ml", "+2237612:moov-ml", "+2237612=Moov"]
)
def test_a_ported_prefix_that_cannot_be_read_says_why(text):
    with pytest.raises(RouteError, match="a ported prefix looks like"):
        parse_ported(text)


def test_empty_settings_route_nothing():
    assert parse_routes("") == {} and parse_ported("") == []
