"""The web console's cases: the staff, the cases they look at, and helpers to read pages."""

import csv
import re

import pytest
from sqlalchemy import select

from app.infra.models import Case, CaseEvent, User
from app.people import users

from ..helpers import (
    ADMIN,
    ANONYMOUS,
    SMS,
    SUPERVISOR,
    VIEWER,
    AuthActions,
    body,
    password_hash,
    report,
)

STAFF = {
    ADMIN: ("admin", None),
    SUPERVISOR: ("supervisor", "cercle=kadiolo"),
    VIEWER: ("viewer", "region=koutiala"),
}
CONTACTABLE = "+22376000701"  # reported the calm Kadiolo case and may be called back
REFUSED = "Ce changement n'est pas possible depuis l'état actuel."


def listed(response) -> set[str]:
    """Return the references a cases page links to."""
    return set(re.findall(r'href="/console/cases/([A-Z0-9]{6})"', response.get_data(as_text=True)))


@pytest.fixture
def auth(client):
    """Sign-in helpers bound to the test client."""
    return AuthActions(client)


@pytest.fixture
def staff(app):
    """An admin, a supervisor of Kadiolo, and a viewer of the Koutiala region.

    Stored directly with one shared hash (`users add` itself is tested in test_users.py).
    """
    with app.extensions["db"]() as db:
        for email, (role, scope) in STAFF.items():
            scope = users.parse_scope(scope)
            db.add(User(email=email, role=role, scope=scope, password_hash=password_hash()))
        db.commit()
    return STAFF


def reference_of(done: str) -> str:
    return done.split("Référence : ")[1][:6]


@pytest.fixture
def filed(client):
    """Three cases from the webhook: two in Kadiolo (one urgent), one in Koutiala."""
    _, calm = report(client, "2", *body("Massiogo"), contact=SMS, phone=CONTACTABLE)
    _, urgent = report(client, "3", "1", *body("Kalana"), contact=ANONYMOUS, phone="+22376000702")
    # Signaler, mining, region 3 (Koutiala), its first cercle (Koutiala), then the rest.
    koutiala = ["2", "1", "3", "1", "Zanfina", "2", "2", "1", "2", "3"]
    _, elsewhere = report(client, *koutiala, contact=ANONYMOUS, phone="+22376000703")
    refs = {
        "kadiolo": reference_of(calm),
        "urgent": reference_of(urgent),
        "koutiala": reference_of(elsewhere),
    }
    assert len(set(refs.values())) == 3
    return refs


def case_of(app, reference: str) -> tuple[Case, list[CaseEvent]]:
    """Return a case as stored, with its timeline."""
    with app.extensions["db"]() as db:
        case = db.scalars(select(Case).where(Case.reference == reference)).one()
        events = list(
            db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        )
    return case, events


def export(client) -> tuple[list[str], list[dict]]:
    """Download the export; return its header and rows."""
    response = client.get("/console/cases/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    reader = csv.DictReader(response.get_data(as_text=True).splitlines())
    return list(reader.fieldnames or []), list(reader)
