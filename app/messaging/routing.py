"""Which gateway carries each outbox row: its operator's route, the circuits, a reply's pin.

Nothing outside the adapters knows a provider's API: the sender asks here which
provider may take a message now, sends through that gateway, and tells here how
it went, so the provider's circuit can open or close.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.infra.gateway import FAILED, NOT_TRIED, SENT, Gateway, Result
from app.infra.routes import ANY, providers_for, route_key
from app.messaging.circuit import OPEN, Circuit

OUR_NUMBER = re.compile(r"\+?[0-9]{3,15}")  # a number or short code; never a name


@dataclass
class Routing:
    """The gateways by name, the routes per operator, and the providers' circuits."""

    gateways: Mapping[str, Gateway]
    routes: Mapping[str, tuple[str, ...]]
    ported: Sequence[tuple[str, str]] = ()
    circuit: Circuit | None = None
    # Each carrier prefix's operator, as phonenumbers told it once (see routes.operator).
    _operators: dict = field(default_factory=dict, init=False, repr=False)

    def route(self, phone: str, via: str | None = None) -> tuple[str, ...]:
        """Return the providers to try for a phone, in order; a reply's provider first."""
        route = providers_for(phone, self.routes, self.ported, self._operators)
        if via:
            # Back the way the person wrote; the route still serves if that way is shut.
            route = (via, *(p for p in route if p != via))
        return tuple(p for p in route if p in self.gateways)

    def pick(self, phone: str, via: str | None = None) -> str | None:
        """Return the provider to send through now, or None while every circuit is open."""
        route = self.route(phone, via)
        if self.circuit is None:
            return route[0] if route else None
        return self.circuit.pick(route)

    def reopens(self, phone: str, via: str | None = None) -> float | None:
        """Return when the first of a phone's providers may be tried again (epoch seconds)."""
        if self.circuit is None:
            return None
        times = [self.circuit.until(p) for p in self.route(phone, via)]
        return min((t for t in times if t is not None), default=None)

    def choices(self) -> "Choices":
        """Return the routing of one batch of rows: each circuit asked once for them all."""
        return Choices(self)

    def sent(self, provider: str, results: list[Result]) -> None:
        """Count each recipient's outcome against the provider's circuit."""
        if self.circuit is None:
            return
        self.circuit.record_many(provider, said(results))

    def shut(self, provider: str) -> bool:
        """Tell whether provider's circuit has opened: no new request for it. (One being
        probed is not: a row routed to it now is this worker's probe.)"""
        return self.circuit is not None and self.circuit.state(provider) == OPEN

    def failed(self, provider: str) -> None:
        """Count a request the provider failed as a whole: once, whatever its size."""
        if self.circuit is not None:
            self.circuit.record(provider, False)


def said(results: list[Result]) -> list[bool]:
    """Return whether each recipient's outcome speaks for its provider's health, where it
    speaks at all: a number refused, or one never asked, says nothing of it."""
    return [r.outcome == SENT for r in results if r.outcome != FAILED and r.status != NOT_TRIED]


class Choices:
    """Routing.pick and Routing.reopens for one batch, asking each provider's circuit once.

    As if asked row by row: a closed circuit takes every row, an open one none, and one
    due a probe the first row only, if this worker won the probe.
    """

    def __init__(self, routing: Routing):
        self.routing = routing
        self._left: dict[str, int | None] = {}  # provider -> rows it may still take (None: any)
        self._until: dict[str, float | None] = {}
        # (route_key, via) -> route: a batch's phones share a few prefixes, looked up once.
        self._routes: dict[tuple, tuple[str, ...]] = {}
        self._any_operator = not (routing.routes.keys() - {ANY})

    def route(self, phone: str, via: str | None = None) -> tuple[str, ...]:
        """Return Routing.route(phone, via), once per route_key and via in the batch."""
        routing = self.routing
        key = None if self._any_operator else route_key(phone, routing.ported)
        route = self._routes.get((key, via))
        if route is None:
            route = self._routes[(key, via)] = routing.route(phone, via)
        return route

    def pick(self, phone: str, via: str | None = None) -> str | None:
        """Return the provider to send a row through now, or None while its route is shut."""
        route, circuit = self.route(phone, via), self.routing.circuit
        if circuit is None:
            return route[0] if route else None
        for provider in route:
            if provider not in self._left:
                self._left[provider] = circuit.admits(provider)
            left = self._left[provider]
            if left is None:
                return provider
            if left > 0:
                self._left[provider] = left - 1
                return provider
        return None

    def reopens(self, phone: str, via: str | None = None) -> float | None:
        """Return when the first of a phone's providers may be tried again (epoch seconds)."""
        circuit = self.routing.circuit
        if circuit is None:
            return None
        route = self.route(phone, via)
        for provider in route:
            if provider not in self._until:
                self._until[provider] = circuit.until(provider)
        return min((self._until[p] for p in route if self._until[p] is not None), default=None)


def reply_sender(config: Mapping, provider: str, to: str | None) -> str | None:
    """Return the number a reply may come from: the one written to, if it is ours.

    What the callback names is not trusted blindly: a sender the provider refuses would
    lose the reply, and none but our own may be used. None: the provider's default.
    """
    own = {"africastalking": config["AT_SHORTCODE"], "orange": config["ORANGE_SENDER"]}
    if provider in own:
        return to if to and to == own[provider] else None
    return to if to and OUR_NUMBER.fullmatch(to) else None  # Infobip: any number of the account
