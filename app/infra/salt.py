"""A random daily salt kept only in Redis: phone-keyed keys that nobody can recompute later.

Keys that must find a phone again (a resume point, the day's count of reports,
a repeated report) are named by a hash of the phone under the day's salt. The
salt lives two days in Redis and is never written anywhere else, so once it
expires no one, not even with every secret of the configuration, can tell
which phone a forgotten key belonged to.
"""

import hashlib
import secrets
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from redis import Redis

TTL_S = 2 * 24 * 3600  # today's salt must still answer for yesterday's keys all of tomorrow


def day_keys(prefix: str, tz: str, now: datetime | None = None) -> tuple[str, str]:
    """Return the Redis keys of today's and yesterday's salts, by local day."""
    today = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return _key(prefix, today), _key(prefix, today - timedelta(days=1))


def day_keys_until(prefix: str, tz: str) -> tuple[tuple[str, str], float]:
    """Return day_keys() for now, and the POSIX time at which the local day ends."""
    now = datetime.now(ZoneInfo(tz))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return day_keys(prefix, tz, now), midnight.timestamp()


def _key(prefix: str, day: date) -> str:
    return f"{prefix}salt:{day.isoformat()}"


def candidate() -> str:
    """Return a fresh salt, offered each time in case today's does not exist yet."""
    return secrets.token_hex(16)


def caller(salt: bytes, phone: str) -> str:
    """Name a phone under a salt: the same hash as the session script's redis.sha1hex."""
    return hashlib.sha1(salt + phone.encode()).hexdigest()


def callers(salts, phone: str) -> tuple[str, ...]:
    """Return the phone's names under each salt that exists, today's first."""
    return tuple(caller(s, phone) for s in salts if s)


def current(redis: Redis, prefix: str, tz: str) -> tuple[bytes, bytes | None]:
    """Return today's salt (creating it) and yesterday's, in one round trip."""
    today, yesterday = day_keys(prefix, tz)
    pipe = redis.pipeline(transaction=False)
    pipe.set(today, candidate(), nx=True, ex=TTL_S)
    pipe.mget(today, yesterday)
    _, salts = pipe.execute()
    return salts[0], salts[1]


def seconds_left_today(tz: str, now: datetime | None = None) -> int:
    """Return the seconds until the next local midnight, at least one."""
    now = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz))
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo)
    return max(1, int((midnight - now).total_seconds()))
