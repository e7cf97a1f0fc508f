"""Case alerts by SMS: new cases to focal points, reminders to assignees, escalations.

No alert ever carries the reporter's identity: only the reference, the
place and what was reported.
"""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.cases import focal_points
from app.infra.models import Case, CaseEvent
from app.messaging import outbox, window
from flows import Catalog
from flows.desk import TO_VERIFY

# Kinds of case SMS. Urgent ones go out at any hour; the others wait for the
# send window like any message that can wait until morning.
ALERT, ASSIGNED = "case_alert", "case_assigned"
REMINDER, ESCALATION = "case_reminder", "case_escalation"
COPY = tuple(
    f"sms.case_{name}"
    for name in ("alert", "alert_urgent", "assigned", "verify_due", "followup_due",
                 "escalation_verify", "escalation_followup")
)  # fmt: skip

log = logging.getLogger(__name__)


def pick_agent(db: Session, case: Case) -> str | None:
    """Return the phone of the covering agent with the fewest open cases, or None."""
    db.flush()  # a focal point just added counts, as it did when the ORM read them
    return least_loaded(focal_points.covering_loads(db.connection(), case.cercle, case.region))


def least_loaded(points) -> str | None:
    """Return the phone of the agent holding the fewest open cases, the first on a tie.

    points are focal_points.covering_loads' rows; None if none of them is an agent.
    """
    agents = [point for point in points if point.role == "agent"]
    return min(agents, key=lambda a: (a.load, a.id)).phone if agents else None


def new_case(
    db: Session,
    config: Mapping,
    catalog: Catalog,
    case: Case,
    now: datetime,
    linked: str | None = None,
) -> int:
    """Queue the alert of a case to every focal point covering it; return how many."""
    points = focal_points.covering(db, case)
    outbox.insert(db, alert_rows(config, catalog, case, points, now, linked))
    return len(points)


def alert_rows(config: Mapping, catalog: Catalog, case, points, now: datetime,
               linked: str | None = None) -> list[dict]:  # fmt: skip
    """Return the outbox rows of a case's alert to each of points, focal points covering it.

    case is a Case or a row of the cases table (what sms_text reads); linked, the
    reference of a report joined to it that made it urgent.
    """
    if not points:
        log.warning("case %s: no focal point covers %s", case.reference, _area(case))
    key = "sms.case_alert_urgent" if case.urgent else "sms.case_alert"
    due = None
    if case.status not in TO_VERIFY:
        # An urgent report about a case past verification: it is this report
        # that needs checking, within the urgent delay.
        due = now + timedelta(hours=24)
    text = sms_text(config, catalog, key, case, due)
    subject = f"{case.reference}-{'u' if case.urgent else 'n'}{'-' + linked if linked else ''}"
    return [_row(config, ALERT, subject, point.phone, text, case.urgent, now) for point in points]


def assigned(
    db: Session, config: Mapping, catalog: Catalog, case: Case, phone: str, now: datetime
) -> None:
    """Tell an agent a case is now theirs."""
    text = sms_text(config, catalog, "sms.case_assigned", case)
    _send(
        db,
        config,
        ASSIGNED,
        f"{case.reference}-{int(now.timestamp())}",
        phone,
        text,
        case.urgent,
        now,
    )


def remind(db: Session, config: Mapping, catalog: Catalog, now: datetime) -> dict[str, int]:
    """Remind assignees of overdue verifications and due follow-ups; escalate the ignored.

    A due date gets one reminder to its assignee, then, if still due
    CASE_ESCALATE_AFTER_H later, one escalation to the supervisors. A case
    nobody holds escalates at once: there is no one else to remind.
    """
    after = timedelta(hours=config["CASE_ESCALATE_AFTER_H"])
    waiting = or_(
        Case.reminded_at.is_(None),
        and_(Case.escalated_at.is_(None), Case.reminded_at <= now - after),
    )
    due = {
        "verify": and_(Case.status.in_(TO_VERIFY), Case.verify_by <= now),
        "followup": and_(Case.status.in_(("referred", "following")), Case.follow_up_by <= now),
    }
    counts = {"reminded": 0, "escalated": 0}
    for what, overdue in due.items():
        query = select(Case).where(overdue, waiting).order_by(Case.id)
        for case in db.scalars(query.with_for_update(skip_locked=True)):
            if case.reminded_at is None and case.assignee:
                _remind(db, config, catalog, case, what, now)
                counts["reminded"] += 1
            else:
                _escalate(db, config, catalog, case, what, now)
                counts["escalated"] += 1
    db.commit()
    return counts


