"""The console beyond cases: dashboard, agents, certificates, campaigns, import, content preview."""

import html
import io
import json
import re
from datetime import UTC, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from app.cases.focal_points import DESK
from app.infra.models import (
    AuditEntry,
    Campaign,
    Case,
    Certificate,
    Contact,
    Message,
    ModuleProgress,
    QuizAnswer,
    User,
    utcnow,
)
from app.messaging import campaigns
from app.people import users
from app.web.console import charts
from app.web.console.contacts import MAX_FILE
from app.web.console.dashboard import _months
from flows.engine import Route
from flows.training import POST, PRE

from .conftest import Dial
from .test_cases import body, report
from .test_console import (
    ADMIN,
    SUPERVISOR,
    VIEWER,
    AuthActions,
    assert_french,
    page,
    password_hash,
    token_in,
    visible,
)

NATIONAL = "national@kalan.ml"  # a supervisor of the whole programme: no scope
USERS = {
    "admin": (ADMIN, "admin", None),
    "national": (NATIONAL, "supervisor", None),
    "scoped": (SUPERVISOR, "supervisor", "cercle=kadiolo"),
    "viewer": (VIEWER, "viewer", "region=koutiala"),
}
EVERYONE = frozenset(USERS)
SENDERS = frozenset({"admin", "national"})  # who may steer every campaign
COMPOSERS = frozenset({"admin", "national", "scoped"})  # a scoped one, within its area
IMPORTERS = frozenset({"admin", "national", "scoped"})
AGENTS = {"+22370000001": "Awa Traoré", "+22370000002": "Moussa Diarra",
          "+22370000003": "Fatoumata Coulibaly"}  # fmt: skip
FOCAL_SUPERVISOR = "+22366000003"  # a demo focal point: its main menu has the case desk
COMPOSE = {"name": "Rappel formation", "message": "Bonjour {name}, le module 3 est ouvert.",
           "role": "agent"}  # fmt: skip
INVALID = "Campagne non valide : vérifiez le nom, le message, les destinataires et les champs"
REFUSED = "Cette action n'est pas possible dans l'état actuel de la campagne."
NO_FILE = "Choisissez un fichier CSV de 5 Mo au plus."
EXPIRED = "La vérification a expiré : choisissez le fichier à nouveau."

# Every GET page of these routes, and who may open it; the others get 403.
PAGES = [
    ("/console/dashboard", EVERYONE),
    ("/console/agents", EVERYONE),
    ("/console/certificates", EVERYONE),
    ("/console/certificates?code=ZZ9999", EVERYONE),
    ("/console/campaigns", EVERYONE),
    ("/console/campaigns/new", COMPOSERS),
    ("/console/campaigns/{id}", EVERYONE),
    ("/console/campaigns/{id}/progress.json", EVERYONE),
    ("/console/contacts/import", IMPORTERS),
    ("/console/content", EVERYONE),
    ("/console/content?group=sms", EVERYONE),
]
# Every form, who may send it, and the answer they get; the others get 403 (order matters).
POSTS = [
    ("/console/campaigns/preview", COMPOSE, COMPOSERS, 200),
    ("/console/campaigns", COMPOSE, COMPOSERS, 302),
    ("/console/campaigns/{id}/pause", {}, SENDERS, 302),
    ("/console/campaigns/{id}/resume", {}, SENDERS, 302),
    ("/console/campaigns/{id}/cancel", {}, SENDERS, 302),
    ("/console/contacts/import", {}, IMPORTERS, 400),  # no file: the form again, with the error
    ("/console/contacts/import/confirm", {"token": "nope"}, IMPORTERS, 302),
]


@pytest.fixture
def auth(client):
    """Sign-in helpers bound to the test client."""
    return AuthActions(client)


def add_user(app, who: str, scope: str | None = None) -> str:
    """Store one console user of USERS (its scope checked as `users add` does); return its email."""
    email, role, default = USERS[who]
    with app.extensions["db"]() as db:
        scope = users.parse_scope(scope or default)
        db.add(User(email=email, role=role, scope=scope, password_hash=password_hash()))
        db.commit()
    return email


@pytest.fixture
def sign_in(app, auth):
    """Return a function that creates one console user (see USERS) and signs it in."""

    def sign_in(who: str, scope: str | None = None) -> str:
        email = add_user(app, who, scope)
        assert auth.login(email).status_code == 302
        return email

    return sign_in


