"""Contact import from CSV: good rows kept, bad rows reported by line, re-import updates."""

import io

import pytest
from sqlalchemy import func, select

from app.infra.models import Contact
from app.people.importer import Limits, import_csv

HEADER = "phone,name,role,region,cercle,commune,language"
LANGUAGES = {"fr", "bm"}


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def run(db, *lines: str, languages=LANGUAGES):
    return import_csv(db, io.StringIO("\n".join(lines) + "\n"), languages)


def contact(db, phone: str) -> Contact | None:
    db.expire_all()
    return db.scalars(select(Contact).where(Contact.phone == phone)).first()


def count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Contact))


def test_good_rows_are_added(db):
    report = run(
        db,
        HEADER,
        "+22370000001,Awa Traoré,agent,Sikasso,Kadiolo,Fourou,fr",
        "76 00 00 02,Moussa,focal_point,Koutiala,Yorosso,Yorosso,bm",
    )
    assert (report.added, report.updated, report.errors) == (2, 0, [])
    awa = contact(db, "+22370000001")
    assert (awa.name, awa.role, awa.region, awa.cercle, awa.commune, awa.language) == (
        "Awa Traoré",
        "agent",
        "Sikasso",
        "kadiolo",  # a cercle is stored by its code without the content's names
        "Fourou",
        "fr",
    )
    assert contact(db, "+22376000002").role == "focal_point"  # typed without +223


def test_header_is_read_loosely(db):
    report = run(db, " Phone ,NAME,Role,region,cercle,commune,Language", "70000001,Awa,,,,,FR")
    assert (report.added, report.errors) == (1, [])
    awa = contact(db, "+22370000001")
    assert (awa.role, awa.language, awa.region) == ("community", "fr", None)


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("phone,name,role,region,cercle,commune", "language"),
        ("name,role,region,cercle,commune,language", "phone"),
        ("telephone,nom,role,region,cercle,commune", "language"),
        ("", "phone, name, role, region, cercle, commune, language"),
    ],
)
def test_missing_column_is_a_line_1_error(db, header, missing):
    report = run(db, header, "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr")
    assert report.errors == [f"line 1: missing column(s): {missing}"]
    assert (report.added, report.updated) == (0, 0)
    assert count(db) == 0


def test_empty_file_is_a_line_1_error(db):
    report = import_csv(db, io.StringIO(""), LANGUAGES)
    assert report.errors[0].startswith("line 1: missing column(s)")


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("12,Awa,agent,,,,fr", "line 3: phone '12' is not a phone number"),
        ("not a phone,Awa,agent,,,,fr", "line 3: phone 'not a phone' is not a phone number"),
        (",Awa,agent,,,,fr", "line 3: phone '' is not a phone number"),
        ("+22370000009,Awa,chief,,,,fr", "line 3: role 'chief' is not one of agent, community"),
        ("+22370000009,Awa,agent,,,,en", "line 3: language 'en' has no content (known: bm, fr)"),
        ("+22370000009," + "A" * 61 + ",agent,,,,fr", "line 3: name is over 60 characters"),
        ("+22370000009,Awa,agent,,," + "C" * 61 + ",fr", "line 3: commune is over 60 characters"),
        ("+22370000009,Awa,agent,Koulikoro,Kati,,fr", "line 3: cercle 'Kati' is not a cercle of"),
        ("+22370000009,Awa,agent,,Autre,,fr", "line 3: cercle 'Autre' is not a cercle of the"),
        ("+22370000009,,agent,,Kadiolo,,fr", "line 3: no name: a new contact needs one"),
        ("+22370000009,  ,agent,,,,fr", "line 3: no name: a new contact needs one"),
        ("+22370000001,Awa bis,agent,,,,fr", "line 3: phone +22370000001 already on line 2"),
        ("70000001,Awa bis,agent,,,,fr", "line 3: phone +22370000001 already on line 2"),
    ],
)
def test_bad_rows_are_reported_and_good_rows_kept(db, row, error):
    report = run(
        db,
        HEADER,
        "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr",
        row,
        "+22370000002,Moussa,community,Koutiala,Yorosso,Yorosso,bm",
    )
    assert len(report.errors) == 1
    assert report.errors[0].startswith(error)
    assert report.added == 2
    assert contact(db, "+22370000001").name == "Awa"  # the first line wins
    assert contact(db, "+22370000002") is not None
    assert contact(db, "+22370000009") is None


