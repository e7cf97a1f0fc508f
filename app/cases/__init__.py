"""Cases: opened from reports; a reporter is kept only if they may be called, encrypted."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from app.cases import alerts, filing
from app.cases.filing import VERIFY_H, VERIFY_URGENT_H, ReferenceTaken  # noqa: F401 (theirs)
from app.infra import codes, keyring
from app.infra.models import Case, CaseEvent
from flows import Catalog
from flows.desk import FOLLOW_UP, SERVICES, TO_VERIFY

LENGTH = 6
# 900,000 references of 6 digits. A phone may miss 5 lookups an hour (abuse.py),
# 120 a day: with 10,000 cases, about one hit a day, which shows a status word
# and nothing of the child, the place or the reporter.
DRAWS = 20  # tries for a free reference: with half of them taken, all fail once in a million


# What an export holds of a case: never the reporter (see `reveal`).
EXPORT_FIELDS = ("reference", "status", "urgent", "sector", "region", "cercle", "place",
                 "children", "age", "sex", "school", "hazard", "contactable", "assignee",
                 "verify_by", "referred_to", "follow_ups", "follow_up_by", "reports",
                 "created_at")  # fmt: skip


def new_reference() -> str:
    """Draw a fresh case reference: digits only, as letters take several key presses."""
    return codes.digits(LENGTH)


def file_report(
    db: Session,
    config: Mapping,
    catalog: Catalog,
    phone: str,
    reference: str,
    answers: dict,
    now: datetime,
) -> tuple[Case, bool]:
    """File a report: open a case, join an open one about the same place, or note a repeat.

    Returns the case that will be worked on and whether the report was new. The
    reporter's receipt and the focal points' alerts are queued in the same
    transaction. Nothing kept names the reporter unless they agreed to be
    called back, and the times kept are the hour's: a report's minute could be
    matched with a call. config gives REPORTER_KEY, the link window, the USSD code
    and what alerts and the outbox read; catalog, the SMS texts. The writes are
    filing.file's, in SQL Core on the session's connection; the hop calls that alone.
    """
    db.flush()  # what the session holds (a focal point just added) counts, as it did
    case_id, new = filing.file(db.connection(), config, catalog, phone, reference, answers, now)
    return db.get(Case, case_id, populate_existing=True), new


def primary(db: Session, case: Case) -> Case:
    """Return the case a linked report belongs to, or the case itself."""
    return db.get(Case, case.linked_to) if case.linked_to else case


_CASES = Case.__table__
_TAKEN = select(func.count()).where(_CASES.c.reference == bindparam("v_reference"))


def fresh_reference(db: Session) -> str:
    """Draw a reference no case has yet."""
    conn = db.connection()  # SQL Core: the hop that draws it files its report so too
    for _ in range(DRAWS):
        reference = new_reference()
        if conn.scalar(_TAKEN, {"v_reference": reference}) == 0:
            return reference
    raise RuntimeError(f"no free reference in {DRAWS} draws: the references are running out")


def status(db: Session, reference: str) -> str | None:
    """Return a case's status by reference (a linked report's is its case's), or None."""
    case = db.scalars(select(Case).where(Case.reference == reference)).first()
    return None if case is None else primary(db, case).status


# The CLMRS cycle: each state and the states it may move to next.
TRANSITIONS = {
    "new": ("verifying",),
    "verifying": ("confirmed", "unfounded"),
    "confirmed": ("referred",),
    "referred": ("following",),
    "following": ("closed",),
    "unfounded": ("closed",),
    "closed": (),
    "linked": (),  # a report kept inside another case: that case moves, not this
}


class CaseError(Exception):
    """A case change that cannot be made; the message says why."""


def find(db: Session, reference: str, lock: bool = False) -> Case:
    """Return the case with this reference, or raise CaseError.

    lock holds the row until commit, so that two people moving one case at
    once are served one after the other, each seeing the other's change.
    """
    query = select(Case).where(Case.reference == reference.strip().upper())
    case = db.scalars(query.with_for_update() if lock else query).first()
    if case is None:
        raise CaseError(f"no case {reference.strip().upper()!r}")
    return case


