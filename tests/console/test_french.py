"""Every console page and error in French, whatever the form holds."""

import pytest

from app.infra.models import User

from ..helpers import (
    ADMIN,
    ANONYMOUS,
    PASSWORD,
    SUPERVISOR,
    VIEWER,
    assert_french,
    body,
    page,
    password_hash,
    report,
)
from .conftest import REFUSED, STAFF, case_of, export, listed, reference_of


@pytest.mark.parametrize(
    ("method", "path", "signed_in", "status", "words"),
    [
        ("get", "/console/nope", False, 404, "Page ou dossier introuvable."),
        ("get", "/console/nope", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/cases/ZZZZZZ", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/logout", True, 405, "Action non permise."),
        ("post", "/console/cases", True, 405, "Action non permise."),
        ("post", "/console/logout", False, 400, "Demande invalide."),
        ("get", "/console/cases?cercle=%00", True, 400, "Demande invalide."),
        ("get", "/console/certificates?code=%00", True, 400, "Demande invalide."),
        ("get", "/console/cases/AB%00CD", True, 400, "Demande invalide."),
        ("get", "/console/campaigns/2147483648", True, 404, "Page ou dossier introuvable."),
        ("get", "/console/campaigns/99999999999999999999", True, 404, "Page ou dossier"),
        ("get", "/console/campaigns/2147483648/progress.json", True, 404, "Page ou dossier"),
    ],
)
def test_console_errors_are_french_pages(
    app, client, auth, staff, method, path, signed_in, status, words
):
    """Console errors are pages in French with a way back, never Werkzeug's English."""
    if signed_in:
        assert auth.login().status_code == 302
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert_french(response)
    text = page(response)
    assert words in text and "Retour aux dossiers" in text


@pytest.mark.parametrize(
    "form",
    [
        {"csrf_token": "é"},  # a token no session can hold
        {"csrf_token": "\x00"},
        {"email": "a\x00@kalan.ml", "password": PASSWORD},
    ],
)
def test_odd_sign_in_forms_are_french_400s(app, client, auth, staff, form):
    """A sign-in with a broken token or a NUL is refused in French, before anything is read."""
    token = auth.token()
    response = client.post("/console/login", data={"csrf_token": token, **form})
    assert response.status_code == 400
    assert_french(response)
    assert "Demande invalide." in page(response)


def test_a_nul_in_a_form_changes_nothing(app, client, auth, staff, filed):
    """A note with a NUL is a French 400, and the case's timeline is as it was."""
    reference = filed["kadiolo"]
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", follow=False, note="a\x00b")
    assert response.status_code == 400
    assert_french(response)
    assert len(case_of(app, reference)[1]) == len(events)


@pytest.mark.parametrize("next_", ["/console/\r\nX:y", "/console/\nX", "/console/\tx"])
def test_a_next_with_control_characters_leads_home(app, client, auth, staff, next_):
    """A return path that could split a header is dropped: the dashboard opens instead."""
    response = auth.login(next=next_)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/"


def test_a_long_email_fits_in_the_timeline(app, client, auth, staff, filed):
    """An address of 250 characters still signs the case's timeline (PostgreSQL checks sizes)."""
    email = ("k" * 236) + "@kalan.ml"
    with app.extensions["db"]() as db:
        db.add(User(email=email, role="admin", scope=None, password_hash=password_hash()))
        db.commit()
    reference = filed["kadiolo"]
    assert auth.login(email).status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", note="vu par le chef")
    assert response.status_code == 200 and "Note ajoutée." in page(response)
    assert case_of(app, reference)[1][-1].actor == f"console:{email}"


def test_a_linked_report_takes_no_note(app, client, auth, staff, filed):
    """A report kept inside another case is read only, even for a form sent by hand."""
    _, done = report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000798")
    reference = reference_of(done)
    _, events = case_of(app, reference)
    assert auth.login().status_code == 302
    response = auth.post(f"/console/cases/{reference}/note", note="ici")
    assert REFUSED in page(response)
    assert len(case_of(app, reference)[1]) == len(events)


def test_errors_outside_the_console_stay_one_plain_line(app, client):
    """The webhooks' error answers are unchanged: one plain line, for gateways."""
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.mimetype == "text/plain"
    assert "<html" not in response.get_data(as_text=True)


@pytest.mark.parametrize("email", [ADMIN, SUPERVISOR, VIEWER])
def test_console_pages_are_french(app, client, auth, staff, filed, email):
    """The list and a case page speak French, roles included, for every role."""
    assert auth.login(email).status_code == 302
    listing = client.get("/console/cases")
    assert_french(listing)
    role = {"admin": "administrateur", "supervisor": "superviseur", "viewer": "lecture seule"}
    assert f"Connecté : {email} ({role[STAFF[email][0]]})" in page(listing)
    for words in ("Dossiers", "Référence", "État", "Filtrer", "Se déconnecter"):
        assert words in page(listing)
    reference = sorted(listed(listing))[0]
    shown = client.get(f"/console/cases/{reference}")
    assert_french(shown)
    for words in ("Ce qui est signalé", "Historique", "nouveau", "Orpaillage / site minier"):
        assert words in page(shown)


def test_a_site_name_that_looks_like_a_formula_is_exported_inert(app, client, auth, staff):
    """A site typed as =HYPERLINK(...) must not run when the CSV is opened in a spreadsheet."""
    answers = ["2", "1", "1", "2", "=HYPERLINK(1)", "2", "2", "1", "2", "3"]
    report(client, *answers, contact=ANONYMOUS, phone="+22376000720")
    assert auth.login(ADMIN).status_code == 302
    _, rows = export(client)
    assert [r["place"] for r in rows] == ["'=HYPERLINK(1)"]


def test_a_linked_report_points_to_its_case_and_offers_no_action(app, client, auth, staff):
    """The second report about a site is a line of the first case: its page says so."""
    _, first = report(client, "2", *body(), contact=ANONYMOUS, phone="+22376000721")
    _, second = report(client, "2", *body(), contact=ANONYMOUS, phone="+22376000722")
    assert auth.login(ADMIN).status_code == 302
    shown = client.get(f"/console/cases/{reference_of(second)}")
    text = page(shown)
    assert "auquel il est rattaché" in text and f">{reference_of(first)}</a>" in text
    assert "Passer à l'état suivant" not in text and "Confier à un agent" not in text
    assert "Ce dossier est clos." not in text
