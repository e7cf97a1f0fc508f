"""Importing contacts from a CSV file: checked first, then imported."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from app.infra.models import AuditEntry, Contact
from app.web.console.contacts import MAX_FILE

from ..helpers import assert_french, page, visible
from .conftest import flashed

NO_FILE = "Choisissez un fichier CSV de 5 Mo au plus."
EXPIRED = "La vérification a expiré : choisissez le fichier à nouveau."


def count_contacts(app) -> int:
    """Return how many contacts the database holds."""
    with app.extensions["db"]() as db:
        return db.scalar(select(func.count()).select_from(Contact))


HEADER = "phone,name,role,region,cercle,commune,language,organisation\n"
GOOD_AND_BAD = (
    HEADER
    + "70000001,,,,,,,AMPPF\n"  # line 2: a known agent, new organisation
    + "76100001,Mariam Koné,community,sikasso,Kadiolo,Fourou,fr,\n"  # 3: new
    + "123,Personne,agent,,,,,\n"  # 4: not a phone
    + "76100002,Oumar Sidibé,chef,,,,,\n"  # 5: no such role
    + "76100003,Adama Keïta,agent,,Sikasso,,bm,\n"  # 6: no content in Bambara
    + "+223 76 10 00 01,Mariam bis,,,,,,\n"  # 7: line 3's phone again
    + "66100004,Sékou Traoré,focal_point,koutiala,Koutiala,,,DRPFEF\n"  # 8: new
)
PROBLEMS = [
    ("4", '"123" n\'est pas un numéro de téléphone'),
    ("5", 'la fonction "chef" est inconnue (fonctions : '),
    ("6", 'la langue "bm" n\'a pas de contenus (langues : fr)'),
    ("7", "le numéro +22376100001 figure déjà ligne 3"),
]


def upload(auth, content: bytes | None, name="contacts.csv"):
    """Send the import form with this file (or none)."""
    form = {} if content is None else {"file": (io.BytesIO(content), name)}
    return auth.post("/console/contacts/import", follow=False, **form)


def problems_of(response) -> list[tuple[str, str]]:
    """Return the rejected lines a page lists."""
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td></tr>", response.get_data(as_text=True))
    return [(line, html.unescape(problem)) for line, problem in rows]


def test_an_import_is_checked_first_then_imported_once(app, client, auth, sign_in, seeded):
    """The check lists each rejected line in French and writes nothing; confirming imports once."""
    sign_in("national")
    before = count_contacts(app)
    checked = upload(auth, GOOD_AND_BAD.encode())
    assert checked.status_code == 200
    assert_french(checked)
    assert "2 à ajouter, 1 à mettre à jour, 4 lignes refusées." in visible(checked)
    problems = problems_of(checked)
    assert [line for line, _ in problems] == [line for line, _ in PROBLEMS]
    for (_, shown), (_, expected) in zip(problems, PROBLEMS, strict=True):
        assert shown.startswith(expected)
    assert count_contacts(app) == before  # nothing written by the check
    with app.extensions["db"]() as db:
        known = select(Contact.organisation).where(Contact.phone == "+22370000001")
        assert db.scalars(known).one() == "RMCR"
        assert db.scalars(select(Contact).where(Contact.phone == "+22376100001")).first() is None
    token = re.search(r'name="token" value="([^"]+)"', checked.get_data(as_text=True)).group(1)

    done = auth.post("/console/contacts/import/confirm", token=token)
    assert done.status_code == 200
    assert flashed(done) == ["Contacts importés."]
    assert "2 ajoutés, 1 mis à jour, 4 lignes ignorées." in visible(done)
    assert 'name="token"' not in page(done)  # nothing left to confirm
    assert count_contacts(app) == before + 2
    with app.extensions["db"]() as db:
        agent = db.scalars(select(Contact).where(Contact.phone == "+22370000001")).one()
        mariam = db.scalars(select(Contact).where(Contact.phone == "+22376100001")).one()
    assert (agent.name, agent.role, agent.organisation) == ("Awa Traoré", "agent", "AMPPF")
    assert (mariam.name, mariam.cercle, mariam.commune, mariam.language) == (
        "Mariam Koné", "Kadiolo", "Fourou", "fr")  # fmt: skip

    again = auth.post("/console/contacts/import/confirm", token=token)
    assert again.request.path == "/console/contacts/import"
    assert flashed(again) == [EXPIRED]
    assert count_contacts(app) == before + 2


def test_a_scoped_supervisor_imports_only_inside_its_area(app, client, auth, sign_in, seeded):
    """A Kadiolo supervisor adds Kadiolo contacts; a line about anyone else is refused."""
    email = sign_in("scoped")  # cercle=kadiolo
    rows = (
        HEADER
        + "76100011,Awa Sanogo,community,,kadiolo,,,\n"  # 2: new, in Kadiolo: kept
        + "76100012,Sans lieu,community,,,,,\n"  # 3: new, nowhere: refused
        + "70000002,Moussa,agent,,Kadiolo,,,\n"  # 4: Koutiala's agent moved here: refused
        + "76100013,Ailleurs,community,sikasso,Sikasso,,,\n"
    )  # 5: another cercle: refused
    checked = upload(auth, rows.encode())
    # Line 4 looks like a new number: the check does not tell that Moussa exists.
    assert "2 à ajouter, 0 à mettre à jour, 2 lignes refusées." in visible(checked)
    assert [line for line, _ in problems_of(checked)] == ["3", "5"]
    assert all("hors de votre zone (Kadiolo)" in why for _, why in problems_of(checked))
    token = re.search(r'name="token" value="([^"]+)"', page(checked)).group(1)
    done = auth.post("/console/contacts/import/confirm", token=token)
    assert "1 ajouté, 0 mis à jour, 3 lignes ignorées." in visible(done)
    assert problems_of(done)[1] == (
        "4", "le numéro +22370000002 n'a pas été importé : seul un administrateur peut "
        "l'ajouter à votre zone")  # fmt: skip
    with app.extensions["db"]() as db:
        moussa = db.scalars(select(Contact).where(Contact.phone == "+22370000002")).one()
        assert (moussa.name, moussa.cercle) == ("Moussa Diarra", "Koutiala")  # untouched
        assert db.scalar(select(func.count()).where(Contact.phone.like("+2237610001%"))) == 1
        logged = db.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).where(
            AuditEntry.action == "contact.import_refused")).all()  # fmt: skip
    assert logged == [(email, "contact.import_refused", "+22370000002")]


@pytest.mark.parametrize(
    ("known", "cells"),
    [
        ({"cercle": "Koutiala"}, "community,,Kadiolo"),  # another cercle's contact
        ({"region": "sikasso"}, "community,,Kadiolo"),  # another region's
        ({}, "community,,Kadiolo"),  # a number that only called: never placed
        ({"cercle": "Koutiala"}, "community,,"),  # no place on the line
        ({"cercle": "Koutiala"}, "community,sikasso,Sikasso"),  # another place on the line
    ],
)
def test_a_scoped_check_says_nothing_of_numbers_outside_its_area(
    app, client, auth, sign_in, known, cells
):
    """The check of a number known outside Kadiolo reads as that of a number never seen."""
    with app.extensions["db"]() as db:
        db.add(Contact(phone="+22376200001", role="community", failed_streak=0, **known))
        db.commit()
    sign_in("scoped")  # cercle=kadiolo
    shown = []
    for phone in ("76200001", "76200002"):  # known elsewhere, never seen
        checked = upload(auth, f"{HEADER}{phone},Nom,{cells},,,\n".encode())
        assert checked.status_code == 200
        shown.append(visible(checked).replace(phone, "NUMBER"))  # the words, not the token
    assert shown[0] == shown[1]


def test_an_import_over_ten_thousand_lines_stops_there(app, client, auth, sign_in):
    """A web request reads at most 10,000 lines, says so first, and lists 200 problems."""
    sign_in("admin")
    rows = HEADER + "123,,,,,,,\n" * 10_001  # cheap to check: no phone, no database
    checked = upload(auth, rows.encode())
    assert "0 à ajouter, 0 à mettre à jour, 10001 lignes refusées." in visible(checked)
    problems = problems_of(checked)
    assert problems[0] == ("10002", "plus de 10000 lignes : coupez le fichier en plusieurs ; "
                                    "la suite n'est pas lue")  # fmt: skip
    assert len(problems) == 200 and problems[1][0] == "2"
    assert "… et 9801 autres lignes refusées, non listées ici" in visible(checked)


def test_a_check_belongs_to_the_user_who_made_it(app, client, auth, sign_in, seeded):
    """Another user cannot confirm someone else's checked file with its token."""
    sign_in("scoped")
    checked = upload(auth, GOOD_AND_BAD.encode())
    token = re.search(r'name="token" value="([^"]+)"', checked.get_data(as_text=True)).group(1)
    before = count_contacts(app)
    sign_in("national")
    response = auth.post("/console/contacts/import/confirm", token=token)
    assert EXPIRED in page(response)
    assert count_contacts(app) == before


