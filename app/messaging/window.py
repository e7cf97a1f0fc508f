"""The SMS send window: the local hours when non-urgent messages may go out."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

ALWAYS = "always"


def _bounds(window: str) -> tuple[time, time]:
    start, end = window.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def is_open(window: str, now: datetime, tz: str) -> bool:
    """Tell whether now (aware) falls inside the window, read in time zone tz."""
    if window == ALWAYS:
        return True
    start, end = _bounds(window)
    local = now.astimezone(ZoneInfo(tz)).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # a window across midnight, e.g. 20:00-06:00


def next_open(window: str, now: datetime, tz: str) -> datetime:
    """Return the first moment at or after now when the window is open."""
    if is_open(window, now, tz):
        return now
    start, _ = _bounds(window)
    local = now.astimezone(ZoneInfo(tz))
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening.astimezone(now.tzinfo)
