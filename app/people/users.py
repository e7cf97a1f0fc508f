"""Console users: argon2 password hashes, roles, scopes, and revocable sessions."""

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra.models import AuditEntry, User
from flows.report import REGIONS

ROLES = ("admin", "supervisor", "viewer")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,}$")
PASSWORD_MIN = 10
_hasher = PasswordHasher()
# Checked when nobody has the email, so that a wrong email costs as long as a wrong password.
_DUMMY = _hasher.hash("kalan-no-such-user")


class UserError(Exception):
    """A user that cannot be recorded; the message says why."""


def parse_scope(text: str | None) -> str | None:
    """Turn "cercle=kadiolo" (or "region=sikasso") into a stored scope; None is everywhere."""
    if not text:
        return None
    kind, _, value = text.strip().lower().partition("=")
    cercles = {c for names in REGIONS.values() for c in names}
    if (kind == "cercle" and value in cercles) or (kind == "region" and value in REGIONS):
        return f"{kind}={value}"
    raise UserError(f"scope must be cercle=<cercle> or region=<region>, not {text!r}")


def add(db: Session, email: str, role: str, password: str, scope: str | None) -> User:
    """Create a user, or reset an existing one's role, scope and password. Caller commits."""
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise UserError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < PASSWORD_MIN:
        raise UserError(f"the password must have at least {PASSWORD_MIN} characters")
    scope = parse_scope(scope)
    if role == "admin" and scope:
        raise UserError("an admin sees everything: no scope")
    user = find(db, email)
    if user is None:
        user = User(email=email)
        db.add(user)
    else:
        end_sessions(user)  # a new password: whoever held the old one is signed out
    user.role, user.scope, user.password_hash = role, scope, _hasher.hash(password)
    return user


def find(db: Session, email: str) -> User | None:
    """Return the user with this email, or None."""
    return db.scalars(select(User).where(User.email == email.strip().lower())).first()


def authenticate(db: Session, email: str, password: str, now: datetime) -> User | None:
    """Return the user if the password is theirs, else None. Caller commits."""
    user = find(db, email)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user


def end_sessions(user: User) -> None:
    """Make every session cookie this user holds stale. Caller commits."""
    # Added in SQL, not in Python: two bumps at the same time both land, so an
    # older cookie can never match the version again.
    user.session_version = User.session_version + 1


def disable(db: Session, email: str, now: datetime) -> User | None:
    """Stop a user signing in and end their sessions; None if no such user. Caller commits."""
    user = find(db, email)
    if user is not None:
        user.disabled_at = user.disabled_at or now  # disabling twice keeps the first date
        end_sessions(user)
    return user


def enable(db: Session, email: str) -> User | None:
    """Let a disabled user sign in again; None if nobody has the email. Caller commits."""
    user = find(db, email)
    if user is not None:
        user.disabled_at = None
    return user


def audit(db: Session, actor: str, action: str, target: str | None, now: datetime) -> None:
    """Record what a console user viewed or took. Caller commits."""
    db.add(AuditEntry(actor=actor, action=action, target=target, at=now))
