"""A send's batches: chosen rows cut into provider requests, and a request in flight."""

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import NamedTuple

from app.infra.gateway import GatewayError
from app.messaging.claims import Claimed
from app.messaging.routing import said


@dataclass
class Tally:
    """What one dispatch run did."""

    claimed: int = 0  # rows it started (a name the dispatch job reports)
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    cancelled: int = 0
    campaigns: set = field(default_factory=set)

    def add(self, other: "Tally") -> None:
        for name in ("claimed", "sent", "failed", "retried", "unknown", "cancelled"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.campaigns |= other.campaigns


class Asked(NamedTuple):
    """A request sent in the background: to whom, for which rows, and its (answer, seconds)."""

    provider: str
    part: list[Claimed]
    future: Future


def healthy(answer) -> bool:
    """Tell whether an answer says nothing against its provider's circuit (Routing.sent)."""
    return not isinstance(answer, GatewayError) and all(said(answer))


def ask(gateway, phones: list[str], text: str, sender: str | None):
    """Send one request; return its answer (or the gateway's error) and the seconds it took."""
    started = time.perf_counter()
    try:
        answer = gateway.send(phones, text, sender=sender)
    except GatewayError as exc:
        answer = exc
    return answer, time.perf_counter() - started


def chunks(messages: list[Claimed], size: int):
    """Yield lists of at most size rows sharing one text and campaign, one per phone."""
    groups: dict[tuple, list[tuple[list, set]]] = {}
    for message in messages:
        key = (message.body, message.campaign_id)
        lists = groups.get(key)
        if lists is None:
            lists = groups[key] = []
        # A phone appears once per request: the answer is keyed by phone.
        for rows, phones in lists:
            if len(rows) < size and message.phone not in phones:
                break
        else:
            rows, phones = [], set()
            lists.append((rows, phones))
        rows.append(message)
        phones.add(message.phone)
    for lists in groups.values():
        for rows, _ in lists:
            yield rows
