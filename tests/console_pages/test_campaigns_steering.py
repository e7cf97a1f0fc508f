"""Steering campaigns in the console: progress, pause, resume, cancel, what state and area allow."""

import re

import pytest

from app.infra.models import Campaign
from app.messaging.campaigns.creation import create
from app.messaging.campaigns.lifecycle import set_status

from ..helpers import page
from .conftest import add_campaign, expand, flashed

REFUSED = {
    "pause": "Cette campagne ne peut pas être mise en pause : seule une campagne programmée ou "
    "en cours d'envoi peut l'être.",
    "resume": "Cette campagne ne peut pas être relancée : seule une campagne en pause peut l'être.",
    "cancel": "Cette campagne ne peut plus être annulée : elle est terminée ou déjà annulée.",
}


def campaign_of(app, campaign_id: int) -> Campaign:
    """Return a campaign as stored now."""
    with app.extensions["db"]() as db:
        return db.get(Campaign, campaign_id)


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
    assert flashed(response) == [REFUSED[action]]
    assert campaign_of(app, campaign_id).status == was


def set_campaign_status(app, campaign_id: int, status: str) -> None:
    """Put a campaign in a state directly, as the worker leaves it (done, failed...)."""
    with app.extensions["db"]() as db:
        db.get(Campaign, campaign_id).status = status
        db.commit()


def offered(response) -> list[str]:
    """Return the actions a campaign page shows: its forms not hidden."""
    forms = re.findall(r'<form [^>]*data-action="(\w+)"([^>]*)>', page(response))
    return [action for action, rest in forms if "hidden" not in rest]


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("scheduled", ["pause", "cancel"]),
        ("expanding", ["pause", "cancel"]),
        ("sending", ["pause", "cancel"]),
        ("paused", ["resume", "cancel"]),
        ("failed", ["cancel"]),
        ("done", []),
        ("cancelled", []),
    ],
)
def test_the_campaign_page_offers_only_what_its_state_allows(
    app, client, sign_in, seeded, status, actions
):
    """Pause, Relancer and Annuler show only where they can work; the page knows them all to
    follow a change of state live."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    set_campaign_status(app, campaign_id, status)
    sign_in("admin")
    shown = client.get(f"/console/campaigns/{campaign_id}")
    assert offered(shown) == actions
    assert '"done": []' in page(shown) and '"paused": ["resume", "cancel"]' in page(shown)


@pytest.mark.parametrize(
    ("status", "action"),
    [("done", "pause"), ("done", "cancel"), ("sending", "resume"), ("failed", "resume"),
     ("failed", "pause")],
)  # fmt: skip
def test_an_action_the_state_forbids_is_refused_with_its_reason(
    app, client, auth, sign_in, seeded, status, action
):
    """A form sent from a stale page (the campaign finished meanwhile) changes nothing."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    set_campaign_status(app, campaign_id, status)
    sign_in("national")
    response = auth.post(f"/console/campaigns/{campaign_id}/{action}")
    assert response.status_code == 200
    assert flashed(response) == [REFUSED[action]]
    assert campaign_of(app, campaign_id).status == status
