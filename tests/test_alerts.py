"""Case SMS: alerts to focal points, routing, reminders, escalations and follow-ups."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import cases
from app.cases import alerts, focal_points
from app.infra.models import Case, CaseEvent, Message
from app.messaging.segments import prepare

REPORTER = "+22376000555"
PIN = "4821"
AGENT, AGENT_2, REGION_AGENT = "+22370200001", "+22370200002", "+22370200003"
SUPERVISOR, NATIONAL = "+22370200011", "+22370200012"
NEIGHBOUR, FARAWAY, FARAWAY_SUPERVISOR = "+22370200021", "+22370200022", "+22370200023"
# Monday 10 March 2025, 10:00 in Bamako (UTC+0 all year): inside the send window.
T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
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


def massiogo(app, key: str, reference: str, due: str) -> str:
    """The text of a case SMS about the Massiogo report, due at due."""
    return sms(
        app,
        key,
        reference=reference,
        place="Kadiolo, Massiogo",
        sector="Orpaillage / site minier",
        hazard="Puits / sous terre",
        due=due,
    )


def escalated_to_supervisors(app, reference: str, assignee: str) -> None:
    """Check that the region's and the national supervisors got the verification escalation."""
    escalations = messages(app, alerts.ESCALATION)
    assert sorted(m.phone for m in escalations) == sorted([SUPERVISOR, NATIONAL])
    expected = sms(app, "sms.case_escalation_verify", reference=reference,
                   place="Kadiolo, Massiogo", due="13/03 10h00", assignee=assignee)  # fmt: skip
    assert all(m.body == expected for m in escalations)


def staff(app, *points: tuple[str, str, str]) -> None:
    """Record focal points as (phone, area, role)."""
    with app.app_context(), app.extensions["db"]() as db:
        for phone, area, role in points:
            focal_points.add(db, phone, area, role, PIN)
        db.commit()


def report(app, now: datetime, place="Massiogo", phone=REPORTER, **changes) -> Case:
    """File a report as the USSD flow does, at now; return the case it went to."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.open_case(db, phone, cases.fresh_reference(db), answers(place, **changes), now)
        db.commit()
        return case


def move(app, reference: str, *steps: str, at: datetime) -> Case:
    """Move a case through the given states, one minute apart from at."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.find(db, reference)
        for n, step in enumerate(steps):
            service = "social" if step == "referred" else None
            when = at + n * timedelta(minutes=1)
            cases.move(db, case, step, f"ussd:{AGENT}", "", when, service=service)
        db.commit()
        return case


def follow_up(app, reference: str, at: datetime) -> Case:
    """Record a follow-up visit of a case at a moment."""
    with app.app_context(), app.extensions["db"]() as db:
        case = cases.find(db, reference)
        cases.follow_up(db, case, f"ussd:{AGENT}", "visite faite", at)
        db.commit()
        return case


def remind(app, now: datetime) -> dict[str, int]:
    """Run the reminder job as the worker's tick does, at now."""
    with app.app_context(), app.extensions["db"]() as db:
        return alerts.remind(db, now)


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


# -- New cases ---------------------------------------------------------------


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


@pytest.mark.parametrize("contactable", [False, True], ids=["anonymous", "contactable"])
def test_a_new_case_alerts_every_focal_point_covering_it_and_nobody_else(area, contactable):
    """The cercle's, the region's and the national focal points are alerted, once each."""
    case = report(area, T0, contactable=contactable, receipt=contactable)
    alerts_ = messages(area, alerts.ALERT)
    assert sorted(m.phone for m in alerts_) == sorted([AGENT, SUPERVISOR, NATIONAL])
    expected = massiogo(area, "sms.case_alert", case.reference, "13/03 10h00")
    for message in alerts_:
        assert message.body == expected
        assert case.reference in message.body and "Kadiolo, Massiogo" in message.body
        assert REPORTER not in message.body and REPORTER[4:] not in message.body
        assert (message.urgent, message.not_before, message.status) == (False, T0, "queued")
    # Only the contactable reporter who asked for it gets a receipt, and it is
    # the only SMS that goes to the reporter's phone.
    receipts = messages(area, "receipt")
    assert [m.phone for m in receipts] == ([REPORTER] if contactable else [])
    assert all(m.phone != REPORTER for m in messages(area) if m.kind != "receipt")


