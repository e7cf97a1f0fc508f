"""Translated courses hold French's structure and scoring; the glossary translators follow."""

from pathlib import Path

import yaml

from app.training.course import PRETEST, check_module, check_question, read_yaml
from flows.catalog import FALLBACK
from flows.gsm import respell

# Defined once, in French: a translation may repeat these, never change them.
STRUCTURE = ("id", "audience", "objective", "source", "correct")
# The lists whose length is structure too, each with the name of one element.
PARTS = {"lessons": "lesson", "quiz": "question", "items": "item", "options": "option"}
TEXTS = ("title", "takeaway", "text", "question", "feedback")
GLOSSARY = "glossary.yaml"  # beside the language folders: the terms translators agree on
AGREED, OPEN = "convenu", "à convenir"  # a term's status: its bm is agreed, or still to agree


def respell_tree(tree, lang: str):
    """Apply lang's spelling rule to every text of a YAML tree."""
    if isinstance(tree, str):
        return respell(tree, lang)
    if isinstance(tree, dict):
        return {key: respell_tree(value, lang) for key, value in tree.items()}
    if isinstance(tree, list):
        return [respell_tree(value, lang) for value in tree]
    return tree


def _show(key: str, value) -> str:
    return str(value is True).lower() if key == "correct" else repr(value)


def _differs(key: str, value, original) -> bool:
    if key == "correct":  # no mark is a wrong option, as the loader reads it
        return (value is True) != (original is True)
    if key == "source":  # the same facts, however spaced
        return [p.strip() for p in str(value).split(",")] != [
            p.strip() for p in str(original).split(",")
        ]
    return value != original


def compare(original: dict, raw: dict, where: str, problems: list) -> None:
    """List where raw's structure differs from the original's; what raw leaves out is French's."""
    for key in STRUCTURE:
        if key in raw and _differs(key, raw[key], original.get(key)):
            problems.append(
                f"{where}: {key} is {_show(key, raw[key])} here, "
                f"{_show(key, original.get(key))} in {FALLBACK}"
            )
    for key, part in PARTS.items():
        if not isinstance(original.get(key), list):
            continue
        got = raw.get(key) if isinstance(raw.get(key), list) else []
        if len(got) != len(original[key]):
            problems.append(f"{where}: {len(got)} {part}s here, {len(original[key])} in {FALLBACK}")
            continue
        for n, (first, other) in enumerate(zip(original[key], got, strict=True), 1):
            first = first if isinstance(first, dict) else {}
            name = first.get("id") or f"{part} {n}"
            compare(first, other if isinstance(other, dict) else {}, f"{where} {name}", problems)


def _merge(original, raw):
    """Return the original with raw's texts: the structure stays French's."""
    if isinstance(original, list):  # compare() has matched the lengths
        return [_merge(a, b) for a, b in zip(original, raw, strict=True)]
    if not isinstance(original, dict):
        return original
    raw = raw if isinstance(raw, dict) else {}
    return {
        key: raw.get(key) if key in TEXTS else _merge(value, raw.get(key))
        for key, value in original.items()
    }


def load_translation(folder: Path, base: Path) -> tuple[dict[str, str], list[str]]:
    """Read a translated course folder against French's (base): its copy by key, its problems.

    A file left out falls back to French; a file present must translate all its texts.
    """
    lang = folder.parent.name
    texts: dict[str, str] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
        where = f"{lang}/course/{path.name}"
        if not (base / path.name).exists():
            problems.append(f"{where}: no such file in {FALLBACK}/course/ to translate")
            continue
        try:
            raw = respell_tree(read_yaml(path), lang)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: not valid YAML: {str(exc).splitlines()[0]}")
            continue
        try:
            original = read_yaml(base / path.name)
        except (yaml.YAMLError, UnicodeDecodeError):
            continue  # French's own check names the broken file
        if not isinstance(raw, dict) or not isinstance(original, dict):
            problems.append(f"{where}: the top level must be a mapping")
            continue
        found: list[str] = []
        compare(original, raw, where, found)
        problems.extend(found)
        if found:
            continue  # its texts would sit on the wrong questions
        merged = _merge(original, raw)
        if path.name == PRETEST:
            for item in merged.get("items") or []:
                check_question(item, where, texts, None, problems)
        else:
            check_module(merged, where, texts, None, problems)
    return texts, problems


def load_glossary(path: Path) -> list[str]:
    """Check the glossary's shape: each term with its definition, bm term and status."""
    if not path.exists():
        return []
    try:
        raw = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}"]
    terms = raw.get("terms") if isinstance(raw, dict) else None
    if not isinstance(terms, list):
        return [f"{path.name}: terms must be a list"]
    problems, seen = [], set()
    for n, term in enumerate(terms, 1):
        term = term if isinstance(term, dict) else {}
        name = term.get("fr")
        here = f"{path.name} term {n}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{here}: missing fr")
            continue
        here = f"{path.name} {name!r}"
        if name in seen:
            problems.append(f"{path.name}: duplicate term {name!r}")
        seen.add(name)
        if not isinstance(term.get("definition"), str) or not term["definition"].strip():
            problems.append(f"{here}: missing definition")
        bm = term.get("bm")
        if not isinstance(bm, str):
            problems.append(f"{here}: bm must be text, empty until agreed")
        elif term.get("status") != (AGREED if bm.strip() else OPEN):
            problems.append(f"{here}: status must be {AGREED!r} with a bm term, {OPEN!r} without")
    return problems
