"""Verification reminders, then escalations to the supervisors."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app

from app import cases
from app.cases import alerts
from app.infra.models import Case

from .conftest import (
    AGENT,
    AGENT_2,
    DAY,
    FARAWAY_SUPERVISOR,
    HOUR,
    NATIONAL,
    NIGHT,
    SUPERVISOR,
    T0,
    fetch,
    messages,
    move,
    notes,
    remind,
    report,
    sms,
    staff,
)


def escalated_to_supervisors(app, reference: str, assignee: str) -> None:
    """Check that the region's and the national supervisors got the verification escalation."""
    escalations = messages(app, alerts.ESCALATION)
    assert sorted(m.phone for m in escalations) == sorted([SUPERVISOR, NATIONAL])
    expected = sms(app, "sms.case_escalation_verify", reference=reference,
                   place="Kadiolo, Massiogo", due="13/03 10h00", assignee=assignee)  # fmt: skip
    assert all(m.body == expected for m in escalations)


def verify_due_text(app, case: Case, due: str) -> str:
    return sms(app, "sms.case_verify_due", reference=case.reference, place="Kadiolo, Massiogo",
               due=due)  # fmt: skip


def test_an_overdue_verification_is_reminded_once_then_escalated_once(area):
    """Reminder to the agent at the due date; 24 h later, escalation to the supervisors."""
    staff(area, (FARAWAY_SUPERVISOR, "region:koutiala", "supervisor"))
    case = report(area, T0)
    due = T0 + 72 * HOUR
    assert case.verify_by == due
    assert remind(area, due - timedelta(minutes=1)) == {"reminded": 0, "escalated": 0}
    assert messages(area, alerts.REMINDER) == []

    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    assert (reminder.phone, reminder.urgent, reminder.not_before) == (AGENT, False, due)
    assert reminder.body == verify_due_text(area, case, "13/03 10h00")
    assert notes(area, case.reference) == [f"reminder (verify) sent to {AGENT}"]
    assert (fetch(area, case.reference).reminded_at, fetch(area, case.reference).escalated_at) == (
        due, None)  # fmt: skip

    # Nothing more until the agent has had CASE_ESCALATE_AFTER_H hours.
    for later in (due, due + HOUR, due + 24 * HOUR - timedelta(minutes=1)):
        assert remind(area, later) == {"reminded": 0, "escalated": 0}
    assert len(messages(area, alerts.REMINDER)) == 1
    assert messages(area, alerts.ESCALATION) == []

    assert remind(area, due + 24 * HOUR) == {"reminded": 0, "escalated": 1}
    escalated_to_supervisors(area, case.reference, AGENT)
    case = fetch(area, case.reference)
    assert (case.reminded_at, case.escalated_at) == (due, due + 24 * HOUR)
    assert notes(area, case.reference)[1] == f"escalated (verify) to {SUPERVISOR}, {NATIONAL}"

    for later in (due + 24 * HOUR, due + 48 * HOUR, due + 30 * DAY):
        assert remind(area, later) == {"reminded": 0, "escalated": 0}
    assert len(messages(area, alerts.REMINDER)) == 1
    assert len(messages(area, alerts.ESCALATION)) == 2
    assert len(notes(area, case.reference)) == 2


def test_the_escalation_delay_is_configurable(make_app):
    """CASE_ESCALATE_AFTER_H sets how long the agent has after the reminder."""
    app = make_app(CASE_ESCALATE_AFTER_H="6")
    staff(app, (AGENT, "kadiolo", "agent"), (SUPERVISOR, "region:sikasso", "supervisor"))
    report(app, T0)
    due = T0 + 72 * HOUR
    assert remind(app, due) == {"reminded": 1, "escalated": 0}
    assert remind(app, due + 6 * HOUR - timedelta(seconds=1)) == {"reminded": 0, "escalated": 0}
    assert remind(app, due + 6 * HOUR) == {"reminded": 0, "escalated": 1}
    assert [m.phone for m in messages(app, alerts.ESCALATION)] == [SUPERVISOR]


