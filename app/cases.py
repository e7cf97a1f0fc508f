"""Cases: opened from reports, with the reporter hashed or encrypted, never in clear."""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import outbox
from .models import Case

# Letters and digits that cannot be misread for one another on a small screen.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 6


def new_reference() -> str:
    """Draw a fresh case reference."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def reporter_hash(phone: str) -> str:
    """Return a salted hash of a phone: enough to count reports, not to find the person."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, phone.encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"kalan-reporter:" + current_app.config["SECRET_KEY"].encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(phone: str) -> str:
    """Encrypt a contactable reporter's phone for storage."""
    return _fernet().encrypt(phone.encode()).decode()


def decrypt(token: str) -> str:
    """Read back an encrypted phone (supervisors only)."""
    return _fernet().decrypt(token.encode()).decode()


def open_case(db: Session, phone: str, reference: str, answers: dict, now: datetime) -> Case:
    """Open a case in the caller's transaction; queue the receipt if asked for."""
    contactable = bool(answers.get("contactable"))
    case = Case(
        reference=reference,
        status="new",
        urgent=bool(answers.get("urgent")),
        sector=answers.get("sector"),
        region=answers.get("region"),
        cercle=answers.get("cercle"),
        place=answers.get("place") or None,
        children=answers.get("children"),
        age=answers.get("age"),
        sex=answers.get("sex"),
        school=answers.get("school"),
        hazard=answers.get("hazard"),
        contactable=contactable,
        reporter_hash=reporter_hash(phone),
        reporter_phone=encrypt(phone) if contactable else None,
        created_at=now,
    )
    db.add(case)
    if contactable and answers.get("receipt"):
        catalog = current_app.extensions["catalog"]
        text = catalog.get("sms.receipt", reference=reference, code=current_app.config["USSD_CODE"])
        outbox.add(db, "receipt", reference, phone, text)
    return case


def status(db: Session, reference: str) -> str | None:
    """Return a case's status by reference, or None."""
    return db.scalars(select(Case.status).where(Case.reference == reference)).first()
