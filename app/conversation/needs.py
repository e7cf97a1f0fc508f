"""The outside facts a screen may need, fetched at the edge so that flows stay pure.

A screen names its needs (flows' `needs=`); the conversation fetches each one
the first time the flow reads it, for the hop being answered: NEEDS[name](services, db, hop).
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

import flows
from app import cases
from app.cases import abuse, focal_points
from app.conversation.services import Services
from flows.desk import parse_pin


@dataclass(frozen=True)
class Hop:
    """What a need may look at: the caller's answer, the session's data, who and where."""

    answer: str
    data: dict
    phone: str
    session_id: str
    now: datetime  # when the hop came, read once
    callers: tuple[str, ...] = ()  # the phone's names under today's and yesterday's salts
    facts: dict = field(default_factory=dict)  # the report limits' counts, read with the session
    writes: list = field(default_factory=list)  # Redis writes for the hop's saving pipeline
    desk_open: bool = False  # the PIN was right earlier in this session
    marks: dict = field(default_factory=dict)  # what the hop saves in its session


def _case_status(services: Services, db: Session, hop: Hop) -> str | None:
    """Look a reference up, unless this phone has missed too often lately (guessing)."""
    reference = flows.report.parse_reference(hop.answer)
    if not reference:
        return None
    if abuse.lookups_exhausted(hop.facts):
        return flows.report.THROTTLED
    found = cases.status(db, reference)
    if found is None:
        prefix = services.config["REDIS_PREFIX"]
        hop.writes.append(functools.partial(abuse.missed_lookup, prefix, hop.callers))
    return found


def _reference(services: Services, db: Session, hop: Hop) -> str:
    """Draw the reference a report will get; an identical recent one keeps its own."""
    answers = flows.report.answers(hop.data)  # as the report will file them
    window = services.config["REPORT_REPEAT_WINDOW_S"]
    now = hop.now.timestamp()
    return abuse.repeat_of(hop.facts, answers, window, now) or cases.fresh_reference(db)


def _reports_today(_services: Services, _db: Session, hop: Hop) -> int:
    return abuse.sent_today(hop.facts)


def _pin(services: Services, db: Session, hop: Hop) -> dict:
    """Check the PIN typed on a PIN screen; open the desk for this session."""
    redis, prefix = services.redis, services.config["REDIS_PREFIX"]
    caller = hop.callers[0] if hop.callers else hop.phone
    if not parse_pin(hop.answer):
        # Navigation or a malformed PIN spends no try; the wrong-PIN screen, shown
        # again, still tells how many are left.
        return focal_points.pin_tries(redis, prefix, caller)
    point = focal_points.find(db, hop.phone)
    result = focal_points.check_pin(redis, prefix, caller, point, hop.answer.strip())
    if result["result"] == "ok":
        # Kept in the session, which is bound to its caller and saved with the hop:
        # the desk's later hops cost no round trip of their own to check it.
        hop.marks["desk"] = True
    return result


def desk(services: Services, db: Session, hop: Hop) -> dict | None:
    """Return the caller's open cases, once the PIN opened the desk in this session."""
    if not (hop.desk_open or hop.marks.get("desk")):
        return None
    point = focal_points.find(db, hop.phone)
    if point is None:
        return None
    return {
        "role": point.role,
        "cases": [cases.summary(c, services.config["TZ"]) for c in focal_points.desk(db, point)],
    }


# What each declared need is, given the hop.
NEEDS = {
    "case_status": _case_status,
    "reference": _reference,
    "reports_today": _reports_today,
    "pin": _pin,
    "desk": desk,
}
