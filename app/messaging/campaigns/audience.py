"""Campaign audiences: KEY=VALUE filters over contacts, held inside a user's area."""

from datetime import datetime

from sqlalchemy import Select, func, or_, select

from app.infra.models import Certificate, Contact, ModuleProgress, utcnow
from app.messaging.campaigns.text import CampaignError

# Audience keys and the contact column each one filters; values may be lists.
COLUMNS = {
    "role": Contact.role,
    "region": Contact.region,
    "cercle": Contact.cercle,
    "commune": Contact.commune,
    "language": Contact.language,
    "organisation": Contact.organisation,
}
# Typed by people (a CSV, a form): "Kadiolo" and "kadiolo" are the same cercle.
FOLDED = ("region", "cercle", "commune", "organisation")
SEEN = {"seen_after": Contact.last_seen.__ge__, "seen_before": Contact.last_seen.__lt__}
TRAINING = ("none", "started", "certified")  # values of the training= audience key


def parse_audience(pairs: list[str]) -> dict[str, list[str] | str]:
    """Turn KEY=VALUE pairs into an audience; values split on commas."""
    audience: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise CampaignError(f"audience must be KEY=VALUE, not {pair!r}")
        if key == "training":
            values = [v.strip() for v in value.split(",") if v.strip()]
            unknown = [v for v in values if v not in TRAINING]
            if unknown:
                raise CampaignError(
                    f"training must be one of {', '.join(TRAINING)}, not {unknown[0]!r}"
                )
            audience.setdefault(key, []).extend(values)
        elif key in SEEN:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise CampaignError(f"{key} must be a date such as 2026-11-01") from None
            audience[key] = value
        elif key in COLUMNS:
            audience.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
        else:
            known = ", ".join([*COLUMNS, *SEEN, "training"])
            raise CampaignError(f"unknown audience key {key!r} (known: {known})")
    return audience


def in_area(area: dict[str, list[str]]):
    """Return the condition of contacts whose region or cercle is one of area's spellings."""
    return or_(*(func.lower(COLUMNS[column]).in_([v.lower() for v in names])
                 for column, names in area.items()))  # fmt: skip


def recipients(audience: dict, paged: bool = False) -> Select:
    """Select the contacts a campaign reaches: the audience, minus opted-out and unreachable.

    paged: the query reads one page of contacts by id (the expansion), where each contact's
    training is best looked up alone; a count over everyone is best joined.
    """
    query = select(Contact).where(Contact.opted_out_at.is_(None), Contact.unreachable_at.is_(None))
    for key, values in audience.items():
        if key == "language" and "fr" in values:
            # No language set means French: they get the French message.
            query = query.where(or_(Contact.language.in_(values), Contact.language.is_(None)))
        elif key == "area":  # a scope: any of its columns may place the contact there
            query = query.where(in_area(values))
        elif key in FOLDED:
            query = query.where(func.lower(COLUMNS[key]).in_([v.lower() for v in values]))
        elif key in COLUMNS:
            query = query.where(COLUMNS[key].in_(values))
        elif key == "training":
            query = query.where(or_(*(_training(value, paged) for value in values)))
        else:
            moment = datetime.fromisoformat(values)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=utcnow().tzinfo)
            query = query.where(SEEN[key](moment))
    return query


def within(audience: dict, scope: str | None, area: dict[str, list[str]]) -> dict:
    """Return the audience held inside a user's scope; refuse one that reaches beyond it.

    area spells the scope for contacts typed in a CSV, by column: for cercle=kolondieba,
    {"cercle": ["kolondieba", "Kolondiéba"]}; for a region, its own spellings under
    "region" and those of its cercles under "cercle", as either may be filled in.
    """
    if not scope:
        return audience
    for column, spellings in area.items():
        allowed = {s.lower() for s in spellings}
        if any(v.strip().lower() not in allowed for v in audience.get(column, [])):
            raise CampaignError(f"this account may only send inside {scope}")
    return {**audience, "area": area}


def _training(value: str, paged: bool = False):
    """Return the condition for one training= value."""
    progress = select(ModuleProgress.id).where(ModuleProgress.contact_id == Contact.id)
    certified = select(Certificate.id).where(Certificate.contact_id == Contact.id)
    if paged:
        # Looked up per contact in the index on contact_id: as a semi-join PostgreSQL read
        # every progress row below the page's last id, for every page of the expansion.
        # OFFSET keeps a subquery a subquery (see expansion.pending).
        progress, certified = progress.offset(0), certified.offset(0)
    progress, certified = progress.exists(), certified.exists()
    if value == "none":
        return ~progress
    if value == "started":
        return progress & ~certified
    return certified
