"""Short codes read on a small screen or over the phone: case references, certificates."""

import secrets

# Letters and digits that cannot be misread for one another (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def draw(length: int) -> str:
    """Draw a fresh code of length characters from ALPHABET."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def digits(length: int) -> str:
    """Draw a code of length digits, never starting with 0 (a spreadsheet would drop it)."""
    return str(10 ** (length - 1) + secrets.randbelow(9 * 10 ** (length - 1)))