@pytest.fixture
def seeded(runner):
    """The demo contacts: three agents (Sikasso, Koutiala, Bougouni) and five others."""
    result = runner.invoke(["seed"])
    assert result.exit_code == 0, result.output


def count_contacts(app) -> int:
    """Return how many contacts the database holds."""
    with app.extensions["db"]() as db:
        return db.scalar(select(func.count()).select_from(Contact))


def campaign_of(app, campaign_id: int) -> Campaign:
    """Return a campaign as stored now."""
    with app.extensions["db"]() as db:
        return db.get(Campaign, campaign_id)


def add_campaign(app, audience=None) -> int:
    """Create a scheduled campaign to the agents directly in the database; return its id."""
    with app.app_context(), app.extensions["db"]() as db:
        created = campaigns.create(db, "Rappel", {"fr": "Bonjour {name}"}, audience or {})
        db.commit()
        return created.id


def expand(app, campaign_id: int) -> None:
    """Do what the worker does when the campaign starts: queue one SMS per recipient."""
    with app.app_context(), app.extensions["db"]() as db:
        campaigns.expand(db, campaign_id, app.config)


def flashed(response) -> list[str]:
    """Return the flash lines a page shows."""
    found = re.findall(
        r'<p class="flash [a-z]+" role="(?:status|alert)">([^<]*)</p>', response.text
    )
    return [html.unescape(line) for line in found]


# -- who may open and send what -----------------------------------------------------------------


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


# -- dashboard ----------------------------------------------------------------------------------


def chart_rows(response) -> dict[str, list[tuple[str, str]]]:
    """Return each inline chart of a page by its title, as (label, value) per bar."""
    found = {}
    svgs = re.findall(r'<svg [^>]*aria-label="([^"]*)">(.*?)</svg>', response.get_data(True), re.S)
    for title, svg in svgs:
        bars = re.findall(r"<rect [^>]*><title>([^<]*)</title></rect>", svg)
        assert svg.count("<rect") == len(bars)
        found[html.unescape(title)] = [tuple(html.unescape(b).rsplit(": ", 1)) for b in bars]
    return found


@pytest.fixture
def cases_in_two_cercles(app, client):
    """Four reports: three about two Kadiolo sites (one a repeat), one about Koutiala.

    The urgent Kadiolo case and the Koutiala one are past their verification date.
    """
    report(client, "2", *body("Massiogo"), contact="3", phone="+22376000801")
    report(client, "3", "1", *body("Kalana"), contact="3", phone="+22376000802")
    report(client, "2", *body("Massiogo"), contact="3", phone="+22376000803")  # the same site
    koutiala = ["2", "1", "3", "1", "Zanfina", "2", "2", "1", "2", "1"]
    report(client, *koutiala, contact="3", phone="+22376000804")
    with app.extensions["db"]() as db:
        late = (Case.urgent.is_(True)) | (Case.cercle == "koutiala")
        db.execute(update(Case).where(late).values(verify_by=utcnow() - timedelta(days=1)))
        db.commit()
        assert db.scalar(select(func.count()).where(Case.linked_to.is_not(None))) == 1


@pytest.mark.parametrize(
    ("who", "summary", "new", "cercles"),
    [
        ("admin", "0 apprenants, 3 dossiers, dont 2 en retard de vérification.", "3",
         [("Kadiolo", "3"), ("Koutiala", "1")]),
        ("scoped", "0 apprenants, 2 dossiers, dont 1 en retard de vérification.", "2",
         [("Kadiolo", "3")]),
        ("viewer", "0 apprenants, 1 dossiers, dont 1 en retard de vérification.", "1",
         [("Koutiala", "1")]),
    ],
)  # fmt: skip
def test_the_dashboard_counts_cases_within_the_users_scope(
    app, client, sign_in, cases_in_two_cercles, who, summary, new, cercles
):
    """Cases, late checks and reports per cercle count only what the user may see."""
    sign_in(who)
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    assert_french(response)
    shown = visible(response)
    assert summary in shown
    assert f"Vérifications en retard : {summary.split('dont ')[1].split()[0]}" in shown
    found = chart_rows(response)
    assert found["Signalements par cercle"] == cercles  # repeats count as reports, busiest first
    states = dict(found["Dossiers par état"])  # the repeat is a line of its case, not a case
    assert states["nouveau"] == new
    assert sum(int(n) for n in states.values()) == int(new)


