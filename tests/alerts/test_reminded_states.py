"""Which case states are reminded, and which never are."""

from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from app import cases
from app.cases import alerts
from app.infra.models import Case, CaseEvent, Message

from .conftest import (
    AGENT,
    AGENT_2,
    DAY,
    HOUR,
    REPORTER,
    SUPERVISOR,
    T0,
    answers,
    fetch,
    messages,
    move,
    notes,
    remind,
    report,
    staff,
)


@pytest.mark.parametrize(
    ("steps", "reminded"),
    [
        ((), "verify"),
        (("verifying",), "verify"),
        (("verifying", "confirmed"), None),
        (("verifying", "confirmed", "referred"), "followup"),
        (("verifying", "confirmed", "referred", "following"), "followup"),
        (("verifying", "confirmed", "referred", "following", "closed"), None),
        (("verifying", "unfounded"), None),
        (("verifying", "unfounded", "closed"), None),
    ],
    ids=lambda value: "-".join(value) or "new" if isinstance(value, tuple) else str(value),
)
def test_which_states_are_reminded(area, steps, reminded):
    """Only new/verifying (verification) and referred/following (follow-up) are ever due."""
    case = report(area, T0)
    move(area, case.reference, *steps, at=T0 + HOUR)
    status = fetch(area, case.reference).status
    assert status == (steps[-1] if steps else "new")
    assert remind(area, T0 + 400 * DAY) == {"reminded": int(bool(reminded)), "escalated": 0}
    expected = [f"reminder ({reminded}) sent to {AGENT}"] if reminded else []
    assert notes(area, case.reference) == expected
    assert remind(area, T0 + 401 * DAY) == {"reminded": 0, "escalated": int(bool(reminded))}
    assert len(messages(area, alerts.ESCALATION)) == (2 if reminded else 0)


def test_a_linked_report_is_never_reminded(area):
    """A report kept inside another case has no due date: only its case is reminded."""
    host = report(area, T0)
    linked = report(area, T0 + HOUR, phone="+22376000556")
    assert linked.id == host.id
    with area.extensions["db"]() as db:
        inner = db.scalars(select(Case).where(Case.linked_to == host.id)).one()
    assert (inner.status, inner.verify_by) == ("linked", None)
    assert remind(area, T0 + 400 * DAY) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    assert host.reference in reminder.body and inner.reference not in reminder.body
    assert notes(area, inner.reference) == []
    assert fetch(area, inner.reference).reminded_at is None


def test_a_case_handed_back_is_not_reminded_or_escalated_twice_for_one_due_date(app):
    """The log says what happened when a reminder or escalation was already sent."""
    staff(app, (AGENT, "kadiolo", "agent"), (SUPERVISOR, "region:sikasso", "supervisor"))
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.file_report(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            REPORTER,
            "REFBAC",
            answers(),
            T0,
        )[0]
        db.commit()
        due = case.verify_by
        alerts.remind(db, current_app.config, current_app.extensions["catalog"], due)
        alerts.remind(
            db, current_app.config, current_app.extensions["catalog"], due + timedelta(hours=24)
        )
        cases.assign(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            case,
            AGENT_2,
            "cli",
            due + timedelta(hours=25),
        )
        cases.assign(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            case,
            AGENT,
            "cli",
            due + timedelta(hours=26),
        )
        db.commit()
        alerts.remind(
            db, current_app.config, current_app.extensions["catalog"], due + timedelta(hours=27)
        )
        alerts.remind(
            db, current_app.config, current_app.extensions["catalog"], due + timedelta(hours=52)
        )
        log = select(CaseEvent).where(CaseEvent.actor == "reminders").order_by(CaseEvent.id)
        notes = [e.note for e in db.scalars(log)]
        kinds = [m.kind for m in db.scalars(select(Message).where(Message.kind.like("case_%")))]
    assert notes[2] == f"reminder (verify) already sent, for this due date, to {AGENT}"
    assert notes[3] == "escalated (verify) to nobody new: already escalated for this due date"
    assert kinds.count("case_reminder") == 1 and kinds.count("case_escalation") == 1
