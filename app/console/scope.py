"""A console user's scope ("cercle=kadiolo", "region=sikasso") as it applies to contacts."""

from flask import current_app, g
from sqlalchemy import false, func, or_

from flows.report import REGIONS

from ..models import Contact


def area(scope: str | None) -> dict[str, list[str]]:
    """Spell a scope by contact column: codes and names, as a CSV may carry either.

    A region also holds the contacts whose cercle is one of its cercles, as the
    region column is often left blank.
    """
    if not scope:
        return {}
    kind, value = scope.split("=", 1)
    name = current_app.extensions["catalog"].get

    def spellings(key: str, code: str) -> list[str]:
        shown = name(f"report.{key}.{code}")
        return [code] if shown.lower() == code else [code, shown]

    if kind == "cercle":
        return {"cercle": spellings("cercle", value)}
    cercles = [s for code in REGIONS.get(value, ()) for s in spellings("cercle", code)]
    return {"region": spellings("region", value), "cercle": cercles}


def holds(places: dict[str, list[str]], region: str | None, cercle: str | None) -> bool:
    """Tell whether a contact's region and cercle put it inside an area (from area())."""
    given = {"region": (region or "").strip().lower(), "cercle": (cercle or "").strip().lower()}
    return any(given[k] in {v.lower() for v in values} for k, values in places.items())


def contacts_within(scope: str | None):
    """Return the SQL condition of the contacts inside scope (all of them for None)."""
    if not scope:
        return None
    places = area(scope)
    if not places:
        return false()
    columns = {"cercle": Contact.cercle, "region": Contact.region}
    return or_(*(func.lower(columns[k]).in_([v.lower() for v in values])
                 for k, values in places.items()))  # fmt: skip


def narrow(query):
    """Narrow a contact query to the signed-in user's scope."""
    condition = contacts_within(g.user.scope)
    return query if condition is None else query.where(condition)
