"""Import contacts from CSV: good rows kept, bad rows reported by line number."""

import csv
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra.db import holds_nul
from app.infra.models import ROLES, Contact, utcnow
from app.people.contacts import normalize

COLUMNS = ("phone", "name", "role", "region", "cercle", "commune", "language")
OPTIONAL = ("organisation",)
LIMITS = {"name": 60, "region": 60, "cercle": 60, "commune": 60, "organisation": 60}


# Each problem a row can have, in English for the CLI; the console shows the
# French copy under console.import.error.<code>, with the same placeholders.
PROBLEMS = {
    "nul": "a cell contains a NUL character",
    "utf8": "not UTF-8 text (save the file as CSV UTF-8)",
    "phone": "phone {value!r} is not a phone number",
    "role": "role {value!r} is not one of {known}",
    "language": "language {value!r} has no content (known: {known})",
    "long": "{column} is over {limit} characters",
    "csv": "unreadable CSV ({detail}); stopped here",
    "columns": "missing column(s): {columns}",
    "duplicate": "phone {value} already on line {first}",
    "outside": "phone {value} is outside your area ({scope}): fill in its cercle or region",
    "taken": "phone {value} was not imported: only an admin can add it to your area",
    "rows": "over {limit} lines: split the file; stopped here",
}


@dataclass
class Report:
    """What an import did, or would do: counts, and each rejected line's problem."""

    added: int = 0
    updated: int = 0
    problems: list[tuple[int, str, dict]] = field(default_factory=list)  # line, code, params

    @property
    def errors(self) -> list[str]:
        """The problems as English lines, for the command line."""
        return [f"line {n}: {PROBLEMS[code].format(**params)}" for n, code, params in self.problems]


def check_row(row: dict, languages: set[str]) -> tuple[dict | None, tuple | None]:
    """Return (clean values, None) for a good row, or (None, (code, params)) for a bad one."""
    cells = [value for value in row.values() if isinstance(value, str)]
    if holds_nul(*cells):
        return None, ("nul", {})
    if any("\ufffd" in cell for cell in cells):
        return None, ("utf8", {})
    phone = normalize(row.get("phone") or "")
    if phone is None:
        return None, ("phone", {"value": row.get("phone")})
    values = {"phone": phone}
    role = (row.get("role") or "").strip().lower() or "community"
    if role not in ROLES:
        return None, ("role", {"value": role, "known": ", ".join(ROLES)})
    values["role"] = role
    language = (row.get("language") or "").strip().lower()
    if language and language not in languages:
        return None, ("language", {"value": language, "known": ", ".join(sorted(languages))})
    values["language"] = language or None
    for name, limit in LIMITS.items():
        value = (row.get(name) or "").strip()
        if len(value) > limit:
            return None, ("long", {"column": name, "limit": limit})
        values[name] = value or None
    return values, None


def text_lines(binary):
    """Decode a CSV file line by line; bytes that are not UTF-8 become U+FFFD.

    The row holding them is then refused on its own, and the others are kept.
    """
    for number, raw in enumerate(binary):
        yield raw.decode("utf-8-sig" if number == 0 else "utf-8", errors="replace")


@dataclass(frozen=True)
class Limits:
    """What one importer may do: the place every contact must stay in, and how many lines."""

    inside: Callable[[str | None, str | None], bool] | None = None  # (region, cercle) -> ok
    scope: str = ""  # said in the problem, as the user knows it
    rows: int | None = None


def import_csv(
    db: Session, lines, languages: set[str], dry_run: bool = False, limits: Limits = Limits()
) -> Report:
    """Upsert contacts from CSV lines by phone; empty cells leave fields as they were.

    dry_run reports what would happen and writes nothing.
    """
    report = Report()
    reader = csv.DictReader(lines)
    try:
        _import_rows(db, reader, languages, report, limits, dry_run)
    except csv.Error as exc:
        report.problems.append((reader.line_num, "csv", {"detail": str(exc)}))
    if dry_run:
        db.rollback()
    else:
        db.commit()
    return report


def _import_rows(
    db: Session,
    reader: csv.DictReader,
    languages: set[str],
    report: Report,
    limits: Limits,
    dry_run: bool,
):
    """Check and upsert each row, collecting problems in report."""
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        report.problems.append((1, "columns", {"columns": ", ".join(missing)}))
        return
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for count, row in enumerate(reader, 1):
        line = reader.line_num
        if limits.rows is not None and count > limits.rows:
            report.problems.append((line, "rows", {"limit": limits.rows}))
            return
        values, problem = check_row(row, languages)
        if problem:
            report.problems.append((line, *problem))
            continue
        phone = values.pop("phone")
        if phone in seen:
            report.problems.append((line, "duplicate", {"value": phone, "first": seen[phone]}))
            continue
        seen[phone] = line
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).first()
        stranger = False
        if limits.inside is not None:
            if contact and not limits.inside(contact.region, contact.cercle):
                # Another area's contact, or one never placed (it called): the check
                # shows it as an unknown number, so it tells nobody who exists.
                stranger, contact = True, None
            before = (contact.region, contact.cercle) if contact else (None, None)
            after = (values.get("region") or before[0], values.get("cercle") or before[1])
            if not limits.inside(*after):  # nor may a contact leave the importer's area
                report.problems.append((line, "outside", {"value": phone, "scope": limits.scope}))
                continue
        if stranger:
            # Counted as an addition in the check; the import itself does not take it over.
            if dry_run:
                report.added += 1
            else:
                report.problems.append((line, "taken", {"value": phone}))
            continue
        if contact is None:
            db.add(Contact(phone=phone, created_at=utcnow(), **values))
            report.added += 1
        else:
            for name, value in values.items():
                if value is not None and (name != "role" or (row.get("role") or "").strip()):
                    setattr(contact, name, value)
            report.updated += 1
