"""A token bucket in Redis: a send rate that all workers share."""

import time

from redis import Redis

# Refill by elapsed time on the Redis clock, so workers on different machines
# agree (a test may pass its own clock as ARGV[4], in milliseconds). Each
# script then takes tokens and saves the bucket.
_REFILL = """
local rate, burst, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
"""
_SAVE = """
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
"""
# All n tokens or none: return 0 when taken, else milliseconds to wait.
_TAKE = (
    _REFILL
    + """
local wait = 0
if tokens >= n then
  tokens = tokens - n
else
  wait = math.ceil((n - tokens) * 1000 / rate)
end
"""
    + _SAVE
    + "return wait"
)
# As many of n tokens as the bucket holds now; return how many were taken.
_TAKE_SOME = (
    _REFILL
    + """
local taken = math.min(n, math.floor(tokens))
tokens = tokens - taken
"""
    + _SAVE
    + "return taken"
)


class Throttle:
    """At most rate messages per second under key, across every process."""

    def __init__(self, redis: Redis, key: str, rate: float, clock=None):
        """clock (seconds, as time.time) replaces Redis's own, for a test that moves time."""
        self.key = key
        self.rate = float(rate)
        self.burst = max(1.0, self.rate)  # one second's worth
        self.clock = clock
        self._take = redis.register_script(_TAKE)
        self._take_some = redis.register_script(_TAKE_SOME)

    def _args(self, n) -> list:
        """Return a script's arguments: the rate, the burst, n, and the clock if injected."""
        args = [self.rate, self.burst, n]
        return args + [int(self.clock() * 1000)] if self.clock else args

    def acquire(self, n: int, sleep=time.sleep) -> float:
        """Block until n messages may go out; return the seconds waited."""
        waited = 0.0
        remaining = n
        while remaining > 0:
            step = min(remaining, int(self.burst))
            wait_ms = self._take(keys=[self.key], args=self._args(step))
            if wait_ms:
                sleep(wait_ms / 1000)
                waited += wait_ms / 1000
                continue
            remaining -= step
        return waited

    def try_acquire(self, n: int) -> float:
        """Take n tokens (a burst at most) if the bucket holds them now and return 0; else
        take none, and return the seconds until it will. Never waits."""
        return self._take(keys=[self.key], args=self._args(n)) / 1000

    def take(self, n: int, grace_s: float = 0.0, sleep=time.sleep) -> int:
        """Take up to n tokens; return how many were taken.

        It waits only when all n would come within grace_s: a bucketful asked for a few
        milliseconds before the bucket is full again is then taken whole.
        """
        if grace_s > 0:
            wait_ms = self._take(keys=[self.key], args=self._args(n))
            if not wait_ms:
                return n
            if wait_ms <= grace_s * 1000:
                sleep(wait_ms / 1000)
                return self.take(n)
        return int(self._take_some(keys=[self.key], args=self._args(n)))
