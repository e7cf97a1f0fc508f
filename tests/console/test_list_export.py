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
    VIEWER,
    body,
    file_old_report,
    file_reports,
    page,
    report,
    visible,
)
from .conftest import CONTACTABLE, export, listed, reference_of

NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


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


def listed_in_order(response) -> list[str]:
    return re.findall(r'href="/console/cases/([A-Z0-9]{6})"', response.get_data(as_text=True))


def errors_of(response) -> list[str]:
    return re.findall(r'<p class="flash error" role="alert">([^<]*)</p>', page(response))


def test_every_case_is_reached_page_after_page(app, client, auth, staff):
    """Past 200 cases the list goes on: 50 a page, each case on one page only, though
    cases filed in the same hour share their time."""
    filed = file_reports(app, 205)
    assert auth.login(ADMIN).status_code == 302
    seen, path, pages = [], "/console/cases", 0
    while path:
        response = client.get(path)
        assert response.status_code == 200
        shown = listed_in_order(response)
        assert len(shown) == (50 if pages < 4 else 5)
        seen += shown
        pages += 1
        assert f"Page {pages} sur 5" in visible(response)
        found = NEXT.search(response.get_data(as_text=True))
        path = found and found.group(1).replace("&amp;", "&")
    assert pages == 5 and len(seen) == len(set(seen)) == 205 and set(seen) == set(filed)
    second = visible(client.get("/console/cases?page=2"))
    assert "Dossiers 51 à 100 sur 205." in second and "« Page précédente" in second


def test_the_pages_keep_the_filters(app, client, auth, staff):
    """Next and previous pages list the same filtered cases."""
    urgent = file_reports(app, 60, urgent=True)
    file_reports(app, 10, first=400000)  # calm ones, left out
    file_reports(app, 5, first=500000, urgent=True, cercle="loulouni")  # another cercle
    assert auth.login(ADMIN).status_code == 302
    first = client.get("/console/cases?urgent=1&cercle=kadiolo")
    link = NEXT.search(first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert "urgent=1" in link and "cercle=kadiolo" in link and "page=2" in link
    second = client.get(link)
    assert set(listed_in_order(first)) | set(listed_in_order(second)) == set(urgent)
    assert "Dossiers 51 à 60 sur 60." in visible(second)


@pytest.mark.parametrize(
    ("query", "shown", "error"),
    [
        ("page=abc", 50, "Numéro de page non valide : la première page est affichée."),
        ("page=0", 50, "Numéro de page non valide : la première page est affichée."),
        ("page=-2", 50, "Numéro de page non valide : la première page est affichée."),
        ("page=99999999999", 50, "Numéro de page non valide : la première page est affichée."),
        ("page=9", 10, None),  # past the end: the last page
        ("page=%EF%BC%92", 50, "Numéro de page non valide : la première page est affichée."),
    ],
)
def test_a_bad_page_number_is_said_and_a_page_shown(app, client, auth, staff, query, shown, error):
    file_reports(app, 60)
    assert auth.login(ADMIN).status_code == 302
    response = client.get("/console/cases?" + query)
    assert response.status_code == 200
    assert len(listed_in_order(response)) == shown
    assert errors_of(response) == ([error] if error else [])


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("300001", {"300001"}),
        (" 300 001 ", {"300001"}),
        ("300-001", {"300001"}),
        ("3000", {"300000", "300001", "300002"}),  # a part of one
        ("acd479", {OLD_REFERENCE}),  # a reference of letters, typed in lower case
        ("CD4", {OLD_REFERENCE}),
        ("999999", set()),
    ],
)
def test_a_case_is_found_by_its_reference(app, client, auth, staff, typed, expected):
    """A reference, whole or in part, with spaces or dashes, of digits or of letters."""
    file_reports(app, 3)
    file_old_report(app)
    assert auth.login(ADMIN).status_code == 302
    response = client.get("/console/cases", query_string={"q": typed})
    assert listed(response) == expected
    assert errors_of(response) == []
    assert f'name="q" value="{typed}"' in page(response)  # the search stays in its field


