"""A provider's circuit: opened by too many retryable failures, closed again by a probe.

Failures and successes are counted in Redis per provider over a sliding window
(WINDOW_S), so that every worker sees the same state. Once FAILURES_MIN failures
make at least FAILURE_RATE of the window's outcomes, the circuit opens for
OPEN_S: messages go to the next provider of their route. After that one worker
at a time (a Redis lock) may send a probe through it: a success closes it, a
failure opens it again. Only outcomes that say something of the provider count
(a retryable failure, an unknown outcome, or a success), never a number refused.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis

WINDOW_S = 120
FAILURES_MIN = 5
FAILURE_RATE = 0.5
OPEN_S = 60
CLOSED, OPEN, PROBING = "closed", "open", "probing"


@dataclass
class Circuit:
    """The circuits of every provider, kept in Redis under prefix."""

    redis: Redis
    prefix: str
    window_s: int = WINDOW_S
    failures_min: int = FAILURES_MIN
    failure_rate: float = FAILURE_RATE
    open_s: int = OPEN_S
    clock: Callable[[], float] = time.time

    def _key(self, provider: str, what: str) -> str:
        return f"{self.prefix}circuit:{provider}:{what}"

    def record(self, provider: str, ok: bool) -> None:
        """Count one send's outcome; open the circuit when failures pass the threshold."""
        now = self.clock()
        outcomes = self._key(provider, "outcomes")
        member = f"{now:.6f}:{'ok' if ok else 'fail'}:{secrets.token_hex(6)}"
        pipe = self.redis.pipeline()
        pipe.zadd(outcomes, {member: now})
        pipe.zremrangebyscore(outcomes, "-inf", now - self.window_s)
        pipe.zrange(outcomes, 0, -1)
        pipe.expire(outcomes, self.window_s * 2)
        seen = pipe.execute()[2]
        if ok:
            if self.redis.delete(self._key(provider, "open")):
                # A success through an open circuit is its probe: start counting afresh.
                self.redis.delete(outcomes, self._key(provider, "probe"))
            return
        if self.redis.exists(self._key(provider, "open")):
            self._open(provider, now)  # a probe failed, or a send raced it: wait again
            return
        failures = sum(
            1 for m in seen if (m.decode() if isinstance(m, bytes) else m).split(":")[1] == "fail"
        )
        if failures >= self.failures_min and failures >= self.failure_rate * len(seen):
            self._open(provider, now)

    def _open(self, provider: str, now: float) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._key(provider, "open"), now, ex=self.open_s * 10)
        pipe.set(self._key(provider, "until"), now + self.open_s, ex=self.open_s * 10)
        pipe.delete(self._key(provider, "probe"))
        pipe.execute()

    def state(self, provider: str) -> str:
        """Tell whether a provider may take messages: closed, open, or due a probe."""
        if not self.redis.exists(self._key(provider, "open")):
            return CLOSED
        until = float(self.redis.get(self._key(provider, "until")) or 0)
        return OPEN if self.clock() < until else PROBING

    def until(self, provider: str) -> float | None:
        """Return when an open circuit may take its probe (epoch seconds); None if closed."""
        if not self.redis.exists(self._key(provider, "open")):
            return None
        return float(self.redis.get(self._key(provider, "until")) or 0)

    def may_send(self, provider: str) -> bool:
        """Tell whether this worker may send through provider now: closed, or its turn to probe."""
        state = self.state(provider)
        if state == CLOSED:
            return True
        if state == OPEN:
            return False
        # One probe at a time, across workers; a failed probe opens the circuit again.
        return bool(self.redis.set(self._key(provider, "probe"), 1, nx=True, ex=self.open_s))

    def pick(self, providers: tuple[str, ...]) -> str | None:
        """Return the first provider of a route that may take a message now, or None."""
        return next((p for p in providers if self.may_send(p)), None)
