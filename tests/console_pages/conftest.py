"""The console beyond cases: its users, demo data, and helpers to read its pages."""

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.infra.models import Contact, QuizAnswer, User, utcnow
from app.messaging.campaigns import expansion
from app.messaging.campaigns.creation import create
from app.people import users
from flows.training import POST, PRE

from ..helpers import ADMIN, SUPERVISOR, VIEWER, AuthActions, password_hash

NATIONAL = "national@kalan.ml"  # a supervisor of the whole programme: no scope
USERS = {
    "admin": (ADMIN, "admin", None),
    "national": (NATIONAL, "supervisor", None),
    "scoped": (SUPERVISOR, "supervisor", "cercle=kadiolo"),
    "viewer": (VIEWER, "viewer", "region=koutiala"),
}
AGENTS = {"+22370000001": "Awa Traoré", "+22370000002": "Moussa Diarra",
          "+22370000003": "Fatoumata Coulibaly"}  # fmt: skip
COMPOSE = {"name": "Rappel formation", "message": "Bonjour {name}, le module 3 est ouvert.",
           "role": "agent"}  # fmt: skip


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


def add_campaign(app, audience=None) -> int:
    """Create a scheduled campaign to the agents directly in the database; return its id."""
    with app.app_context(), app.extensions["db"]() as db:
        created = create(db, "Rappel", {"fr": "Bonjour {name}"}, audience or {})
        db.commit()
        return created.id


def expand(app, campaign_id: int) -> None:
    """Do what the worker does when the campaign starts: queue one SMS per recipient."""
    with app.app_context(), app.extensions["db"]() as db:
        expansion.expand(db, campaign_id, app.config)


def flashed(response) -> list[str]:
    """Return the flash lines a page shows."""
    found = re.findall(
        r'<p class="flash [a-z]+" role="(?:status|alert)">([^<]*)</p>', response.text
    )
    return [html.unescape(line) for line in found]


def plotted(svg: str) -> dict[str, list[str]]:
    """Return each line of a chart as name: the tooltips of its points, in order."""
    points: dict[str, list[str]] = {}
    for tip in re.findall(r"<circle [^>]*><title>([^<]*)</title></circle>", svg):
        name, rest = html.unescape(tip).rsplit(", ", 1)
        points.setdefault(name, []).append(rest)
    assert svg.count("<polyline") == len(points)
    return points


def seeded_agent(db) -> Contact:
    """Return Awa Traoré, the first demo agent."""
    return db.scalars(select(Contact).where(Contact.phone == "+22370000001")).one()


def took_both_tests(db, contact_id: int, items, began, post_correct: bool) -> None:
    """Answer every pre-test item wrong an hour before began, and the post-test at began."""
    for item in items:
        for attempt, correct, at in ((PRE, False, began - timedelta(hours=1)),
                                     (POST, post_correct, began)):  # fmt: skip
            db.add(QuizAnswer(contact_id=contact_id, module="pretest", question=item,
                              attempt=attempt, choice=1, correct=correct,
                              answered_at=at))  # fmt: skip


def add_contact(app, phone: str, name: str | None, cercle: str | None, **fields) -> int:
    """Store one contact directly (the import is tested on its own); return its id."""
    with app.extensions["db"]() as db:
        role = fields.pop("role", "community")
        contact = Contact(phone=phone, name=name, cercle=cercle, role=role, created_at=utcnow(),
                          **fields)  # fmt: skip
        db.add(contact)
        db.commit()
        return contact.id


def cells(response, table: str) -> list[list[str]]:
    """Return the rows of the table with this id (or of the list's table), as their cells'
    text."""
    text = response.get_data(as_text=True)
    opening = f'<table id="{table}">' if table else "<table>"
    if opening not in text:
        return []
    inside = text.split(opening, 1)[1].split("</table>", 1)[0]
    inside = inside.split("<tbody>", 1)[1] if "<tbody>" in inside else inside
    return [
        [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split())
         for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", inside, re.S)
    ]  # fmt: skip
