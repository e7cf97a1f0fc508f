"""Campaign messages and their placeholders, and creating a campaign."""

import json
import re
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.infra.models import Campaign, Contact
from app.messaging.campaigns.creation import create
from app.messaging.campaigns.text import (
    CampaignError,
    EmptyMessageError,
    PlaceholderError,
    check_messages,
    message_for,
    render,
)

from .conftest import NOW, add_contacts, new, phone, reload


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Bonjour {name} de {cercle}.", "Bonjour Awa de Kati."),
        ("Bonjour {name}, {commune}", "Bonjour Awa,"),  # blank at the end
        ("{region} Bonjour", "Bonjour"),  # blank at the start
        ("Bonjour {unknown} {name}", "Bonjour Awa"),
        ("Accolade { seule", "Accolade { seule"),
        ("Indice {0}", "Indice {0}"),
        # Stored before placeholders were checked: sent as written, never formatted.
        ("{name:x>5000}", "{name:x>5000}"),
        ("{name!r}", "{name!r}"),
        ("{name.upper}", "{name.upper}"),
        ("{name[0]}", "{name[0]}"),
        ("{{name}}", "{Awa}"),
    ],
)
def test_render(template, expected):
    person = Contact(phone=phone(1), name="Awa", cercle="Kati", region=None, commune="")
    assert render(template, person) == expected


def test_render_does_not_fill_placeholders_typed_in_a_value():
    person = Contact(phone=phone(1), name="{cercle} {name:x>99}", cercle="Kati")
    assert render("Bonjour {name} de {cercle}", person) == ("Bonjour {cercle} {name:x>99} de Kati")


@pytest.mark.parametrize(
    "text",
    ["Bonjour", "Bonjour {name} de {cercle}, {region}, {commune} ({organisation}).", "a{name}b"],
)
def test_check_messages_accepts_the_placeholders(text):
    check_messages({"fr": text, "bm": text})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Bonjour {name:x>5000}", "'{name:x>5000}'"),  # a format spec: padding
        ("{name:x>20000000}", "'{name:x>20000000}'"),
        ("Bonjour {name!r}", "'{name!r}'"),  # a conversion
        ("Bonjour {name.upper}", "'{name.upper}'"),  # an attribute
        ("Bonjour {name[0]}", "'{name[0]}'"),  # an index
        ("Indice {0}", "'{0}'"),
        ("Vide {}", "'{}'"),
        ("Bonjour {nom}", "'{nom}'"),  # unknown
        ("Bonjour {Name}", "'{Name}'"),
        ("Bonjour { name }", "'{ name }'"),
        ("Accolade { seule", "'{ seule'"),  # unbalanced
        ("Accolade } seule", "'}'"),
        ("Bonjour {name", "'{name'"),
        ("Bonjour {{name}}", "'{}'"),  # str.format's escaped braces are braces too
        ("Bonjour {name}}", "'}'"),
    ],
)
def test_check_messages_refuses_anything_but_a_placeholder(text, shown):
    with pytest.raises(PlaceholderError, match=re.escape(f"message (fr): {shown}")):
        check_messages({"fr": text})
    with pytest.raises(PlaceholderError, match=re.escape("message (bm)")):
        check_messages({"fr": "Bonjour {name}", "bm": text})


def test_create_refuses_a_format_spec(db):
    with pytest.raises(PlaceholderError):
        create(db, "Nom", {"fr": "Bonjour {name:x>5000}"}, {})
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--message", "Bonjour {name:x>5000}"],
        ["--message", "Bonjour {name!r}"],
        ["--message", "Bonjour {nom}"],
        ["--message", "Bonjour {name"],
        ["--message", "Bonjour {name}", "--message-bm", "I ni ce {name[0]}"],
    ],
)
def test_cli_create_refuses_anything_but_a_placeholder(app, runner, db, extra):
    """kalan campaign create exits non-zero, in English, and creates nothing."""
    add_contacts(db, 2, 1, name="Awa")
    result = runner.invoke(["campaign", "create", "--name", "X", *extra, "--yes"])
    assert result.exit_code != 0
    assert "is not a placeholder (placeholders: {name}, {cercle}" in result.output
    assert "recipients:" not in result.output  # refused before counting anything
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("bm", "I ni ce"), ("fr", "Bonjour"), (None, "Bonjour"), ("en", "Bonjour")],
)
def test_message_for(lang, expected):
    assert message_for({"fr": "Bonjour", "bm": "I ni ce"}, lang) == expected


def test_message_for_without_french_takes_the_first():
    assert message_for({"bm": "I ni ce"}, "fr") == "I ni ce"


@pytest.mark.parametrize(
    ("name", "messages"),
    [(" ", {"fr": "Bonjour"}), ("Nom", {}), ("Nom", {"fr": "  "}), ("Nom", {"fr": "ok", "bm": ""})],
)
def test_create_needs_a_name_and_messages(db, name, messages):
    with pytest.raises(CampaignError):
        create(db, name, messages, {})


def test_create_stores_the_campaign(db):
    start = NOW + timedelta(days=1)
    campaign = new(
        db,
        {"fr": "Bonjour", "bm": "I ni ce"},
        {"role": ["agent"]},
        start_at=start,
        rate=5,
        budget=Decimal("1000"),
    )
    stored = reload(db, campaign.id)
    assert stored.status == "scheduled"
    assert json.loads(stored.messages) == {"fr": "Bonjour", "bm": "I ni ce"}
    assert json.loads(stored.audience) == {"role": ["agent"]}
    assert (stored.rate, stored.budget, stored.cursor, stored.recipients) == (5, 1000, 0, 0)
    assert stored.start_at.replace(tzinfo=UTC) == start


@pytest.mark.parametrize("messages", [{"fr": ""}, {"fr": "  \n "}, {"fr": "Bonjour", "bm": " "}])
def test_an_empty_message_is_refused_as_such(messages):
    """Nothing to send is its own refusal, so that no page prices it."""
    with pytest.raises(EmptyMessageError, match="is empty: a campaign needs a message"):
        check_messages(messages)
