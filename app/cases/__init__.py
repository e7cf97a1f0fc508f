"""Cases: opened from reports; a reporter is kept only if they may be called, encrypted."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.cases import abuse, alerts
from app.infra import codes, keyring
from app.infra.models import Case, CaseEvent, hour_of
from app.messaging import outbox
from flows import Catalog
from flows.desk import FOLLOW_UP, OPEN, SERVICES, TO_VERIFY

LENGTH = 6
# 900,000 references of 6 digits. A phone may miss 5 lookups an hour (abuse.py),
# 120 a day: with 10,000 cases, about one hit a day, which shows a status word
# and nothing of the child, the place or the reporter.
DRAWS = 20  # tries for a free reference: with half of them taken, all fail once in a million
VERIFY_H, VERIFY_URGENT_H = 72, 24


# What an export holds of a case: never the reporter (see `reveal`).
EXPORT_FIELDS = ("reference", "status", "urgent", "sector", "region", "cercle", "place",
                 "children", "age", "sex", "school", "hazard", "contactable", "assignee",
                 "verify_by", "referred_to", "follow_ups", "follow_up_by", "reports",
                 "created_at")  # fmt: skip


def new_reference() -> str:
    """Draw a fresh case reference: digits only, as letters take several key presses."""
    return codes.digits(LENGTH)


class ReferenceTaken(Exception):
    """Another report was filed under this reference after it was drawn: file it again."""


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
    and what alerts and the outbox read; catalog, the SMS texts.
    """
    now = hour_of(now)
    known = db.scalars(select(Case).where(Case.reference == reference)).first()
    if known is not None:
        if not abuse.same(answers, {name: getattr(known, name) for name in abuse.SAME}):
            # Drawn free, then taken by a report sent at the same moment: filing this
            # one as a repeat of it would lose it. The hop fails and the caller, who
            # resumes at Envoyer, gets a reference of their own.
            raise ReferenceTaken(reference)
        # The reporter sent the same report again: the reference they were shown
        # is the first one's (see abuse.repeat_of), so nothing new is opened.
        host = primary(db, known)
        note = f"same report sent again by its reporter ({reference})"
        _log(db, host, "report", host.status, note, now)
        return host, False
    urgent = bool(answers.get("urgent"))
    contactable = bool(answers.get("contactable"))
    case = Case(
        reference=reference,
        status="new",
        urgent=urgent,
        sector=answers.get("sector"),
        region=answers.get("region"),
        cercle=answers.get("cercle"),
        place=answers.get("place") or None,
        children=answers.get("children"),
        age=answers.get("age"),
        sex=answers.get("sex"),
        school=answers.get("school"),
        hazard=answers.get("hazard"),
        contactable=contactable,
        reporter_phone=keyring.encrypt(phone, config["REPORTER_KEY"]) if contactable else None,
        verify_by=now + timedelta(hours=VERIFY_URGENT_H if urgent else VERIFY_H),
        created_at=now,
        reports=1,
        follow_ups=0,
    )
    host = same_place(db, case, now, timedelta(days=config["CASE_LINK_WINDOW_DAYS"]))
    if host is not None:
        case.status, case.linked_to, case.verify_by = "linked", host.id, None
    db.add(case)
    db.flush()
    if host is None:
        db.add(CaseEvent(case_id=case.id, actor="report", to_status="new", at=now))
        agent = alerts.pick_agent(db, case)
        if agent is not None:
            assign(db, config, catalog, case, agent, "routing", now, notify=False)
        alerts.new_case(db, config, catalog, case, now)
    else:
        db.add(CaseEvent(case_id=case.id, actor="report", to_status="linked", at=now,
                         note=f"linked to {host.reference}"))  # fmt: skip
        # Counted in SQL: two reports about one site may arrive at once.
        db.execute(update(Case).where(Case.id == host.id).values(reports=Case.reports + 1))
        _log(db, host, "report", host.status, f"report {reference} about the same place", now)
        if urgent:
            # A child in immediate danger there now: the case becomes urgent, and
            # its focal points hear of it at once, whatever it was before.
            host.urgent = True
            due = now + timedelta(hours=VERIFY_URGENT_H)
            if host.status in TO_VERIFY and (host.verify_by or due) >= due:
                host.verify_by, host.reminded_at, host.escalated_at = due, None, None
            alerts.new_case(db, config, catalog, host, now, linked=reference)
    if contactable and answers.get("receipt"):
        text = catalog.get("sms.receipt", reference=reference, code=config["USSD_CODE"])
        # Keyed by the reference alone: the key outlives the message.
        outbox.add(db, config, "receipt", reference, phone, text, key=f"receipt:{reference}")
    return (case if host is None else host), True


def primary(db: Session, case: Case) -> Case:
    """Return the case a linked report belongs to, or the case itself."""
    return db.get(Case, case.linked_to) if case.linked_to else case


def same_place(db: Session, case: Case, now: datetime, window: timedelta) -> Case | None:
    """Return the open case this report should join: same cercle, site name and sector.

    A report without a known cercle or a site name is never linked: "somewhere
    in Kadiolo" may be any of its sites.
    """
    if not case.cercle or case.cercle == "unknown" or not case.place:
        return None
    query = (
        select(Case)
        .where(
            Case.cercle == case.cercle,
            Case.sector == case.sector,
            Case.status.in_(OPEN),
            Case.linked_to.is_(None),
            func.lower(Case.place) == case.place.lower(),
            Case.created_at >= now - window,
        )
        .order_by(Case.id)
    )
    return db.scalars(query).first()


def fresh_reference(db: Session) -> str:
    """Draw a reference no case has yet."""
    for _ in range(DRAWS):
        reference = new_reference()
        if db.scalar(select(func.count(Case.id)).where(Case.reference == reference)) == 0:
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
