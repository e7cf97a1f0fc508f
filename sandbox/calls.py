"""The live calls of the simulator, USSD sessions or voice calls, by session id."""

import threading

from sandbox.ussd import UssdCall
from sandbox.voice import VoiceCall

Call = UssdCall | VoiceCall


class Calls:
    """Calls still waiting for the phone, shared by the request threads."""

    def __init__(self) -> None:
        self._calls: dict[str, Call] = {}
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        """Keep a call until it ends."""
        with self._lock:
            self._calls[call.session_id] = call

    def get(self, session_id: str) -> Call | None:
        """Return the live call with this session id, if any."""
        with self._lock:
            return self._calls.get(session_id)

    def remove(self, session_id: str) -> Call | None:
        """Forget a call and return it, if it was there."""
        with self._lock:
            return self._calls.pop(session_id, None)

    def remove_idle(self, idle_s: float) -> list[Call]:
        """Forget the calls idle longer than idle_s and return them."""
        with self._lock:
            stale = [c for c in self._calls.values() if c.idle_seconds() > idle_s]
            for call in stale:
                del self._calls[call.session_id]
        return stale
