"""The outside facts a screen may need, fetched at the edge so that flows stay pure.

A screen names its needs (flows' `needs=`); the conversation fetches each one
the first time the flow reads it, for the hop being answered.
"""

import functools
from dataclasses import dataclass, field

from flask import current_app

import flows
from app import cases
from app.cases import abuse, focal_points
from app.infra.db import get_db
from flows.desk import parse_pin


@dataclass(frozen=True)
class Hop:
    """What a need may look at: the caller's answer, the session's data, who and where."""

    answer: str
    data: dict
    phone: str
    session_id: str
    callers: tuple[str, ...] = ()  # the phone's names under today's and yesterday's salts
    facts: dict = field(default_factory=dict)  # the report limits' counts, read with the session
    writes: list = field(default_factory=list)  # Redis writes for the hop's saving pipeline


def _case_status(hop: Hop) -> str | None:
    """Look a reference up, unless this phone has missed too often lately (guessing)."""
    reference = flows.report.parse_reference(hop.answer)
    if not reference:
        return None
    if abuse.lookups_exhausted(hop.facts):
        return flows.report.THROTTLED
    found = cases.status(get_db(), reference)
    if found is None:
        prefix = current_app.config["REDIS_PREFIX"]
        hop.writes.append(functools.partial(abuse.missed_lookup, prefix, hop.callers))
    return found


def _reference(hop: Hop) -> str:
    """Draw the reference a report will get; an identical recent one keeps its own."""
    answers = {name: hop.data.get(name) for name in flows.report.FIELDS}
    window = current_app.config["REPORT_REPEAT_WINDOW_S"]
    return abuse.repeat_of(hop.facts, answers, window) or cases.fresh_reference(get_db())


def _reports_today(hop: Hop) -> int:
    return abuse.sent_today(hop.facts)


def desk_key(session_id: str) -> str:
    """Return the key that marks the desk open in a session, once its PIN was right."""
    return f"{current_app.config['REDIS_PREFIX']}desk:{session_id}"


def _pin(hop: Hop) -> dict | None:
    """Check the PIN typed on the desk's first screen; open the desk for this session."""
    if not parse_pin(hop.answer):
        return None  # navigation or a malformed PIN: no try is spent
    redis, config = current_app.extensions["redis"], current_app.config
    point = focal_points.find(get_db(), hop.phone)
    caller = hop.callers[0] if hop.callers else hop.phone
    result = focal_points.check_pin(
        redis, config["REDIS_PREFIX"], caller, point, hop.answer.strip()
    )
    if result["result"] == "ok":
        # The session is bound to its caller: the key need not name them.
        redis.set(desk_key(hop.session_id), 1, ex=config["SESSION_TTL_S"])
    return result


def desk(hop: Hop) -> dict | None:
    """Return the caller's open cases, once the PIN opened the desk in this session."""
    redis = current_app.extensions["redis"]
    if redis.get(desk_key(hop.session_id)) is None:
        return None
    redis.expire(desk_key(hop.session_id), current_app.config["SESSION_TTL_S"])  # open in use
    point = focal_points.find(get_db(), hop.phone)
    if point is None:
        return None
    tz = current_app.config["TZ"]
    return {
        "role": point.role,
        "cases": [cases.summary(c, tz) for c in focal_points.desk(get_db(), point)],
    }


# What each declared need is, given the hop.
NEEDS = {
    "case_status": _case_status,
    "reference": _reference,
    "reports_today": _reports_today,
    "pin": _pin,
    "desk": desk,
}
