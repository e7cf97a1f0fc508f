"""Case SMS: focal points, reports filed as the USSD flow does, and the SMS queued."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app import cases
from app.cases import alerts, focal_points
from app.infra.models import Case, CaseEvent, Message
from app.infra.segments import prepare

REPORTER = "+22376000555"
PIN = "4821"
AGENT, AGENT_2, REGION_AGENT = "+22370200001", "+22370200002", "+22370200003"
SUPERVISOR, NATIONAL = "+22370200011", "+22370200012"
NEIGHBOUR, FARAWAY, FARAWAY_SUPERVISOR = "+22370200021", "+22370200022", "+22370200023"
# Monday 10 March 2025, 10:00 in Bamako (UTC+0 all year): inside the send window.
T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
NIGHT = datetime(2025, 3, 10, 23, 0, tzinfo=UTC)  # 23:00 in Bamako
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def answers(place: str | None = "Massiogo", **changes) -> dict:
    """A report from a mining site in Kadiolo, with some answers changed."""
    return {
        "urgent": False,
        "sector": "mining",
        "region": "sikasso",
        "cercle": "kadiolo",
        "place": place,
        "children": "few",
        "age": "13to14",
        "sex": "girls",
        "school": "no",
        "hazard": "pits",
        "contactable": False,
        "receipt": False,
        **changes,
    }


def staff(app, *points: tuple[str, str, str]) -> None:
    """Record focal points as (phone, area, role)."""
    with app.app_context(), app.extensions["db"]() as db:
        for phone, area, role in points:
            focal_points.add(db, phone, area, role, PIN)
        db.commit()


def report(app, now: datetime, place="Massiogo", phone=REPORTER, **changes) -> Case:
    """File a report as the USSD flow does, at now; return the case it went to."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.file_report(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            phone,
            cases.fresh_reference(db),
            answers(place, **changes),
            now,
        )[0]
        db.commit()
        return case


def move(app, reference: str, *steps: str, at: datetime) -> Case:
    """Move a case through the given states, one minute apart from at."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.find(db, reference)
        for n, step in enumerate(steps):
            service = "social" if step == "referred" else None
            when = at + n * timedelta(minutes=1)
            cases.move(
                db, current_app.config, case, step, f"ussd:{AGENT}", "", when, service=service
            )
        db.commit()
        return case


def remind(app, now: datetime) -> dict[str, int]:
    """Run the reminder job as the worker's tick does, at now."""
    with app.app_context(), app.extensions["db"]() as db:
        return alerts.remind(db, current_app.config, current_app.extensions["catalog"], now)


def fetch(app, reference: str) -> Case:
    """Read a case back from the database."""
    with app.extensions["db"]() as db:
        return db.scalars(select(Case).where(Case.reference == reference)).one()


def messages(app, kind: str | None = None) -> list[Message]:
    """Return the queued SMS, of one kind or all, oldest first."""
    query = select(Message).order_by(Message.id)
    if kind:
        query = query.where(Message.kind == kind)
    with app.extensions["db"]() as db:
        return list(db.scalars(query))


def notes(app, reference: str) -> list[str]:
    """Return what the reminder job wrote in a case's audit log."""
    case = fetch(app, reference)
    query = select(CaseEvent.note).where(
        CaseEvent.case_id == case.id, CaseEvent.actor == "reminders"
    )
    with app.extensions["db"]() as db:
        return list(db.scalars(query.order_by(CaseEvent.id)))


def sms(app, key: str, **params) -> str:
    """Return a case SMS as it should be queued: the copy filled in, then folded."""
    with app.app_context():
        text = app.extensions["catalog"].get(key, code=app.config["USSD_CODE"], **params)
        return prepare(text, app.config["SMS_ASCII_FOLD"])


@pytest.fixture
def area(app):
    """Focal points in and around Kadiolo (Sikasso region), and some far away."""
    staff(
        app,
        (AGENT, "kadiolo", "agent"),
        (SUPERVISOR, "region:sikasso", "supervisor"),
        (NATIONAL, "all", "supervisor"),
        (NEIGHBOUR, "danderesso", "agent"),  # another cercle of the same region
        (FARAWAY, "koutiala", "agent"),  # the cercle of Koutiala
        (FARAWAY_SUPERVISOR, "region:bougouni", "supervisor"),
    )
    return app
