"""The case list's filters as a browser sends them: each read, checked, and said when wrong."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.infra.models import Case
from flows.desk import STATES
from flows.report import CERCLES, REFERENCE, REGIONS, cercle_code

UNKNOWN = "unknown"  # the cercle of a report that answered "Autre / je ne sais pas"
SEPARATORS = "-./"  # with spaces, what people put in a reference they copy: "482-913"


@dataclass
class Filters:
    """What the list is narrowed to; errors are the content keys of what was refused."""

    status: str = ""
    cercle: str = ""  # a cercle's code, or UNKNOWN
    urgent: bool = False
    search: str = ""  # a reference, or part of one, in capitals
    page: int = 1
    typed: dict = field(default_factory=dict)  # as sent, to show the form as it was filled in
    errors: list[str] = field(default_factory=list)
    nothing: bool = False  # a filter no case of this user can match

    def narrow(self, query):
        """Narrow a case query to these filters; the scope is for visible() to apply."""
        if not self.search:  # a report joined to another case is a line of it, unless sought
            query = query.where(Case.linked_to.is_(None))
        if self.nothing:
            return query.where(Case.id.is_(None))
        if self.status:
            query = query.where(Case.status == self.status)
        if self.cercle:
            query = query.where(Case.cercle == self.cercle)
        if self.urgent:
            query = query.where(Case.urgent.is_(True))
        if self.search:
            query = query.where(Case.reference.contains(self.search, autoescape=True))
        return query

    def link(self, page: int) -> dict:
        """Return the query string of this list at another page."""
        typed, urgent = self.typed, "1" if self.urgent else ""
        args = {"status": self.status, "cercle": typed.get("cercle", ""), "q": typed.get("q", ""),
                "urgent": urgent, "page": page}  # fmt: skip
        return {name: value for name, value in args.items() if value not in ("", 1)}


def choices(scope: str | None) -> list[tuple[str, list[str]]]:
    """Return the cercles a user may filter by, by region: [(region, cercles)], in list order.

    A cercle-scoped user has theirs alone (see also sees_unknown).
    """
    kind, value = scope.split("=", 1) if scope else ("", "")
    if kind == "cercle":
        return [(CERCLES[value], [value])]
    regions = [value] if kind == "region" else list(REGIONS)
    return [(region, list(REGIONS[region])) for region in regions]


def sees_unknown(scope: str | None) -> bool:
    """Tell whether a user may filter by UNKNOWN: their area's reports that named no cercle."""
    return not (scope or "").startswith("cercle=")


def read(args: Mapping[str, str], scope: str | None) -> Filters:
    """Read the list's query string: a bad value is said, and matches nothing (or page 1)."""
    typed = {name: args.get(name, "") for name in ("status", "cercle", "q")}
    found = Filters(typed=typed, urgent=args.get("urgent") == "1")
    status = typed["status"]
    if status in STATES:
        found.status = status
    elif status:
        found.errors.append("console.cases.bad_status")  # and every state is shown
    _cercle(found, typed["cercle"].strip(), scope)
    _search(found, typed["q"])
    page = args.get("page", "1").strip() or "1"
    if page.isascii() and page.isdigit() and 0 < int(page) < 10**6:
        found.page = int(page)
    else:
        found.errors.append("console.cases.bad_page")
    return found


def _cercle(found: Filters, typed: str, scope: str | None) -> None:
    if not typed:
        return
    code = UNKNOWN if typed.lower() == UNKNOWN else cercle_code(typed)
    if code is None:
        found.errors.append("console.cases.bad_cercle")
        found.nothing = True
        return
    allowed = {c for _, cercles in choices(scope) for c in cercles}
    if sees_unknown(scope):
        allowed.add(UNKNOWN)
    if code not in allowed:  # a filter never widens the scope
        found.errors.append("console.cases.outside_cercle")
        found.nothing = True
    found.cercle = code


def _search(found: Filters, typed: str) -> None:
    search = "".join(c for c in typed if not (c in SEPARATORS or c.isspace())).upper()
    if not search:
        return
    if len(search) > REFERENCE or not (search.isascii() and search.isalnum()):
        found.errors.append("console.cases.bad_search")
        found.nothing = True
        return
    found.search = search
