"""The contacts list and each contact's page: found by part of a name or number and
filters, a page at a time, within the user's area; a contact's history, never their reports."""

import re

import pytest
from sqlalchemy import select

from app.infra.models import AuditEntry, Certificate, Contact, Message, ModuleProgress, utcnow
from app.messaging import outbox

from ..helpers import ANONYMOUS, CALM, SMS, assert_french, body, page, report, visible
from ..test_sms import inbound
from .conftest import add_campaign, add_contact, cells, expand, seeded_agent


def listed(response) -> list[str]:
    """Return the phones the contacts list shows, in order."""
    return [row[1] for row in cells(response, "")]


def found(client, **query) -> list[str]:
    response = client.get("/console/contacts", query_string=query)
    assert response.status_code == 200
    assert_french(response)
    return listed(response)


def test_contacts_are_found_by_part_of_a_name_or_number_and_by_filters(
    app, client, sign_in, seeded
):
    """Case and accents aside; by cercle (code or name as typed), role, organisation and
    training; the filters combine."""
    add_contact(app, "+22376100001", "Mariam TRAORE", "kadiolo", organisation="rmcr")
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        db.add(ModuleProgress(contact_id=awa.id, module="m1", status="passed"))
        db.add(Certificate(contact_id=awa.id, code="AB12CD34", modules=13, score=60,
                           questions=65, issued_at=utcnow()))  # fmt: skip
        diarra = db.scalars(select(Contact).where(Contact.phone == "+22370000002")).one()
        db.add(ModuleProgress(contact_id=diarra.id, module="m1", status="started"))
        db.commit()
    sign_in("admin")
    assert found(client, q="traore") == ["+22370000001", "+22376100001"]  # Awa Traoré too
    assert found(client, q="Traoré") == ["+22370000001", "+22376100001"]
    assert found(client, q="oumat") == ["+22370000003"]  # Fatoumata Coulibaly
    assert found(client, q="70 00 00 02") == ["+22370000002"]
    # By name (Ibrahim Sangaré, Point focal Koutiala, Point focal Sikasso), the nameless last.
    assert found(client, q="6000") == ["+22366000003", "+22366000002", "+22366000001",
                                       "+22376000001", "+22376000002"]  # fmt: skip
    assert found(client, cercle="kadiolo") == ["+22376100001"]
    assert found(client, cercle="sikasso") == ["+22370000001", "+22366000001", "+22376000001"]
    assert found(client, role="agent", cercle="koutiala") == ["+22370000002"]
    assert found(client, organisation="RMCR") == ["+22370000001", "+22376100001"]
    assert found(client, training="certified") == ["+22370000001"]
    assert found(client, training="started") == ["+22370000002"]
    assert "+22370000001" not in found(client, training="none")
    assert found(client, q="personne") == []
    response = client.get("/console/contacts", query_string={"q": "personne"})
    assert "0 contact trouvé." in visible(response)


def test_the_list_comes_a_page_at_a_time_with_its_filters_kept(app, client, sign_in):
    for n in range(1, 56):
        add_contact(app, f"+223761{n:05d}", f"Agent {n:02d}", "kadiolo", role="agent")
    add_contact(app, "+22376200001", "Agent hors liste", "kadiolo")
    sign_in("admin")
    first = client.get("/console/contacts", query_string={"role": "agent"})
    assert "55 contacts trouvés." in visible(first)
    assert len(listed(first)) == 50 and listed(first)[0] == "+22376100001"
    assert "Page 1 sur 2" in visible(first)
    following = re.search(r'href="([^"]+)" rel="next"', page(first)).group(1)  # unescaped
    assert "role=agent" in following
    second = client.get(following)
    assert listed(second) == [f"+223761{n:05d}" for n in range(51, 56)]
    assert 'rel="next"' not in page(second) and 'rel="prev"' in page(second)
    assert listed(client.get("/console/contacts?page=99&role=agent")) == listed(second)
    assert len(listed(client.get("/console/contacts?page=abc"))) == 50  # the first page


def test_a_scoped_user_finds_and_opens_only_the_contacts_of_their_area(
    app, client, sign_in, seeded
):
    inside = add_contact(app, "+22376100001", "Mariam Koné", "Kadiolo", organisation="CAEB")
    sign_in("scoped")  # cercle=kadiolo
    assert found(client) == ["+22376100001"]
    assert found(client, q="awa") == []  # Sikasso: not theirs
    assert found(client, cercle="sikasso") == ["+22376100001"]  # no way out of the area
    response = client.get("/console/contacts")
    assert re.findall(r'<option value="([^"]*)"', page(response).split('name="organisation"')[1]
                      .split("</select>")[0]) == ["", "CAEB"]  # fmt: skip
    assert client.get(f"/console/contacts/{inside}").status_code == 200
    with app.extensions["db"]() as db:
        awa = seeded_agent(db).id
    outside = client.get(f"/console/contacts/{awa}")
    assert outside.status_code == 404
    assert_french(outside)
    assert client.get("/console/contacts/99999").status_code == 404
    assert client.get(f"/console/contacts/{10**12}").status_code == 404


