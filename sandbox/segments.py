"""How many parts an SMS takes, by the GSM 03.38 / 3GPP TS 23.038 rules AT bills by."""

import math

from flows.gsm import BASIC

# GSM-7 characters of the extension table: each takes an escape and a septet.
EXTENSION = frozenset("^{}\\[~]|€\f")


def parts(text: str) -> int:
    """Return the number of parts text is sent in: GSM-7 if it can, else UCS-2."""
    if all(c in BASIC or c in EXTENSION for c in text):
        units = sum(2 if c in EXTENSION else 1 for c in text)
        single, multi = 160, 153
    else:
        # UCS-2 counts UTF-16 code units, so an emoji takes two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)