def test_a_bare_name_is_the_cercle_and_region_colon_the_region(app):
    """A case in Mpessoba (Koutiala region) alerts "region:koutiala", not the Koutiala cercle."""
    staff(
        app,
        (FARAWAY, "koutiala", "agent"),  # the cercle of Koutiala only
        (AGENT, "region:koutiala", "agent"),
        (SUPERVISOR, "region:koutiala", "supervisor"),
        (FARAWAY_SUPERVISOR, "koutiala", "supervisor"),
        (NEIGHBOUR, "mpessoba", "agent"),
    )
    case = report(app, T0, place="Sirakele", region="koutiala", cercle="mpessoba")
    assert sorted(m.phone for m in messages(app, alerts.ALERT)) == sorted(
        [AGENT, SUPERVISOR, NEIGHBOUR]
    )
    assert case.assignee == AGENT  # of the two covering agents, the first recorded
    with app.app_context(), app.extensions["db"]() as db:
        shown = fetch(app, case.reference)
        assert [p.phone for p in focal_points.covering(db, shown)] == [
            AGENT, SUPERVISOR, NEIGHBOUR]  # fmt: skip
        assert [p.phone for p in focal_points.covering(db, shown, role="supervisor")] == [
            SUPERVISOR
        ]


def test_a_focal_point_registered_on_the_command_line_is_alerted(app, runner):
    """A focal point added with `kalan focal-points add` receives the cercle's alerts."""
    args = ["focal-points", "add", "70200001", "--cercle", "kadiolo", "--role", "agent"]
    result = runner.invoke([*args, "--pin-stdin"], input=PIN + "\n")
    assert result.exit_code == 0, result.output
    case = report(app, T0)
    [alert] = messages(app, alerts.ALERT)
    assert alert.phone == AGENT and case.reference in alert.body
    assert fetch(app, case.reference).assignee == AGENT


def test_a_region_supervisor_registered_with_region_is_alerted(app, runner):
    """`--region sikasso` covers every cercle of the region; `--cercle sikasso` only its own."""
    args = ["focal-points", "add", "70200011", "--region", "sikasso", "--role", "supervisor"]
    result = runner.invoke([*args, "--pin-stdin"], input=PIN + "\n")
    assert result.exit_code == 0, result.output
    assert result.output == f"added supervisor {SUPERVISOR}: region:sikasso\n"
    args = ["focal-points", "add", "70200021", "--cercle", "sikasso", "--role", "supervisor"]
    assert runner.invoke([*args, "--pin-stdin"], input=PIN + "\n").exit_code == 0
    case = report(app, T0)  # in Kadiolo, Sikasso region
    [alert] = messages(app, alerts.ALERT)
    assert alert.phone == SUPERVISOR and case.reference in alert.body
    assert fetch(app, case.reference).assignee is None  # a supervisor is no agent


def test_a_case_nobody_covers_is_opened_without_alert(app, caplog):
    """With no focal point for the area, the case is kept and the gap is logged."""
    staff(app, (FARAWAY, "koutiala", "agent"))
    case = report(app, T0)
    assert fetch(app, case.reference).status == "new"
    assert messages(app) == []
    assert f"case {case.reference}: no focal point covers kadiolo" in caplog.text


