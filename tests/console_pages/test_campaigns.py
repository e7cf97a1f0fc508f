"""Campaigns in the console: the live counter, composing and creating."""

import html
import json
import re
from datetime import UTC

import pytest
from sqlalchemy import func, select

from app.infra.models import Campaign, Contact, Message

from ..helpers import assert_french, page, visible
from .conftest import COMPOSE, add_campaign, expand, flashed

INVALID = "Campagne non valide : vérifiez le nom, le message, les destinataires et les champs"
EMPTY = "Le message est vide : écrivez le texte à envoyer. Aucun prix n'est calculé"


@pytest.mark.parametrize(
    ("fields", "recipients", "parts", "cost"),
    [
        ({"role": "agent"}, 3, 1, "XOF 75.00"),
        ({"role": "agent", "cercle": "Sikasso"}, 1, 1, "XOF 25.00"),
        ({"role": "community"}, 2, 1, "XOF 50.00"),
        ({"organisation": "RMCR,CMDT"}, 2, 1, "XOF 50.00"),
        ({"training": "none"}, 8, 1, "XOF 200.00"),
        ({}, 8, 1, "XOF 200.00"),
        ({"role": "agent", "message": "Rappel : " + "la formation continue. " * 8}, 3, 2,
         "XOF 150.00"),
        ({"role": "focal_point", "cercle": "Bamako"}, 0, None, "XOF 0.00"),
    ],
)  # fmt: skip
def test_the_live_counter_counts_recipients_parts_and_cost(
    app, client, auth, sign_in, seeded, fields, recipients, parts, cost
):
    """The compose form's preview counts the audience and prices its SMS at XOF 25 a part."""
    sign_in("admin")
    form = {**COMPOSE, "role": "", **fields}
    response = auth.post("/console/campaigns/preview", follow=False, **form)
    assert response.status_code == 200
    assert response.get_json() == {
        "recipients": recipients,
        "parts": {"fr": parts} if parts else {},
        "encodings": {"fr": "GSM-7"} if parts else {},
        "cost": cost,
    }
    with app.extensions["db"]() as db:  # a preview creates nothing
        assert db.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"training": "jamais"},
        {"budget": "beaucoup"},
        {"budget": "-5"},
        {"budget": "NaN"},
        {"rate": "vite"},
        {"start_at": "demain"},
        {"start_at": "2026-13-01T10:00"},
    ],
)
def test_an_invalid_audience_or_option_is_a_french_400(app, client, auth, sign_in, seeded, fields):
    """The preview of a form that cannot be a campaign is a 400 with the French reason."""
    sign_in("national")
    response = auth.post("/console/campaigns/preview", follow=False, **{**COMPOSE, **fields})
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    assert response.get_json()["error"].startswith(INVALID)


def test_creating_a_campaign_stores_it_and_opens_its_page(app, client, auth, sign_in, seeded):
    """Confirmed, the campaign is stored, scheduled, and its page says "Campagne créée."."""
    sign_in("admin")
    form = {**COMPOSE, "cercle": "Sikasso, Koutiala", "rate": "5", "budget": "1000"}
    asked = auth.post("/console/campaigns", follow=False, **form)
    assert asked.status_code == 200 and 'name="confirmed" value="1"' in page(asked)
    response = auth.post("/console/campaigns", follow=False, confirmed="1", **form)
    assert response.status_code == 302
    with app.extensions["db"]() as db:
        (campaign,) = db.scalars(select(Campaign)).all()
    assert response.headers["Location"] == f"/console/campaigns/{campaign.id}"
    assert (campaign.name, campaign.status, campaign.rate, campaign.budget) == (
        "Rappel formation", "scheduled", 5, 1000)  # fmt: skip
    assert json.loads(campaign.messages) == {"fr": COMPOSE["message"]}
    assert json.loads(campaign.audience) == {"role": ["agent"], "cercle": ["Sikasso", "Koutiala"]}
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    assert_french(shown)
    assert flashed(shown) == ["Campagne créée."]
    assert "Rappel formation — programmée" in visible(shown)
    assert COMPOSE["message"] in page(shown)
    listing = client.get("/console/campaigns")
    assert f'href="/console/campaigns/{campaign.id}">Rappel formation</a>' in page(listing)


