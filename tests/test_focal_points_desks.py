"""Whose desk sees what: each focal point's open cases, its limit, and who may handle a case."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app

from app import cases
from app.cases import focal_points

from .test_focal_points import (
    AGENT,
    NATIONAL,
    OTHER,
    PIN,
    REGION_AGENT,
    ROVER,
    SUPERVISOR,
    TOWN_AGENT,
    TOWN_SUPERVISOR,
)

REPORTER = "+22376000555"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# --- whose desk sees what -----------------------------------------------------------------------

ANSWERS = {"sector": "mining", "children": "few", "age": "13to14", "sex": "girls",
           "school": "no", "hazard": "pits", "contactable": False, "receipt": False}  # fmt: skip
# reference: region, cercle, place, urgent, minutes after T0, assignee, status
CASES = {
    "KADFRE": ("sikasso", "kadiolo", "Massiogo", False, 0, None, "new"),
    "KADCLO": ("sikasso", "kadiolo", "Fourou", False, 1, AGENT, "closed"),
    "KOUFRE": ("koutiala", "koutiala", "Sinsina", False, 5, None, "new"),
    "KADOTH": ("sikasso", "kadiolo", "Misseni", False, 10, OTHER, "new"),
    "SIKFRE": ("sikasso", "sikasso", "Finkolo", False, 20, None, "confirmed"),
    "KADURG": ("sikasso", "kadiolo", "Diou", True, 30, AGENT, "new"),
    "BOUMIN": ("bougouni", "yanfolila", "Kalana", False, 40, AGENT, "referred"),
    "KADLNK": ("sikasso", "kadiolo", "massiogo", False, 50, None, "linked"),  # joins KADFRE
    "KADVER": ("sikasso", "kadiolo", "Nafegue", True, 60, None, "verifying"),
    "MPEFRE": ("koutiala", "mpessoba", "Sirakele", False, 45, None, "new"),
}
POINTS = {
    AGENT: ("kadiolo", "agent"),
    OTHER: ("kadiolo", "agent"),
    SUPERVISOR: ("region:sikasso", "supervisor"),
    NATIONAL: ("all", "supervisor"),
    ROVER: ("all", "agent"),
    TOWN_AGENT: ("koutiala", "agent"),  # the cercle of Koutiala, not its region
    REGION_AGENT: ("region:koutiala", "agent"),
    TOWN_SUPERVISOR: ("sikasso", "supervisor"),  # the cercle of Sikasso, not its region
}


@pytest.fixture
def desks(app):
    """Cases in three regions, some assigned, closed or linked; then the focal points."""
    with app.app_context(), app.extensions["db"]() as db:
        for reference, (region, cercle, place, urgent, minutes, _, _) in CASES.items():
            answers = {**ANSWERS, "region": region, "cercle": cercle, "place": place,
                       "urgent": urgent}  # fmt: skip
            cases.file_report(
                db,
                current_app.config,
                current_app.extensions["catalog"],
                REPORTER,
                reference,
                answers,
                T0 + timedelta(minutes=minutes),
            )[0]
        db.flush()
        for reference, (*_, assignee, status) in CASES.items():
            case = cases.find(db, reference)
            assert case.assignee is None  # nobody covered any area yet: nothing was routed
            if assignee:
                cases.assign(
                    db,
                    current_app.config,
                    current_app.extensions["catalog"],
                    case,
                    assignee,
                    "test",
                    T0,
                    notify=False,
                )
            if status == "linked":
                assert case.status == "linked"
                assert case.linked_to == cases.find(db, "KADFRE").id
            case.status = status
        for phone, (area, role) in POINTS.items():
            focal_points.add(db, phone, area, role, PIN)
        db.commit()
    return app


def desk_of(app, phone, limit=30) -> list[str]:
    """Return the references on a phone's desk, in the order shown."""
    with app.extensions["db"]() as db:
        point = focal_points.find(db, phone)
        return [case.reference for case in focal_points.desk(db, point, limit)]