def move(
    db: Session,
    config: Mapping,
    case: Case,
    status: str,
    actor: str,
    note: str,
    now: datetime,
    service=None,
) -> None:
    """Move a case to its next state, recording who, when and why; the caller commits.

    Referring needs the service referred to; it starts the follow-up clock
    (config's CASE_FOLLOW_UP_DAYS).
    """
    if status not in TRANSITIONS:
        raise CaseError(f"unknown status {status!r} (known: {', '.join(TRANSITIONS)})")
    if status not in TRANSITIONS[case.status]:
        allowed = ", ".join(TRANSITIONS[case.status]) or "none: the case is closed"
        raise CaseError(f"case {case.reference} is {case.status}: next may be {allowed}")
    if status == "referred":
        if service not in SERVICES:
            raise CaseError(f"referring needs the service: one of {', '.join(SERVICES)}")
        days = config["CASE_FOLLOW_UP_DAYS"]
        case.referred_to, case.referred_at = service, now
        case.follow_up_by = now + timedelta(days=days[0])
        case.reminded_at = case.escalated_at = None
        note = f"{service}: {note}" if note else service
    if status == "closed":
        case.follow_up_by = None
    _log(db, case, actor, status, note, now)
    case.status = status


def follow_up(
    db: Session, config: Mapping, case: Case, actor: str, note: str, now: datetime
) -> int:
    """Record a follow-up visit of a referred case; return its number. The caller commits."""
    if case.status not in ("referred", "following"):
        raise CaseError(f"case {case.reference} is {case.status}: only a referred case has "
                        "follow-ups")  # fmt: skip
    days = config["CASE_FOLLOW_UP_DAYS"]
    case.follow_ups += 1
    text = f"follow-up {case.follow_ups}" + (f": {note}" if note else "")
    _log(db, case, actor, "following", text, now)
    case.status = "following"
    more = case.follow_ups < len(days) and case.referred_at is not None
    case.follow_up_by = case.referred_at + timedelta(days=days[case.follow_ups]) if more else None
    case.reminded_at = case.escalated_at = None
    return case.follow_ups


def assign(
    db: Session,
    config: Mapping,
    catalog: Catalog,
    case: Case,
    phone: str,
    actor: str,
    now: datetime,
    notify=True,
) -> None:
    """Give a case to a field agent, recorded in the audit log; the caller commits."""
    if not TRANSITIONS[case.status]:  # closed, or a report inside another case: an SMS for nothing
        raise CaseError(f"case {case.reference} is {case.status}: it is not assigned")
    case.assignee = phone
    # A new holder gets their own reminder before anything escalates again.
    case.reminded_at = case.escalated_at = None
    db.add(CaseEvent(case_id=case.id, actor=actor, from_status=case.status,
                     to_status=case.status, note="assigned", assignee=phone, at=now))  # fmt: skip
    if notify:
        alerts.assigned(db, config, catalog, case, phone, now)


def _log(db: Session, case: Case, actor: str, to: str, note: str | None, now: datetime) -> None:
    db.add(CaseEvent(case_id=case.id, actor=actor, from_status=case.status, to_status=to,
                     note=note or None, assignee=case.assignee, at=now))  # fmt: skip


def note(db: Session, case: Case, text: str, actor: str, now: datetime) -> None:
    """Add a note to a case's timeline without moving it; the caller commits."""
    _log(db, case, actor, case.status, text, now)


def reveal(
    db: Session, keys: str | Sequence[str], case: Case, actor: str, now: datetime
) -> str | None:
    """Return a contactable reporter's number, recording who looked; the caller commits."""
    if not case.reporter_phone:
        return None
    _log(db, case, actor, case.status, "reporter's number viewed", now)
    return keyring.decrypt(case.reporter_phone, keys)


def next_steps(case: Case) -> list[str]:
    """Return what may be done next to a case: its next states, and a follow-up if referred."""
    steps = list(TRANSITIONS.get(case.status, ()))
    if case.status in ("referred", "following"):
        steps.insert(0, FOLLOW_UP)
    return steps


def summary(case: Case, tz: str) -> dict:
    """Describe a case for the agent desk: where, what, who, how urgent, and when due."""
    due = case.verify_by if case.status in TO_VERIFY else case.follow_up_by
    return {
        "reference": case.reference,
        "status": case.status,
        "urgent": case.urgent,
        "region": case.region,
        "cercle": case.cercle,
        "place": case.place,
        "sector": case.sector,
        "children": case.children,
        "sex": case.sex,
        "age": case.age,
        "hazard": case.hazard,
        "reports": case.reports,
        "due": alerts.local(due, tz) if due else "",
        "next": next_steps(case),
    }


def history(db: Session, case: Case) -> list[CaseEvent]:
    """Return a case's audit log, oldest first."""
    return list(
        db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    )
