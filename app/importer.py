"""Import contacts from CSV: good rows kept, bad rows reported by line number."""

import csv
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .contacts import normalize
from .models import ROLES, Contact, utcnow

COLUMNS = ("phone", "name", "role", "region", "cercle", "commune", "language")
OPTIONAL = ("organisation",)
LIMITS = {"name": 60, "region": 60, "cercle": 60, "commune": 60, "organisation": 60}


@dataclass
class Report:
    """What an import did."""

    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def check_row(row: dict, languages: set[str]) -> tuple[dict | None, str | None]:
    """Return (clean values, None) for a good row, or (None, the reason) for a bad one."""
    cells = [value for value in row.values() if isinstance(value, str)]
    if any("\x00" in cell for cell in cells):
        return None, "a cell contains a NUL character"
    if any("\ufffd" in cell for cell in cells):
        return None, "not UTF-8 text (save the file as CSV UTF-8)"
    phone = normalize(row.get("phone") or "")
    if phone is None:
        return None, f"phone {row.get('phone')!r} is not a phone number"
    values = {"phone": phone}
    role = (row.get("role") or "").strip().lower() or "community"
    if role not in ROLES:
        return None, f"role {role!r} is not one of {', '.join(ROLES)}"
    values["role"] = role
    language = (row.get("language") or "").strip().lower()
    if language and language not in languages:
        return None, f"language {language!r} has no content (known: {', '.join(sorted(languages))})"
    values["language"] = language or None
    for name, limit in LIMITS.items():
        value = (row.get(name) or "").strip()
        if len(value) > limit:
            return None, f"{name} is over {limit} characters"
        values[name] = value or None
    return values, None


def text_lines(binary):
    """Decode a CSV file line by line; bytes that are not UTF-8 become U+FFFD.

    The row holding them is then refused on its own, and the others are kept.
    """
    for number, raw in enumerate(binary):
        yield raw.decode("utf-8-sig" if number == 0 else "utf-8", errors="replace")


def import_csv(db: Session, lines, languages: set[str]) -> Report:
    """Upsert contacts from CSV lines by phone; empty cells leave fields as they were."""
    report = Report()
    reader = csv.DictReader(lines)
    try:
        _import_rows(db, reader, languages, report)
    except csv.Error as exc:
        report.errors.append(f"line {reader.line_num}: unreadable CSV ({exc}); stopped here")
    db.commit()
    return report


def _import_rows(db: Session, reader: csv.DictReader, languages: set[str], report: Report):
    """Check and upsert each row, collecting problems in report."""
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        report.errors.append(f"line 1: missing column(s): {', '.join(missing)}")
        return
    reader.fieldnames = header
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        values, problem = check_row(row, languages)
        if problem:
            report.errors.append(f"line {line}: {problem}")
            continue
        phone = values.pop("phone")
        if phone in seen:
            report.errors.append(f"line {line}: phone {phone} already on line {seen[phone]}")
            continue
        seen[phone] = line
        contact = db.scalars(select(Contact).where(Contact.phone == phone)).first()
        if contact is None:
            db.add(Contact(phone=phone, created_at=utcnow(), **values))
            report.added += 1
        else:
            for name, value in values.items():
                if value is not None and (name != "role" or (row.get("role") or "").strip()):
                    setattr(contact, name, value)
            report.updated += 1
