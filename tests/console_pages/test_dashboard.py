"""The dashboard: cases, training and campaigns within the user's scope."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.cases.focal_points import DESK
from app.infra.models import Case, Certificate, Contact, Message, ModuleProgress, QuizAnswer, utcnow
from app.messaging import outbox
from app.voice import budget, calls
from app.web.console.dashboard import _months
from flows.training import PRE

from ..databases import another_database
from ..helpers import (
    ADMIN,
    ANONYMOUS,
    AuthActions,
    assert_french,
    body,
    file_reports,
    page,
    report,
    visible,
)
from .conftest import (
    AGENTS,
    add_campaign,
    add_user,
    cells,
    expand,
    plotted,
    seeded_agent,
    took_both_tests,
)


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
    report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000801")
    report(client, "3", "1", *body("Kalana"), contact=ANONYMOUS, phone="+22376000802")
    report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000803")  # the same site
    koutiala = ["2", "1", "3", "1", "Zanfina", "2", "2", "1", "2", "3"]
    report(client, *koutiala, contact=ANONYMOUS, phone="+22376000804")
    with app.extensions["db"]() as db:
        late = (Case.urgent.is_(True)) | (Case.cercle == "koutiala")
        db.execute(update(Case).where(late).values(verify_by=utcnow() - timedelta(days=1)))
        db.commit()
        assert db.scalar(select(func.count()).where(Case.linked_to.is_not(None))) == 1


@pytest.mark.parametrize(
    ("who", "summary", "new", "cercles"),
    [
        ("admin", "0 apprenant, 3 dossiers, dont 2 en retard de vérification.", "3",
         [("Kadiolo", "3"), ("Koutiala", "1")]),
        ("scoped", "0 apprenant, 2 dossiers, dont 1 en retard de vérification.", "2",
         [("Kadiolo", "3")]),
        ("viewer", "0 apprenant, 1 dossier, dont 1 en retard de vérification.", "1",
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
    assert "1 apprenant, 0 dossier, dont 0 en retard de vérification." in visible(response)


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
    began = utcnow()
    with app.extensions["db"]() as db:
        for n, phone in enumerate(AGENTS):
            agent = db.scalars(select(Contact).where(Contact.phone == phone)).one()
            awa = n == 0
            db.add(Certificate(contact_id=agent.id, code=f"SCOPE{n}", modules=8, score=40,
                               questions=40))  # fmt: skip
            db.add(ModuleProgress(contact_id=agent.id, module=module, started_at=began,
                                  status="started" if n == 1 else "passed"))  # fmt: skip
            db.add(QuizAnswer(contact_id=agent.id, module=module, question=question, attempt=1,
                              choice=1, correct=awa))  # fmt: skip
            # All wrong before the modules; after, only Awa right.
            took_both_tests(db, agent.id, course.pretest, began, post_correct=awa)
        db.commit()
    sign_in(who, scope=scope)
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    shown, found = visible(response), chart_rows(response)
    assert f"{learners} apprenant{'s' if learners > 1 else ''}," in shown  # 0 and 1: singular
    assert "sans pré-test" not in shown  # each took it before module 1
    assert ("Progrès moyen entre pré-test et post-test" in shown) is (gain is not None)
    if gain is not None:
        points = "points" if abs(gain) > 1 else "point"
        assert f"Progrès moyen entre pré-test et post-test : {gain} {points}." in shown
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


@pytest.mark.parametrize(("who", "skipped"), [("admin", 2), ("viewer", 1), ("scoped", 0)])
def test_the_dashboard_counts_the_agents_left_out_of_the_gain(
    app, client, sign_in, seeded, who, skipped
):
    """Moussa began without the pre-test, Fatoumata took it late: out of the gain, counted."""
    course = app.extensions["catalog"].course
    began = utcnow()
    with app.extensions["db"]() as db:
        for phone in list(AGENTS)[1:]:
            agent = db.scalars(select(Contact).where(Contact.phone == phone)).one()
            db.add(ModuleProgress(contact_id=agent.id, module=course.modules[0].id,
                                  started_at=began))  # fmt: skip
            if phone == "+22370000003":
                for item in course.pretest:
                    db.add(QuizAnswer(contact_id=agent.id, module="pretest", question=item,
                                      attempt=PRE, choice=1, correct=True,
                                      answered_at=began + timedelta(minutes=5)))  # fmt: skip
        db.commit()
    sign_in(who, scope="region=koutiala" if who == "viewer" else None)
    shown = visible(client.get("/console/dashboard"))
    sentence = "Agents ayant commencé sans pré-test, hors du calcul du progrès :"
    assert (f"{sentence} {skipped}." in shown) is bool(skipped)
    assert (sentence in shown) is bool(skipped)
    assert "Progrès moyen entre pré-test et post-test" not in shown


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
    report(client, "2", *body("Massiogo"), contact=ANONYMOUS, phone="+22376000811")
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


def priced_sms(app, sent_days_ago: dict[str, int]) -> None:
    """Store SMS the provider took, sent so many days ago, each at its price ("#" tells apart
    two messages at the same price)."""
    with app.extensions["db"]() as db:
        for n, (cost, days) in enumerate(sent_days_ago.items()):
            phone = f"+2237900{n:04d}"
            outbox.add(db, app.config, "receipt", f"R{n}", phone, "Reçu")
            sent = {"status": "sent", "cost": cost.split("#")[0],
                    "sent_at": utcnow() - timedelta(days=days)}  # fmt: skip
            db.execute(update(Message).where(Message.phone == phone).values(**sent))
        db.commit()


def ended_call(app, session_id: str, days_ago: int, **fields) -> None:
    """Store a call that ended so many days ago, with the gateway's last fields."""
    form = {"sessionId": session_id, "direction": "Inbound", "callerNumber": "+22370000001",
            "destinationNumber": "+22320000001", "durationInSeconds": "90",
            "currencyCode": "XOF", "amount": "150", **fields}  # fmt: skip
    with app.extensions["db"]() as db:
        calls.record_end(db, form, "+22370000001", utcnow() - timedelta(days=days_ago))


