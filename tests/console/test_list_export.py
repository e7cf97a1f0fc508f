"""The console's list of cases, its filters, and the CSV export."""

import re

import pytest
from flask import current_app
from sqlalchemy import select

from app.infra import keyring
from app.infra.models import Case

from ..helpers import (
    ADMIN,
    ANONYMOUS,
    OLD_REFERENCE,
    SUPERVISOR,
    body,
    file_old_report,
    page,
    report,
)
from .conftest import CONTACTABLE, export, listed, reference_of


@pytest.mark.parametrize(
    ("email", "query", "expected"),
    [
        (ADMIN, "", {"kadiolo", "urgent", "koutiala"}),
        (ADMIN, "status=verifying", {"kadiolo"}),
        (ADMIN, "status=new", {"urgent", "koutiala"}),
        (ADMIN, "status=closed", set()),
        (ADMIN, "status=bogus", {"kadiolo", "urgent", "koutiala"}),  # an unknown state: ignored
        (ADMIN, "cercle=koutiala", {"koutiala"}),
        (ADMIN, "cercle=Kadiolo", {"kadiolo", "urgent"}),
        (ADMIN, "urgent=1", {"urgent"}),
        (ADMIN, "cercle=kadiolo&urgent=1&status=new", {"urgent"}),
        (SUPERVISOR, "cercle=koutiala", set()),  # a filter never widens the scope
        (SUPERVISOR, "urgent=1", {"urgent"}),
    ],
)
def test_the_list_filters(app, client, auth, runner, staff, filed, email, query, expected):
    """Filters by state, cercle and urgency narrow the list, within the user's scope."""
    assert (
        runner.invoke(["case", "update", filed["kadiolo"], "--status", "verifying"]).exit_code == 0
    )
    assert auth.login(email).status_code == 302
    response = client.get("/console/cases?" + query)
    assert response.status_code == 200
    assert listed(response) == {filed[name] for name in expected}
    if not expected:
        assert "Aucun dossier." in page(response)


def test_the_list_puts_urgent_cases_first(app, client, auth, staff, filed):
    """The urgent case comes first, whatever the order the reports came in."""
    assert auth.login(ADMIN).status_code == 302
    text = client.get("/console/cases").get_data(as_text=True)
    order = re.findall(r'href="/console/cases/([A-Z0-9]{6})"', text)
    assert order == [filed["urgent"], filed["kadiolo"], filed["koutiala"]]


def test_an_old_letter_reference_is_listed_opened_and_exported(app, client, auth, staff):
    """A reference drawn before references were digits only is still a case's."""
    file_old_report(app)
    assert auth.login(ADMIN).status_code == 302
    assert listed(client.get("/console/cases")) == {OLD_REFERENCE}
    opened = client.get(f"/console/cases/{OLD_REFERENCE.lower()}")
    assert opened.status_code == 200 and OLD_REFERENCE in page(opened)
    _, rows = export(client)
    assert [row["reference"] for row in rows] == [OLD_REFERENCE]


def test_a_supervisors_export_has_its_cases_and_no_phone(app, client, auth, staff, filed):
    """A supervisor exports only its cercle's cases, and no reporter's number in any form."""
    assert auth.login(SUPERVISOR).status_code == 302
    header, rows = export(client)
    assert "reporter_phone" not in header and "reporter_hash" not in header
    assert header[0] == "reference" and "linked_to" in header
    assert {r["reference"] for r in rows} == {filed["kadiolo"], filed["urgent"]}
    assert all(r["cercle"] == "kadiolo" for r in rows)
    text = client.get("/console/cases/export.csv").get_data(as_text=True)
    assert CONTACTABLE not in text and CONTACTABLE[1:] not in text


def test_an_admins_export_reveals_contactable_reporters_only(app, client, auth, staff, filed):
    """An admin's export has every case, with the decrypted number of those who may be called."""
    assert auth.login(ADMIN).status_code == 302
    header, rows = export(client)
    assert header[-1] == "reporter_phone"
    phones = {r["reference"]: r["reporter_phone"] for r in rows}
    assert phones == {filed["kadiolo"]: CONTACTABLE, filed["urgent"]: "", filed["koutiala"]: ""}
    by_ref = {r["reference"]: r for r in rows}
    assert by_ref[filed["kadiolo"]]["contactable"] == "True"
    assert by_ref[filed["urgent"]]["urgent"] == "True"
    with app.extensions["db"]() as db:
        stored = db.scalars(select(Case).where(Case.reference == filed["kadiolo"])).one()
    with app.app_context():
        assert (
            keyring.decrypt(stored.reporter_phone, current_app.config["REPORTER_KEY"])
            == CONTACTABLE
        )
    assert stored.reporter_phone != CONTACTABLE  # encrypted at rest, clear only in the export


def test_a_linked_report_is_exported_with_its_case(app, client, auth, staff, filed):
    """A second report about the same site is a row of its own that names its case."""
    answers = ["2", *body("Massiogo")]
    _, done = report(client, *answers, contact=ANONYMOUS, phone="+22376000704")
    linked = reference_of(done)
    assert auth.login(SUPERVISOR).status_code == 302
    assert linked not in listed(client.get("/console/cases"))  # a line of its case
    _, rows = export(client)
    by_ref = {r["reference"]: r for r in rows}
    assert by_ref[linked]["linked_to"] == filed["kadiolo"]
    assert by_ref[linked]["status"] == "linked"
    assert by_ref[filed["kadiolo"]]["reports"] == "2"