def test_an_unassigned_overdue_case_escalates_at_once(app):
    """With no agent to remind, the supervisors hear at the due date."""
    staff(app, (SUPERVISOR, "region:sikasso", "supervisor"))
    case = report(app, T0)
    due = T0 + 72 * HOUR
    assert remind(app, due) == {"reminded": 0, "escalated": 1}
    assert messages(app, alerts.REMINDER) == []
    [escalation] = messages(app, alerts.ESCALATION)
    assert escalation.phone == SUPERVISOR and escalation.body.endswith("Agent : -.")
    case = fetch(app, case.reference)
    assert (case.reminded_at, case.escalated_at) == (due, due)
    assert remind(app, due + 48 * HOUR) == {"reminded": 0, "escalated": 0}
    assert len(messages(app, alerts.ESCALATION)) == 1


def test_an_escalation_nobody_can_receive_is_logged(app, caplog):
    """No agent and no supervisor: the case is marked escalated and the gap logged."""
    staff(app, (FARAWAY_SUPERVISOR, "region:koutiala", "supervisor"))
    case = report(app, T0)
    assert remind(app, T0 + 72 * HOUR) == {"reminded": 0, "escalated": 1}
    assert messages(app, alerts.ESCALATION) == []
    assert notes(app, case.reference) == [
        "escalated (verify) to nobody: no supervisor covers the area"
    ]
    assert f"case {case.reference}: no supervisor covers kadiolo" in caplog.text


@pytest.mark.parametrize(
    ("urgent", "opened", "due", "not_before"),
    [
        # Urgent: 24 hours to verify, and the reminder goes out at night.
        (True, NIGHT, NIGHT + 24 * HOUR, NIGHT + 24 * HOUR),
        # Not urgent: 72 hours, and a reminder due at night waits for 08:00.
        (False, NIGHT, NIGHT + 72 * HOUR, datetime(2025, 3, 14, 8, 0, tzinfo=UTC)),
        (False, T0, T0 + 72 * HOUR, T0 + 72 * HOUR),
    ],
)
def test_verification_reminders_follow_urgency(area, urgent, opened, due, not_before):
    """Urgent cases are reminded sooner and at any hour; the others in the send window.

    The agent's 24 hours before escalation run from when the reminder goes out.
    """
    case = report(area, opened, urgent=urgent)
    assert remind(area, due - timedelta(seconds=1)) == {"reminded": 0, "escalated": 0}
    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    assert (reminder.urgent, reminder.not_before) == (urgent, not_before)
    assert fetch(area, case.reference).reminded_at == not_before
    escalate = not_before + 24 * HOUR
    assert remind(area, escalate - timedelta(seconds=1)) == {"reminded": 0, "escalated": 0}
    assert remind(area, escalate) == {"reminded": 0, "escalated": 1}
    escalations = messages(area, alerts.ESCALATION)
    assert len(escalations) == 2
    assert all((m.urgent, m.not_before) == (urgent, escalate) for m in escalations)
    case = fetch(area, case.reference)
    assert (case.reminded_at, case.escalated_at) == (not_before, escalate)


EVENING = datetime(2025, 3, 10, 22, 0, tzinfo=UTC)  # 22:00 in Bamako: the window is shut


def test_a_reminder_held_overnight_gives_the_agent_24_hours_from_the_morning(area):
    """A reminder due at 22:00 goes out at 08:00; escalation comes 24 h after that, not 22:00."""
    case = report(area, EVENING)
    due = EVENING + 72 * HOUR  # Thursday 13 March, 22:00
    morning = datetime(2025, 3, 14, 8, 0, tzinfo=UTC)
    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    assert (reminder.phone, reminder.urgent, reminder.not_before) == (AGENT, False, morning)
    case = fetch(area, case.reference)
    assert (case.reminded_at, case.escalated_at) == (morning, None)
    # 24 hours after the due date the agent has only had the SMS for 14 hours.
    for later in (due + 24 * HOUR, morning + 24 * HOUR - timedelta(seconds=1)):
        assert remind(area, later) == {"reminded": 0, "escalated": 0}
    assert messages(area, alerts.ESCALATION) == []
    assert remind(area, morning + 24 * HOUR) == {"reminded": 0, "escalated": 1}
    escalations = messages(area, alerts.ESCALATION)
    assert sorted(m.phone for m in escalations) == sorted([SUPERVISOR, NATIONAL])
    assert all(m.not_before == morning + 24 * HOUR for m in escalations)
    case = fetch(area, case.reference)
    assert (case.reminded_at, case.escalated_at) == (morning, morning + 24 * HOUR)
    assert notes(area, case.reference) == [
        f"reminder (verify) sent to {AGENT}",
        f"escalated (verify) to {SUPERVISOR}, {NATIONAL}",
    ]