def test_confirming_twice_makes_one_campaign(app, client, auth, sign_in, seeded):
    """A double click on Confirmer, or the form sent again, shows the campaign it made."""
    sign_in("admin")
    form = {**COMPOSE, "confirmed": "1"}
    first = auth.post("/console/campaigns", follow=False, **form)
    again = auth.post("/console/campaigns", follow=False, **form)
    with app.extensions["db"]() as db:
        (campaign,) = db.scalars(select(Campaign)).all()
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers["Location"] == f"/console/campaigns/{campaign.id}"
    assert flashed(client.get(again.headers["Location"]))[-1].startswith(
        "Cette campagne vient d'être créée : la voici."
    )
    other = auth.post("/console/campaigns", follow=False, **{**form, "name": "Autre rappel"})
    assert other.status_code == 302  # another campaign is another campaign
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Campaign)) == 2


@pytest.mark.parametrize(
    ("start_at", "utc"),
    [("2026-12-24T10:00", "2026-12-24 10:00"),  # the form's own: Bamako time (UTC+0)
     ("2026-12-24T10:00+02:00", "2026-12-24 08:00")],  # an explicit offset is kept
)  # fmt: skip
def test_the_start_time_is_read_in_bamako_unless_it_says_otherwise(
    app, client, auth, sign_in, seeded, start_at, utc
):
    sign_in("admin")
    response = auth.post(
        "/console/campaigns", follow=False, start_at=start_at, confirmed="1", **COMPOSE
    )
    assert response.status_code == 302
    with app.extensions["db"]() as db:
        (campaign,) = db.scalars(select(Campaign)).all()
    assert f"{campaign.start_at.astimezone(UTC):%Y-%m-%d %H:%M}" == utc


@pytest.mark.parametrize(
    "fields",
    [
        {"message": ""},
        {"message": "   "},
        {"name": " "},
        {"budget": "0"},
        {"rate": "1.5"},
        {"budget": "9999999999.99999"},
    ],  # rounds to 10^10, over what the column holds
)
def test_an_invalid_campaign_is_refused_with_the_form_kept(
    app, client, auth, sign_in, seeded, fields
):
    """A campaign without a message (or name, or with a bad option) is a 400; nothing is stored."""
    sign_in("admin")
    form = {**COMPOSE, "cercle": "Sikasso", "budget": "5000", **fields}
    response = auth.post("/console/campaigns", follow=False, **form)
    assert response.status_code == 400
    assert_french(response)
    text = page(response)
    assert (EMPTY if not form["message"].strip() else INVALID) in text
    assert not re.search(r"XOF \d", visible(response))  # no cost for what cannot be sent
    assert '<option value="agent" selected>' in text
    assert 'name="cercle" value="Sikasso"' in text
    assert f'name="budget" value="{form["budget"]}"' in text
    if form["name"].strip():
        assert 'name="name" value="Rappel formation"' in text
    if form["message"].strip():
        assert f">{COMPOSE['message']}</textarea>" in text
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Campaign)) == 0


PLACEHOLDER = "Campagne non valide : dans le message, entre accolades, seuls les mots name, cercle"


