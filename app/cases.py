"""Cases: opened from reports, with the reporter hashed or encrypted, never in clear."""

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import outbox
from .models import Case, CaseEvent

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
        verify_by=now + timedelta(hours=24 if answers.get("urgent") else 72),
        created_at=now,
    )
    db.add(case)
    db.flush()
    db.add(CaseEvent(case_id=case.id, actor="report", from_status=None, to_status="new", at=now))
    if contactable and answers.get("receipt"):
        catalog = current_app.extensions["catalog"]
        text = catalog.get("sms.receipt", reference=reference, code=current_app.config["USSD_CODE"])
        outbox.add(db, "receipt", reference, phone, text)
    return case


def status(db: Session, reference: str) -> str | None:
    """Return a case's status by reference, or None."""
    return db.scalars(select(Case.status).where(Case.reference == reference)).first()


# The CLMRS cycle: each state and the states it may move to next.
TRANSITIONS = {
    "new": ("verifying",),
    "verifying": ("confirmed", "unfounded"),
    "confirmed": ("referred",),
    "referred": ("following",),
    "following": ("closed",),
    "unfounded": ("closed",),
    "closed": (),
}


class CaseError(Exception):
    """A case change that cannot be made; the message says why."""


def find(db: Session, reference: str) -> Case:
    """Return the case with this reference, or raise CaseError."""
    case = db.scalars(select(Case).where(Case.reference == reference.strip().upper())).first()
    if case is None:
        raise CaseError(f"no case {reference.strip().upper()!r}")
    return case


def move(db: Session, case: Case, status: str, actor: str, note: str, now: datetime) -> None:
    """Move a case to its next state, recording who, when and why; the caller commits."""
    if status not in TRANSITIONS:
        raise CaseError(f"unknown status {status!r} (known: {', '.join(TRANSITIONS)})")
    if status not in TRANSITIONS[case.status]:
        allowed = ", ".join(TRANSITIONS[case.status]) or "none: the case is closed"
        raise CaseError(f"case {case.reference} is {case.status}: next may be {allowed}")
    db.add(CaseEvent(case_id=case.id, actor=actor, from_status=case.status, to_status=status,
                     note=note or None, assignee=case.assignee, at=now))  # fmt: skip
    case.status = status


def assign(db: Session, case: Case, phone: str, actor: str, now: datetime) -> None:
    """Give a case to a field agent, recorded in the audit log; the caller commits."""
    case.assignee = phone
    db.add(CaseEvent(case_id=case.id, actor=actor, from_status=case.status,
                     to_status=case.status, note="assigned", assignee=phone, at=now))  # fmt: skip


def history(db: Session, case: Case) -> list[CaseEvent]:
    """Return a case's audit log, oldest first."""
    return list(
        db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    )