@pytest.mark.parametrize("typed", ["48#913", "4829134", "ACD 479 X", "٤٨٢٩١٣", "%", "_____"])
def test_a_search_that_cannot_be_a_reference_is_said(app, client, auth, staff, typed):
    file_reports(app, 3)
    assert auth.login(ADMIN).status_code == 302
    response = client.get("/console/cases", query_string={"q": typed})
    assert response.status_code == 200
    assert listed(response) == set()
    assert errors_of(response) == [
        "Référence non valide : 6 chiffres (ou 6 lettres et chiffres pour les anciennes), "
        "ou une partie."
    ]


def test_a_search_finds_a_linked_report_and_stays_in_the_scope(app, client, auth, staff, filed):
    """The reference a second reporter was given is found, as a report joined to its case;
    a supervisor never finds another cercle's case."""
    _, done = report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000704")
    linked = reference_of(done)
    assert auth.login(SUPERVISOR).status_code == 302
    found = client.get("/console/cases", query_string={"q": linked})
    assert listed(found) == {linked}
    assert "rattaché" in visible(found)
    elsewhere = client.get("/console/cases", query_string={"q": filed["koutiala"]})
    assert listed(elsewhere) == set() and "Aucun dossier." in page(elsewhere)


@pytest.mark.parametrize(
    ("email", "cercles"),
    [
        (ADMIN, 27),  # the programme's 26, and the reports that named none
        (SUPERVISOR, 1),  # Kadiolo
        (VIEWER, 9),  # the Koutiala region's 8, and its reports that named none
    ],
)
def test_the_cercle_is_chosen_from_the_users_own(app, client, auth, staff, email, cercles):
    assert auth.login(email).status_code == 302
    text = page(client.get("/console/cases?cercle=kadiolo"))
    select = re.search(r'<select name="cercle">(.*?)</select>', text, re.S).group(1)
    options = re.findall(r'<option value="([a-z]*)"', select)
    assert options[0] == "" and len(options) == cercles + 1
    assert ("kadiolo" in options) == (email != VIEWER)
    assert ('<option value="kadiolo" selected>' in select) == (email != VIEWER)
    if email == ADMIN:
        assert '<optgroup label="Bougouni">' in select and ">Kolondiéba</option>" in select


@pytest.mark.parametrize(
    ("email", "query", "expected", "error"),
    [
        (ADMIN, "cercle=KOLONDIÉBA", {"kolondieba"}, None),
        (ADMIN, "cercle=Kolondieba", {"kolondieba"}, None),
        (ADMIN, "cercle=unknown", {"unknown"}, None),
        (ADMIN, "cercle=Kati", set(), "Ce cercle n'existe pas dans le programme : choisissez-le "
                                     "dans la liste."),
        (SUPERVISOR, "cercle=kolondieba", set(), "Ce cercle n'est pas dans votre zone : "
                                                 "choisissez-le dans la liste."),
        (SUPERVISOR, "cercle=unknown", set(), "Ce cercle n'est pas dans votre zone : "
                                              "choisissez-le dans la liste."),
        (VIEWER, "cercle=unknown", set(), None),  # its region's: none named no cercle
    ],
)  # fmt: skip
def test_a_cercle_outside_the_list_is_said(app, client, auth, staff, email, query, expected, error):
    by_cercle = {}
    for n, (cercle, region) in enumerate((("kolondieba", "bougouni"), ("unknown", "sikasso"))):
        by_cercle[cercle] = file_reports(app, 1, first=600000 + n, cercle=cercle, region=region)[0]
    assert auth.login(email).status_code == 302
    response = client.get("/console/cases?" + query)
    assert listed(response) == {by_cercle[c] for c in expected}
    assert errors_of(response) == ([error] if error else [])
