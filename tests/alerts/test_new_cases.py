"""Alerts of a new case to the focal points covering it."""

from datetime import UTC, datetime

import pytest
from flask import current_app

from app import cases
from app.cases import alerts, focal_points
from app.infra.models import Case

from .conftest import (
    AGENT,
    FARAWAY,
    FARAWAY_SUPERVISOR,
    HOUR,
    NATIONAL,
    NEIGHBOUR,
    NIGHT,
    PIN,
    REPORTER,
    SUPERVISOR,
    T0,
    answers,
    fetch,
    messages,
    move,
    report,
    sms,
    staff,
)


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
        again = cases.file_report(
            db,
            current_app.config,
            current_app.extensions["catalog"],
            REPORTER,
            case.reference,
            answers(),
            T0 + HOUR,
        )[0]
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
        assert (
            alerts.place(
                current_app.extensions["catalog"], Case(cercle=cercle, region=region, place=site)
            )
            == where
        )


@pytest.mark.parametrize(
    ("tz", "shown"), [("Africa/Bamako", "10/03 23h00"), ("Europe/Paris", "11/03 00h00")]
)
def test_due_dates_read_in_local_time(tz, shown):
    """A moment is shown as local day and time."""
    assert alerts.local(NIGHT, tz) == shown
