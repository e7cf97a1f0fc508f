"""The SMS the sandbox has carried, both ways, kept in this process's memory."""

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

# A long-running sandbox keeps only this many of each kind, oldest dropped first.
LIMIT = 10_000


def now_iso() -> str:
    """Return the current UTC time the way AT writes it: ISO-8601, milliseconds, Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Outgoing:
    """A message Kalan sent to a phone."""

    to: str
    message: str
    sender: str
    message_id: str
    parts: int
    cost: str
    status: str = "Success"
    provider: str = "africastalking"  # which emulated API carried it
    # Where the phone's reply goes: the sender's number, or the provider's when
    # Kalan gave none (AT's short code, the sandbox's Infobip number).
    reply_to: str = ""
    at: str = field(default_factory=now_iso)

    def as_dict(self) -> dict:
        """Describe the message for the control API and the simulator page."""
        return {
            "to": self.to,
            "message": self.message,
            "from": self.sender,
            "messageId": self.message_id,
            "status": self.status,
            "parts": self.parts,
            "cost": self.cost,
            "provider": self.provider,
            "at": self.at,
        }


@dataclass(frozen=True)
class Incoming:
    """A message a phone sent to Kalan, through one of the emulated providers."""

    id: int
    sender: str
    to: str
    text: str
    provider: str = "africastalking"  # which emulated API carried it to Kalan
    link_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    date: str = field(default_factory=now_iso)

    def as_dict(self) -> dict:
        """Describe the message as AT's fetch API does."""
        return {
            "linkId": self.link_id,
            "text": self.text,
            "to": self.to,
            "id": self.id,
            "date": self.date,
            "from": self.sender,
        }


class SmsStore:
    """Outgoing and incoming messages, shared by the request threads and the courier."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._sent: OrderedDict[str, Outgoing] = OrderedDict()
        self._received: list[Incoming] = []
        # Ids outlive clear(): Kalan dedupes incoming messages on them.
        self._last_id = 0
        self._lock = threading.Lock()

    def add_sent(self, messages: list[Outgoing]) -> None:
        """Keep messages Kalan sent, in arrival order."""
        with self._lock:
            for message in messages:
                self._sent[message.message_id] = message
            while len(self._sent) > self._limit:
                self._sent.popitem(last=False)

    def sent(self, to: str | None = None) -> list[dict]:
        """Describe the messages sent to one phone, or to all, oldest first."""
        with self._lock:
            return [m.as_dict() for m in self._sent.values() if to is None or m.to == to]

    def set_status(self, message_id: str, status: str) -> None:
        """Record the delivery status of a sent message, if it is still kept."""
        with self._lock:
            message = self._sent.get(message_id)
            if message is not None:
                message.status = status

    def latest(self, to: str, provider: str | None = None) -> Outgoing | None:
        """Return the newest message sent to a phone (by one provider), if any is kept."""
        with self._lock:
            for message in reversed(self._sent.values()):
                if message.to == to and provider in (None, message.provider):
                    return message
        return None

    def receive(
        self, sender: str, to: str, text: str, provider: str = "africastalking"
    ) -> Incoming:
        """Keep a message from a phone under the next id and return it."""
        with self._lock:
            self._last_id += 1
            message = Incoming(self._last_id, sender, to, text, provider)
            self._received.append(message)
            del self._received[: -self._limit]
            return message

    def received(
        self, after_id: int = 0, limit: int = 100, provider: str | None = None
    ) -> list[dict]:
        """Describe up to limit messages from phones (through one provider) above after_id."""
        with self._lock:
            newer = [
                m for m in self._received if m.id > after_id and provider in (None, m.provider)
            ][:limit]
        return [m.as_dict() for m in newer]

    def clear(self) -> None:
        """Forget every message, both ways."""
        with self._lock:
            self._sent.clear()
            self._received.clear()
