"""REPORTER_KEY's rotation: re-encrypt the contactable reporters' stored numbers."""

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.infra.keyring import fernet, parse
from app.infra.models import Case

# Rows re-encrypted per transaction: short locks, and an interrupted rotation keeps its progress.
BATCH = 500


class UnreadableNumber(Exception):
    """A stored number opens with none of the keys: rotating would lose it."""


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
