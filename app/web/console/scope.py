"""A console user's scope ("cercle=kadiolo", "region=sikasso") as it applies to contacts."""

from flask import current_app, g

from app.messaging.campaigns.audience import in_area
from flows.report import REGIONS


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


def area_name(scope: str) -> str:
    """Return a scope's area as people call it: "Kadiolo" for cercle=kadiolo."""
    return current_app.extensions["catalog"].get("report." + scope.replace("=", ".", 1))


def inside():
    """Return the condition of contacts inside the signed-in user's scope; None for all."""
    return in_area(area(g.user.scope)) if g.user.scope else None


def narrow(query):
    """Narrow a contact query to the signed-in user's scope."""
    return query.where(inside()) if g.user.scope else query