def test_the_dashboard_shows_call_minutes_and_cost_beside_sms_cost(app, client, sign_in):
    """Per currency, over the period chosen: what the provider charged for SMS and calls."""
    priced_sms(app, {"XOF 25.0000#1": 1, "XOF 25.0000#2": 2, "XOF 50.0000": 3, "XOF 25.0000": 45,
                     "KES 0.8000": 1, "not a price": 1})  # fmt: skip
    ended_call(app, "ATVId_1", 1, durationInSeconds="90")
    ended_call(app, "ATVId_2", 8, durationInSeconds="45", amount="75.5")
    ended_call(app, "ATVId_3", 2, currencyCode="", amount="")  # its price never came
    ended_call(app, "ATVId_4", 100)
    redis, config = app.extensions["redis"], app.config
    budget.take(redis, config["REDIS_PREFIX"], config, utcnow())
    budget.refuse(redis, config["REDIS_PREFIX"], config, utcnow())
    sign_in("national")
    month = client.get("/console/dashboard")
    assert "<th>Minutes d'appel</th><th>Coût des appels</th>" in page(month)
    assert cells(month, "spend") == [
        ["KES", "1", "KES 0.80", "0", "0,0", "KES 0.00", "KES 0.80"],  # cents where they exist
        ["XOF", "3", "XOF 100", "2", "2,2", "XOF 226", "XOF 326"],
    ]  # fmt: skip
    shown = visible(month)
    assert "1 appel sans prix" in shown
    assert "Appels passés par Kalan aujourd'hui : 1 sur 200 par jour au plus ; non passés " \
           "faute de budget : 1." in shown  # fmt: skip
    week = client.get("/console/dashboard?period=7")
    assert cells(week, "spend")[1] == ["XOF", "3", "XOF 100", "1", "1,5", "XOF 150", "XOF 250"]
    year = client.get("/console/dashboard?period=365")
    assert cells(year, "spend")[1][1:4] == ["4", "XOF 125", "3"]
    assert cells(client.get("/console/dashboard?period=abc"), "spend") == cells(month, "spend")
    assert "<strong>30 jours</strong>" in page(client.get("/console/dashboard?period=12"))


def test_without_costs_the_dashboard_says_so_and_a_scoped_user_sees_none(app, client, sign_in):
    sign_in("national")
    assert "Aucun SMS ni appel facturé sur cette période." in visible(
        client.get("/console/dashboard")
    )
    client.post("/console/logout")
    ended_call(app, "ATVId_1", 1)
    sign_in("scoped")
    response = client.get("/console/dashboard")
    assert response.status_code == 200
    assert "Coûts des SMS et des appels" not in visible(response)


def test_the_dashboard_reads_the_replica_and_the_app_writes_to_the_primary(
    make_app, database_url, tmp_path
):
    """With DATABASE_READ_URL set, the dashboard's figures come from that database alone,
    while the webhooks write to DATABASE_URL's (the user signs in against it too)."""
    with another_database(database_url, tmp_path) as replica:
        file_reports(make_app(DATABASE_URL=replica), 2)  # what only the replica holds
        app = make_app(DATABASE_READ_URL=replica)
        client = app.test_client()
        _, done = report(client, "2", *body("Massiogo"), contact=ANONYMOUS)  # a write
        reference = done.split("Référence : ")[1][:6]
        add_user(app, "admin")
        assert AuthActions(client).login(ADMIN).status_code == 302
        shown = visible(client.get("/console/dashboard"))
        with app.extensions["db"]() as db:
            primary = list(db.scalars(select(Case.reference)))
        with app.extensions["read_db"]() as db:
            copied = list(db.scalars(select(Case.reference)))
    assert "0 apprenant, 2 dossiers" in shown  # the replica's two, not the primary's one
    assert primary == [reference] and reference not in copied and len(copied) == 2
