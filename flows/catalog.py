"""A catalog of user-facing copy by language, with French as the fallback.

Placeholders are written $name: the dollar sign is in GSM-7, braces are not.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from string import Template

from .course import Course

FALLBACK = "fr"


@dataclass(frozen=True)
class Catalog:
    """Copy keyed by dotted names, one mapping per language."""

    texts: Mapping[str, Mapping[str, str]]
    names: Mapping[str, str] = field(default_factory=dict)
    course: Course = field(default_factory=Course)  # the structure; its copy is in texts
    # SMS keywords: a word, folded as app/messaging/keywords.py folds it, to its meaning,
    # every language merged so that any of them works whatever a profile's language.
    keywords: Mapping[str, str] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the language codes, French first."""
        return tuple(sorted(self.texts, key=lambda lang: (lang != FALLBACK, lang)))

    @cached_property
    def complete(self) -> tuple[str, ...]:
        """Return the languages with every French key, French first: those worth a choice."""
        base = set(self.texts.get(FALLBACK, {}))
        return tuple(lang for lang in self.languages if base <= set(self.texts[lang]))

    @cached_property
    def screens(self) -> dict:
        """Return the engine's screens of fixed copy laid out in this catalog's words, by key."""
        return {}

    @cached_property
    def laid(self) -> dict:
        """Return the engine's pages of screens with parameters, by the words they hold."""
        return {}

    def has(self, key: str) -> bool:
        """Tell whether the fallback language defines key."""
        return key in self.texts.get(FALLBACK, {})

    def get(self, key: str, lang: str = FALLBACK, **params) -> str:
        """Return the copy for key in lang (or French), formatted with params."""
        text = self.texts.get(lang, {}).get(key)
        if text is None:
            text = self.texts[FALLBACK][key]
        return Template(text).safe_substitute(params) if params else text
