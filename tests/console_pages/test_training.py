"""The training page: each module's funnel, time and recall, and the gain per organisation."""

import html
import re
import uuid

import pytest
from sqlalchemy import select

from app.infra.models import Contact, ModuleProgress, QuizAnswer, UssdEvent, utcnow
from flows.training.common import RECALL

from ..helpers import assert_french, page, visible
from .conftest import AGENTS, took_both_tests


def tables(response) -> list[list[list[str]]]:
    """Return every table of a page as rows of cell texts, header rows included."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", page(response), re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            rows.append([" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in cells])
        found.append(rows)
    return found


@pytest.fixture
def learning(app, seeded):
    """Module 1 as the three demo agents took it: Awa (RMCR, Sikasso) passed it after the
    pre-test, in 2 minutes on the line, and recalls 4 answers of 5; Moussa (CMDT, Koutiala)
    began without the pre-test and reached lesson 3 (his labels; his saved place is lesson 2);
    Fatoumata (CAEB, Bougouni) took the pre-test and failed the quiz."""
    course = app.extensions["catalog"].course
    module = course.modules[0]
    began = utcnow()
    with app.extensions["db"]() as db:
        awa, moussa, fatoumata = (
            db.scalars(select(Contact).where(Contact.phone == phone)).one() for phone in AGENTS
        )
        for who, status, position, best in ((awa, "passed", "", 5), (moussa, "started", "l2", None),
                                            (fatoumata, "failed", "", 2)):  # fmt: skip
            db.add(ModuleProgress(contact_id=who.id, module=module.id, status=status,
                                  position=position, best_score=best, questions=best and 5,
                                  started_at=began))  # fmt: skip
        took_both_tests(db, awa.id, course.pretest, began, post_correct=True)
        took_both_tests(db, fatoumata.id, course.pretest, began, post_correct=False)
        for phone, labels, duration in (
            (awa.phone, "|".join(f"t.{module.id}.q" for _ in range(4)), 120000),
            (moussa.phone, f"t.{module.id}.l1|t.{module.id}.l2|t.{module.id}.l3", 90000),
        ):
            db.add(UssdEvent(session_id="ATUid_" + uuid.uuid4().hex, phone=phone, status="Success",
                             labels=labels, duration_ms=duration, hops=4))  # fmt: skip
        for n, question in enumerate(module.quiz):
            db.add(QuizAnswer(contact_id=awa.id, module=module.id, question=question.id,
                              attempt=RECALL, choice=1, correct=n > 0))  # fmt: skip
        db.commit()
    return module


def funnel_of(found, lessons: int) -> list[list[str]]:
    """Return module 1's funnel table without its header: the second table of the page."""
    rows = found[1][1:]
    assert len(rows) == lessons + 3
    return rows


@pytest.mark.parametrize(
    ("who", "scope", "summary", "skippers", "organisations"),
    [
        ("admin", None, ["3", "1", "2,0 min (n = 1)", "80 % (1 apprenant)", "100 %"],
         "1 agent sur 3 a commencé les modules sans pré-test (33 %) : son progrès",
         [["CAEB", "1", "+0 pt", "1", "0"], ["CMDT", "1", "—", "0", "1"],
          ["RMCR", "1", "+100 pts", "1", "0"]]),
        ("viewer", "region=koutiala", ["1", "0", "—", "—", "—"],
         "1 agent sur 1 a commencé les modules sans pré-test (100 %) : son progrès",
         [["CMDT", "1", "—", "0", "1"]]),
        ("scoped", "cercle=sikasso", ["1", "1", "2,0 min (n = 1)", "80 % (1 apprenant)", "100 %"],
         "0 agent sur 1 a commencé les modules sans pré-test (0 %) : son progrès",
         [["RMCR", "1", "+100 pts", "1", "0"]]),
        ("scoped", "cercle=kadiolo", ["0", "0", "—", "—", "—"], None, None),
    ],
)  # fmt: skip
def test_the_training_page_stays_inside_the_users_scope(
    app, client, sign_in, learning, who, scope, summary, skippers, organisations
):
    """Funnel, median time, recall, gain per organisation and skippers count only the learners
    of the user's area."""
    sign_in(who, scope=scope)
    response = client.get("/console/training")
    assert response.status_code == 200
    assert_french(response)
    found, shown = tables(response), visible(response)
    title = app.extensions["catalog"].get(f"course.{learning.id}.title")
    assert found[0][0] == ["Module", "Commencé", "Réussi", "Temps médian en ligne",
                          "Rappel : bonnes réponses", "Quiz des mêmes apprenants"]  # fmt: skip
    assert found[0][1] == [title, *summary]
    assert all(row[1:] == ["0", "0", "—", "—", "—"] for row in found[0][2:])  # other modules
    assert "parmi les apprenants qui ont réussi le module" in shown
    assert (skippers is not None) is ("sans pré-test (" in shown)
    if skippers:
        assert f"{skippers} n'est pas mesuré." in shown
    if organisations:
        assert found[-1][0] == ["Organisation", "Apprenants", "Progrès moyen", "Mesurés",
                                "Sans pré-test"]  # fmt: skip
        assert found[-1][1:] == organisations
    else:
        assert "Pas encore d'apprenant." in shown


@pytest.mark.parametrize(
    ("who", "scope", "reached", "end"),
    [
        ("admin", None, [3, 3, 3, 3, 2], [2, 1]),
        ("viewer", "region=koutiala", [1, 1, 1, 1, 0], [0, 0]),
    ],
)
def test_the_funnel_counts_each_step_and_its_drop_off(
    app, client, sign_in, learning, who, scope, reached, end
):
    """Moussa's labels take him to lesson 3, past his saved lesson 2; Fatoumata, who failed,
    and Awa, who passed, count at every lesson and at the quiz."""
    sign_in(who, scope=scope)
    rows = funnel_of(tables(client.get("/console/training")), learning.lessons)
    assert rows[0] == ["Module commencé", str(reached[0]), "—"]
    assert [row[0] for row in rows[1:5]] == ["Leçon 1", "Leçon 2", "Leçon 3", "Leçon 4"]
    assert [int(row[1]) for row in rows[:5]] == reached
    assert [row[0] for row in rows[-2:]] == ["Quiz", "Module réussi"]
    assert [int(row[1]) for row in rows[-2:]] == end
    if who == "admin":
        assert [row[2] for row in rows[1:5]] == ["0 %", "0 %", "0 %", "33 %"]
        assert rows[-1][2] == "50 %"
    else:
        assert rows[4][2] == "100 %" and rows[-1][2] == "—"  # none left to drop


def test_the_dashboard_leads_to_the_training_page(app, client, sign_in, seeded):
    sign_in("viewer")
    dashboard = page(client.get("/console/dashboard"))
    assert '<a href="/console/training">Ce que les agents apprennent' in dashboard
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', page(
        client.get("/console/training"))) == ["/console/training"]  # fmt: skip