def test_the_dashboard_draws_one_bar_per_module_state_and_cercle(app, client, sign_in, seeded):
    """The charts are inline SVG, one <rect> per row, drawn on the server without a script."""
    with app.extensions["db"]() as db:
        awa = seeded_agent(db)
        module = app.extensions["catalog"].course.modules[0].id
        db.add(ModuleProgress(contact_id=awa.id, module=module, status="passed"))
        db.commit()
    sign_in("admin")
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    assert_french(response)
    text = response.get_data(as_text=True)
    assert "<script" not in text and text.count("<svg ") == len(chart_rows(response))
    catalog, course = app.extensions["catalog"], app.extensions["catalog"].course
    found = chart_rows(response)
    trained = found["Agents ayant réussi chaque module"]
    assert [label for label, _ in trained] == [
        catalog.get(f"course.{m.id}.title") for m in course.modules
    ]
    assert [value for _, value in trained] == ["1"] + ["0"] * (len(course.modules) - 1)
    assert found["Taux de réussite par module (réussis / commencés)"] == [
        (catalog.get(f"course.{module}.title"), "100 %")
    ]
    states = found["Dossiers par état"]
    assert [label for label, _ in states] == [catalog.get(f"console.status.{s}") for s in DESK]
    assert found["Signalements par cercle"] == []  # no report yet: an empty chart, no error
    assert "1 apprenants, 0 dossiers, dont 0 en retard de vérification." in visible(response)


def test_the_dashboard_follows_training_and_reports_over_the_months(
    app, client, sign_in, seeded, cases_in_two_cercles
):
    """Agents certified so far per organisation, pass rate per organisation, reports per
    cercle and month, and per sector."""
    months = _months(utcnow())
    issued = {"+22370000001": utcnow() - timedelta(days=800),  # long ago: counted from the start
              "+22370000002": months[9] + timedelta(days=1), "+22370000003": utcnow()}  # fmt: skip
    module = app.extensions["catalog"].course.modules[0].id
    with app.extensions["db"]() as db:
        for n, (phone, when) in enumerate(issued.items()):
            agent = db.scalars(select(Contact).where(Contact.phone == phone)).one()
            db.add(Certificate(contact_id=agent.id, code=f"TEST{n:02d}", modules=8, score=40,
                               questions=40, issued_at=when))  # fmt: skip
            db.add(ModuleProgress(contact_id=agent.id, module=module,
                                  status="started" if n == 1 else "passed"))  # fmt: skip
        db.commit()
    sign_in("admin")
    response = client.get("/console/dashboard")
    svgs = dict(re.findall(r'<svg [^>]*aria-label="([^"]*)">(.*?)</svg>', page(response), re.S))
    labels = [f"{m:%m/%y}" for m in months]

    def line(*values):
        return [f"{label}: {value}" for label, value in zip(labels, values, strict=True)]

    trained = plotted(svgs["Agents certifiés au fil des mois, par organisation (total cumulé)"])
    assert trained == {"RMCR": line(*[1] * 12), "CMDT": line(*[0] * 9, 1, 1, 1),
                       "CAEB": line(*[0] * 11, 1)}  # fmt: skip
    found = chart_rows(response)
    assert found["Taux de réussite par organisation (modules réussis / commencés)"] == [
        ("CAEB", "100 %"), ("CMDT", "0 %"), ("RMCR", "100 %")]  # fmt: skip
    assert plotted(svgs["Signalements par mois et par cercle"]) == {
        "Kadiolo": line(*[0] * 11, 3), "Koutiala": line(*[0] * 11, 1)}  # fmt: skip
    assert found["Signalements par secteur"] == [("Orpaillage / site minier", "4")]


