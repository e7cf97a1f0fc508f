"""Who may open each console page and send each form; the others get 403."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from app.infra.models import Campaign

from ..helpers import ANONYMOUS, CALM, assert_french, page, report, token_in
from .conftest import COMPOSE, USERS, add_campaign

EVERYONE = frozenset(USERS)
SENDERS = frozenset({"admin", "national"})  # who may steer every campaign
COMPOSERS = frozenset({"admin", "national", "scoped"})  # a scoped one, within its area
IMPORTERS = frozenset({"admin", "national", "scoped"})

# Every GET page of these routes, and who may open it; the others get 403.
PAGES = [
    ("/console/dashboard", EVERYONE),
    ("/console/agents", EVERYONE),
    ("/console/training", EVERYONE),
    ("/console/certificates", EVERYONE),
    ("/console/certificates?code=ZZ9999", EVERYONE),
    ("/console/campaigns", EVERYONE),
    ("/console/campaigns/new", COMPOSERS),
    ("/console/campaigns/{id}", EVERYONE),
    ("/console/campaigns/{id}/progress.json", EVERYONE),
    ("/console/contacts/import", IMPORTERS),
    ("/console/contacts", EVERYONE),
    ("/console/contacts?q=awa&cercle=kadiolo&role=agent&training=none&page=2", EVERYONE),
    ("/console/inbox", EVERYONE),
    ("/console/inbox?handled=1&page=3", EVERYONE),
    ("/console/content", EVERYONE),
    ("/console/content?group=sms", EVERYONE),
]
# Every form, who may send it, and the answer they get; the others get 403 (order matters).
POSTS = [
    ("/console/campaigns/preview", COMPOSE, COMPOSERS, 200),
    ("/console/campaigns", COMPOSE, COMPOSERS, 200),  # the confirmation: nothing created yet
    ("/console/campaigns/new", COMPOSE, COMPOSERS, 200),  # back from it, to change the form
    ("/console/campaigns", {**COMPOSE, "confirmed": "1"}, COMPOSERS, 302),
    ("/console/campaigns/{id}/pause", {}, SENDERS, 302),
    ("/console/campaigns/{id}/resume", {}, SENDERS, 302),
    ("/console/campaigns/{id}/cancel", {}, SENDERS, 302),
    ("/console/contacts/import", {}, IMPORTERS, 400),  # no file: the form again, with the error
    ("/console/contacts/import/confirm", {"token": "nope"}, IMPORTERS, 302),
]


@pytest.mark.parametrize(
    "path",
    ["/console/", *(path.format(id=1) for path, _ in PAGES), "/console/campaigns/1/pause"],
)
def test_anonymous_visitors_are_sent_to_sign_in(app, client, path):
    """Every page, and a form sent with a valid token, asks for sign-in, remembering the page."""
    if path.endswith("/pause"):
        token = token_in(client.get("/console/login"))
        response = client.post(path, data={"csrf_token": token})
    else:
        response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/console/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.parametrize("who", sorted(USERS))
def test_each_role_opens_the_pages_meant_for_it(app, client, sign_in, who):
    """Signed-in users read every page but the ones for senders or importers: those are 403."""
    campaign_id = add_campaign(app)
    sign_in(who)
    for path, allowed in PAGES:
        response = client.get(path.format(id=campaign_id))
        expected = 200 if who in allowed else 403
        assert response.status_code == expected, (who, path)
        if response.mimetype == "application/json":
            assert response.get_json()["status"] == "scheduled"
        else:
            assert_french(response)
        if expected == 403:
            assert "Vous n'avez pas accès à cette page." in page(response)


@pytest.mark.parametrize("who", sorted(USERS))
def test_each_role_sends_only_the_forms_meant_for_it(app, client, auth, sign_in, who):
    """Only admins and unscoped supervisors steer a national campaign; viewers send nothing."""
    campaign_id = add_campaign(app)
    sign_in(who)
    for path, form, allowed, status in POSTS:
        response = auth.post(path.format(id=campaign_id), follow=False, **form)
        assert response.status_code == (status if who in allowed else 403), (who, path)
        if who not in allowed:
            assert_french(response)
    with app.extensions["db"]() as db:
        statuses = list(db.scalars(select(Campaign.status).order_by(Campaign.id)))
    # A sender created a second campaign, then paused, resumed and cancelled the first.
    expected = {"admin": ["cancelled", "scheduled"], "national": ["cancelled", "scheduled"],
                "scoped": ["scheduled", "scheduled"], "viewer": ["scheduled"]}  # fmt: skip
    assert statuses == expected[who]


@pytest.mark.parametrize(
    ("who", "links"),
    [
        ("admin", {"/console/campaigns/new", "/console/contacts/import", "/pause", "/cancel"}),
        ("national", {"/console/campaigns/new", "/console/contacts/import", "/pause", "/cancel"}),
        ("scoped", {"/console/campaigns/new", "/console/contacts/import"}),
        ("viewer", set()),
    ],
)
def test_pages_offer_only_the_actions_a_role_may_take(app, client, sign_in, who, links):
    """The links and buttons shown match the permissions: nobody is offered a 403."""
    campaign_id = add_campaign(app)
    sign_in(who)
    shown = "".join(
        page(client.get(path))
        for path in ("/console/campaigns", f"/console/campaigns/{campaign_id}", "/console/agents")
    )
    for link in ("/console/campaigns/new", "/console/contacts/import", "/pause", "/cancel"):
        assert (link in shown) is (link in links), link


TITLES = {
    "/console/dashboard": "Tableau de bord",
    "/console/cases": "Dossiers",
    "/console/cases/{reference}": "Dossier {reference}",
    "/console/agents": "Agents et formation",
    "/console/training": "Ce que les agents apprennent",
    "/console/certificates": "Vérifier un certificat",
    "/console/campaigns": "Campagnes SMS",
    "/console/campaigns/new": "Nouvelle campagne",
    "/console/campaigns/{id}": "Rappel",  # the campaign's name
    "/console/contacts/import": "Importer des contacts",
    "/console/content": "Contenus tels qu'affichés",
    "/console/nope": "Erreur 404",
}


def test_every_page_has_a_title_of_its_own(app, client, auth, sign_in):
    """A browser's tabs and history tell the pages apart: each <title> names its page."""
    campaign_id = add_campaign(app)
    _, done = report(client, *CALM, contact=ANONYMOUS)
    reference = done.split("Référence : ")[1][:6]
    titles = {"/console/login": title_of(client.get("/console/login"))}
    sign_in("admin")
    for path in TITLES:
        response = client.get(path.format(id=campaign_id, reference=reference))
        titles[path] = title_of(response)
    expected = {path: f"{words.format(reference=reference)} — Kalan"
                for path, words in {"/console/login": "Connexion", **TITLES}.items()}  # fmt: skip
    assert titles == expected
    assert len(set(titles.values())) == len(titles)


def title_of(response) -> str:
    """Return a page's <title>."""
    return re.search(r"<title>([^<]*)</title>", page(response)).group(1)
