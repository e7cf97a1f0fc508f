"""Import contacts from CSV: good rows kept, bad rows reported by line number."""

import csv
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.infra.db import holds_nul
from app.infra.models import ROLES, Contact, utcnow
from app.people.contacts import normalize
from flows import Catalog
from flows.report import CERCLES, cercle_code

COLUMNS = ("phone", "name", "role", "region", "cercle", "commune", "language")
OPTIONAL = ("organisation",)
# A header and roles written in French name the same columns and roles (accents optional).
FRENCH_COLUMNS = {"telephone": "phone", "nom": "name", "langue": "language"}
FRENCH_ROLES = {"communautaire": "community", "agent": "agent", "point_focal": "focal_point",
                "superviseur": "supervisor"}  # fmt: skip
LIMITS = {"name": 60, "region": 60, "cercle": 60, "commune": 60, "organisation": 60}


# Each problem a row can have, in English for the CLI; the console shows the
# French copy under console.import.error.<code>, with the same placeholders.
PROBLEMS = {
    "nul": "a cell contains a NUL character",
    "utf8": "not UTF-8 text (save the file as CSV UTF-8)",
    "phone": "phone {value!r} is not a phone number",
    "role": "role {value!r} is not one of {known}",
    "cercle": "cercle {value!r} is not a cercle of the programme ({known})",
    "name": "no name: a new contact needs one",
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


def _plain(text: str) -> str:
    """Return text without accents, in lower case, trimmed: how headers and roles are read."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip().lower()


def column(header: str) -> str:
    """Return the column a header cell names, in English or French ("Téléphone" is phone)."""
    name = _plain(header)
    return FRENCH_COLUMNS.get(name, name)


def role_of(cell: str) -> str:
    """Return the role a cell names, in English or French ("point focal" is focal_point)."""
    name = "_".join(_plain(cell).replace("-", " ").split())
    return FRENCH_ROLES.get(name, name)


def cercle_names(catalog: Catalog) -> dict[str, str]:
    """Return each programme cercle's name by code, as the content spells it: what is stored."""
    return {code: catalog.get(f"report.cercle.{code}") for code in CERCLES}


def check_row(
    row: dict, languages: set[str], cercles: Mapping[str, str] | None = None
) -> tuple[dict | None, tuple | None]:
    """Return (clean values, None) for a good row, or (None, (code, params)) for a bad one.

    A cercle is stored as cercles names it (by code; its code without them), so a
    campaign, a scope and the agents' page all read one spelling.
    """
    cells = [value for value in row.values() if isinstance(value, str)]
    if holds_nul(*cells):
        return None, ("nul", {})
    if any("\ufffd" in cell for cell in cells):
        return None, ("utf8", {})
    phone = normalize(row.get("phone") or "")
    if phone is None:
        return None, ("phone", {"value": row.get("phone")})
    values = {"phone": phone}
    role = role_of(row.get("role") or "") or "community"
    if role not in ROLES:
        typed, french = (row.get("role") or "").strip(), ", ".join(FRENCH_ROLES)
        return None, ("role", {"value": typed, "known": ", ".join(ROLES), "french": french})
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
    if values["cercle"] is not None:
        names = cercles or {code: code for code in CERCLES}
        code = cercle_code(values["cercle"])
        if code is None:
            return None, ("cercle", {"value": values["cercle"], "known": ", ".join(names.values())})
        values["cercle"] = names[code]
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
    db: Session,
    lines,
    languages: set[str],
    dry_run: bool = False,
    limits: Limits = Limits(),
    cercles: Mapping[str, str] | None = None,
) -> Report:
    """Upsert contacts from CSV lines by phone; empty cells leave fields as they were.

    dry_run reports what would happen and writes nothing. cercles names each cercle
    by code (cercle_names), as it is stored.
    """
    report = Report()
    reader = csv.DictReader(lines)
    try:
        _import_rows(db, reader, (languages, cercles), report, limits, dry_run)
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
    known: tuple[set[str], Mapping[str, str] | None],
    report: Report,
    limits: Limits,
    dry_run: bool,
):
    """Check and upsert each row, collecting problems in report (known: languages, cercles)."""
    header = [column(h) for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        french = {english: name for name, english in FRENCH_COLUMNS.items()}
        both = ", ".join(f"{c} ({french[c]})" if c in french else c for c in missing)
        report.problems.append((1, "columns", {"columns": ", ".join(missing), "both": both}))
        return
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for count, row in enumerate(reader, 1):
        line = reader.line_num
        if limits.rows is not None and count > limits.rows:
            report.problems.append((line, "rows", {"limit": limits.rows}))
            return
        values, problem = check_row(row, *known)
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
        if values["name"] is None and (contact is None or not contact.name):
            # A blank name keeps a known contact's; a new contact, or a nameless one, needs one.
            report.problems.append((line, "name", {}))
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