@pytest.mark.parametrize(
    ("who", "scope", "orgs", "learners", "passed", "gain", "answers"),
    [
        ("admin", None, ["CAEB", "CMDT", "RMCR"], 3, "2", 33, "33 % (3)"),
        ("scoped", "cercle=sikasso", ["RMCR"], 1, "1", 100, "100 % (1)"),
        ("viewer", "region=koutiala", ["CMDT"], 1, "0", 0, "0 % (1)"),
        ("scoped", "cercle=kadiolo", [], 0, "0", None, None),
    ],
)  # fmt: skip
def test_the_dashboard_training_stays_inside_the_users_scope(
    app, client, sign_in, seeded, who, scope, orgs, learners, passed, gain, answers
):
    """Every training chart and table counts only the learners of the user's area: Awa of RMCR
    in Sikasso, Moussa of CMDT in Koutiala, Fatoumata of CAEB in Bougouni."""
    course = app.extensions["catalog"].course
    module, question = course.modules[0].id, course.modules[0].quiz[0].id
    with app.extensions["db"]() as db:
        for n, phone in enumerate(AGENTS):
            agent = db.scalars(select(Contact).where(Contact.phone == phone)).one()
            awa = n == 0
            db.add(Certificate(contact_id=agent.id, code=f"SCOPE{n}", modules=8, score=40,
                               questions=40))  # fmt: skip
            db.add(ModuleProgress(contact_id=agent.id, module=module,
                                  status="started" if n == 1 else "passed"))  # fmt: skip
            db.add(QuizAnswer(contact_id=agent.id, module=module, question=question, attempt=1,
                              choice=1, correct=awa))  # fmt: skip
            for item in course.pretest:  # all wrong before; after, only Awa right
                for attempt, correct in ((PRE, False), (POST, awa)):
                    db.add(QuizAnswer(contact_id=agent.id, module="pretest", question=item,
                                      attempt=attempt, choice=1, correct=correct))  # fmt: skip
        db.commit()
    sign_in(who, scope=scope)
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    shown, found = visible(response), chart_rows(response)
    assert f"{learners} apprenants," in shown
    assert ("Progrès moyen entre pré-test et post-test" in shown) is (gain is not None)
    if gain is not None:
        assert f"Progrès moyen entre pré-test et post-test : {gain} points." in shown
    svgs = dict(re.findall(r'<svg [^>]*aria-label="([^"]*)">(.*?)</svg>', page(response), re.S))
    trained = plotted(svgs["Agents certifiés au fil des mois, par organisation (total cumulé)"])
    assert sorted(trained) == orgs
    for title in ("Taux de réussite par organisation (modules réussis / commencés)",
                  "Progrès moyen pré/post-test par organisation"):  # fmt: skip
        assert [org for org, _ in found[title]] == orgs, title
    assert sum(int(n) for _, n in found["Certificats délivrés par mois"]) == len(orgs)
    assert found["Agents ayant réussi chaque module"][0][1] == passed
    started = found["Taux de réussite par module (réussis / commencés)"]
    assert len(started) == (1 if orgs else 0)
    if answers:
        assert answers in shown  # the hardest questions: first-try success (answers)
    else:
        assert "Pas encore de réponses aux quiz." in shown


def test_the_dashboard_shows_each_campaigns_delivery_rate_and_cost(app, client, sign_in, seeded):
    """A campaign to the three agents, two delivered: 67 %, XOF 75, its state in French."""
    campaign_id = add_campaign(app, {"role": ["agent"]})
    expand(app, campaign_id)
    with app.extensions["db"]() as db:
        two = select(Message.id).where(Message.campaign_id == campaign_id).limit(2)
        db.execute(update(Message).where(Message.id.in_(two)).values(status="delivered"))
        db.commit()
    sign_in("viewer")
    shown = visible(client.get("/console/dashboard"))
    assert "Rappel envoi en cours 3 67 % XOF 75" in " ".join(shown.split())


def test_pages_can_be_read_without_a_mouse_or_without_sight(app, client, sign_in, seeded):
    """A skip link, the current page marked in the menu, each line chart's figures in a table."""
    with app.extensions["db"]() as db:
        db.add(Certificate(contact_id=seeded_agent(db).id, code="A11Y01", modules=8, score=40,
                           questions=40))  # fmt: skip
        db.commit()
    report(client, "2", *body("Massiogo"), contact="3", phone="+22376000811")
    sign_in("admin")
    text = page(client.get("/console/dashboard"))
    assert (
        '<a class="skip" href="#main">Aller au contenu</a>' in text and '<main id="main">' in text
    )
    assert re.search(r'<nav aria-label="Menu principal">', text)
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', text) == ["/console/dashboard"]
    tables = re.findall(r"<details><summary>Voir les chiffres</summary><table>(.*?)</table>",
                        text, re.S)  # fmt: skip
    assert len(tables) == 2  # one per line chart
    assert all(table.count('<th scope="col">') == 12 for table in tables)
    assert re.findall(r'aria-current="page">([^<]+)<', page(client.get("/console/agents"))) == [
        "Agents"]  # fmt: skip


