"""The phone simulator's words, read from sandbox/content/<lang>.yaml."""

import re
from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parent / "content"
LANG = "fr"  # the simulator speaks the language of Kalan's own copy
SECTIONS = ("page", "script")  # written by Jinja; handed to the page's script as JSON
PLACEHOLDER = re.compile(r"\{(\w+)\}")


class WordsError(ValueError):
    """The simulator's words file is unusable."""


def load(lang: str = LANG) -> dict:
    """Read one language's words; raise WordsError unless both sections hold only text."""
    path = FOLDER / f"{lang}.yaml"
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise WordsError(f"{path.name}: {exc}".splitlines()[0]) from None
    if not isinstance(tree, dict) or any(not isinstance(tree.get(s), dict) for s in SECTIONS):
        raise WordsError(f"{path.name}: needs the sections {' and '.join(SECTIONS)}")
    bad = [name for section in SECTIONS for name in _not_text(tree[section], section)]
    if bad:
        raise WordsError(f"{path.name}: {', '.join(bad)} must be text")
    return {"lang": lang, **{section: tree[section] for section in SECTIONS}}


def _not_text(tree: dict, prefix: str) -> list[str]:
    """List the dotted names of the leaves of tree that are not text."""
    bad = []
    for key, value in tree.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            bad.extend(_not_text(value, name))
        elif not isinstance(value, str):
            bad.append(name)
    return bad


def fill(line: str, **values) -> str:
    """Put values in a line's {name} placeholders, leaving unknown ones as written."""
    return PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], line)
