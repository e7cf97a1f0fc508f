"""How much of French's copy a language translates, per file and per course module."""

from dataclasses import dataclass
from pathlib import Path

from app.content import flatten
from app.messaging import keywords
from app.training.course import read_yaml
from flows import Catalog
from flows.catalog import FALLBACK


@dataclass(frozen=True)
class Part:
    """One file of French's copy, or one module of its course, and what a language lacks of it."""

    name: str
    total: int
    missing: tuple[str, ...]

    @property
    def done(self) -> int:
        """Return how many of its texts are translated."""
        return self.total - len(self.missing)


def _parts_of(root: Path, catalog: Catalog) -> dict[str, str]:
    """Map each French key to its part: a screen file's name, a module id or pretest."""
    owner: dict[str, str] = {}
    for path in sorted((root / FALLBACK).glob("*.yaml")):
        tree = read_yaml(path) or {}
        tree.pop(keywords.SECTION, None)  # words to match, not copy to translate
        flat: dict[str, str] = {}
        flatten(tree, "", flat, [], path.name)
        owner.update(dict.fromkeys(flat, path.name))
    course = catalog.course
    for module in course.modules:
        owner.update({f"course.{m}": module.id for m in (module.id, *(q.id for q in module.quiz))})
    owner.update({f"course.{qid}": "pretest" for qid in course.pretest})
    return owner


def coverage(root: Path, catalog: Catalog, lang: str) -> list[Part]:
    """Return lang's coverage: the screen files first, then the modules in order, the pretest."""
    owner = _parts_of(root, catalog)
    table = catalog.texts.get(lang, {})
    found: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for key in catalog.texts[FALLBACK]:
        # Course keys read course.<module or question id>.<piece>.
        name = owner.get(key) or owner.get(key.rsplit(".", 1)[0], "other")
        found.setdefault(name, []).append(key)
        if key not in table:
            missing.setdefault(name, []).append(key)
    order = [*sorted(n for n in found if n.endswith(".yaml"))]
    order += [m.id for m in catalog.course.modules] + ["pretest", "other"]
    return [Part(n, len(found[n]), tuple(missing.get(n, ()))) for n in order if n in found]
