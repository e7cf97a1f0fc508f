"""A campaign's audience in words: the area it reaches and each filter, in French."""

import json
from datetime import datetime

from flask import current_app

from app.infra.models import Campaign
from app.web.console.blueprint import text
from app.web.console.scope import area_name

PLACES = ("commune", "cercle", "region")  # the most precise first: it names the zone
SHOWN = ("role", "organisation", "region", "cercle", "commune", "language", "training",
         "seen_after", "seen_before")  # fmt: skip


def _values(value) -> list[str]:
    """Return an audience value as a list: older campaigns stored one text."""
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _place(kind: str, value: str) -> str:
    """Name a region, cercle or commune as typed or by its code ("kadiolo": "Kadiolo")."""
    catalog = current_app.extensions["catalog"]
    key = f"report.{kind}.{value.strip().lower()}"
    return catalog.get(key) if kind != "commune" and catalog.has(key) else value.strip()


def language(code: str) -> str:
    """Name a language as a page writes it ("Français"), phones' GSM-7 name as a fallback."""
    catalog = current_app.extensions["catalog"]
    key = f"console.language.{code}"
    return catalog.get(key) if catalog.has(key) else catalog.names.get(code, code)


def zone(audience: dict, scope: str | None) -> str:
    """Name the area an audience reaches: the account's area, else the places it names."""
    if scope:
        return area_name(scope)
    for kind in PLACES:
        if audience.get(kind):
            return ", ".join(_place(kind, v) for v in _values(audience[kind]))
    return text("console.campaign.everywhere")


def campaign_zone(campaign: Campaign) -> str:
    """Name the area a stored campaign reaches (for a scoped one, its account's area)."""
    return zone(json.loads(campaign.audience), campaign.scope)


def filters(audience: dict) -> list[tuple[str, str]]:
    """Return each filter of an audience as (label, values) in French; none: everyone."""
    catalog = current_app.extensions["catalog"]
    shown = []
    for key in SHOWN:
        if not audience.get(key):
            continue
        values = _values(audience[key])
        if key == "role":
            words = [text(f"console.campaign.role.{v}") if catalog.has(f"console.campaign.role.{v}")
                     else v for v in values]  # fmt: skip
        elif key == "training":
            words = [text(f"console.campaign.training.{v}") for v in values]
        elif key == "language":
            words = [language(v) for v in values]
        elif key in PLACES:
            words = [_place(key, v) for v in values]
        elif key in ("seen_after", "seen_before"):
            words = [f"{datetime.fromisoformat(v):%d/%m/%Y}" for v in values]
        else:
            words = values
        shown.append((text(f"console.campaign.filter.{key}"), ", ".join(words)))
    return shown
