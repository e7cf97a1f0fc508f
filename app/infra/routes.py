"""Which providers carry an SMS to a phone: its operator, then the route for that operator.

The operator comes from phonenumbers' carrier data (the number's range as its
operator was given it), named by the operator's brand and country: orange-ml,
moov-ml, telecel-ml. A number ported to another operator keeps its old range:
a configured prefix overrides the carrier data for it. A route is an ordered
list of providers for an operator, or for every other one ("*"), written
`orange-ml=orange,infobip; moov-ml=infobip; *=africastalking`.
"""

import re
from collections.abc import Iterable, Mapping

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, carrier
from phonenumbers.carrierdata import CARRIER_DATA

ANY = "*"
PROVIDERS = ("africastalking", "orange", "infobip")
# phonenumbers names operators as licensed; people know them by their brand.
BRANDS = {("ML", "Sotelma"): "moov", ("ML", "Atel"): "telecel"}
OPERATOR = re.compile(r"^[a-z0-9]+(-[a-z]{2})?$")
PREFIX = re.compile(r"^\+\d{4,15}$")
E164 = re.compile(r"\+[1-9][0-9]{5,14}")
_LONGEST: dict[str, int] = {}  # first 3 digits -> their longest carrier prefix, code included


class RouteError(ValueError):
    """A route or override that cannot be read; the message says which, in one line."""


def operator(
    phone: str, ported: Iterable[tuple[str, str]] = (), cache: dict | None = None
) -> str | None:
    """Return the operator of an E.164 phone (e.g. orange-ml), or None when unknown.

    cache (a dict the caller keeps) saves phonenumbers' answer per carrier_key: a
    campaign's numbers share a few hundred prefixes, and a lookup costs 30 to 60 us.
    """
    for prefix, code in ported:  # longest first (parse_ported sorts them)
        if phone.startswith(prefix):
            return code
    key = carrier_key(phone) if cache is not None else None
    if key is None:
        return _carrier_operator(phone)
    if key not in cache:
        cache[key] = _carrier_operator(phone)
    return cache[key]


def carrier_key(phone: str) -> tuple[str, int] | None:
    """Return what phonenumbers' answer for an E.164 phone depends on: its digits up to its
    country's longest carrier prefix, and its length; None if it is not E.164."""
    if not E164.fullmatch(phone):
        return None
    head = phone[1:4]  # holds the country code, of one to three digits
    length = _LONGEST.get(head)
    if length is None:  # once per country and process: the data is a library constant
        length = _LONGEST[head] = _prefix_length(head)
    return phone[1 : 1 + length], len(phone)


def _prefix_length(head: str) -> int:
    """Return how many leading digits decide a carrier, for numbers starting with head."""
    sizes = [n for n in (1, 2, 3) if int(head[:n]) in COUNTRY_CODE_TO_REGION_CODE]
    code = head[: sizes[0]] if sizes else head
    return max([len(code)] + [len(p) for p in CARRIER_DATA if p.startswith(code)])


def _carrier_operator(phone: str) -> str | None:
    """Return the operator phonenumbers' carrier data gives an E.164 phone, or None."""
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    name = carrier.name_for_number(number, "en")
    region = phonenumbers.region_code_for_number(number)
    if not name or not region:
        return None
    brand = BRANDS.get((region, name)) or re.sub(r"[^a-z0-9]+", "", name.lower())
    return f"{brand}-{region.lower()}" if brand else None


def parse_routes(text: str, known: Iterable[str] = PROVIDERS) -> dict[str, tuple[str, ...]]:
    """Read SMS_ROUTES into {operator or "*": (provider, ...)}; raise RouteError when wrong."""
    known = tuple(known)
    routes: dict[str, tuple[str, ...]] = {}
    for entry in filter(None, (part.strip() for part in (text or "").split(";"))):
        key, sep, value = (piece.strip() for piece in entry.partition("="))
        providers = tuple(filter(None, (p.strip() for p in value.split(","))))
        if not sep or not providers or not (key == ANY or OPERATOR.match(key)):
            raise RouteError(f"a route looks like orange-ml=orange,infobip, not {entry!r}")
        unknown = [p for p in providers if p not in known]
        if unknown:
            raise RouteError(
                f"unknown provider {unknown[0]!r} in {entry!r}; known: {', '.join(known)}"
            )
        if key in routes or len(set(providers)) != len(providers):
            raise RouteError(f"{key!r} is routed twice, or names a provider twice")
        routes[key] = providers
    return routes


def parse_ported(text: str) -> list[tuple[str, str]]:
    """Read prefix overrides (+2237612=moov-ml, …) for ported numbers, longest prefix first."""
    found = []
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        prefix, sep, code = (piece.strip() for piece in entry.partition("="))
        if not sep or not PREFIX.match(prefix) or not OPERATOR.match(code):
            raise RouteError(f"a ported prefix looks like +2237612=moov-ml, not {entry!r}")
        found.append((prefix, code))
    return sorted(found, key=lambda pair: -len(pair[0]))


def route_key(phone: str, ported: Iterable[tuple[str, str]] = ()):
    """Return what a phone's operator depends on: phones of the same key share their route.

    The ported prefix's operator, else the number's carrier_key (see operator), else the
    phone itself.
    """
    for prefix, code in ported:
        if phone.startswith(prefix):
            return ("ported", code)
    return carrier_key(phone) or phone


def providers_for(
    phone: str,
    routes: Mapping[str, tuple[str, ...]],
    ported: Iterable[tuple[str, str]] = (),
    cache: dict | None = None,
) -> tuple[str, ...]:
    """Return the providers to try for a phone, in order: its operator's route, else "*"'s.

    cache: as for operator.
    """
    if not routes.keys() - {ANY}:  # one route for every operator: no need to know which
        return routes.get(ANY, ())
    code = operator(phone, ported, cache)
    return routes.get(code or ANY) or routes.get(ANY, ())
