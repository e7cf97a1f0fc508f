"""Routing a new case to the covering agent with the fewest open cases."""

from datetime import UTC, datetime

import pytest
from flask import current_app
from sqlalchemy import select

from app import cases
from app.cases import alerts
from app.infra.models import CaseEvent

from .conftest import (
    AGENT,
    AGENT_2,
    FARAWAY,
    HOUR,
    NEIGHBOUR,
    NIGHT,
    REGION_AGENT,
    SUPERVISOR,
    T0,
    fetch,
    messages,
    move,
    report,
    sms,
    staff,
)


def test_cases_go_to_the_covering_agent_with_the_fewest_open_cases(app):
    """Each case goes to the least loaded agent covering it; ties go to the first recorded."""
    staff(
        app,
        (AGENT, "kadiolo", "agent"),
        (REGION_AGENT, "region:sikasso", "agent"),
        (SUPERVISOR, "kadiolo", "supervisor"),  # covers it too, but is no agent
        (NEIGHBOUR, "danderesso", "agent"),  # an agent, but not of Kadiolo
    )
    sites = ("Massiogo", "Kalana", "Fourou", "Misseni", "Nimbougou")
    assignees = [report(app, T0 + n * HOUR, place=site).assignee for n, site in enumerate(sites)]
    assert assignees == [AGENT, REGION_AGENT, AGENT, REGION_AGENT, AGENT]


def test_only_open_cases_count_towards_an_agents_load(app):
    """A case found unfounded no longer weighs on its agent."""
    staff(app, (AGENT, "kadiolo", "agent"), (AGENT_2, "kadiolo", "agent"))
    first = report(app, T0, place="Massiogo")
    second = report(app, T0 + HOUR, place="Kalana")
    assert (first.assignee, second.assignee) == (AGENT, AGENT_2)
    move(app, second.reference, "verifying", "unfounded", at=T0 + 2 * HOUR)
    # One open case against none: the second agent, though the first comes first on ties.
    assert report(app, T0 + 3 * HOUR, place="Fourou").assignee == AGENT_2


def test_routing_is_logged_without_an_assignment_sms(app):
    """The routed agent is in the audit log; the alert tells them, no separate SMS."""
    staff(app, (AGENT, "kadiolo", "agent"))
    case = report(app, T0)
    with app.extensions["db"]() as db:
        log = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.actor, e.note, e.assignee) for e in log] == [
        ("report", None, None),
        ("routing", "assigned", AGENT),
    ]
    assert [m.kind for m in messages(app)] == [alerts.ALERT]
    with app.app_context(), app.extensions["db"]() as db:
        assert alerts.pick_agent(db, fetch(app, case.reference)) == AGENT


@pytest.mark.parametrize(
    ("urgent", "not_before"),
    [(True, NIGHT), (False, datetime(2025, 3, 11, 8, 0, tzinfo=UTC))],
    ids=["urgent", "not-urgent"],
)
def test_assigning_a_case_by_hand_tells_the_agent(area, urgent, not_before):
    """A case given to an agent later is announced to them, urgent ones at any hour."""
    case = report(area, T0, urgent=urgent)
    with area.app_context(), area.extensions["db"]() as db:
        cases.assign(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            cases.find(db, case.reference),
            AGENT_2,
            "cli",
            NIGHT,
        )
        db.commit()
    [told] = messages(area, alerts.ASSIGNED)
    assert told.phone == AGENT_2
    assert told.body == sms(area, "sms.case_assigned", reference=case.reference,
                            place="Kadiolo, Massiogo")  # fmt: skip
    assert (told.urgent, told.not_before) == (urgent, not_before)
    assert fetch(area, case.reference).assignee == AGENT_2


def test_a_case_with_no_covering_agent_stays_unassigned(app):
    """Supervisors and other cercles' agents are never picked: the case waits for one."""
    staff(app, (SUPERVISOR, "kadiolo", "supervisor"), (FARAWAY, "koutiala", "agent"))
    case = report(app, T0)
    assert case.assignee is None
    [alert] = messages(app, alerts.ALERT)
    assert alert.phone == SUPERVISOR
