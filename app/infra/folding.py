"""Text folded for search: lower case, without accents, the same in Python and in SQL."""

import unicodedata

from sqlalchemy import func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

SQL_NAME = "kalan_fold"  # the function each SQLite connection is given (app.infra.db)
_ACCENTED = "àâäáãåçéèêëíìîïñóòôöõúùûüýÿ"
_FOLDS = [(c, unicodedata.normalize("NFKD", c)[0]) for c in _ACCENTED]
# Letters people type without their accent ("traore" finds "Traoré"), lower and upper case.
_FOLDS += [(c.upper(), f) for c, f in _FOLDS] + [("œ", "oe"), ("Œ", "oe"), ("æ", "ae")]


def fold(text: str | None) -> str | None:
    """Return text as a search compares it: lower case, without accents."""
    if text is None:
        return None
    bare = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("æ", "ae"))
    return "".join(c for c in bare if not unicodedata.combining(c)).lower()


def name_key(text: str | None) -> str | None:
    """Return what a typed name is matched by: folded, its spaces collapsed; None if blank."""
    return " ".join(fold(text or "").split()) or None


class folded(FunctionElement):  # noqa: N801 - used in SQL as a function is
    """A column folded as fold() folds, in SQL."""

    type = String()
    inherit_cache = True
    name = SQL_NAME


@compiles(folded)
def _replaced(element, compiler, **kw) -> str:
    """Fold with nested replace() where no function of ours exists (PostgreSQL)."""
    (column,) = element.clauses
    expression = column
    for letter, plain in _FOLDS:
        expression = func.replace(expression, letter, plain)
    return compiler.process(func.lower(expression), **kw)


@compiles(folded, "sqlite")
def _called(element, compiler, **kw) -> str:
    """Call fold() itself: SQLite's parser cannot take replace() nested 27 deep."""
    return f"{SQL_NAME}({compiler.process(element.clauses, **kw)})"
