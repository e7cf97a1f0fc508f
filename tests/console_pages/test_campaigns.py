"""Campaigns in the console: the live counter, creating and steering."""

import html
import json
from datetime import UTC

import pytest
from sqlalchemy import func, select

from app.infra.models import Campaign, Contact, Message
from app.messaging.campaigns.creation import create
from app.messaging.campaigns.lifecycle import set_status

from ..helpers import assert_french, page, visible
from .conftest import COMPOSE, add_campaign, expand, flashed

INVALID = "Campagne non valide : vérifiez le nom, le message, les destinataires et les champs"
REFUSED = "Cette action n'est pas possible dans l'état actuel de la campagne."


def campaign_of(app, campaign_id: int) -> Campaign:
    """Return a campaign as stored now."""
    with app.extensions["db"]() as db:
        return db.get(Campaign, campaign_id)


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
    """Créer la campagne stores it, scheduled, and leads to its page with "Campagne créée."."""
    sign_in("admin")
    form = {**COMPOSE, "cercle": "Sikasso, Koutiala", "rate": "5", "budget": "1000"}
    response = auth.post("/console/campaigns", follow=False, **form)
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


@pytest.mark.parametrize(
    ("start_at", "utc"),
    [("2026-12-24T10:00", "2026-12-24 10:00"),  # the form's own: Bamako time (UTC+0)
     ("2026-12-24T10:00+02:00", "2026-12-24 08:00")],  # an explicit offset is kept
)  # fmt: skip
def test_the_start_time_is_read_in_bamako_unless_it_says_otherwise(
    app, client, auth, sign_in, seeded, start_at, utc
):
    sign_in("admin")
    response = auth.post("/console/campaigns", follow=False, start_at=start_at, **COMPOSE)
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
    assert INVALID in text
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


def test_progress_json_gives_the_status_and_integer_counts(app, client, sign_in, seeded):
    """The live progress is the status and every count, as integers, before and after start."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    sign_in("viewer")
    path = f"/console/campaigns/{campaign_id}/progress.json"
    before = client.get(path).get_json()
    assert before == {"status": "scheduled", "total": 0, "queued": 0, "sent": 0, "delivered": 0,
                      "failed": 0, "cancelled": 0, "unknown": 0, "percent": 0}  # fmt: skip
    expand(app, campaign_id)
    after = client.get(path).get_json()
    assert (after["status"], after["total"], after["queued"], after["percent"]) == (
        "sending", 3, 3, 0)  # fmt: skip
    assert all(type(v) is int for k, v in after.items() if k != "status")
    assert client.get("/console/campaigns/999/progress.json").status_code == 404


def test_pause_resume_and_cancel_steer_the_campaign(app, client, auth, sign_in, seeded):
    """Each button flashes its French line and moves the campaign; cancelling drops its queue."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    expand(app, campaign_id)
    sign_in("national")
    steps = [
        ("pause", "Campagne mise en pause.", "paused"),
        ("resume", "Campagne relancée.", "sending"),  # already expanded: straight to sending
        ("pause", "Campagne mise en pause.", "paused"),
        ("cancel", "Campagne annulée.", "cancelled"),
    ]
    for action, words, status in steps:
        response = auth.post(f"/console/campaigns/{campaign_id}/{action}")
        assert response.status_code == 200
        assert response.request.path == f"/console/campaigns/{campaign_id}"
        assert flashed(response) == [words]
        assert campaign_of(app, campaign_id).status == status
    progress = client.get(f"/console/campaigns/{campaign_id}/progress.json").get_json()
    assert (progress["status"], progress["queued"], progress["cancelled"]) == ("cancelled", 0, 3)


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
    created = auth.post("/console/campaigns", follow=False, **{**COMPOSE, "cercle": "Kadiolo"})
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


@pytest.mark.parametrize(
    ("scope", "campaign_scope", "seen", "answer"),
    [
        ("cercle=kadiolo", "cercle=kadiolo", 200, 302),
        ("cercle=kadiolo", None, 200, 403),  # a national campaign: it reaches Kadiolo too
        ("cercle=sikasso", "cercle=kadiolo", 404, 404),  # another cercle's: not even shown
        ("region=sikasso", "cercle=kadiolo", 200, 403),  # one of its cercles: read only
        ("region=koutiala", "cercle=kadiolo", 404, 404),
    ],
)
def test_a_scoped_supervisor_steers_only_the_campaigns_of_its_area(
    app, client, auth, sign_in, seeded, scope, campaign_scope, seen, answer
):
    """A scoped supervisor sees the campaigns that reach its area, and steers only its own."""
    audience = {"area": {"cercle": ["kadiolo"]}} if campaign_scope else {}
    with app.app_context(), app.extensions["db"]() as db:
        campaign_id = create(db, "Zone", {"fr": "Bonjour"}, audience,
                                       scope=campaign_scope).id  # fmt: skip
        db.commit()
    sign_in("scoped", scope=scope)
    shown = client.get(f"/console/campaigns/{campaign_id}")
    assert shown.status_code == seen
    assert ("/pause" in page(shown)) is (answer == 302)
    assert client.get(f"/console/campaigns/{campaign_id}/progress.json").status_code == seen
    listed = f'href="/console/campaigns/{campaign_id}"' in page(client.get("/console/campaigns"))
    assert listed is (seen == 200)
    response = auth.post(f"/console/campaigns/{campaign_id}/cancel", follow=False)
    assert response.status_code == answer
    allowed = answer == 302
    assert campaign_of(app, campaign_id).status == ("cancelled" if allowed else "scheduled")


@pytest.mark.parametrize(
    ("before", "action"),
    [
        ((), "resume"),  # scheduled, not paused
        (("cancel",), "resume"),
        (("cancel",), "pause"),
        (("cancel",), "cancel"),
        (("pause",), "pause"),
    ],
)
def test_an_impossible_action_is_refused_in_french(
    app, client, auth, sign_in, seeded, before, action
):
    """An action the campaign's state does not allow flashes the refusal and changes nothing."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    with app.extensions["db"]() as db:
        for step in before:
            set_status(db, campaign_id, step)
    was = campaign_of(app, campaign_id).status
    sign_in("admin")
    response = auth.post(f"/console/campaigns/{campaign_id}/{action}")
    assert response.status_code == 200
    assert flashed(response) == [REFUSED]
    assert campaign_of(app, campaign_id).status == was