def test_beyond_six_lines_the_rest_are_summed_as_others(app, client, sign_in, seeded):
    """Eight organisations draw the six with most agents certified, and "autres" for the rest."""
    with app.extensions["db"]() as db:
        for n in range(8):
            for k in range(8 - n):  # organisation n has 8 - n certified agents
                agent = Contact(phone=f"+223790{n}{k:04d}", role="agent", failed_streak=0,
                                organisation=f"ORG{n}")  # fmt: skip
                db.add(agent)
                db.flush()
                db.add(Certificate(contact_id=agent.id, code=f"C{n}{k:04d}", modules=8, score=40,
                                   questions=40))  # fmt: skip
        db.commit()
    sign_in("admin")
    svgs = dict(re.findall(r'<svg [^>]*aria-label="([^"]*)">(.*?)</svg>',
                           page(client.get("/console/dashboard")), re.S))  # fmt: skip
    trained = plotted(svgs["Agents certifiés au fil des mois, par organisation (total cumulé)"])
    assert {name: points[-1].rsplit(": ", 1)[1] for name, points in trained.items()} == {
        "ORG0": "8", "ORG1": "7", "ORG2": "6", "ORG3": "5", "ORG4": "4", "ORG5": "3",
        "autres": "3"}  # fmt: skip


# -- charts.bars --------------------------------------------------------------------------------


def drawn(svg: str) -> list[dict]:
    """Return each bar of a chart: its shown label, tooltip and width."""
    bars = re.findall(
        r'<text [^>]*text-anchor="end"[^>]*>([^<]*)</text>'
        r'<rect [^>]*width="(\d+)"[^>]*><title>([^<]*)</title></rect>',
        svg,
    )
    return [{"label": label, "width": int(width), "title": title} for label, width, title in bars]


@pytest.mark.parametrize(
    ("rows", "widths"),
    [
        ([("a", 10), ("b", 5), ("c", 2.5)], [360, 180, 90]),
        ([("a", 3), ("b", 1)], [360, 120]),
        ([("a", 4), ("b", 0)], [360, 1]),  # a zero still shows a sliver
        ([("a", 0), ("b", 0)], [1, 1]),  # all zero: no division by zero
        ([("seul", 7)], [360]),
    ],
)
def test_bar_lengths_are_proportional_to_the_values(rows, widths):
    """The longest bar fills the room (720 - 300 label - 60 value = 360 px); others scale."""
    svg = str(charts.bars(rows))
    assert [bar["width"] for bar in drawn(svg)] == widths
    assert svg.count("<rect") == len(rows)
    assert f'height="{len(rows) * 28 + 6}"' in svg


def test_bar_values_are_shown_with_their_unit():
    """Each bar is followed by its value and unit, also in the tooltip."""
    svg = str(charts.bars([("Module 1", 75), ("Module 2", 12.5)], unit=" %"))
    assert ">75 %</text>" in svg and ">12.5 %</text>" in svg
    assert [bar["title"] for bar in drawn(svg)] == ["Module 1: 75 %", "Module 2: 12.5 %"]


def test_an_empty_chart_is_a_titled_svg_without_bars():
    """No rows draws an empty SVG of one row's height, with its title."""
    svg = str(charts.bars([], title="Signalements par cercle"))
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "<rect" not in svg and "<text" not in svg
    assert 'height="34"' in svg and "<title>Signalements par cercle</title>" in svg


@pytest.mark.parametrize(
    "label",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Tom & Jerry <b>"],
)
def test_labels_and_titles_are_escaped(label):
    """A label or title with markup is shown as text: nothing of it runs or breaks the SVG."""
    svg = str(charts.bars([(label, 1)], unit="<u>", title=label))
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg and "<u>" not in svg
    (bar,) = drawn(svg)
    assert html.unescape(bar["label"]) == label
    assert html.unescape(bar["title"]) == f"{label}: 1<u>"
    assert html.unescape(re.search(r'aria-label="([^"<>]*)"', svg).group(1)) == label
    assert html.unescape(re.search(r"<svg [^>]*><title>([^<]*)</title>", svg).group(1)) == label


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("x" * 42, "x" * 42),  # exactly what fits: kept whole
        ("x" * 43, "x" * 41 + "…"),
        ("Les dangers du coton et des champs, des pesticides",
         "Les dangers du coton et des champs, des p…"),
    ],
)  # fmt: skip
def test_long_labels_are_cut_but_whole_in_the_tooltip(label, shown):
    """A label longer than 42 characters is cut with …; the tooltip keeps all of it."""
    (bar,) = drawn(str(charts.bars([(label, 3)])))
    assert bar["label"] == shown and len(bar["label"]) <= 42
    assert bar["title"] == f"{label}: 3"


# -- charts.lines -------------------------------------------------------------------------------


