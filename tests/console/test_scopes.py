"""Who sees what in the console: roles, scopes, and a role that changes."""

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, Message, User

from ..helpers import ADMIN, PASSWORD, SUPERVISOR, VIEWER, assert_french, page
from .conftest import case_of, listed


@pytest.mark.parametrize(
    ("email", "visible"),
    [
        (ADMIN, {"kadiolo", "urgent", "koutiala"}),
        (SUPERVISOR, {"kadiolo", "urgent"}),
        (VIEWER, {"koutiala"}),
    ],
)
def test_each_role_sees_the_cases_of_its_scope(app, client, auth, staff, filed, email, visible):
    """The list and the case pages show a user only the cases of their cercle or region."""
    assert auth.login(email).status_code == 302
    listing = client.get("/console/cases")
    assert listing.status_code == 200
    assert listed(listing) == {filed[name] for name in visible}
    for name, reference in filed.items():
        shown = client.get(f"/console/cases/{reference}")
        if name in visible:
            assert shown.status_code == 200
            assert f"Dossier {reference}" in page(shown)
        else:
            # Not 403: whether the case exists is not told.
            assert shown.status_code == 404
            assert_french(shown)
            assert "Page ou dossier introuvable." in page(shown)


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("move", {"status": "verifying", "note": "je passe"}),
        ("assign", {"phone": "70000001"}),
        ("note", {"note": "je regarde"}),
    ],
)
def test_a_scoped_supervisor_cannot_act_on_another_cercle(
    app, client, auth, staff, filed, action, form
):
    """Posting on a case outside the supervisor's cercle is a 404 and changes nothing."""
    assert auth.login().status_code == 302
    reference = filed["koutiala"]
    _, before = case_of(app, reference)
    response = auth.post(f"/console/cases/{reference}/{action}", follow=False, **form)
    assert response.status_code == 404
    assert_french(response)
    case, after = case_of(app, reference)
    assert (case.status, case.assignee, len(after)) == ("new", None, len(before))
    with app.extensions["db"]() as db:
        assert db.scalars(select(Message).where(Message.kind == "case_assigned")).all() == []


@pytest.mark.parametrize(
    ("action", "form"),
    [
        ("move", {"status": "verifying", "note": ""}),
        ("assign", {"phone": "70000001"}),
        ("note", {"note": "je regarde"}),
    ],
)
def test_a_viewer_may_read_but_not_act(app, client, auth, staff, filed, action, form):
    """A viewer sees the case without forms, and posting an action anyway is a French 403."""
    assert auth.login(VIEWER).status_code == 302
    reference = filed["koutiala"]
    shown = page(client.get(f"/console/cases/{reference}"))
    assert "Historique" in shown
    for verb in ("move", "assign", "note"):
        assert f"/console/cases/{reference}/{verb}" not in shown
    assert "Exporter en CSV" not in page(client.get("/console/cases"))
    _, before = case_of(app, reference)
    response = auth.post(f"/console/cases/{reference}/{action}", follow=False, **form)
    assert response.status_code == 403
    assert_french(response)
    assert "Vous n'avez pas accès à cette page." in page(response)
    case, after = case_of(app, reference)
    assert (case.status, case.assignee, len(after)) == ("new", None, len(before))


def test_a_new_role_applies_at_the_next_page(app, client, auth, staff, filed):
    """The role is read at each request: a supervisor made viewer loses the actions at once."""
    assert auth.login().status_code == 302
    reference = filed["kadiolo"]
    assert f"/console/cases/{reference}/move" in page(client.get(f"/console/cases/{reference}"))
    with app.extensions["db"]() as db:
        db.scalars(select(User).where(User.email == SUPERVISOR)).one().role = "viewer"
        db.commit()
    assert f"/console/cases/{reference}/move" not in page(client.get(f"/console/cases/{reference}"))
    response = auth.post(f"/console/cases/{reference}/move", follow=False, status="verifying")
    assert response.status_code == 403
    assert case_of(app, reference)[0].status == "new"


def test_users_add_signs_out_and_the_new_role_applies(app, client, auth, runner, staff, filed):
    """`users add` sets a password, which ends the session; the next sign-in has the new role."""
    assert auth.login().status_code == 302
    reference = filed["kadiolo"]
    args = ["users", "add", SUPERVISOR, "--role", "viewer", "--scope", "cercle=kadiolo"]
    assert runner.invoke([*args, "--password-stdin"], input=PASSWORD + "\n").exit_code == 0
    assert client.get(f"/console/cases/{reference}").status_code == 302
    assert auth.login().status_code == 302
    assert f"/console/cases/{reference}/move" not in page(client.get(f"/console/cases/{reference}"))


def test_a_viewer_cannot_export(app, client, auth, staff, filed):
    """The CSV export is for supervisors and admins: a viewer gets a French 403."""
    assert auth.login(VIEWER).status_code == 302
    response = client.get("/console/cases/export.csv")
    assert response.status_code == 403
    assert_french(response)
    with app.extensions["db"]() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry))]
    assert "cases.export" not in actions