@pytest.mark.parametrize("content", [None, b""], ids=["no-file", "empty"])
def test_no_file_is_a_french_400(app, client, auth, sign_in, content):
    """A form sent without a file, or with an empty one, is refused in French."""
    sign_in("admin")
    response = upload(auth, content)
    assert response.status_code == 400
    assert_french(response)
    assert NO_FILE in page(response)
    assert 'name="token"' not in page(response)


def test_a_file_over_5_mb_is_a_french_400(app, client, auth, sign_in):
    """A file over 5 MB is refused with the French line, and nothing is written."""
    sign_in("admin")
    content = (HEADER + "70000009,,,,,,,\n").encode().ljust(MAX_FILE + 1)
    response = upload(auth, content)
    assert response.status_code == 400
    assert_french(response)
    assert NO_FILE in page(response)
    assert count_contacts(app) == 0


def test_a_file_of_two_hundred_contacts_is_checked(app, client, auth, sign_in):
    """A 12 KB CSV, far below the 5 MB the page promises, is checked like a small one."""
    sign_in("admin")
    rows = "".join(f"7620{n:04d},Contact {n},community,sikasso,Kadiolo,Fourou,fr,\n"
                   for n in range(200))  # fmt: skip
    content = (HEADER + rows).encode()
    assert 8 * 1024 < len(content) < MAX_FILE
    response = upload(auth, content)
    assert response.status_code == 200
    assert "200 à ajouter, 0 à mettre à jour, 0 ligne refusée." in visible(response)


