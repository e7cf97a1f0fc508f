"""Inbound SMS keywords: what a word texted to the service asks for."""

import unicodedata

# Every spelling a caller may use, folded and upper-cased, to its meaning.
KEYWORDS = {
    "STOP": "stop",
    "ARRET": "stop",
    "DESABONNER": "stop",
    "DESINSCRIRE": "stop",
    "START": "start",
    "ABONNER": "start",
    "AIDE": "help",
    "HELP": "help",
    "FORMATION": "formation",
    "SIGNALER": "signaler",
}


def keyword(text: str) -> str | None:
    """Return the meaning of the first word of text, in any case or accent, or None."""
    bare = "".join(
        c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c)
    )
    words = "".join(c if c.isalnum() else " " for c in bare.upper()).split()
    return KEYWORDS.get(words[0]) if words else None