def assign(app, reference: str, phone: str, at: datetime) -> None:
    """Give a case to an agent by hand, as the command line does."""
    with app.app_context(), app.extensions["db"]() as db:
        cases.assign(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            cases.find(db, reference),
            phone,
            "cli",
            at,
        )
        db.commit()


def test_a_new_holder_gets_their_own_reminder_before_any_escalation(area):
    """Reassigning a reminded case clears the reminder: the new agent is reminded first."""
    case = report(area, T0)
    due = T0 + 72 * HOUR
    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    assign(area, case.reference, AGENT_2, due + 12 * HOUR)
    moved = fetch(area, case.reference)
    assert (moved.assignee, moved.reminded_at, moved.escalated_at) == (AGENT_2, None, None)
    # Where the old holder's reminder would have escalated, the new one is reminded.
    assert remind(area, due + 24 * HOUR) == {"reminded": 1, "escalated": 0}
    assert [m.phone for m in messages(area, alerts.REMINDER)] == [AGENT, AGENT_2]
    assert messages(area, alerts.ESCALATION) == []
    assert fetch(area, case.reference).reminded_at == due + 24 * HOUR
    assert remind(area, due + 48 * HOUR - timedelta(seconds=1)) == {"reminded": 0, "escalated": 0}
    assert remind(area, due + 48 * HOUR) == {"reminded": 0, "escalated": 1}
    escalated_to_supervisors(area, case.reference, AGENT_2)
    assert notes(area, case.reference) == [
        f"reminder (verify) sent to {AGENT}",
        f"reminder (verify) sent to {AGENT_2}",
        f"escalated (verify) to {SUPERVISOR}, {NATIONAL}",
    ]


def test_assigning_an_escalated_case_clears_the_escalation(area):
    """An escalated case given to someone else is theirs to be reminded of, afresh."""
    case = report(area, T0)
    due = T0 + 72 * HOUR
    remind(area, due)
    assert remind(area, due + 24 * HOUR) == {"reminded": 0, "escalated": 1}
    assign(area, case.reference, AGENT_2, due + 30 * HOUR)
    moved = fetch(area, case.reference)
    assert (moved.assignee, moved.reminded_at, moved.escalated_at) == (AGENT_2, None, None)
    assert remind(area, due + 31 * HOUR) == {"reminded": 1, "escalated": 0}
    assert [m.phone for m in messages(area, alerts.REMINDER)] == [AGENT, AGENT_2]


@pytest.mark.parametrize("steps", [("verifying", "confirmed"), ("verifying", "unfounded")])
def test_a_case_verified_in_time_gets_no_reminder(area, steps):
    """Confirmed (or found unfounded) before the due date: nobody is reminded."""
    case = report(area, T0)
    move(area, case.reference, *steps, at=T0 + 70 * HOUR)
    for later in (T0 + 72 * HOUR, T0 + 100 * HOUR, T0 + 30 * DAY):
        assert remind(area, later) == {"reminded": 0, "escalated": 0}
    assert messages(area, alerts.REMINDER) == messages(area, alerts.ESCALATION) == []
    assert notes(area, case.reference) == []


def test_a_case_verifying_but_overdue_is_still_reminded(area):
    """Starting the verification does not stop the clock: it must end by the due date."""
    case = report(area, T0)
    move(area, case.reference, "verifying", at=T0 + HOUR)
    assert remind(area, T0 + 72 * HOUR) == {"reminded": 1, "escalated": 0}
    assert notes(area, case.reference) == [f"reminder (verify) sent to {AGENT}"]


def test_each_overdue_case_is_reminded_on_its_own(area):
    """Two overdue cases: two reminders, each naming its case."""
    first = report(area, T0, place="Massiogo")
    second = report(area, T0, place="Kalana", phone="+22376000556")
    assert remind(area, T0 + 72 * HOUR) == {"reminded": 2, "escalated": 0}
    bodies = [m.body for m in messages(area, alerts.REMINDER)]
    assert len(bodies) == 2
    assert first.reference in bodies[0] and "Massiogo" in bodies[0]
    assert second.reference in bodies[1] and "Kalana" in bodies[1]