def test_line_numbers_count_blank_lines(db):
    report = run(db, HEADER, "+22370000001,Awa,agent,,,,fr", "", "bad,Awa,agent,,,,fr")
    assert report.errors == ["line 4: phone 'bad' is not a phone number"]


def test_reimport_updates_instead_of_duplicating(db):
    run(db, HEADER, "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr")
    report = run(db, HEADER, "70000001,Awa Traoré,focal_point,Bougouni,Kolondiéba,Fakola,bm")
    assert (report.added, report.updated, report.errors) == (0, 1, [])
    assert count(db) == 1
    awa = contact(db, "+22370000001")
    assert (awa.name, awa.role, awa.cercle, awa.commune, awa.language) == (
        "Awa Traoré",
        "focal_point",
        "kolondieba",
        "Fakola",
        "bm",
    )


def test_empty_cells_keep_existing_values(db):
    run(db, HEADER, "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr")
    report = run(db, HEADER, "+22370000001,,,,Loulouni,,")
    assert report.updated == 1
    awa = contact(db, "+22370000001")
    assert (awa.name, awa.role, awa.region, awa.cercle, awa.commune, awa.language) == (
        "Awa",
        "agent",  # an empty role does not reset it to community
        "Sikasso",
        "loulouni",
        "Fourou",
        "fr",
    )


def test_reimport_keeps_fields_outside_the_file(db):
    run(db, HEADER, "+22370000001,Awa,agent,,,,fr")
    awa = contact(db, "+22370000001")
    awa.failed_streak = 2
    db.commit()
    run(db, HEADER, "+22370000001,Awa T,agent,,,,fr")
    awa = contact(db, "+22370000001")
    assert (awa.name, awa.failed_streak) == ("Awa T", 2)


def test_short_row_for_an_existing_contact(db):
    run(db, HEADER, "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr")
    report = run(db, HEADER, "+22370000001,Awa Traoré")
    assert report.updated == 1
    assert contact(db, "+22370000001").name == "Awa Traoré"


def test_short_row_for_a_new_contact(db):
    report = run(db, HEADER, "+22370000001,Awa")
    assert (report.added, report.errors) == (1, [])
    assert contact(db, "+22370000001").role == "community"


def test_organisation_column_is_optional(db):
    report = run(
        db,
        HEADER + ",organisation",
        "+22370000001,Awa,agent,,,,fr,ONG Kalan",
        "+22370000002,Moussa,agent,,,,fr,",
        "+22370000003,Fanta,agent,,,,fr," + "O" * 61,
    )
    assert report.added == 2
    assert report.errors == ["line 4: organisation is over 60 characters"]
    assert contact(db, "+22370000001").organisation == "ONG Kalan"
    assert contact(db, "+22370000002").organisation is None
    run(db, HEADER, "+22370000001,Awa,agent,,,,fr")  # without the column: kept
    assert contact(db, "+22370000001").organisation == "ONG Kalan"


def test_quoted_cells(db):
    report = run(db, HEADER, '+22370000001,"Traoré, Awa",agent,,,,fr')
    assert report.added == 1
    assert contact(db, "+22370000001").name == "Traoré, Awa"


def write(tmp_path, *lines: str, bom: bool = False) -> str:
    path = tmp_path / "contacts.csv"
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_cli_import(app, runner, tmp_path):
    path = write(
        tmp_path,
        HEADER,
        "+22370000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr",
        "+22370000002,Moussa,community,Koutiala,Yorosso,Yorosso,",
        bom=True,  # as saved by a spreadsheet
    )
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 added, 0 updated, 0 rejected"
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 0
    assert result.stdout.strip() == "0 added, 2 updated, 0 rejected"
    with app.extensions["db"]() as db:
        assert count(db) == 2


