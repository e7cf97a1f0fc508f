"""Inbound SMS keywords: what a word texted to the service asks for."""

import unicodedata
from collections.abc import Mapping

from flows import Catalog

# What a keyword may ask for; app/web/sms.py carries each out.
MEANINGS = ("stop", "start", "help", "formation", "signaler")
# The carriers' own words, kept here rather than in content/: operators expect STOP, START
# and HELP to work on any short code whatever the language, so no content edit may drop or
# reassign them. They are English and no copy of ours; every other spelling, French
# included, is in the `keywords:` section of content/<lang>/sms.yaml.
BASE = {"STOP": "stop", "START": "start", "HELP": "help"}
SECTION = "keywords"  # the top-level key of a content file that lists them


def words(text: str) -> list[str]:
    """Split text into words as keywords compare: upper case, accents dropped."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in bare.upper()).split()


def table(sections: Mapping[str, object]) -> tuple[dict[str, str], list[str]]:
    """Merge the keywords sections (by file) over BASE into word -> meaning; list the problems."""
    found, source = dict(BASE), dict.fromkeys(BASE, "app/messaging/keywords.py")
    problems: list[str] = []
    for where, section in sections.items():
        if not isinstance(section, dict):
            problems.append(f"{where}: {SECTION} must map each meaning to a list of words")
            continue
        for meaning, spellings in section.items():
            if meaning not in MEANINGS:
                problems.append(
                    f"{where}: unknown keyword meaning {meaning!r} (known: {', '.join(MEANINGS)})"
                )
                continue
            if not isinstance(spellings, list) or not all(isinstance(s, str) for s in spellings):
                # YAML reads a bare yes, no, on or off as true or false: quotes keep them words.
                problems.append(f"{where}: {SECTION}.{meaning} must be a list of quoted words")
                continue
            for spelling in spellings:
                folded = words(spelling)
                if len(folded) != 1:
                    # Only the first word of an SMS is read: more could never match.
                    problems.append(f"{where}: keyword {spelling!r} must be exactly one word")
                elif found.setdefault(folded[0], meaning) != meaning:
                    problems.append(
                        f"{where}: keyword {spelling!r} means {meaning!r} here but "
                        f"{found[folded[0]]!r} in {source[folded[0]]}"
                    )
                else:
                    source.setdefault(folded[0], where)
    for meaning in sorted(set(MEANINGS) - set(found.values())):
        problems.append(f"no keyword means {meaning!r}: its SMS reply could never be asked for")
    return found, problems


def keyword(text: str | None, catalog: Catalog) -> str | None:
    """Return what the first word of text asks for, in any case, accent or language, or None."""
    first = words(text or "")[:1]
    return catalog.keywords.get(first[0]) if first else None