def test_an_urgent_case_says_so(area):
    """An urgent case's alert uses the urgent copy and is flagged urgent."""
    case = report(area, T0, urgent=True)
    alerts_ = messages(area, alerts.ALERT)
    assert len(alerts_) == 3
    assert {m.body for m in alerts_} == {
        sms(
            area,
            "sms.case_alert_urgent",
            reference=case.reference,
            place="Kadiolo, Massiogo",
            sector="Orpaillage / site minier",
            hazard="Puits / sous terre",
            due="11/03 10h00",  # 24 hours to verify, not 72
        )
    }
    assert all(m.urgent and m.body.startswith("Kalan URGENT") for m in alerts_)


NIGHT = datetime(2025, 3, 10, 23, 0, tzinfo=UTC)  # 23:00 in Bamako


@pytest.mark.parametrize(
    ("window", "urgent", "now", "not_before"),
    [
        # Urgent: at once, at any hour.
        ("08:00-20:00", True, NIGHT, NIGHT),
        ("08:00-20:00", True, T0, T0),
        # The others wait for the window to open: the next morning after 20:00...
        ("08:00-20:00", False, NIGHT, datetime(2025, 3, 11, 8, 0, tzinfo=UTC)),
        ("08:00-20:00", False, T0.replace(hour=20), datetime(2025, 3, 11, 8, 0, tzinfo=UTC)),
        # ...the same morning before 08:00, and at once inside the window.
        ("08:00-20:00", False, T0.replace(hour=3), T0.replace(hour=8)),
        ("08:00-20:00", False, T0.replace(hour=8), T0.replace(hour=8)),
        ("08:00-20:00", False, T0, T0),
        # A window across midnight, and none at all.
        ("20:00-06:00", False, T0, T0.replace(hour=20)),
        ("20:00-06:00", False, NIGHT, NIGHT),
        ("always", False, NIGHT, NIGHT),
    ],
)
def test_alerts_respect_the_send_window_unless_urgent(make_app, window, urgent, now, not_before):
    """An urgent alert is due at once; the others when the send window next opens."""
    app = make_app(SMS_SEND_WINDOW=window)
    staff(app, (AGENT, "kadiolo", "agent"), (SUPERVISOR, "region:sikasso", "supervisor"))
    report(app, now, urgent=urgent)
    alerts_ = messages(app, alerts.ALERT)
    assert len(alerts_) == 2
    assert all((m.urgent, m.not_before) == (urgent, not_before) for m in alerts_)


def test_a_linked_report_alerts_again_when_it_is_urgent(area):
    """A second report of the same site joins the case; every urgent one re-alerts at once."""
    host = report(area, T0)
    assert len(messages(area, alerts.ALERT)) == 3
    joined = report(area, T0 + HOUR, phone="+22376000556")
    assert joined.reference == host.reference  # the case it joined
    assert len(messages(area, alerts.ALERT)) == 3
    report(area, NIGHT, phone="+22376000557", urgent=True)
    again = messages(area, alerts.ALERT)[3:]
    assert sorted(m.phone for m in again) == sorted([AGENT, SUPERVISOR, NATIONAL])
    assert all(m.urgent and m.not_before == NIGHT for m in again)
    assert all(host.reference in m.body and m.body.startswith("Kalan URGENT") for m in again)
    case = fetch(area, host.reference)
    assert (case.urgent, case.reports, case.verify_by) == (True, 3, NIGHT + 24 * HOUR)
    # The case is urgent already: another child in danger there now is news all the same.
    report(area, NIGHT + HOUR, phone="+22376000558", urgent=True)
    latest = messages(area, alerts.ALERT)[6:]
    assert sorted(m.phone for m in latest) == sorted([AGENT, SUPERVISOR, NATIONAL])
    assert all(m.urgent and m.not_before == NIGHT + HOUR for m in latest)
    assert fetch(area, host.reference).reports == 4