@pytest.mark.parametrize(
    ("phone", "references"),
    [
        (SUPERVISOR, ["KADURG", "KADVER", "KADFRE", "KADOTH", "SIKFRE"]),
        (AGENT, ["KADURG", "KADVER", "KADFRE", "BOUMIN"]),
        (OTHER, ["KADVER", "KADFRE", "KADOTH"]),
        (NATIONAL,
         ["KADURG", "KADVER", "KADFRE", "KOUFRE", "KADOTH", "SIKFRE", "BOUMIN", "MPEFRE"]),
        (ROVER, ["KADVER", "KADFRE", "KOUFRE", "SIKFRE", "MPEFRE"]),
        (TOWN_AGENT, ["KOUFRE"]),
        (REGION_AGENT, ["KOUFRE", "MPEFRE"]),
        (TOWN_SUPERVISOR, ["SIKFRE"]),
    ],
    ids=["region-supervisor", "agent", "other-agent", "national-supervisor", "national-agent",
         "cercle-agent", "region-agent", "cercle-supervisor"],
)  # fmt: skip
def test_each_desk_shows_its_open_cases_urgent_then_oldest(desks, phone, references):
    """A desk lists the open cases in its scope, urgent first, then the oldest first."""
    assert desk_of(desks, phone) == references


def test_a_desk_is_cut_at_its_limit(desks):
    """The limit keeps the first cases of the order."""
    assert desk_of(desks, NATIONAL, limit=3) == ["KADURG", "KADVER", "KADFRE"]


@pytest.mark.parametrize(
    ("phone", "reference", "allowed"),
    [
        (AGENT, "KADFRE", True),  # unassigned, in their cercle
        (AGENT, "KADURG", True),  # theirs
        (AGENT, "BOUMIN", True),  # theirs, outside their areas
        (AGENT, "KADOTH", False),  # another agent's
        (AGENT, "SIKFRE", False),  # another cercle
        (AGENT, "KADCLO", False),  # theirs, but closed
        (AGENT, "KADLNK", False),  # a linked report, in their cercle
        (SUPERVISOR, "KADOTH", True),
        (SUPERVISOR, "SIKFRE", True),
        (SUPERVISOR, "KOUFRE", False),
        (SUPERVISOR, "BOUMIN", False),
        (SUPERVISOR, "KADCLO", False),
        (NATIONAL, "BOUMIN", True),
        (NATIONAL, "KADCLO", False),
        (NATIONAL, "KADLNK", False),
        (ROVER, "KOUFRE", True),
        (ROVER, "KADOTH", False),
        # A bare name is the cercle: Koutiala's agent does not see Mpessoba (Koutiala
        # region), the agent of "region:koutiala" does.
        (TOWN_AGENT, "KOUFRE", True),
        (TOWN_AGENT, "MPEFRE", False),
        (REGION_AGENT, "MPEFRE", True),
        (REGION_AGENT, "KOUFRE", True),
        (REGION_AGENT, "SIKFRE", False),
        (TOWN_SUPERVISOR, "SIKFRE", True),
        (TOWN_SUPERVISOR, "KADFRE", False),
        (TOWN_SUPERVISOR, "KADURG", False),
    ],
)
def test_may_handle_follows_the_desk(desks, phone, reference, allowed):
    """A focal point may handle exactly the cases on its desk."""
    with desks.extensions["db"]() as db:
        point = focal_points.find(db, phone)
        case = cases.find(db, reference)
        assert focal_points.may_handle(db, point, case) is allowed
        assert (case in focal_points.desk(db, point)) is allowed


def test_a_removed_focal_point_lets_its_open_cases_go_back_to_the_desks(desks):
    """Removing an agent unassigns its open cases, in the log: nobody keeps texting it."""
    with desks.extensions["db"]() as db:
        released = focal_points.remove(db, focal_points.find(db, AGENT), T0)
        db.commit()
        assert released == 2  # KADURG and BOUMIN; the closed KADCLO stays as it was
        assert cases.find(db, "KADCLO").assignee == AGENT
        case = cases.find(db, "KADURG")
        assert (case.assignee, case.reminded_at, case.escalated_at) == (None, None, None)
        assert cases.history(db, case)[-1].note == f"unassigned: {AGENT} removed"
        assert focal_points.role(db, AGENT) is None
    assert "KADURG" in desk_of(desks, SUPERVISOR)
