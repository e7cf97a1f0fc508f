"""REPORTER_KEY's rotation: every stored number moves to the first key, none is lost."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from app.cases import reporter_key
from app.infra import keyring
from app.infra.models import Case

from .conftest import Runner
from .helpers import LEGACY_SECRET, LEGACY_TOKEN

A = Fernet.generate_key().decode()
B = Fernet.generate_key().decode()
PHONE = "+22370000001"


def store(app, *tokens: str | None) -> list[str]:
    """Save one case per token as its stored reporter number; return their references."""
    references = [f"R{n:05d}" for n in range(len(tokens))]
    with app.extensions["db"]() as db:
        for reference, token in zip(references, tokens, strict=True):
            db.add(Case(reference=reference, contactable=token is not None, reporter_phone=token))
        db.commit()
    return references


def stored(app) -> dict[str, str | None]:
    """Return each case's stored reporter number by reference."""
    with app.extensions["db"]() as db:
        return {
            ref: token for ref, token in db.execute(select(Case.reference, Case.reporter_phone))
        }


# rotate


def test_rotate_moves_every_number_to_the_first_key_in_batches(make_app):
    app = make_app()
    tokens = [keyring.encrypt(f"+2237000000{n}", A) for n in range(5)]
    references = store(app, *tokens, None)
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, f"{B},{A}", batch=2) == 5
    after = stored(app)
    assert after[references[-1]] is None  # an anonymous report stays without a number
    for n, reference in enumerate(references[:-1]):
        assert keyring.decrypt(after[reference], B) == f"+2237000000{n}"
        with pytest.raises(InvalidToken):
            keyring.decrypt(after[reference], A)


def test_rotate_leaves_numbers_already_under_the_first_key(make_app):
    """Run again, or after an interruption, it only rewrites what is left."""
    app = make_app()
    current = keyring.encrypt(PHONE, B)
    first, second = store(app, current, keyring.encrypt(PHONE, A))
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, [B, A]) == 1
        assert reporter_key.rotate(db, [B, A]) == 0
    after = stored(app)
    assert after[first] == current
    assert keyring.decrypt(after[second], B) == PHONE


def test_rotate_with_the_legacy_key_listed_last(make_app):
    app = make_app()
    (reference,) = store(app, LEGACY_TOKEN)
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, [B, keyring.legacy_key(LEGACY_SECRET)]) == 1
    assert keyring.decrypt(stored(app)[reference], B) == PHONE


def test_rotate_stops_at_a_number_no_key_opens_and_names_its_case(make_app):
    app = make_app()
    first, lost = store(app, keyring.encrypt(PHONE, A), LEGACY_TOKEN)
    with app.extensions["db"]() as db, pytest.raises(reporter_key.UnreadableNumber) as caught:
        reporter_key.rotate(db, [B, A])
    assert str(caught.value).startswith(f"case {lost}: the reporter's number opens with none")
    after = stored(app)
    assert after[lost] == LEGACY_TOKEN
    assert keyring.decrypt(after[first], B) == PHONE  # done before the stop is kept


# kalan keys rotate-reporter


def test_the_command_rotates_to_the_first_key(make_app):
    """A number stored under A, REPORTER_KEY="B,A": afterwards B alone opens it, A alone not."""
    app = make_app(REPORTER_KEY=f"{B},{A}")
    (reference,) = store(app, keyring.encrypt(PHONE, A))
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 reporter number(s) re-encrypted with the first key")
    token = stored(app)[reference]
    assert keyring.decrypt(token, B) == PHONE
    with pytest.raises(InvalidToken):
        keyring.decrypt(token, A)


def test_the_command_fails_on_a_number_no_key_opens(make_app):
    app = make_app(REPORTER_KEY=B)
    (reference,) = store(app, keyring.encrypt(PHONE, A))
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 1
    assert f"error: case {reference}: the reporter's number opens with none" in result.output
