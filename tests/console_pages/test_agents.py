"""The agents page and the certificate check."""

import html
import re

import pytest
from sqlalchemy import select

from app.infra.models import Certificate, Contact, ModuleProgress, utcnow

from ..helpers import assert_french, page, visible
from .conftest import AGENTS, seeded_agent, took_both_tests


def agent_rows(response) -> dict[str, list[str]]:
    """Return the agents table as phone: cells."""
    text = response.get_data(as_text=True)
    body_ = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in text else ""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body_, re.S):
        cells = [" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split())
                 for c in re.findall(r"<td>(.*?)</td>", row, re.S)]  # fmt: skip
        rows[cells[1]] = cells
    return rows


def french_page(client, sign_in, role: str, url: str):
    """Sign in as role, get url, and check it is a French page; return the response."""
    sign_in(role)
    response = client.get(url)
    assert response.status_code == 200
    assert_french(response)
    return response


def test_the_agents_page_lists_agents_with_their_modules_passed(app, client, sign_in, seeded):
    """Only contacts with the agent role are listed, each with "x sur N" modules passed."""
    course = app.extensions["catalog"].course
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        for module, status in zip(course.modules[:3], ("passed", "passed", "started"), strict=True):
            db.add(ModuleProgress(contact_id=awa.id, module=module.id, status=status))
        db.commit()
    response = french_page(client, sign_in, "admin", "/console/agents")
    rows = agent_rows(response)
    assert set(rows) == set(AGENTS)  # no focal point, supervisor or community member
    total = len(course.modules)
    for phone, name in AGENTS.items():
        assert rows[phone][0] == name
        assert rows[phone][4] == f"{2 if name == 'Awa Traoré' else 0} sur {total}"
    assert rows["+22370000001"][2:4] == ["RMCR", "Sikasso"]


@pytest.mark.parametrize(
    ("scope", "phones"),
    [
        ("cercle=sikasso", {"+22370000001"}),
        ("cercle=Koutiala", {"+22370000002"}),
        ("region=bougouni", {"+22370000003"}),  # no region filled in: its cercle is Bougouni
        ("cercle=kadiolo", set()),
    ],
)
def test_a_scoped_supervisor_sees_only_the_agents_of_its_scope(
    app, client, sign_in, seeded, scope, phones
):
    """The scope matches the agent's cercle (or region, or a cercle of the region) whatever its
    case: "Sikasso" is sikasso."""
    sign_in("scoped", scope=scope)
    response = client.get("/console/agents")
    assert response.status_code == 200
    assert set(agent_rows(response)) == phones
    assert ("Aucun agent." in page(response)) is (not phones)


@pytest.mark.parametrize("code", ["ZZ9999", "<b>X</b>"])
def test_an_unknown_certificate_code_is_said_so(app, client, sign_in, seeded, code):
    """A code nobody holds gets the French answer, the code shown as typed and escaped."""
    sign_in("viewer")
    response = client.get("/console/certificates", query_string={"code": f"  {code} "})
    assert response.status_code == 200
    assert_french(response)
    assert f"Aucun certificat ne porte le code {code}." in page(response)
    assert "<b>X</b>" not in response.get_data(as_text=True)
    assert "est valide" not in page(response)


def test_a_real_certificate_is_valid_and_names_its_holder(app, client, sign_in, seeded):
    """A certificate's code, typed in any case, shows its holder, date and score."""
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        issued = utcnow()
        db.add(Certificate(contact_id=awa.id, code="K7Q2MX", modules=8, score=37, questions=40,
                           issued_at=issued))  # fmt: skip
        db.commit()
    response = french_page(client, sign_in, "national", "/console/certificates?code=k7q2mx")
    shown = visible(response)
    assert "Le certificat K7Q2MX est valide." in shown
    for words in ("Awa Traoré", "+22370000001", "RMCR", issued.strftime("%d/%m/%Y"),
                  "37 bonnes réponses sur 40, 8 modules"):  # fmt: skip
        assert words in shown
    assert "Aucun certificat" not in shown
    for who, scope, seen in (("viewer", "region=sikasso", True),
                             ("scoped", "region=koutiala", False)):  # fmt: skip
        sign_in(who, scope=scope)
        inside = visible(client.get("/console/certificates?code=K7Q2MX"))
        assert ("Awa Traoré" in inside) is seen, scope  # holders outside the area stay unseen
        assert ("Aucun certificat ne porte le code K7Q2MX." in inside) is not seen
    sign_in("admin")  # the agents page links to it
    assert agent_rows(client.get("/console/agents"))["+22370000001"][8] == "K7Q2MX"
    assert 'href="/console/certificates?code=K7Q2MX"' in page(client.get("/console/agents"))


def test_the_agents_page_says_who_began_without_the_pre_test(app, client, sign_in, seeded):
    """Awa's gain shows; Moussa began without the pre-test: said on his line, counted above."""
    course = app.extensions["catalog"].course
    began = utcnow()
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        moussa = db.scalars(select(Contact).where(Contact.phone == "+22370000002")).one()
        for contact in (awa, moussa):
            db.add(ModuleProgress(contact_id=contact.id, module=course.modules[0].id,
                                  status="started", started_at=began))  # fmt: skip
        took_both_tests(db, awa.id, course.pretest, began, post_correct=True)
        db.commit()
    response = french_page(client, sign_in, "admin", "/console/agents")
    rows = agent_rows(response)
    assert [rows[phone][6] for phone in AGENTS] == ["+100 pts", "sans pré-test", "—"]
    assert "Agents ayant commencé sans pré-test, donc sans progrès mesuré : 1." in visible(response)
