"""The GSM 03.38 alphabet: what a basic phone can show in one 7-bit screen."""

import unicodedata
from functools import lru_cache

# The basic set only: the extension table (^{}[]~|\€) costs two septets and
# several USSD gateways drop it, so screens never use it.
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# Characters French writers type that fall outside the basic set, with the
# nearest GSM-7 spelling; anything else is reduced to its base letter.
_FOLD = {
    "ç": "c",
    "œ": "oe",
    "Œ": "OE",
    "æ": "ae",
    "’": "'",
    "‘": "'",
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\t": " ",
    "⁄": "/",
    "°": "o",  # n° reads as no
}


# Each language's spelling in GSM-7, applied to its copy as it is loaded, so that
# translators write their standard orthography. Bambara's open vowels take the
# grave accent that GSM-7 has in lower case; in upper case it has no È or Ò, so
# the capitals lose the accent rather than the letter.
SPELLING: dict[str, dict[str, str]] = {
    "bm": {"ɛ": "è", "ɔ": "ò", "ɲ": "ny", "ŋ": "ng", "Ɛ": "E", "Ɔ": "O", "Ɲ": "Ny", "Ŋ": "Ng"},
}
_SPELLING_TABLES = {lang: str.maketrans(rule) for lang, rule in SPELLING.items()}


def respell(text: str, lang: str) -> str:
    """Apply lang's spelling rule to text (unchanged for a language without one)."""
    table = _SPELLING_TABLES.get(lang)
    return text.translate(table) if table else text


def is_gsm7(text: str) -> bool:
    """Tell whether every character of text is in the GSM-7 basic set."""
    return all(c in BASIC for c in text)


def outside(text: str) -> str:
    """Return the distinct characters of text that GSM-7 cannot carry."""
    return "".join(sorted({c for c in text if c not in BASIC}))


@lru_cache(maxsize=8192)  # screens repeat: each label is folded once, not on every hop
def fold(text: str) -> str:
    """Rewrite text into the GSM-7 basic set, keeping it readable."""
    out = []
    for c in text:
        if c in BASIC:
            out.append(c)
        elif c in _FOLD:
            out.append(_FOLD[c])
        else:
            # Keep every letter of the decomposition (ﬁ is f+i), drop accents.
            parts = unicodedata.normalize("NFKD", c)
            kept = "".join(_FOLD.get(p, p) for p in parts if p in BASIC or p in _FOLD)
            out.append(kept or ("" if unicodedata.combining(c) else "?"))
    return "".join(out)
