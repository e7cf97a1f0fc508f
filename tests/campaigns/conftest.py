"""Campaigns: contacts, campaigns and outbox rows made directly in the database."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.infra.models import Campaign, Contact, Message
from app.messaging.campaigns.creation import create

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(app):
    with app.app_context(), app.extensions["db"]() as session:
        yield session


def phone(n: int) -> str:
    return f"+2237000{n:04d}"


def add_contacts(db, count: int, start: int = 1, **fields) -> list[Contact]:
    """Add count contacts with consecutive phones and the given fields."""
    fields.setdefault("role", "agent")
    people = [
        Contact(phone=phone(n), failed_streak=0, **fields) for n in range(start, start + count)
    ]
    db.add_all(people)
    db.commit()
    return people


def rows(db, campaign_id: int) -> list[Message]:
    db.expire_all()
    query = select(Message).where(Message.campaign_id == campaign_id).order_by(Message.id)
    return list(db.scalars(query))


def reload(db, campaign_id: int) -> Campaign:
    db.expire_all()
    return db.get(Campaign, campaign_id)


def new(db, messages=None, audience=None, **options) -> Campaign:
    campaign = create(
        db, "Sensibilisation", messages or {"fr": "Bonjour"}, audience or {}, **options
    )
    db.commit()
    return campaign


def set_statuses(db, campaign_id: int, statuses: list[str]) -> None:
    """Give the campaign's rows these statuses, in id order."""
    for message, status in zip(rows(db, campaign_id), statuses, strict=True):
        message.status = status
        if status in ("sent", "delivered"):
            message.sent_at = NOW
        if status in ("delivered", "failed", "cancelled"):
            message.finished_at = NOW
    db.commit()
