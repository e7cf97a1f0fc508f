"""Follow-up visits reminded at 90 and 180 days, and escalated."""

from datetime import UTC, datetime, timedelta

from flask import current_app

from app import cases
from app.cases import alerts
from app.infra.models import Case

from .conftest import (
    AGENT,
    DAY,
    HOUR,
    MINUTE,
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
)


def follow_up(app, reference: str, at: datetime) -> Case:
    """Record a follow-up visit of a case at a moment."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.find(db, reference)
        cases.follow_up(db, current_app.config, case, f"ussd:{AGENT}", "visite faite", at)
        db.commit()
        return case


def referred(app, at: datetime) -> Case:
    """Open a case at T0 and take it through verification to a referral at at."""
    case = report(app, T0)
    move(app, case.reference, "verifying", "confirmed", at=at - timedelta(minutes=2))
    return move(app, case.reference, "referred", at=at)


def test_follow_up_visits_are_reminded_at_90_then_180_days(area):
    """Each follow-up due date gets its reminder; after the last, nothing more is due."""
    referral = T0 + 48 * HOUR
    case = referred(area, referral)
    assert (case.status, case.referred_to, case.follow_up_by) == (
        "referred", "social", referral + 90 * DAY)  # fmt: skip
    # The verification was done in time, and the first visit is not due yet.
    assert remind(area, referral + 90 * DAY - HOUR) == {"reminded": 0, "escalated": 0}

    first_due = referral + 90 * DAY
    assert remind(area, first_due) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    assert (reminder.phone, reminder.urgent, reminder.not_before) == (AGENT, False, first_due)
    assert reminder.body == sms(
        area, "sms.case_followup_due", reference=case.reference, place="Kadiolo, Massiogo",
        number="1", due="10/06 10h00")  # fmt: skip
    assert remind(area, first_due) == {"reminded": 0, "escalated": 0}

    visit = first_due + 2 * DAY
    case = follow_up(area, case.reference, visit)
    assert (case.status, case.follow_ups) == ("following", 1)
    assert case.follow_up_by == referral + 180 * DAY  # from the referral, not the visit
    assert (case.reminded_at, case.escalated_at) == (None, None)
    assert remind(area, visit + 30 * DAY) == {"reminded": 0, "escalated": 0}

    second_due = referral + 180 * DAY
    assert remind(area, second_due) == {"reminded": 1, "escalated": 0}
    second = messages(area, alerts.REMINDER)[1]
    assert second.phone == AGENT
    assert second.body == sms(
        area, "sms.case_followup_due", reference=case.reference, place="Kadiolo, Massiogo",
        number="2", due="08/09 10h00")  # fmt: skip

    case = follow_up(area, case.reference, second_due + DAY)
    assert (case.status, case.follow_ups, case.follow_up_by) == ("following", 2, None)
    for later in (second_due + 2 * DAY, second_due + 90 * DAY, second_due + 400 * DAY):
        assert remind(area, later) == {"reminded": 0, "escalated": 0}
    assert len(messages(area, alerts.REMINDER)) == 2
    assert messages(area, alerts.ESCALATION) == []
    assert notes(area, case.reference) == [f"reminder (followup) sent to {AGENT}"] * 2


def test_a_missed_follow_up_escalates_to_the_supervisors(area):
    """A follow-up still not done a day after its reminder goes to the supervisors, once."""
    referral = T0 + 48 * HOUR
    case = referred(area, referral)
    due = referral + 90 * DAY
    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    assert remind(area, due + 24 * HOUR) == {"reminded": 0, "escalated": 1}
    escalations = messages(area, alerts.ESCALATION)
    assert sorted(m.phone for m in escalations) == sorted([SUPERVISOR, NATIONAL])
    expected = sms(area, "sms.case_escalation_followup", reference=case.reference,
                   place="Kadiolo, Massiogo", number="1", due="10/06 10h00",
                   assignee=AGENT)  # fmt: skip
    assert all(m.body == expected and not m.urgent for m in escalations)
    assert remind(area, due + 48 * HOUR) == {"reminded": 0, "escalated": 0}
    # Once the visit is done, the second due date starts afresh.
    follow_up(area, case.reference, due + 3 * DAY)
    assert remind(area, referral + 180 * DAY) == {"reminded": 1, "escalated": 0}
    assert len(messages(area, alerts.REMINDER)) == 2


def test_follow_up_reminders_of_an_urgent_case_wait_for_the_window(area):
    """Urgency is about verifying: a follow-up reminder waits for the send window."""
    case = report(area, NIGHT, urgent=True)
    move(area, case.reference, "verifying", "confirmed", "referred", at=NIGHT + 10 * MINUTE)
    due = fetch(area, case.reference).follow_up_by
    assert due == NIGHT + 12 * MINUTE + 90 * DAY  # 23:12 in Bamako: outside the window
    assert remind(area, due) == {"reminded": 1, "escalated": 0}
    [reminder] = messages(area, alerts.REMINDER)
    morning = datetime(2025, 6, 9, 8, 0, tzinfo=UTC)
    assert (reminder.urgent, reminder.not_before) == (False, morning)
    assert fetch(area, case.reference).reminded_at == morning
