"""Missed-call callback: a call to a callback number is rejected, free for the caller, and
Kalan calls back within a minute.

Outside the send window the callback is queued for the window's next opening rather
than refused: <Reject/> tells the caller nothing, so a refusal would drop, unseen, a
request from someone who may have no other way to reach us. Every missed call of a
night is then one morning call (the same phone and due time make one row).
"""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy.orm import Session

from app.infra import salt
from app.messaging import window
from app.people.contacts import normalize
from app.voice import budget, dialer

# Long enough for the caller's line to be free again; with the tick, still within a minute.
DELAY = timedelta(seconds=15)

log = logging.getLogger(__name__)


def is_callback_number(config: Mapping, destination: str | None) -> bool:
    """Tell whether a call to destination (our number) is to be rejected and called back."""
    number = normalize(destination or "")
    return number is not None and number in config["VOICE_CALLBACK_NUMBERS"]


def missed(db: Session, redis: Redis, config: Mapping, phone: str, now: datetime) -> bool:
    """Queue a callback to the phone of a rejected call; return whether one was queued. Commits.

    Refused, and logged: a number that is not a phone, one that opted out, a day
    whose VOICE_DAILY_BUDGET is spent (counted too), and a phone called back
    within VOICE_CALLBACK_EVERY_S (one per number, atomic across processes).
    Raises only when Redis or the database is down; answer <Reject/> all the same.
    """
    phone = normalize(phone or "")
    if phone is None:
        log.info("missed call from a number that is not a phone: not called back")
        return False
    if dialer.opted_out(db, phone):
        log.info("missed call from a phone that opted out: not called back")
        return False
    prefix = config["REDIS_PREFIX"]
    if budget.left(redis, prefix, config, now) <= 0:
        budget.refuse(redis, prefix, config, now)
        log.warning("missed call not called back: the day's VOICE_DAILY_BUDGET is spent")
        return False
    gate = _gate(redis, prefix, config, phone)
    if not redis.set(gate, 1, nx=True, ex=config["VOICE_CALLBACK_EVERY_S"]):
        return False  # called back, or about to be, within the last VOICE_CALLBACK_EVERY_S
    due = now + DELAY
    if not window.is_open(config["SMS_SEND_WINDOW"], due, config["TZ"]):
        due = window.next_open(config["SMS_SEND_WINDOW"], due, config["TZ"])
    try:
        queued = dialer.queue(db, phone, "callback", due, now)
        db.commit()
    except Exception:
        db.rollback()
        redis.delete(gate)  # nothing was queued: the next missed call may try again
        raise
    return queued


def _gate(redis: Redis, prefix: str, config: Mapping, phone: str) -> str:
    """Return the key that holds back a second callback: the phone under the day's salt.

    A salt that turns at midnight lets a second missed call through then; the dialer's own
    check (dialer.called_back_since) still places one callback of the two.
    """
    today, _ = salt.current(redis, prefix, config["TZ"])
    return f"{prefix}voice:callback:{salt.caller(today, phone)}"
