"""REPORTER_KEY: encrypt contactable reporters' numbers, read them back, rotate the key."""

import base64
import hashlib
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.infra.models import Case

# 32 bytes in urlsafe base64, exactly: base64 decoding alone would ignore stray characters.
FERNET_KEY = re.compile(r"^[A-Za-z0-9_-]{43}=$")
# Rows re-encrypted per transaction: short locks, and an interrupted rotation keeps its progress.
BATCH = 500


class UnreadableNumber(Exception):
    """A stored number opens with none of the keys: rotating would lose it."""


def parse(keys: str | list | tuple) -> tuple[str, ...]:
    """Split "NEW,OLD" into its keys; raise ValueError if one is not a Fernet key."""
    parts = keys.split(",") if isinstance(keys, str) else list(keys)
    parts = tuple(str(part).strip() for part in parts)
    if not parts or not all(parts):
        raise ValueError("give one key or several separated by commas, none of them empty")
    for number, part in enumerate(parts, 1):
        if not FERNET_KEY.match(part):
            # The key itself is not repeated: error messages end up in logs.
            raise ValueError(f"key {number} is not a Fernet key (32 bytes, urlsafe base64)")
    return parts


def fernet(keys: str | list | tuple) -> MultiFernet:
    """Return a cipher that encrypts with the first key and decrypts with any of them."""
    return MultiFernet([Fernet(key) for key in parse(keys)])


def encrypt(phone: str, keys) -> str:
    """Encrypt a contactable reporter's phone for storage, with the first key."""
    return fernet(keys).encrypt(phone.encode()).decode()


def decrypt(token: str, keys) -> str:
    """Read back an encrypted phone; raise cryptography's InvalidToken if no key opens it."""
    return fernet(keys).decrypt(token.encode()).decode()


def legacy_key(secret_key: str) -> str:
    """Return the key that earlier releases derived from SECRET_KEY, to list last for a rotation."""
    digest = hashlib.sha256(b"kalan-reporter:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def rotate(db: Session, keys, batch: int = BATCH) -> int:
    """Re-encrypt every stored number with the first key; return how many rows were rewritten.

    Numbers already under the first key are left alone, so running it again
    after an interruption only finishes the work. Commits after each batch.
    """
    first, every = Fernet(parse(keys)[0]), fernet(keys)
    rewritten, last = 0, 0
    while True:
        rows = db.execute(
            select(Case.id, Case.reference, Case.reporter_phone)
            .where(Case.id > last, Case.reporter_phone.is_not(None), Case.reporter_phone != "")
            .order_by(Case.id)
            .limit(batch)
        ).all()
        if not rows:
            return rewritten
        for case_id, reference, token in rows:
            if _opens(first, token):
                continue
            try:
                fresh = every.rotate(token.encode()).decode()
            except InvalidToken:
                db.commit()  # keep what this batch already rewrote
                raise UnreadableNumber(
                    f"case {reference}: the reporter's number opens with none of the keys in "
                    "REPORTER_KEY (list the old key after the new one)"
                ) from None
            # Only if unchanged since it was read, so nothing written meanwhile is lost.
            result = db.execute(
                update(Case)
                .where(Case.id == case_id, Case.reporter_phone == token)
                .values(reporter_phone=fresh)
                .execution_options(synchronize_session=False)
            )
            rewritten += result.rowcount
        db.commit()
        last = rows[-1].id


def _opens(key: Fernet, token: str) -> bool:
    """Tell whether this one key decrypts the token."""
    try:
        key.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
