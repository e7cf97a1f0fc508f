"""How a call's turn reads: the keys pressed, a recording, or silence, and copies of a turn."""

from dataclasses import dataclass, field

from flows import voice


@dataclass
class VoiceKeys:
    """The voice channel: what one callback of a call says, for one request.

    Every URL a call is given carries the number of the turn it answers. A
    request for an older turn (the gateway trying again) is a copy: it gets the
    reply already given, and changes nothing. turn is the one to hand out next.
    """

    limit = voice.FRAME
    name = "voice"
    turn: int = field(default=1)
    entry: str | None = None  # why Kalan placed this call (a lesson), for its first screen

    def read(self, session: dict, raw: dict, waited: bool, now: float) -> tuple[str | None, dict]:
        """Return this turn's input and how it was read; None when the turn is a copy."""
        current = session.get("turn", 0)
        self.turn = current
        if raw.get("turn") != current:
            return None, {}
        if raw.get("via") == "record" or raw.get("recording"):
            # Nothing recorded (# at once, or silence trimmed away) skips the question.
            return voice.RECORDING + (raw.get("recording") or ""), {"turn": current}
        digits = raw.get("digits")
        return (digits.strip() if digits else voice.SILENCE), {"turn": current}

    def keep(self, raw: dict, new_input, pin: bool, opening: bool, reading: dict) -> dict:
        """Return what the session keeps to read the next turn: its number, never the keys."""
        self.turn = 1 if opening else reading.get("turn", 0) + 1
        return {"turn": self.turn}
