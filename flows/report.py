"""The report journey: a community member signals a child at risk, by choices only.

No child's name is ever asked. ctx["reference"] is a fresh case reference the
web layer drew for this hop, and ctx["case_status"] the status of a reference
being looked up; the flow itself draws nothing and reads nothing.
"""

from collections.abc import Mapping

from .effects import OpenCase, SetData
from .engine import CLEAR, Ask, Copy, End, Menu, Option, Route
from .gsm import fold

SECTORS = ("mining", "cotton", "farming", "domestic", "street", "other")
REGIONS = {
    "sikasso": ("sikasso", "kadiolo", "danderesso", "kignan", "klela", "lobougoula", "loulouni",
                "niena"),
    "bougouni": ("bougouni", "koumantou", "kolondieba", "selingue", "yanfolila", "garalo",
                 "kadiana", "fakola", "dogo", "ouelessebougou"),
    "koutiala": ("koutiala", "yorosso", "mpessoba", "molobala", "koury", "konseguela",
                 "kouniana", "zangasso"),
}  # fmt: skip
COUNTS = ("one", "few", "many")
AGES = ("under13", "13to14", "15to17", "unknown")
SEXES = ("girls", "boys", "both", "unknown")
SCHOOL = ("yes", "no", "unknown")
HAZARDS = ("pits", "mercury", "loads", "crushing", "pesticides", "animals", "night",
           "violence", "trafficking", "other")  # fmt: skip
FIELDS = ("urgent", "sector", "region", "cercle", "place", "children", "age", "sex", "school",
          "hazard", "contactable", "receipt")  # fmt: skip
PLACE_MAX = 60
REFERENCE = 6
THROTTLED = "throttled"  # ctx["case_status"] when this phone missed too many lookups lately


def _choose(text: str, field: str, values, then: str, label: str) -> Menu:
    """A menu whose options each store one value of field and go on to then."""
    options = tuple(Option(f"{label}.{value}", then, (SetData(field, value),)) for value in values)
    return Menu(text, options)


def parse_place(text: str) -> str | None:
    """Return a village or site name, "" to skip (1), or None when unusable."""
    place = " ".join(fold(text.replace("*", " ")).split())
    if place == "1":
        return ""
    if not place or len(place) > PLACE_MAX or "?" in place:
        return None
    return place


def parse_reference(text: str) -> str | None:
    """Return a reference in capitals, or None when it cannot be one."""
    reference = "".join(text.split()).upper()
    return reference if len(reference) == REFERENCE and reference.isalnum() else None


def _summary(data: Mapping, ctx: Mapping) -> dict:
    cercle = data.get("cercle") or "unknown"
    return {
        "sector": Copy(f"report.sector.{data.get('sector', 'other')}"),
        "place": Copy(f"report.cercle.{cercle}"),
        "village": data.get("place") or "-",
        "children": Copy(f"report.children.{data.get('children', 'one')}"),
        "age": Copy(f"report.age.{data.get('age', 'unknown')}"),
        "hazard": Copy(f"report.hazard.{data.get('hazard', 'other')}"),
        "urgent": Copy("report.yes" if data.get("urgent") else "report.no"),
    }


def is_report(node: str | None) -> bool:
    """Tell whether a screen belongs to the report journey."""
    return node is not None and (node == "report" or node.startswith("r."))


def _over_limit(ctx: Mapping) -> bool:
    limit = ctx.get("report_limit") or 0
    return bool(limit) and (ctx.get("reports_today") or 0) >= limit


def _send(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    if ctx.get("reference") and _over_limit(ctx):
        # Checked again when sent: other sessions of this phone may have sent meanwhile.
        return (Option("report.send", "r.limit"), Option("report.cancel", "r.cancelled"))
    case = {name: data.get(name) for name in FIELDS}
    opened = OpenCase(ctx.get("reference", ""), tuple(sorted(case.items())))
    return (
        Option("report.send", "r.done", (opened, SetData("reference", ctx.get("reference", "")))),
        Option("report.cancel", "r.cancelled"),
    )


def _status(data: Mapping, ctx: Mapping) -> dict:
    status = ctx.get("case_status") or "new"
    return {"reference": data.get("lookup", ""), "status": Copy(f"report.status.{status}")}


def _found(data: Mapping, ctx: Mapping) -> str:
    status = ctx.get("case_status")
    if status == THROTTLED:
        return "track.busy"
    return "track.status" if status else "track.unknown"


def _regions() -> dict:
    nodes = {}
    for region, cercles in REGIONS.items():
        nodes[f"r.cercle.{region}"] = _choose(
            "report.cercle_prompt", "cercle", (*cercles, "unknown"), "r.place", "report.cercle"
        )
    return nodes


def _may_report(data: Mapping, ctx: Mapping) -> str:
    """Turn away a phone past its daily limit of reports, politely; else start."""
    if _over_limit(ctx):
        return "r.limit"
    return "r.emergency" if data.get("urgent") else "r.sector"


NODES = {
    # Entered from the main menu, which has already set data["urgent"].
    "report": Route(_may_report),
    "r.limit": End("report.limit"),
    "r.emergency": Menu("report.emergency", (Option("report.go_on", "r.sector"),)),
    "r.sector": _choose("report.sector_prompt", "sector", SECTORS, "r.region", "report.sector"),
    "r.region": Menu(
        "report.region_prompt",
        tuple(
            Option(f"report.region.{r}", f"r.cercle.{r}", (SetData("region", r),)) for r in REGIONS
        )
        + (Option("report.region.unknown", "r.place", (SetData("region", None),)),),
    ),
    **_regions(),
    "r.place": Ask(
        "report.place_prompt", "place", parse_place, "r.children", error="report.place_error"
    ),  # fmt: skip
    "r.children": _choose("report.children_prompt", "children", COUNTS, "r.age", "report.children"),
    "r.age": _choose("report.age_prompt", "age", AGES, "r.sex", "report.age"),
    "r.sex": _choose("report.sex_prompt", "sex", SEXES, "r.school", "report.sex"),
    "r.school": _choose("report.school_prompt", "school", SCHOOL, "r.hazard", "report.school"),
    "r.hazard": _choose("report.hazard_prompt", "hazard", HAZARDS, "r.contact", "report.hazard"),
    # One screen for both choices, to keep the report within 12 hops. An
    # anonymous reporter gets no SMS: sending one would keep the number.
    "r.contact": Menu(
        "report.contact_prompt",
        (
            Option(
                "report.contact.sms",
                "r.confirm",
                (SetData("contactable", True), SetData("receipt", True)),
            ),
            Option(
                "report.contact.call",
                "r.confirm",
                (SetData("contactable", True), SetData("receipt", False)),
            ),
            Option(
                "report.contact.no",
                "r.confirm",
                (SetData("contactable", False), SetData("receipt", False)),
            ),
        ),
    ),
    "r.confirm": Menu(
        "report.confirm", _send, params=_summary, needs=("reference", "reports_today")
    ),
    "r.done": End("report.done", params=lambda data, ctx: {"reference": data.get("reference")}),
    "r.cancelled": End("report.cancelled"),
    "track": Ask(
        "track.prompt",
        "lookup",
        parse_reference,
        "track.found",
        error="track.error",
        checkpoint=CLEAR,
        needs=("case_status",),
    ),
    "track.found": Route(_found),
    "track.status": Menu("track.status", params=_status, checkpoint=CLEAR),
    "track.busy": End("track.busy"),
    "track.unknown": Menu(
        "track.unknown", params=lambda d, c: {"reference": d.get("lookup", "")}, checkpoint=CLEAR
    ),
}