@pytest.mark.parametrize(
    "fields",
    [
        {"message": "Bonjour {name:x>20000000}"},  # a format spec: 20 MB of padding
        {"message": "Bonjour {name!r}"},
        {"message": "Bonjour {name.upper}"},
        {"message": "Bonjour {name[0]}"},
        {"message": "Bonjour {nom}"},
        {"message": "Bonjour {name"},
        {"message": "Bonjour }"},
    ],
)
def test_a_message_with_anything_but_a_placeholder_is_refused_in_french(
    app, client, auth, sign_in, seeded, fields
):
    """The live counter and the form say which braces are allowed; nothing is stored."""
    sign_in("admin")
    form = {**COMPOSE, **fields}
    counted = auth.post("/console/campaigns/preview", follow=False, **form)
    assert counted.status_code == 400
    assert counted.get_json()["error"].startswith(PLACEHOLDER)
    response = auth.post("/console/campaigns", follow=False, **form)
    assert response.status_code == 400
    assert_french(response)
    assert flashed(response)[0].startswith(PLACEHOLDER)
    assert f">{html.escape(fields['message'], quote=False)}</textarea>" in response.text
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Campaign)) == 0


def add_kadiolo_agents(app) -> None:
    """Three agents of Kadiolo, their cercle typed two ways, besides the seeded ones."""
    with app.extensions["db"]() as db:
        for n, cercle in enumerate(("Kadiolo", "Kadiolo", "kadiolo"), 1):
            db.add(Contact(phone=f"+2237650000{n}", role="agent", cercle=cercle, failed_streak=0))
        db.commit()


def test_a_scoped_supervisor_composes_for_its_area_only(app, client, auth, sign_in, seeded):
    """The cercle is fixed on the form; the count, and the campaign, stay inside Kadiolo."""
    add_kadiolo_agents(app)
    email = sign_in("scoped")
    form = client.get("/console/campaigns/new")
    assert 'name="cercle" value="kadiolo" readonly' in page(form)
    assert "Votre compte envoie seulement dans votre zone : Kadiolo." in visible(form)
    counted = auth.post("/console/campaigns/preview", follow=False, **COMPOSE)
    assert counted.get_json()["recipients"] == 3  # not the seeded agents of other cercles
    for beyond in ("Sikasso", "Kadiolo,Sikasso"):
        refused = auth.post("/console/campaigns", follow=False, **{**COMPOSE, "cercle": beyond})
        assert refused.status_code == 400
        assert INVALID in page(refused)
        preview = auth.post("/console/campaigns/preview", follow=False, cercle=beyond, **COMPOSE)
        assert preview.status_code == 400
    kadiolo = {**COMPOSE, "cercle": "Kadiolo"}
    created = auth.post("/console/campaigns", follow=False, confirmed="1", **kadiolo)
    assert created.status_code == 302
    with app.extensions["db"]() as db:
        (campaign,) = db.scalars(select(Campaign)).all()
    assert (campaign.scope, campaign.created_by) == ("cercle=kadiolo", email)
    assert json.loads(campaign.audience) == {
        "role": ["agent"], "cercle": ["Kadiolo"], "area": {"cercle": ["kadiolo"]}}  # fmt: skip
    expand(app, campaign.id)
    with app.extensions["db"]() as db:
        phones = db.scalars(select(Message.phone).where(Message.campaign_id == campaign.id))
        assert sorted(phones) == ["+22376500001", "+22376500002", "+22376500003"]
    shown = visible(client.get(created.headers["Location"]))
    assert f"Zone : Kadiolo - Créée par : {email}" in shown


def test_a_campaign_shows_its_zone_and_audience_with_the_recipients(
    app, client, auth, sign_in, seeded
):
    """An admin's campaign for Sikasso's agents says Zone : Sikasso (not the whole programme),
    its filters, and how many it reaches: counted today, then as expanded."""
    sign_in("admin")
    form = {**COMPOSE, "cercle": "sikasso", "training": "none", "confirmed": "1"}
    created = auth.post("/console/campaigns", follow=False, **form)
    campaign_id = int(created.headers["Location"].rsplit("/", 1)[1])
    shown = visible(client.get(created.headers["Location"]))
    assert "Zone : Sikasso - Créée par : admin@kalan.ml" in shown
    assert "Fonction : agents Cercle : Sikasso Formation : pas encore commencée" in shown
    assert "1 destinataire à ce jour, hors numéros désabonnés ou injoignables" in shown
    listing = visible(client.get("/console/campaigns"))
    assert "tout le programme" not in listing and listing.endswith("0 % Sikasso")
    expand(app, campaign_id)
    shown = visible(client.get(created.headers["Location"]))
    assert "1 destinataire, hors numéros désabonnés ou injoignables." in shown
    everyone = add_campaign(app)
    shown = visible(client.get(f"/console/campaigns/{everyone}"))
    assert "Zone : tout le programme" in shown and "Tous les contacts, sans filtre" in shown
    assert "8 destinataires à ce jour" in shown


