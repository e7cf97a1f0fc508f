"""The SMS send window, read in local time."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.messaging.window import is_open, next_open

BAMAKO = "Africa/Bamako"  # UTC+0, no daylight saving
NAIROBI = "Africa/Nairobi"  # UTC+3, no daylight saving
DAY = "08:00-20:00"
NIGHT = "20:00-06:00"


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """Return 2026-03-DAY HOUR:MINUTE in UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "now", "tz", "expected"),
    [
        (DAY, at(7, 59), BAMAKO, False),
        (DAY, at(8, 0), BAMAKO, True),
        (DAY, at(12, 30), BAMAKO, True),
        (DAY, at(19, 59), BAMAKO, True),
        (DAY, at(20, 0), BAMAKO, False),
        (DAY, at(0, 0), BAMAKO, False),
        (NIGHT, at(19, 59), BAMAKO, False),
        (NIGHT, at(20, 0), BAMAKO, True),
        (NIGHT, at(23, 59), BAMAKO, True),
        (NIGHT, at(0, 0), BAMAKO, True),
        (NIGHT, at(5, 59), BAMAKO, True),
        (NIGHT, at(6, 0), BAMAKO, False),
        (NIGHT, at(12, 0), BAMAKO, False),
        ("always", at(3, 0), BAMAKO, True),
        ("always", at(23, 59), NAIROBI, True),
        # Nairobi reads the same instants three hours later.
        (DAY, at(4, 59), NAIROBI, False),  # 07:59 in Nairobi
        (DAY, at(5, 0), NAIROBI, True),  # 08:00 in Nairobi
        (DAY, at(16, 59), NAIROBI, True),  # 19:59 in Nairobi
        (DAY, at(17, 0), NAIROBI, False),  # 20:00 in Nairobi, 17:00 in Bamako
        (DAY, at(17, 0), BAMAKO, True),
        (NIGHT, at(2, 59), NAIROBI, True),  # 05:59 in Nairobi
        (NIGHT, at(3, 0), NAIROBI, False),  # 06:00 in Nairobi
    ],
)
def test_is_open(window, now, tz, expected):
    assert is_open(window, now, tz) is expected


def test_is_open_reads_any_aware_time_in_the_window_zone():
    bamako_eight = at(8, 0)
    paris_nine = bamako_eight.astimezone(timezone(timedelta(hours=1)))
    assert is_open(DAY, paris_nine, BAMAKO) is True
    assert is_open(DAY, paris_nine - timedelta(minutes=1), BAMAKO) is False


@pytest.mark.parametrize(
    ("window", "now", "tz", "expected"),
    [
        (DAY, at(12, 0), BAMAKO, at(12, 0)),  # open: now
        (DAY, at(8, 0), BAMAKO, at(8, 0)),
        (DAY, at(3, 15), BAMAKO, at(8, 0)),  # before: today's opening
        (DAY, at(7, 59), BAMAKO, at(8, 0)),
        (DAY, at(20, 0), BAMAKO, at(8, 0, day=11)),  # after: tomorrow's opening
        (DAY, at(23, 45), BAMAKO, at(8, 0, day=11)),
        (NIGHT, at(22, 0), BAMAKO, at(22, 0)),
        (NIGHT, at(6, 0), BAMAKO, at(20, 0)),
        (NIGHT, at(13, 0), BAMAKO, at(20, 0)),
        ("always", at(2, 0), BAMAKO, at(2, 0)),
        (DAY, at(2, 0), NAIROBI, at(5, 0)),  # 05:00 in Nairobi: opens at 08:00 local
        (DAY, at(18, 0), NAIROBI, at(5, 0, day=11)),  # 21:00 in Nairobi
        (DAY, at(21, 30), NAIROBI, at(5, 0, day=11)),  # 00:30 the next day in Nairobi
    ],
)
def test_next_open(window, now, tz, expected):
    opening = next_open(window, now, tz)
    assert opening == expected
    assert is_open(window, opening, tz)


def test_next_open_keeps_the_callers_time_zone():
    bamako = timezone(timedelta(hours=0), "GMT")
    now = datetime(2026, 3, 10, 21, 0, tzinfo=bamako)
    opening = next_open(DAY, now, BAMAKO)
    assert opening.tzinfo is bamako
    assert opening == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
