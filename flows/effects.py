"""Effects: what a flow asks the outside world to do, as plain values."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SetLanguage:
    """Remember the caller's language on their contact record."""

    lang: str


@dataclass(frozen=True)
class SetName:
    """Remember the name an agent wants on their certificates."""

    name: str


@dataclass(frozen=True)
class SetData:
    """Keep a value in the session for later screens (the engine applies it)."""

    key: str
    value: object
