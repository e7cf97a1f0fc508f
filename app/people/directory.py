"""The contact directory: find contacts by part of a name or number and filters, a page at a
time, and edit one."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from app.infra.folding import fold, folded
from app.infra.models import Certificate, Contact, ModuleProgress
from app.people.importer import check_row

PAGE = 50
TRAINING = ("none", "started", "certified")  # the training filter's values
EDITABLE = ("name", "role", "organisation", "region", "cercle", "commune", "language")
QUERY_MAX = 60
NUMBER = re.compile(r"^\+?[0-9][0-9 .-]*$")


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to; empty values filter nothing."""

    query: str = ""  # part of a name, or of a number
    role: str = ""
    organisation: str = ""
    training: str = ""
    places: tuple = ()  # conditions on the contact's area (its scope, a cercle)


def _trained(value: str):
    """Return the condition for one training status."""
    progress = exists().where(ModuleProgress.contact_id == Contact.id)
    certified = exists().where(Certificate.contact_id == Contact.id)
    return {"none": ~progress, "started": progress & ~certified, "certified": certified}[value]


def conditions(filters: Filters) -> list:
    """Return the WHERE conditions of the filters."""
    found = list(filters.places)
    text = " ".join(filters.query.split())[:QUERY_MAX]
    if NUMBER.match(text) and sum(c.isdigit() for c in text) >= 2:
        digits = re.sub(r"[^0-9]", "", text)
        found.append(Contact.phone.contains(digits, autoescape=True))
    elif text:
        found.append(folded(Contact.name).contains(fold(text), autoescape=True))
    if filters.role:
        found.append(Contact.role == filters.role)
    if filters.organisation:
        found.append(func.lower(Contact.organisation) == filters.organisation.strip().lower())
    if filters.training in TRAINING:
        found.append(_trained(filters.training))
    return found


def last_page(total: int, size: int = PAGE) -> int:
    """Return the number of the last page of total rows (1 when there are none)."""
    return max(1, -(-total // size))


def search(db: Session, filters: Filters, page: int = 1) -> tuple[list[Contact], int, int]:
    """Return one page of the matching contacts, by name then number, how many match, and
    the page's number (one past the end shows the last)."""
    where = conditions(filters)
    total = db.scalar(select(func.count()).select_from(Contact).where(*where))
    page = min(max(1, page), last_page(total))
    query = select(Contact).where(*where)
    query = query.order_by(Contact.name.is_(None), func.lower(Contact.name), Contact.phone)
    rows = db.scalars(query.offset((page - 1) * PAGE).limit(PAGE))
    return list(rows), total, page


def organisations(db: Session, places: tuple = ()) -> list[str]:
    """Return the organisations the contacts (in these places) belong to, each spelt once."""
    names = db.scalars(
        select(Contact.organisation).where(Contact.organisation.is_not(None), *places).distinct()
    )
    by_fold = {}
    for name in names:
        by_fold.setdefault(name.strip().lower(), name.strip())
    return sorted(by_fold.values(), key=str.lower)


def edit(
    db: Session,
    contact: Contact,
    form: dict,
    languages: set[str],
    inside: Callable[[str | None, str | None], bool] | None = None,
    cercles: Mapping[str, str] | None = None,
) -> tuple[str, dict] | None:
    """Set a contact's details from a form, checked as an imported line is; an empty field
    clears it. Return the problem (code, params) and change nothing, or None. Caller commits.

    inside(region, cercle) holds a scoped user's contacts in their area; cercles names
    each cercle as the import stores it.
    """
    row = {name: str(form.get(name, "")) for name in EDITABLE}
    values, problem = check_row({**row, "phone": contact.phone}, languages, cercles)
    if problem:
        return problem
    if values["name"] is None:  # as the import: a contact keeps a name
        return "name", {}
    if inside is not None and not inside(values["region"], values["cercle"]):
        return "outside", {"value": contact.phone}
    for name in EDITABLE:
        setattr(contact, name, values[name])
    return None