def test_compose_asks_for_confirmation_with_recipients_parts_and_cost(
    app, client, auth, sign_in, seeded
):
    """Like `kalan campaign create`, the console shows who, how many parts and the price
    first; Modifier brings the form back as typed; only Confirmer creates the campaign."""
    sign_in("admin")
    long = "Rappel : " + "la formation continue. " * 8  # 2 parts
    form = {**COMPOSE, "message": long, "rate": "5", "budget": "1000"}
    asked = auth.post("/console/campaigns", follow=False, **form)
    assert asked.status_code == 200
    assert_french(asked)
    shown = visible(asked)
    assert "Vérifier la campagne avant de la créer" in shown
    assert "Destinataires : 3 destinataires" in shown
    assert "Français " + long.strip() + " 2 parties (GSM-7)" in shown
    assert "Prix estimé : XOF 150.00 - Budget maximum : 1000.00 XOF" in shown
    assert "Début : dès la confirmation - Messages par seconde au plus : 5" in shown
    assert "<title>Vérifier la campagne avant de la créer — Kalan</title>" in page(asked)
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Campaign)) == 0
    confirm, edit = re.findall(r'<form method="post" action="([^"]+)" id="(\w+)"', page(asked))
    assert confirm == ("/console/campaigns", "confirm")
    assert edit == ("/console/campaigns/new", "edit")
    carried = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">',
                              page(asked).split('id="edit"')[1]))  # fmt: skip
    assert {k: carried[k] for k in ("name", "message", "role", "rate", "budget")} == {
        "name": "Rappel formation", "message": long, "role": "agent", "rate": "5",
        "budget": "1000"}  # fmt: skip
    back = auth.post("/console/campaigns/new", follow=False, **carried)
    assert back.status_code == 200
    assert f">{long}</textarea>" in page(back) and '<option value="agent" selected>' in (
        page(back))  # fmt: skip
    created = auth.post("/console/campaigns", follow=False, confirmed="1", **form)
    assert created.status_code == 302
    with app.extensions["db"]() as db:
        assert db.scalar(select(func.count()).select_from(Campaign)) == 1


def test_confirming_for_nobody_says_so(app, client, auth, sign_in, seeded):
    """An audience nobody matches is no error, but the confirmation says nothing would go."""
    sign_in("admin")
    asked = auth.post("/console/campaigns", follow=False, **{**COMPOSE, "cercle": "Bamako"})
    shown = visible(asked)
    assert "Destinataires : 0 destinataire" in shown and "Prix estimé : XOF 0.00" in shown
    assert "Aucun contact joignable ne correspond : la campagne n'enverrait rien." in shown


@pytest.mark.parametrize("message", ["", "   ", "\n"])
def test_an_empty_message_gets_a_clear_error_and_no_cost(app, client, auth, sign_in, message):
    """The live counter says the message is empty, never a price for nothing."""
    sign_in("admin")
    form = {**COMPOSE, "message": message}
    counted = auth.post("/console/campaigns/preview", follow=False, **form)
    assert counted.status_code == 400
    assert counted.get_json() == {"error": app.extensions["catalog"].get(
        "console.campaign.empty_message")}  # fmt: skip
    assert counted.get_json()["error"].startswith(EMPTY)
