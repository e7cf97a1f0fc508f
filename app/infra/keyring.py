"""Fernet keyrings: "NEW,OLD", newest first; encrypt with the first key, read with any."""

import base64
import hashlib
import re
from collections.abc import Sequence

from cryptography.fernet import Fernet, MultiFernet

# 32 bytes in urlsafe base64, exactly: base64 decoding alone would ignore stray characters.
FERNET_KEY = re.compile(r"^[A-Za-z0-9_-]{43}=$")


def parse(keys: str | Sequence[str]) -> tuple[str, ...]:
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


def fernet(keys: str | Sequence[str]) -> MultiFernet:
    """Return a cipher that encrypts with the first key and decrypts with any of them."""
    return MultiFernet([Fernet(key) for key in parse(keys)])


def encrypt(phone: str, keys: str | Sequence[str]) -> str:
    """Encrypt a contactable reporter's phone for storage, with the first key."""
    return fernet(keys).encrypt(phone.encode()).decode()


def decrypt(token: str, keys: str | Sequence[str]) -> str:
    """Read back an encrypted phone; raise cryptography's InvalidToken if no key opens it."""
    return fernet(keys).decrypt(token.encode()).decode()


def legacy_key(secret_key: str) -> str:
    """Return the key that earlier releases derived from SECRET_KEY, to list last for a rotation."""
    digest = hashlib.sha256(b"kalan-reporter:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()