@pytest.mark.parametrize(
    "steps", [("verifying", "confirmed"), ("verifying", "confirmed", "referred")]
)
def test_an_urgent_report_on_a_verified_case_is_due_within_24_hours(area, steps):
    """Past verification, the urgent alert asks for the new report to be checked in 24 h."""
    host = report(area, T0)
    move(area, host.reference, *steps, at=T0 + HOUR)
    before = fetch(area, host.reference)
    report(area, NIGHT, phone="+22376000557", urgent=True)
    again = messages(area, alerts.ALERT)[3:]
    assert sorted(m.phone for m in again) == sorted([AGENT, SUPERVISOR, NATIONAL])
    expected = massiogo(
        area, "sms.case_alert_urgent", host.reference, "11/03 23h00"
    )  # the night of the report + 24 h, not "-" or the follow-up date
    assert all(m.body == expected and m.urgent and m.not_before == NIGHT for m in again)
    case = fetch(area, host.reference)
    # The case's own dates are left as they were.
    assert (case.status, case.urgent, case.reports) == (steps[-1], True, 2)
    assert (case.verify_by, case.follow_up_by) == (before.verify_by, before.follow_up_by)


def test_the_same_report_sent_again_alerts_nobody_again(area):
    """Re-sending a report under its reference opens nothing and queues no new alert."""
    case = report(area, T0)
    with area.app_context(), area.extensions["db"]() as db:
        again = cases.open_case(db, REPORTER, case.reference, answers(), T0 + HOUR)
        db.commit()
    assert again.id == case.id
    assert len(messages(area, alerts.ALERT)) == 3


@pytest.mark.parametrize(
    ("cercle", "region", "site", "where"),
    [
        ("kadiolo", "sikasso", "Massiogo", "Kadiolo, Massiogo"),
        ("kadiolo", "sikasso", None, "Kadiolo"),
        ("klela", "sikasso", "Kafana", "Kléla, Kafana"),
        ("unknown", "koutiala", "Zanferebougou", "Koutiala, Zanferebougou"),
        ("unknown", None, None, "Autre / je ne sais pas"),
        (None, None, None, "Autre / je ne sais pas"),
    ],
)
def test_place_names_the_cercle_or_the_region(app, cercle, region, site, where):
    """A case's place reads as the cercle (or the region) then the site name."""
    with app.app_context():
        assert alerts.place(Case(cercle=cercle, region=region, place=site)) == where


@pytest.mark.parametrize(
    ("tz", "shown"), [("Africa/Bamako", "10/03 23h00"), ("Europe/Paris", "11/03 00h00")]
)
def test_due_dates_read_in_local_time(tz, shown):
    """A moment is shown as local day and time."""
    assert alerts.local(NIGHT, tz) == shown


# -- Routing -----------------------------------------------------------------


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
        cases.assign(db, cases.find(db, case.reference), AGENT_2, "cli", NIGHT)
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


# -- Verification reminders and escalations ----------------------------------


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
        cases.assign(db, cases.find(db, reference), phone, "cli", at)
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


# -- Follow-ups ----------------------------------------------------------------


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


# -- Which states are reminded -------------------------------------------------


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
        case = cases.open_case(db, REPORTER, "REFBAC", answers(), T0)
        db.commit()
        due = case.verify_by
        alerts.remind(db, due)
        alerts.remind(db, due + timedelta(hours=24))
        cases.assign(db, case, AGENT_2, "cli", due + timedelta(hours=25))
        cases.assign(db, case, AGENT, "cli", due + timedelta(hours=26))
        db.commit()
        alerts.remind(db, due + timedelta(hours=27))
        alerts.remind(db, due + timedelta(hours=52))
        log = select(CaseEvent).where(CaseEvent.actor == "reminders").order_by(CaseEvent.id)
        notes = [e.note for e in db.scalars(log)]
        kinds = [m.kind for m in db.scalars(select(Message).where(Message.kind.like("case_%")))]
    assert notes[2] == f"reminder (verify) already sent, for this due date, to {AGENT}"
    assert notes[3] == "escalated (verify) to nobody new: already escalated for this due date"
    assert kinds.count("case_reminder") == 1 and kinds.count("case_escalation") == 1