def plotted(svg: str) -> dict[str, list[str]]:
    """Return each line of a chart as name: the tooltips of its points, in order."""
    points: dict[str, list[str]] = {}
    for tip in re.findall(r"<circle [^>]*><title>([^<]*)</title></circle>", svg):
        name, rest = html.unescape(tip).rsplit(", ", 1)
        points.setdefault(name, []).append(rest)
    assert svg.count("<polyline") == len(points)
    return points


def test_a_line_chart_has_one_line_per_series_and_a_point_per_month():
    """Each series is a line with a tooltip per month, and a legend entry."""
    months = ["01/26", "02/26", "03/26"]
    svg = str(charts.lines(months, [("RMCR", [1, 2, 3]), ("CMDT", [0, 0, 1])], title="Agents"))
    assert plotted(svg) == {"RMCR": ["01/26: 1", "02/26: 2", "03/26: 3"],
                            "CMDT": ["01/26: 0", "02/26: 0", "03/26: 1"]}  # fmt: skip
    assert ">RMCR</text>" in svg and ">CMDT</text>" in svg  # the legend
    assert all(f">{m}</text>" in svg for m in months)  # the axis
    assert 'stroke-dasharray="6 3"' in svg  # the second line is dashed: not told by colour only
    assert "<title>Agents</title>" in svg and 'aria-label="Agents"' in svg


def test_the_highest_point_reaches_a_round_top_of_the_axis():
    """The axis ends at 1, 2 or 5 times a power of ten; the value 3 sits at 3/5 of the height."""
    svg = str(charts.lines(["a", "b"], [("x", [0, 3])]))
    assert ">5</text>" in svg and ">2.5</text>" in svg and ">0</text>" in svg
    ys = [float(y) for y in re.findall(r'<circle [^>]*cy="([\d.]+)"', svg)]
    bottom, height = charts.PLOT_T + charts.PLOT_H, charts.PLOT_H
    assert ys == [bottom, pytest.approx(bottom - height * 3 / 5, abs=0.1)]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0, 1), (1, 1), (1.5, 2), (3, 5), (5, 5), (6, 10), (11, 20), (21, 50), (51, 100), (999, 1000)],
)
def test_round_up(value, top):
    assert charts._round_up(value) == top


def test_an_empty_line_chart_is_a_titled_svg_without_lines():
    """No series draws the axes and the title, and no line."""
    svg = str(charts.lines(["01/26"], [], title="Vide"))
    assert "<polyline" not in svg and "<title>Vide</title>" in svg


@pytest.mark.parametrize(
    "draw", [lambda e: charts.bars([], empty=e), lambda e: charts.lines(["01/26"], [], empty=e)]
)
def test_a_chart_without_data_says_so(draw):
    """Given the words, an empty chart says there is nothing yet rather than stay blank."""
    svg = str(draw("Pas encore de données & <rien>"))
    assert ">Pas encore de données &amp; &lt;rien&gt;</text>" in svg


def test_line_names_are_escaped():
    """A series named with markup is shown as text."""
    svg = str(charts.lines(["m"], [("<script>x</script>", [1])], unit="<u>"))
    assert "<script" not in svg and "<u>" not in svg
    assert plotted(svg) == {"<script>x</script>": ["m: 1<u>"]}


# -- agents and certificates --------------------------------------------------------------------


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


def seeded_agent(db) -> Contact:
    """Return Awa Traoré, the first demo agent."""
    return db.scalars(select(Contact).where(Contact.phone == "+22370000001")).one()


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