def test_cli_import_reports_bad_rows(app, runner, tmp_path):
    path = write(
        tmp_path,
        HEADER,
        "+22370000001,Awa,agent,,,,fr",
        "12,Bad,agent,,,,fr",
        "+22370000003,Fanta,boss,,,,fr",
        "+22370000004,Mariam,agent,,,,bm",  # the app's content has French only
    )
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3: phone '12' is not a phone number",
        "line 4: role 'boss' is not one of agent, community, supervisor, focal_point",
        "line 5: language 'bm' has no content (known: fr)",
    ]
    assert result.stdout.strip() == "1 added, 0 updated, 3 rejected"
    with app.extensions["db"]() as db:
        assert contact(db, "+22370000001") is not None
        assert count(db) == 1


def test_cli_import_missing_file(runner, tmp_path):
    result = runner.invoke(["contacts", "import", str(tmp_path / "absent.csv")])
    assert result.exit_code == 2
    assert "absent.csv" in result.output


def test_cli_import_keeps_good_rows_of_a_file_that_is_not_all_utf8(app, runner, tmp_path):
    path = tmp_path / "latin1.csv"
    header = b"phone,name,role,region,cercle,commune,language\n"
    path.write_bytes(header + b"+22370000001,Awa,agent,,,,fr\n+22370000002,Tra\xe9,agent,,,,fr\n")
    result = runner.invoke(["contacts", "import", str(path)])
    assert result.exit_code == 1
    assert "line 3: not UTF-8 text (save the file as CSV UTF-8)" in result.output
    assert "1 added, 0 updated, 1 rejected" in result.output


