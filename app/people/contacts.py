"""Contacts: phone numbers in E.164 and the profile a USSD session needs."""

from datetime import datetime
from functools import lru_cache

import phonenumbers
from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.infra.db import NO_WAIT, commit_soon, soon
from app.infra.models import Contact, day_of

REGION = "ML"  # numbers typed without +223 are Malian


def normalize(raw: str, region: str = REGION) -> str | None:
    """Return raw as an E.164 number, or None when it is not a possible number."""
    raw = (raw or "").strip()
    if not raw or len(raw) > 32:
        return None
    return _e164(raw, region)


@lru_cache(maxsize=65536)  # every hop of a session names the same phone: parse it once
def _e164(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def profile(contact: Contact | Row, day: str) -> dict:
    """Return what a USSD session keeps of a contact, stamped with the day seen."""
    return {
        "id": contact.id,
        "lang": contact.language,
        "role": contact.role,
        "name": contact.name,
        "organisation": contact.organisation,
        "seen": day,
    }


_CONTACTS = Contact.__table__
_SEEN = (
    update(_CONTACTS)
    .where(_CONTACTS.c.phone == bindparam("v_phone"))
    .values(last_seen=bindparam("v_now"))
    .returning(*(_CONTACTS.c[name] for name in ("id", "language", "role", "name", "organisation")))
)
_SEEN_PG = _SEEN.where(NO_WAIT)


def seen(engine: Engine, phone: str, now: datetime) -> Row | None:
    """Mark a known contact seen now and return what profile() reads, in one statement.

    None for a phone never seen: touch() creates it. A lost last_seen (a database crash)
    costs nothing. The first hop of a caller's day does both in the statement that reads
    its profile (app/people/profile.py).
    """
    with soon(engine) as conn:
        statement = _SEEN_PG if conn.dialect.name == "postgresql" else _SEEN
        return conn.execute(statement, {"v_phone": phone, "v_now": day_of(now)}).first()


def touch(db: Session, phone: str, now: datetime) -> Contact:
    """Return the contact for phone, creating it on first contact; mark it seen today."""
    now = day_of(now)  # to the day: a first call's minute could be matched with a report's
    query = select(Contact).where(Contact.phone == phone)
    contact = db.scalars(query).first()
    if contact is None:
        contact = Contact(
            phone=phone, role="community", first_seen=now, last_seen=now, created_at=now
        )
        db.add(contact)
        try:
            commit_soon(db)
            return contact
        except IntegrityError:
            # Two first hops raced (a double dial): the other one created it.
            db.rollback()
            contact = db.scalars(query).one()
    contact.last_seen = now
    commit_soon(db)
    return contact


def update_contact(db: Session, phone: str, **values) -> None:
    """Set columns of the contact with this phone (a language, a name: the session has them)."""
    db.execute(update(Contact).where(Contact.phone == phone).values(**values))
    commit_soon(db)