# -- campaigns ----------------------------------------------------------------------------------


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
        campaign_id = campaigns.create(db, "Zone", {"fr": "Bonjour"}, audience,
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
            campaigns.set_status(db, campaign_id, step)
    was = campaign_of(app, campaign_id).status
    sign_in("admin")
    response = auth.post(f"/console/campaigns/{campaign_id}/{action}")
    assert response.status_code == 200
    assert flashed(response) == [REFUSED]
    assert campaign_of(app, campaign_id).status == was


# -- case export --------------------------------------------------------------------------------

CALLABLE = ("+22376000901", "+22376000902")  # reporters who may be called back


@pytest.mark.parametrize(
    ("who", "status", "numbers"),
    [("admin", 200, True), ("national", 200, False), ("scoped", 200, False),
     ("viewer", 403, False)],
)  # fmt: skip
def test_each_reporters_number_exported_is_logged_and_only_admins_get_any(
    app, client, sign_in, who, status, numbers
):
    """An admin's export logs one line per case whose number it holds; nobody else gets one."""
    for phone, site in zip(CALLABLE, ("Massiogo", "Kalana"), strict=True):
        report(client, "2", *body(site), contact="2", phone=phone)  # "Oui, sans SMS"
    report(client, "2", *body("Fourou"), contact="3", phone="+22376000903")  # anonymous
    email = sign_in(who, scope="cercle=kadiolo" if who == "scoped" else None)
    response = client.get("/console/cases/export.csv")
    assert response.status_code == status
    text = response.get_data(as_text=True)
    assert ("reporter_phone" in text.splitlines()[0]) is numbers
    assert all((phone[4:] in text) is numbers for phone in CALLABLE)  # in no form, for others
    with app.extensions["db"]() as db:
        callable_ = set(db.scalars(select(Case.reference).where(Case.reporter_phone.is_not(None))))
        logged = db.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target)
                            .where(AuditEntry.action.like("case%"))).all()  # fmt: skip
    assert len(callable_) == 2
    expected = {(email, "case.reporter_export", ref) for ref in callable_} if numbers else set()
    assert set(logged) - {(email, "cases.export", "3 cases")} == expected
    assert len(logged) == len(expected) + (status == 200)


# -- contact import -----------------------------------------------------------------------------

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
    assert "1 ajoutés, 0 mis à jour, 3 lignes ignorées." in visible(done)
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
    assert "... et 9801 autres lignes refusées, non listées ici" in visible(checked)


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
    assert "200 à ajouter, 0 à mettre à jour, 0 lignes refusées." in visible(response)


def test_a_file_without_the_columns_says_which_are_missing(app, client, auth, sign_in, seeded):
    """A CSV without the required columns lists the missing ones, and imports nothing."""
    sign_in("admin")
    before = count_contacts(app)
    response = upload(auth, b"Phone,Name,Cercle\n70000009,Binta,Sikasso\n")
    assert response.status_code == 200
    assert problems_of(response) == [("1", "colonnes manquantes : role, region, commune, language")]
    assert "0 à ajouter, 0 à mettre à jour, 1 lignes refusées." in visible(response)
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
    assert "2 à ajouter, 0 à mettre à jour, 1 lignes refusées." in visible(response)
    assert problems_of(response) == [
        ("3", 'texte non UTF-8 (enregistrez le fichier en "CSV UTF-8")')
    ]


# -- content preview ----------------------------------------------------------------------------


def screens_of(response) -> list[str]:
    """Return the phone screens a content page shows."""
    found = re.findall(r"<pre [^>]*>(.*?)</pre>", response.get_data(as_text=True), re.S)
    return [html.unescape(s) for s in found]


def test_the_content_page_opens_on_the_main_menu(app, client, sign_in):
    """/console/content shows the main menu's screens, with lengths and the journeys."""
    sign_in("viewer")
    response = client.get("/console/content")
    assert response.status_code == 200
    assert_french(response)
    screens = screens_of(response)
    assert screens and screens[0].startswith(
        "CON Kalan - Menu principal\n1. Formation\n2. Signaler un enfant\n"
    )
    assert all(len(s) <= 160 for s in screens)
    text = page(response)
    assert "[Menu principal]" in text  # the journey shown
    assert re.search(r"menu — \d+/160 caractères", text)
    assert "Écrans trop longs" not in text


def test_the_main_menu_preview_is_the_screen_a_phone_gets(app, client, sign_in, seeded):
    """The previewed main menu is exactly the USSD reply (a focal supervisor's: desk shown)."""
    sign_in("viewer")
    dialled = Dial(client, phone=FOCAL_SUPERVISOR)()
    assert dialled.startswith("CON Kalan - Menu principal\n") and "6. Mes dossiers" in dialled
    assert dialled in screens_of(client.get("/console/content"))


