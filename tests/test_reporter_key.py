"""REPORTER_KEY: encrypting reporters' numbers, several keys, rotation and the legacy key."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from app.cases import reporter_key
from app.infra.models import Case

from .conftest import Runner

A = Fernet.generate_key().decode()
B = Fernet.generate_key().decode()
PHONE = "+22370000001"
# Written by the release that derived the key from SECRET_KEY ("old-production-secret").
LEGACY_SECRET = "old-production-secret"
LEGACY_TOKEN = (
    "gAAAAABrE60G_hpDhfcJzpF8hg0GDlLEX6CBIiprx8MWwyNF68Bplj2toe4ZJA9oV22VYL6GhPtj8fnklENQ7dKZS"
    "Yf9O3qWgg=="
)


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


# encrypt, decrypt, parse


def test_a_number_round_trips_and_is_not_stored_in_clear():
    token = reporter_key.encrypt(PHONE, A)
    assert PHONE not in token and PHONE[1:] not in token
    assert reporter_key.decrypt(token, A) == PHONE


def test_the_first_key_encrypts_and_every_key_decrypts():
    token = reporter_key.encrypt(PHONE, f"{B},{A}")
    assert reporter_key.decrypt(token, B) == PHONE
    with pytest.raises(InvalidToken):
        reporter_key.decrypt(token, A)
    older = reporter_key.encrypt(PHONE, A)
    assert reporter_key.decrypt(older, f"{B}, {A}") == PHONE
    assert reporter_key.decrypt(older, [B, A]) == PHONE
    assert reporter_key.decrypt(older, (B, A)) == PHONE


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("", "give one key or several separated by commas"),
        (f"{A},", "give one key or several separated by commas"),
        (f"{A},,{B}", "give one key or several separated by commas"),
        ([], "give one key or several separated by commas"),
        ("change-me", "key 1 is not a Fernet key"),
        (f"{A},{A[:-2]}", "key 2 is not a Fernet key"),
        (f"{A},{B}x", "key 2 is not a Fernet key"),
    ],
)
def test_a_malformed_key_is_refused_without_showing_it(keys, message):
    with pytest.raises(ValueError) as caught:
        reporter_key.parse(keys)
    assert str(caught.value).startswith(message)
    assert A not in str(caught.value) and B not in str(caught.value)


def test_keys_are_parsed_in_order_without_spaces():
    assert reporter_key.parse(f" {B} , {A} ") == (B, A)
    assert reporter_key.parse([B, A]) == (B, A)


def test_the_legacy_key_reads_what_earlier_releases_wrote():
    """A number stored under the SECRET_KEY-derived key opens with legacy_key listed last."""
    old = reporter_key.legacy_key(LEGACY_SECRET)
    assert reporter_key.decrypt(LEGACY_TOKEN, f"{B},{old}") == PHONE
    assert reporter_key.legacy_key("dev") == "dNkSc1Z3p5G1pyuvTyV-Yf1MXelGBzij-YsmAic5b_c="
    with pytest.raises(InvalidToken):
        reporter_key.decrypt(LEGACY_TOKEN, reporter_key.legacy_key("another-secret"))


# rotate


def test_rotate_moves_every_number_to_the_first_key_in_batches(make_app):
    app = make_app()
    tokens = [reporter_key.encrypt(f"+2237000000{n}", A) for n in range(5)]
    references = store(app, *tokens, None)
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, f"{B},{A}", batch=2) == 5
    after = stored(app)
    assert after[references[-1]] is None  # an anonymous report stays without a number
    for n, reference in enumerate(references[:-1]):
        assert reporter_key.decrypt(after[reference], B) == f"+2237000000{n}"
        with pytest.raises(InvalidToken):
            reporter_key.decrypt(after[reference], A)


def test_rotate_leaves_numbers_already_under_the_first_key(make_app):
    """Run again, or after an interruption, it only rewrites what is left."""
    app = make_app()
    current = reporter_key.encrypt(PHONE, B)
    first, second = store(app, current, reporter_key.encrypt(PHONE, A))
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, [B, A]) == 1
        assert reporter_key.rotate(db, [B, A]) == 0
    after = stored(app)
    assert after[first] == current
    assert reporter_key.decrypt(after[second], B) == PHONE


def test_rotate_with_the_legacy_key_listed_last(make_app):
    app = make_app()
    (reference,) = store(app, LEGACY_TOKEN)
    with app.extensions["db"]() as db:
        assert reporter_key.rotate(db, [B, reporter_key.legacy_key(LEGACY_SECRET)]) == 1
    assert reporter_key.decrypt(stored(app)[reference], B) == PHONE


def test_rotate_stops_at_a_number_no_key_opens_and_names_its_case(make_app):
    app = make_app()
    first, lost = store(app, reporter_key.encrypt(PHONE, A), LEGACY_TOKEN)
    with app.extensions["db"]() as db, pytest.raises(reporter_key.UnreadableNumber) as caught:
        reporter_key.rotate(db, [B, A])
    assert str(caught.value).startswith(f"case {lost}: the reporter's number opens with none")
    after = stored(app)
    assert after[lost] == LEGACY_TOKEN
    assert reporter_key.decrypt(after[first], B) == PHONE  # done before the stop is kept


# kalan keys rotate-reporter


def test_the_command_rotates_to_the_first_key(make_app):
    """A number stored under A, REPORTER_KEY="B,A": afterwards B alone opens it, A alone not."""
    app = make_app(REPORTER_KEY=f"{B},{A}")
    (reference,) = store(app, reporter_key.encrypt(PHONE, A))
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 reporter number(s) re-encrypted with the first key")
    token = stored(app)[reference]
    assert reporter_key.decrypt(token, B) == PHONE
    with pytest.raises(InvalidToken):
        reporter_key.decrypt(token, A)


def test_the_command_fails_on_a_number_no_key_opens(make_app):
    app = make_app(REPORTER_KEY=B)
    (reference,) = store(app, reporter_key.encrypt(PHONE, A))
    result = Runner(app).invoke(["keys", "rotate-reporter"])
    assert result.exit_code == 1
    assert f"error: case {reference}: the reporter's number opens with none" in result.output