def test_a_contact_page_shows_training_campaigns_and_sms_both_ways(app, client, sign_in, seeded):
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        db.add(ModuleProgress(contact_id=awa.id, module="m1", status="passed", best_score=4,
                              questions=5, finished_at=utcnow()))  # fmt: skip
        db.add(Certificate(contact_id=awa.id, code="AB12CD34", modules=13, score=60,
                           questions=65, issued_at=utcnow()))  # fmt: skip
        db.commit()
        contact_id = awa.id
    campaign = add_campaign(app, {"role": ["agent"]})
    expand(app, campaign)
    with app.extensions["db"]() as db:
        outbox.add(db, app.config, "module", "m1.1", "+22370000001", "Bravo : module réussi.")
        db.commit()
        row = db.scalars(select(Message).where(Message.kind == "module")).one()
        row.status, row.delivery_status, row.provider = "delivered", "Success", "orange"
        db.commit()
    inbound(app.test_client(), "Bonjour, quand est la prochaine formation ?", msg_id="i1",
            phone="+22370000001")  # fmt: skip
    sign_in("national")
    response = client.get(f"/console/contacts/{contact_id}")
    assert response.status_code == 200
    assert_french(response)
    shown = visible(response)
    assert "Awa Traoré — +22370000001" in shown
    title = app.extensions["catalog"].get("course.m1.title")
    assert cells(response, "training") == [
        [title, "réussi", "4 sur 5", *[utcnow().strftime("%d/%m/%Y")] * 2],
    ]
    assert "Certificat délivré le" in shown and "AB12CD34" in shown
    assert [row[0] for row in cells(response, "campaigns")] == ["Rappel"]
    sent = {row[2]: row for row in cells(response, "sent")}
    assert sent["Bravo : module réussi."][1::2] == ["fin de module", "remis"]
    assert sent["Bravo : module réussi."][4] == "Orange"  # the provider that carried it
    assert sent["Bonjour Awa Traoré"][3:] == ["en attente", ""]  # no provider yet
    assert sent["Bonjour Awa Traoré"][1] == "campagne"
    assert any(row[1] == "aide automatique" for row in cells(response, "sent"))
    received = cells(response, "received")
    assert [row[1:] for row in received] == [
        ["Bonjour, quand est la prochaine formation ?", "à traiter"]
    ]
    with app.extensions["db"]() as db:
        audited = db.scalars(select(AuditEntry).where(AuditEntry.action == "contact.view")).one()
    assert audited.target == f"contact:{contact_id}"  # by id: the number is not repeated


def test_a_contact_page_never_shows_their_reports(app, client, sign_in):
    """Neither an anonymous report nor a contactable one: not the reference, not the receipt."""
    reporter = "+22376000555"
    _, calm = report(client, *CALM, contact=SMS, phone=reporter)
    _, quiet = report(client, "2", *body("Fourou"), contact=ANONYMOUS, phone=reporter)
    references = [done.split("Référence : ")[1][:6] for done in (calm, quiet)]
    with app.extensions["db"]() as db:
        contact = db.scalars(select(Contact).where(Contact.phone == reporter)).one()
        receipt = db.scalars(select(Message).where(Message.kind == "receipt")).one()
        assert receipt.phone == reporter and references[0] in receipt.body  # queued to them
    sign_in("admin")
    response = client.get(f"/console/contacts/{contact.id}")
    assert response.status_code == 200
    for reference in references:
        assert reference not in page(response)
    assert "/console/cases/" not in page(response)
    assert cells(response, "sent") == [] and "Aucun SMS envoyé." in visible(response)


@pytest.mark.parametrize("who", ["viewer", "national"])
def test_a_viewer_reads_a_contact_and_is_offered_no_action(app, client, sign_in, seeded, who):
    with app.extensions["db"]() as db:
        moussa = db.scalars(select(Contact).where(Contact.phone == "+22370000002")).one().id
    sign_in(who)  # the viewer's area is the Koutiala region
    response = client.get(f"/console/contacts/{moussa}")
    assert response.status_code == 200
    forms = {"/edit", "/optout", "/delete"}
    shown = {action for action in forms if f"/console/contacts/{moussa}{action}" in page(response)}
    assert shown == (set() if who == "viewer" else forms)
