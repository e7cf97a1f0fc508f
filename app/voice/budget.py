"""The daily budget of calls Kalan places: counted per local day in Redis, across every worker."""

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from redis import Redis

TTL_S = 2 * 24 * 3600  # a day's counts outlive it, for yesterday's figures
# Take one call from the day's budget, or count it refused when none is left: one script,
# so two workers at the last call cannot both take it.
_TAKE = """
local budget, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[1]) or '0') >= budget then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ttl)
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ttl)
return 1
"""


def _keys(prefix: str, config: Mapping, now: datetime) -> list[str]:
    """Return the day's keys: calls placed, and calls refused for want of budget."""
    day = now.astimezone(ZoneInfo(config["TZ"])).date().isoformat()
    return [f"{prefix}voice:budget:{day}", f"{prefix}voice:over:{day}"]


def take(redis: Redis, prefix: str, config: Mapping, now: datetime) -> bool:
    """Count one call against today's VOICE_DAILY_BUDGET; False (counted refused) if spent."""
    keys = _keys(prefix, config, now)
    return bool(redis.eval(_TAKE, 2, *keys, config["VOICE_DAILY_BUDGET"], TTL_S))


def give_back(redis: Redis, prefix: str, config: Mapping, now: datetime) -> None:
    """Return a taken call to today's budget: the gateway surely did not place it."""
    spent = _keys(prefix, config, now)[0]
    if int(redis.decr(spent)) < 0:  # the day turned between take and give_back
        redis.set(spent, 0, ex=TTL_S)


def left(redis: Redis, prefix: str, config: Mapping, now: datetime) -> int:
    """Return how many calls today's budget still allows."""
    spent = redis.get(_keys(prefix, config, now)[0])
    return max(0, config["VOICE_DAILY_BUDGET"] - int(spent or 0))


def refuse(redis: Redis, prefix: str, config: Mapping, now: datetime) -> None:
    """Count one call not placed because today's budget is spent."""
    over = _keys(prefix, config, now)[1]
    pipe = redis.pipeline()
    pipe.incr(over)
    pipe.expire(over, TTL_S)
    pipe.execute()


def today(redis: Redis, prefix: str, config: Mapping, now: datetime) -> tuple[int, int]:
    """Return today's calls placed and calls refused over budget."""
    placed, refused = redis.mget(_keys(prefix, config, now))
    return int(placed or 0), int(refused or 0)
