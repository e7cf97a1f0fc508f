"""What an SMS costs before it is sent: its encoding, its parts and their price."""

from dataclasses import dataclass
from decimal import Decimal

from flows.gsm import BASIC, fold

EXTENSION = frozenset("^{}\\[~]|€\f")  # GSM-7 characters that take two septets
GSM7, UCS2 = "GSM-7", "UCS-2"
_SEPTETS = (
    BASIC | EXTENSION
)  # what GSM-7 carries: a text is checked in C, not a character at a time


@dataclass(frozen=True)
class Estimate:
    """How a text travels: encoding, number of parts, and estimated cost."""

    encoding: str
    parts: int
    cost: Decimal


def encoding(text: str) -> str:
    """Return GSM-7 when every character fits the 7-bit alphabet, else UCS-2."""
    return GSM7 if _SEPTETS.issuperset(text) else UCS2


def parts(text: str) -> int:
    """Return how many SMS parts text needs (GSM 03.38 / 3GPP TS 23.038 rules).

    A character is never split across parts: an escaped GSM-7 character (two
    septets) or a UCS-2 surrogate pair that does not fit starts the next part.
    """
    if encoding(text) == GSM7:
        escaped = sum(map(text.count, EXTENSION))
        if len(text) + escaped <= 160:  # most texts: one part
            return 1
        if not escaped:  # a septet each: none to keep whole
            return -(-len(text) // 153)
        sizes, multi = [2 if c in EXTENSION else 1 for c in text], 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        if units <= 70:
            return 1
        if units == len(text):  # no emoji: a unit each
            return -(-units // 67)
        sizes, multi = [len(c.encode("utf-16-le")) // 2 for c in text], 67  # emoji take two
    count, used = 1, 0
    for size in sizes:
        if used + size > multi:
            count, used = count + 1, 0
        used += size
    return count


def estimate(text: str, part_cost: Decimal) -> Estimate:
    """Return the encoding, parts and cost of text at part_cost per part."""
    n = parts(text)
    return Estimate(encoding(text), n, part_cost * n)


def prepare(text: str, ascii_fold: bool) -> str:
    """Return the text as it will be sent: folded into GSM-7 when asked.

    Unlike a USSD screen, an SMS may use the GSM-7 extension table (€ [ ] …).
    """
    if not ascii_fold or _SEPTETS.issuperset(text):  # folding keeps what GSM-7 carries
        return text
    return "".join(c if c in EXTENSION else fold(c) for c in text)