def test_a_file_without_the_columns_says_which_are_missing(app, client, auth, sign_in, seeded):
    """A CSV without the required columns lists the missing ones, and imports nothing."""
    sign_in("admin")
    before = count_contacts(app)
    response = upload(auth, b"Phone,Name,Cercle\n70000009,Binta,Sikasso\n")
    assert response.status_code == 200
    assert problems_of(response) == [
        ("1", "colonnes manquantes : role, region, commune, language (langue)")
    ]
    assert "0 à ajouter, 0 à mettre à jour, 1 ligne refusée." in visible(response)
    assert count_contacts(app) == before


def test_a_line_that_is_not_utf8_is_refused_alone(app, client, auth, sign_in):
    """A line in Latin-1 is refused in French; the UTF-8 lines around it are kept."""
    sign_in("admin")
    content = (
        (HEADER + "76100011,Aïssata,,,,,,\n").encode()
        + "76100012,Aïssata,,,,,,\n".encode("latin-1")
        + b"76100013,Binta,,,,,,\n"
    )
    response = upload(auth, content)
    assert "2 à ajouter, 0 à mettre à jour, 1 ligne refusée." in visible(response)
    assert problems_of(response) == [
        ("3", 'texte non UTF-8 (enregistrez le fichier en "CSV UTF-8")')
    ]


def test_a_french_file_is_checked_and_its_unknown_cercles_and_empty_names_refused(
    app, client, auth, sign_in
):
    """A French header and roles are read; an unknown cercle or a new contact without a name
    is refused in French, and a known cercle is kept as the content spells it."""
    sign_in("admin")
    intro = visible(client.get("/console/contacts/import"))
    assert "telephone, nom, role, region, cercle, commune, langue" in intro
    rows = (
        "telephone,nom,role,region,cercle,commune,langue\n"
        "76100021,Awa Sanogo,communautaire,bougouni,kolondieba,,fr\n"  # 2: kept
        "76100022,Oumar Diallo,point_focal,,Kati,,fr\n"  # 3: not a cercle of the programme
        "76100023,,agent,,Kadiolo,,fr\n"  # 4: no name
    )
    checked = upload(auth, rows.encode())
    assert "1 à ajouter, 0 à mettre à jour, 2 lignes refusées." in visible(checked)
    (line3, cercle), (line4, name) = problems_of(checked)
    assert (line3, line4) == ("3", "4")
    assert cercle.startswith('le cercle "Kati" n\'est pas un cercle du programme (cercles : ')
    assert "Kolondiéba" in cercle and cercle.endswith("si vous ne le savez pas")
    assert name == "le nom est vide : un nouveau contact doit avoir un nom"
    token = re.search(r'name="token" value="([^"]+)"', page(checked)).group(1)
    auth.post("/console/contacts/import/confirm", token=token)
    with app.extensions["db"]() as db:
        added = db.scalars(select(Contact).where(Contact.phone.like("+2237610002%"))).all()
    assert [(c.name, c.role, c.cercle) for c in added] == [("Awa Sanogo", "community",
                                                             "Kolondiéba")]  # fmt: skip
