"""Contacts: E.164 normalisation and first/last seen."""

from datetime import UTC, datetime, timedelta

import pytest

from app.infra.models import Contact
from app.people import contacts

from .helpers import seen_from_outside


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+22370000001", "+22370000001"),
        ("70000001", "+22370000001"),
        ("70 00 00 01", "+22370000001"),
        ("0022370000001", "+22370000001"),
        ("+254711082000", "+254711082000"),
        ("", None),
        ("abc", None),
        ("123", None),
        ("+" + "9" * 40, None),
    ],
)
def test_normalize(raw, expected):
    assert contacts.normalize(raw) == expected


def test_touch_creates_once_and_updates_last_seen_to_the_day(app):
    """Times kept to the day: a first call's minute could be matched with a report's."""
    t0 = datetime(2026, 11, 29, 8, 17, 3, tzinfo=UTC)
    day = datetime(2026, 11, 29, tzinfo=UTC)
    with app.extensions["db"]() as db:
        first = contacts.touch(db, "+22370000001", t0)
        again = contacts.touch(db, "+22370000001", t0 + timedelta(days=1))
        assert first.id == again.id
        assert db.query(Contact).count() == 1
        row = db.query(Contact).one()
        assert row.first_seen.replace(tzinfo=UTC) == row.created_at.replace(tzinfo=UTC) == day
        assert row.last_seen.replace(tzinfo=UTC) == day + timedelta(days=1)


def test_seen_marks_a_known_contact_and_returns_its_profile_in_one_go(app):
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    engine = app.extensions["engine"]
    assert contacts.seen(engine, "+22370000001", t0) is None  # unknown: touch() creates it
    with app.extensions["db"]() as db:
        assert db.query(Contact).count() == 0
        contact = contacts.touch(db, "+22370000001", t0)
        contacts.update_contact(db, "+22370000001", language="fr", name="Awa")
    # On PostgreSQL the day is committed as the statement runs (db.soon): others see it at once.
    seen_today = "SELECT count(*) FROM contacts WHERE last_seen >= '2026-11-30'"
    with seen_from_outside(engine, seen_today) as seen:
        row = contacts.seen(engine, "+22370000001", t0 + timedelta(days=1))
    assert seen == [1 if engine.dialect.name == "postgresql" else 0]
    assert contacts.profile(row, "2026-11-30") == {
        "id": contact.id, "lang": "fr", "role": "community", "name": "Awa",
        "organisation": None, "seen": "2026-11-30"}  # fmt: skip
    with app.extensions["db"]() as db:
        assert db.query(Contact).one().last_seen.replace(tzinfo=UTC) == datetime(
            2026, 11, 30, tzinfo=UTC
        )


def test_profile_is_what_a_session_needs(app):
    with app.extensions["db"]() as db:
        contact = contacts.touch(db, "+22370000001", datetime.now(UTC))
        contacts.update_contact(db, "+22370000001", language="fr", name="Awa")
        db.refresh(contact)
        assert contacts.profile(contact, "2026-11-29") == {
            "id": contact.id,
            "lang": "fr",
            "role": "community",
            "name": "Awa",
            "organisation": None,
            "seen": "2026-11-29",
        }
