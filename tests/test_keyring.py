"""Fernet keyrings: several keys, newest first, never shown in an error, and the legacy key."""

import pytest
from cryptography.fernet import InvalidToken

from app.infra import keyring

from .helpers import LEGACY_SECRET, LEGACY_TOKEN, fixed_fernet_key

A = fixed_fernet_key("a")
B = fixed_fernet_key("b")
PHONE = "+22370000001"


def test_a_number_round_trips_and_is_not_stored_in_clear():
    token = keyring.encrypt(PHONE, A)
    assert PHONE not in token and PHONE[1:] not in token
    assert keyring.decrypt(token, A) == PHONE


def test_the_first_key_encrypts_and_every_key_decrypts():
    token = keyring.encrypt(PHONE, f"{B},{A}")
    assert keyring.decrypt(token, B) == PHONE
    with pytest.raises(InvalidToken):
        keyring.decrypt(token, A)
    older = keyring.encrypt(PHONE, A)
    assert keyring.decrypt(older, f"{B}, {A}") == PHONE
    assert keyring.decrypt(older, [B, A]) == PHONE
    assert keyring.decrypt(older, (B, A)) == PHONE


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
        keyring.parse(keys)
    assert str(caught.value).startswith(message)
    assert A not in str(caught.value) and B not in str(caught.value)


def test_keys_are_parsed_in_order_without_spaces():
    assert keyring.parse(f" {B} , {A} ") == (B, A)
    assert keyring.parse([B, A]) == (B, A)


def test_the_legacy_key_reads_what_earlier_releases_wrote():
    """A number stored under the SECRET_KEY-derived key opens with legacy_key listed last."""
    old = keyring.legacy_key(LEGACY_SECRET)
    assert keyring.decrypt(LEGACY_TOKEN, f"{B},{old}") == PHONE
    assert keyring.legacy_key("dev") == "dNkSc1Z3p5G1pyuvTyV-Yf1MXelGBzij-YsmAic5b_c="
    with pytest.raises(InvalidToken):
        keyring.decrypt(LEGACY_TOKEN, keyring.legacy_key("another-secret"))