def test_the_sms_group_lists_every_sms_with_parts_and_encoding(app, client, sign_in):
    """?group=sms lists each sms.* text as sent, its length, parts and encoding."""
    sign_in("viewer")
    response = client.get("/console/content?group=sms")
    assert response.status_code == 200
    assert_french(response)
    rows = re.findall(
        r"<tr><td>(sms\.[^<]+)</td><td>([^<]*)</td><td>(\d+)</td>"
        r"\s*<td[^>]*>(\d+) \(([^)]+)\)</td>",
        response.get_data(as_text=True),
    )
    keys = sorted(k for k in app.extensions["catalog"].texts["fr"] if k.startswith("sms."))
    assert keys and [row[0] for row in rows] == keys
    for key, text, length, parts, encoding in rows:
        text = html.unescape(text)
        assert int(length) == len(text), key
        assert encoding == "GSM-7", key  # folded for SMS: no accent makes it UCS-2
        assert int(parts) == (1 if len(text) <= 160 else -(-len(text) // 153)), key
    assert screens_of(response) == []  # SMS are not screens


def test_the_desk_group_renders_the_focal_points_screens(app, client, sign_in):
    """?group=desk shows the case desk's screens, filled with sample cases."""
    sign_in("admin")
    response = client.get("/console/content?group=desk")
    assert response.status_code == 200
    assert "[Mes dossiers (points focaux)]" in page(response)
    screens = screens_of(response)
    assert len(screens) > 3
    assert all(s.startswith(("CON ", "END ")) for s in screens)
    captions = re.findall(r"<figcaption>([\w.]+) — ", response.get_data(as_text=True))
    assert len(captions) == len(screens)
    assert {c.split(".")[0] for c in captions} == {"desk"}
    assert "desk.list" in captions


def test_no_screen_of_any_journey_is_too_long(app, client, sign_in):
    """Every journey linked from the page renders, and none is flagged "trop long"."""
    sign_in("admin")
    first = client.get("/console/content")
    links = re.findall(r'href="/console/content\?group=([^"]+)"', first.get_data(as_text=True))

    flow = app.extensions["flow"]
    # Every journey with a screen is linked; routes alone have nothing to show.
    journeys = {key.split(".")[0] for key, node in flow.items() if not isinstance(node, Route)}
    assert set(links) == journeys | {"sms"} and "start" not in links
    shown = 0
    for group in links:
        response = client.get("/console/content", query_string={"group": group})
        assert response.status_code == 200, group
        text = page(response)
        assert re.search(rf'group={re.escape(group)}">\[[^\]]+\]</a>', text), group
        assert "trop long" not in visible(response), group
        assert "Écrans trop longs" not in text, group
        screens = screens_of(response)
        assert screens or group == "sms", group
        assert all(len(s) <= 160 for s in screens), group
        # A journey whose nodes are all routes (report: where a report starts) has no screen.
        nodes = [n for key, n in flow.items() if key.split(".")[0] == group]
        assert bool(screens) is any(not isinstance(n, Route) for n in nodes), group
        shown += len(screens)
    assert shown > 50


@pytest.mark.parametrize("group", ["nope", "<script>", "SMS", ""])
def test_an_unknown_group_shows_no_screen(app, client, sign_in, group):
    """An unknown journey is still a French page, with the links and no screen."""
    sign_in("viewer")
    response = client.get("/console/content", query_string={"group": group})
    assert response.status_code == 200
    assert_french(response)
    assert screens_of(response) == [] and "<table>" not in page(response)
    assert 'href="/console/content?group=menu"' in page(response)
    assert "<script>" not in response.get_data(as_text=True).split('<main id="main">')[1]


# -- simulator link -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "link"),
    [
        ({"AT_API_BASE_URL": "http://127.0.0.1:5001"}, "http://127.0.0.1:5001/"),
        ({"AT_API_BASE_URL": "http://127.0.0.1:5001/"}, "http://127.0.0.1:5001/"),
        ({"AT_API_BASE_URL": ""}, None),
        ({"APP_ENV": "production", "SECRET_KEY": "x" * 32, "WEBHOOK_TOKEN": "t",
          "AT_API_BASE_URL": "http://127.0.0.1:5001"}, None),
    ],
)  # fmt: skip
def test_the_simulator_link_is_shown_only_in_development(make_app, settings, link):
    """In development with a sandbox, the header links to its phone simulator; not in production."""
    app = make_app(**settings)
    client = app.test_client()
    assert AuthActions(client).login(add_user(app, "admin")).status_code == 302
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    links = re.findall(r'<a href="([^"]+)">Simulateur</a>', response.get_data(as_text=True))
    assert links == ([link] if link else [])


def test_negative_values_draw_red_bars_within_the_chart():
    """A negative gain is drawn by its size, in red, and never past the chart's edge."""
    svg = str(charts.bars([("A", -5), ("B", 10)]))
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    fills = re.findall(r'fill="(#[0-9a-f]{6})"', svg)
    assert widths[1] == 2 * widths[0] and max(widths) + charts.LABEL_W <= charts.WIDTH
    assert fills == ["#c53030", "#2b6cb0"] and ">-5<" in svg