def test_cli_import_refuses_nul_and_giant_cells(app, runner, tmp_path):
    path = tmp_path / "odd.csv"
    giant = "x" * 200_000
    path.write_text(
        "phone,name,role,region,cercle,commune,language\n"
        "+22370000001,A\x00wa,agent,,,,fr\n"
        f"+22370000002,{giant},agent,,,,fr\n",
        encoding="utf-8",
    )
    result = runner.invoke(["contacts", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: a cell contains a NUL character" in result.output
    assert "unreadable CSV" in result.output and "Traceback" not in result.output


KADIOLO = Limits(inside=lambda region, cercle: (cercle or "").lower() == "kadiolo", scope="Kadiolo")
STRANGER, UNKNOWN = "+22370000005", "+22370000006"


def outcome(report) -> tuple:
    """What a report tells, whichever number the line named."""
    return report.added, report.updated, [(line, code) for line, code, _ in report.problems]


@pytest.mark.parametrize(
    ("region", "cercle", "cells", "checked", "imported"),
    [
        (None, "Yorosso", "Kadiolo", (1, 0, []), (0, 0, [(2, "taken")])),  # another cercle's
        ("Koutiala", None, "Kadiolo", (1, 0, []), (0, 0, [(2, "taken")])),  # another region's
        (None, None, "Kadiolo", (1, 0, []), (0, 0, [(2, "taken")])),  # it called: never placed
        (None, "Yorosso", "", (0, 0, [(2, "outside")]), (0, 0, [(2, "outside")])),
        (None, None, "", (0, 0, [(2, "outside")]), (0, 0, [(2, "outside")])),
        (None, "Yorosso", "Yorosso", (0, 0, [(2, "outside")]), (0, 0, [(2, "outside")])),
    ],
)
def test_a_scoped_check_shows_a_contact_outside_the_area_as_an_unknown_number(
    db, region, cercle, cells, checked, imported
):
    """The check says the same of a number known elsewhere as of a new one; the import then
    leaves the known contact as it was, without saying why."""
    db.add(Contact(phone=STRANGER, role="agent", name="Awa", region=region, cercle=cercle))
    db.commit()

    def check(phone, dry_run=True):
        line = f"{phone},Moussa,community,,{cells},,fr"
        return import_csv(db, io.StringIO(f"{HEADER}\n{line}\n"), LANGUAGES, dry_run, KADIOLO)

    assert outcome(check(STRANGER)) == outcome(check(UNKNOWN)) == checked
    report = check(STRANGER, dry_run=False)
    assert outcome(report) == imported
    kept = contact(db, STRANGER)
    assert (kept.name, kept.role, kept.region, kept.cercle) == ("Awa", "agent", region, cercle)
    if imported[2] == [(2, "taken")]:
        assert report.errors == [
            f"line 2: phone {STRANGER} was not imported: only an admin can add it to your area"
        ]


@pytest.mark.parametrize(
    ("cells", "expected", "cercle"),
    [
        ("", (0, 1, []), "kadiolo"),
        ("KADIOLO", (0, 1, []), "kadiolo"),
        ("Yorosso", (0, 0, [(2, "outside")]), "kadiolo"),
    ],
)
def test_a_scoped_import_updates_its_own_contacts_and_keeps_them_inside(
    db, cells, expected, cercle
):
    """A contact of the area is updated (a blank cercle keeps its own), but not moved out."""
    db.add(Contact(phone=STRANGER, role="agent", name="Awa", cercle="kadiolo"))
    db.commit()
    line = f"{STRANGER},Awa Traoré,agent,,{cells},,fr"
    report = import_csv(db, io.StringIO(f"{HEADER}\n{line}\n"), LANGUAGES, False, KADIOLO)
    assert outcome(report) == expected
    assert contact(db, STRANGER).cercle == cercle


def test_a_french_header_and_french_roles_are_read(db):
    """telephone,nom,...,langue and the roles in French name the same columns and roles."""
    report = run(
        db,
        "Téléphone,Nom,Rôle,Région,Cercle,Commune,Langue,Organisation",
        "70000001,Awa,agent,Sikasso,Kadiolo,Fourou,fr,RMCR",
        "76000002,Moussa,communautaire,,,,,",
        "66000003,Fanta,point_focal,,,,,",
        "66000004,Oumar,Point focal,,,,,",
        "66000005,Ibrahim,Superviseur,,,,,",
        "66000006,Binta,chef,,,,,",
    )
    assert report.errors == [
        "line 7: role 'chef' is not one of agent, community, supervisor, focal_point"
    ]
    assert report.problems[0][2]["french"] == "communautaire, agent, point_focal, superviseur"
    phones = ("+22370000001", "+22376000002", "+22366000003", "+22366000004", "+22366000005")
    roles = [contact(db, phone).role for phone in phones]
    assert roles == ["agent", "community", "focal_point", "focal_point", "supervisor"]
    awa = contact(db, "+22370000001")
    assert (awa.name, awa.language, awa.organisation) == ("Awa", "fr", "RMCR")
    assert awa.commune == "Fourou"


def test_a_missing_french_column_is_named_in_both_languages(db):
    report = run(db, "telephone,nom,role,region,cercle,commune", "70000001,Awa,,,,")
    assert report.errors == ["line 1: missing column(s): language"]
    assert report.problems[0][2]["both"] == "language (langue)"


def test_a_contact_known_without_a_name_needs_one(db):
    """A number that only called has no name: a line that leaves it nameless is refused."""
    db.add(Contact(phone="+22376000009", role="community"))
    db.commit()
    report = run(db, HEADER, "+22376000009,,,,Kadiolo,,")
    assert report.errors == ["line 2: no name: a new contact needs one"]
    assert contact(db, "+22376000009").cercle is None
    assert run(db, HEADER, "+22376000009,Awa,,,Kadiolo,,").updated == 1
    assert contact(db, "+22376000009").name == "Awa"


def test_the_cli_stores_each_cercle_as_the_content_names_it(app, runner, tmp_path):
    """However a known cercle is typed, it is kept as it is spelt in the content."""
    path = write(
        tmp_path,
        "telephone,nom,role,region,cercle,commune,langue",
        "+22370000001,Awa,agent,Bougouni,KOLONDIEBA,,fr",
        "+22370000002,Moussa,agent,Koutiala,mpessoba,,fr",
        "+22370000003,Fanta,agent,Sikasso, kadiolo ,,fr",
        "+22370000004,Mariam,agent,Kayes,Kita,,fr",
    )
    result = runner.invoke(["contacts", "import", path])
    assert result.exit_code == 1
    assert result.stderr.startswith("line 5: cercle 'Kita' is not a cercle of the programme (")
    assert "Kolondiéba" in result.stderr and "M'Pessoba" in result.stderr
    with app.extensions["db"]() as db:
        stored = [contact(db, f"+2237000000{n}").cercle for n in (1, 2, 3)]
        assert stored == ["Kolondiéba", "M'Pessoba", "Kadiolo"]
        assert contact(db, "+22370000004") is None
