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
from dataclasses import dataclass, field

from redis import Redis

WINDOW_S = 120
FAILURES_MIN = 5
FAILURE_RATE = 0.5
OPEN_S = 60
CLOSED, OPEN, PROBING = "closed", "open", "probing"
# Each request's outcomes are one member of the window, "<time>:<oks>:<fails>:<token>",
# and the window's totals a hash beside it, less what falls out: counting never reads
# the whole window (at 10,000 SMS/s, two minutes of members one per SMS would be 1.2 M).
# Then each outcome in turn, as record() did one at a time: a success through an open
# circuit is its probe and starts the count afresh; a failure through an open circuit
# (a probe's, or a send's that raced it) opens it again; else enough failures open it.
_RECORD = """
local outcomes, counts, open, until_key, probe = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, cutoff, reopen, keep_s, open_ex = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local fmin, frate, token, flags = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9]
local oks = tonumber(redis.call('HGET', counts, 'ok') or 0)
local fails = tonumber(redis.call('HGET', counts, 'fail') or 0)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', outcomes, '-inf', cutoff)) do
  local o, f = string.match(member, '^[^:]*:(%d+):(%d+):')
  if o then
    oks, fails = oks - tonumber(o), fails - tonumber(f)
  end
end
redis.call('ZREMRANGEBYSCORE', outcomes, '-inf', cutoff)
oks, fails = math.max(0, oks), math.max(0, fails)
local new_oks, new_fails = 0, 0
-- Whether the circuit is open, known here as the outcomes change it: a command per
-- outcome was most of a request's record (a hundred of them, nearly all successes).
local is_open = redis.call('EXISTS', open) == 1
if not is_open and not string.find(flags, '0', 1, true) then
  new_oks = #flags  -- a closed circuit's successes, no more
else
  for i = 1, #flags do
    if string.sub(flags, i, i) == '1' then
      new_oks = new_oks + 1
      if is_open then
        redis.call('DEL', open, outcomes, probe)
        oks, fails, new_oks, new_fails, is_open = 0, 0, 0, 0, false
      end
    else
      new_fails = new_fails + 1
      local failed, total = fails + new_fails, oks + fails + new_oks + new_fails
      if is_open or (failed >= fmin and failed >= frate * total) then
        redis.call('SET', open, now, 'EX', open_ex)
        redis.call('SET', until_key, reopen, 'EX', open_ex)
        redis.call('DEL', probe)
        is_open = true
      end
    end
  end
end
if new_oks + new_fails > 0 then
  redis.call('ZADD', outcomes, now, now .. ':' .. new_oks .. ':' .. new_fails .. ':' .. token)
  redis.call('EXPIRE', outcomes, keep_s)
end
redis.call('HSET', counts, 'ok', oks + new_oks, 'fail', fails + new_fails)
redis.call('EXPIRE', counts, keep_s)
return 0
"""


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
    _record: object = field(init=False, repr=False)

    def __post_init__(self):
        self._record = self.redis.register_script(_RECORD)  # sent by its hash: no connection yet

    def _key(self, provider: str, what: str) -> str:
        return f"{self.prefix}circuit:{provider}:{what}"

    def record(self, provider: str, ok: bool) -> None:
        """Count one send's outcome; open the circuit when failures pass the threshold."""
        self.record_many(provider, [ok])

    def record_many(self, provider: str, oks: list[bool]) -> None:
        """Count a request's outcomes, in order, in one round trip: as record, one by one."""
        if not oks:
            return
        now = self.clock()
        keys = [self._key(provider, what) for what in ("outcomes", "counts", "open", "until",
                                                       "probe")]  # fmt: skip
        args = [repr(now), repr(now - self.window_s), repr(now + self.open_s), self.window_s * 2,
                self.open_s * 10, self.failures_min, self.failure_rate, secrets.token_hex(6),
                "".join("1" if ok else "0" for ok in oks)]  # fmt: skip
        self._record(keys=keys, args=args)

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
        return self.admits(provider) != 0

    def admits(self, provider: str) -> int | None:
        """Return how many messages this worker may send through provider now: None for any
        number (closed), 1 for its probe, 0 while open or another worker probes."""
        state = self.state(provider)
        if state == CLOSED:
            return None
        if state == OPEN:
            return 0
        # One probe at a time, across workers; a failed probe opens the circuit again.
        return int(bool(self.redis.set(self._key(provider, "probe"), 1, nx=True, ex=self.open_s)))

    def pick(self, providers: tuple[str, ...]) -> str | None:
        """Return the first provider of a route that may take a message now, or None."""
        return next((p for p in providers if self.may_send(p)), None)