def _remind(
    db: Session, config: Mapping, catalog: Catalog, case: Case, what: str, now: datetime
) -> None:
    key = "sms.case_verify_due" if what == "verify" else "sms.case_followup_due"
    urgent = case.urgent and what == "verify"
    text = sms_text(config, catalog, key, case)
    when, queued = _send(db, config, REMINDER, _due_id(case, what), case.assignee, text, urgent,
                         now)  # fmt: skip
    # Escalation counts from when the reminder can be read, not from a night queue.
    case.reminded_at = when
    done = "sent to" if queued else "already sent, for this due date, to"
    _event(db, case, f"reminder ({what}) {done} {case.assignee}", now)


def _escalate(
    db: Session, config: Mapping, catalog: Catalog, case: Case, what: str, now: datetime
) -> None:
    supervisors = focal_points.covering(db, case, role="supervisor")
    key = "sms.case_escalation_verify" if what == "verify" else "sms.case_escalation_followup"
    text = sms_text(config, catalog, key, case)
    urgent = case.urgent and what == "verify"
    # Supervisors escalated to before for this due date (the case changed
    # hands since) are not told twice.
    due_id = _due_id(case, what)
    told = [p.phone for p in supervisors
            if _send(db, config, ESCALATION, due_id, p.phone, text, urgent, now)[1]]  # fmt: skip
    case.reminded_at = case.reminded_at or now
    case.escalated_at = now
    to = ", ".join(told) or (
        "nobody new: already escalated for this due date" if supervisors
        else "nobody: no supervisor covers the area"
    )  # fmt: skip
    _event(db, case, f"escalated ({what}) to {to}", now)
    if not supervisors:
        log.warning("case %s: no supervisor covers %s", case.reference, _area(case))


def _send(
    db: Session, config: Mapping, kind: str, subject: str, phone: str, text: str, urgent: bool, now
):
    """Queue a case SMS: urgent ones at once, the others when the send window opens.

    Returns when it will go out, and whether it is new (not sent before under its key).
    """
    row = _row(config, kind, subject, phone, text, urgent, now)
    return row["not_before"], outbox.insert(db, [row]) == 1


def _row(config: Mapping, kind: str, subject: str, phone: str, text: str, urgent: bool, now):
    """Return a case SMS's outbox row: urgent ones go at once, the others when the window opens."""
    when = now if urgent else window.next_open(config["SMS_SEND_WINDOW"], now, config["TZ"])
    return outbox.row(config, kind, subject, phone, text, urgent=urgent, not_before=when)


def _due_id(case: Case, what: str) -> str:
    """Name the due date a reminder is about, so each is sent once per recipient."""
    return f"{case.reference}-{'v' if what == 'verify' else 'f' + str(case.follow_ups + 1)}"


def _event(db: Session, case: Case, note: str, now: datetime) -> None:
    db.add(CaseEvent(case_id=case.id, actor="reminders", from_status=case.status,
                     to_status=case.status, note=note, assignee=case.assignee, at=now))  # fmt: skip


def _area(case: Case) -> str:
    return case.cercle or case.region or "an unknown place"


def sms_text(
    config: Mapping, catalog: Catalog, key: str, case: Case, due: datetime | None = None
) -> str:
    """Fill a case SMS from the content: reference, place, what, due date."""
    if due is None:
        due = case.verify_by if case.status in TO_VERIFY else case.follow_up_by
    return catalog.get(
        key,
        reference=case.reference,
        place=place(catalog, case),
        sector=catalog.get(f"report.sector.{case.sector or 'other'}"),
        hazard=catalog.get(f"report.hazard.{case.hazard or 'other'}"),
        due=local(due, config["TZ"]) if due else "-",
        number=str(case.follow_ups + 1),
        assignee=case.assignee or "-",
        code=config["USSD_CODE"],
    )


def place(catalog: Catalog, case: Case) -> str:
    """Return where a case is, in words: cercle (or region) and site name."""
    if case.cercle and case.cercle != "unknown":
        where = catalog.get(f"report.cercle.{case.cercle}")
    elif case.region:
        where = catalog.get(f"report.region.{case.region}")
    else:
        where = catalog.get("report.cercle.unknown")
    return f"{where}, {case.place}" if case.place else where


def local(moment: datetime, tz: str) -> str:
    """Format a moment as local day and time, the way a phone user reads it."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%d/%m %Hh%M")
