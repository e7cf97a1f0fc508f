"""The report journey: a community member signals a child at risk, by choices only.

No child's name is ever asked. ctx["reference"] is a fresh case reference the
web layer drew for this hop, and ctx["case_status"] the status of a reference
being looked up; the flow itself draws nothing and reads nothing.
"""

import unicodedata
from collections.abc import Callable, Mapping

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
CERCLES = {cercle: region for region, cercles in REGIONS.items() for cercle in cercles}
COUNTS = ("one", "few", "many")
AGES = ("under13", "13to14", "15to17", "unknown")
SEXES = ("girls", "boys", "both", "unknown")
SCHOOL = ("yes", "no", "unknown")
HAZARDS = ("pits", "collapse", "mercury", "loads", "crushing", "pesticides", "animals", "night",
           "violence", "trafficking", "other")  # fmt: skip
# Dangers that may be threatening the child this very moment: the report asks
# whether it is so, and a yes makes the case urgent, as the urgent door does.
IMMEDIATE = frozenset({"pits", "collapse", "violence", "trafficking"})
FIELDS = ("urgent", "sector", "region", "cercle", "place", "children", "age", "sex", "school",
          "hazard", "contactable", "receipt")  # fmt: skip
PLACE_MAX = 60
REFERENCE = 6  # digits: letters take several presses on a basic phone's keypad
SENT = "r.done"  # the screen after a report is filed
THROTTLED = "throttled"  # ctx["case_status"] when this phone missed too many lookups lately
# Copy the screens name through their parameters, which flows.check cannot see.
COPY = (
    "report.summary.village", "report.summary.recorded", "report.summary.nowhere",
    "report.summary.urgent",
    *(f"report.summary.sector.{v}" for v in SECTORS), *(f"report.hazard.{v}" for v in HAZARDS),
    *(f"report.region.{v}" for v in REGIONS), *(f"report.children.{v}" for v in COUNTS),
    *(f"report.cercle.{v}" for cercles in REGIONS.values() for v in (*cercles, "unknown")),
    *(f"report.summary.{n}.{v}" for n in ("one", "many") for v in SEXES),
    *(f"report.summary.age.{v}" for v in AGES), *(f"report.summary.school.{v}" for v in SCHOOL),
    *(f"report.sex.{v}" for v in SEXES),  # r.sex's options, which depend on the answers
    *(f"report.sex_one.{v}" for v in SEXES if v != "both"),
    *(f"report.{q}_prompt.{n}" for q in ("age", "sex", "school") for n in ("one", "many")),
)  # fmt: skip


def _options(field: str, values, then: str, label: str) -> tuple[Option, ...]:
    return tuple(Option(f"{label}.{value}", then, (SetData(field, value),)) for value in values)


def _choose(text: str, field: str, values, then: str, label: str) -> Menu:
    """A menu whose options each store one value of field and go on to then."""
    return Menu(text, _options(field, values, then, label))


def _sexes(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    """Filles, garcons, les deux, je ne sais pas; for one child, une fille or un garcon."""
    if data.get("children") != "one":
        return _options("sex", SEXES, "r.school", "report.sex")
    return _options("sex", tuple(s for s in SEXES if s != "both"), "r.school", "report.sex_one")


def _asked(question: str) -> Callable[[Mapping, Mapping], dict]:
    """Return the parameters of a question put of one child or of several."""
    return lambda data, ctx: {
        "prompt": Copy(
            f"report.{question}_prompt.{'one' if data.get('children') == 'one' else 'many'}"
        )
    }


def parse_place(text: str) -> str | None:
    """Return a village or site name, "" to skip (1), or None when unusable."""
    place = " ".join(fold(text.replace("*", " ")).split())
    if place == "1":
        return ""
    if not place or len(place) > PLACE_MAX or "?" in place:
        return None
    return place


def cercle_code(text: str | None) -> str | None:
    """Return the code of a programme cercle written by code or name ("Kolondiéba", "M'Pessoba")."""
    # Each code is its name without accents, case or marks, so one key reads both.
    decomposed = unicodedata.normalize("NFKD", text or "")
    key = "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()
    return key if key in CERCLES else None


def parse_reference(text: str) -> str | None:
    """Return a reference in capitals, or None when it cannot be one."""
    reference = "".join(text.split()).upper()
    # Letters too: references drawn before they were digits only still work.
    ok = len(reference) == REFERENCE and reference.isascii() and reference.isalnum()
    return reference if ok else None


def answers(data: Mapping) -> dict:
    """Return what a report files, by FIELDS: urgent by either door, or by a danger now."""
    case = {name: data.get(name) for name in FIELDS}
    now = data.get("now") is True and data.get("hazard") in IMMEDIATE
    case["urgent"] = bool(data.get("urgent")) or now
    if data.get("place_audio"):  # the site's name, said on a call: fetched and kept with the case
        case["recording"] = data["place_audio"]
    return case


def _summary(data: Mapping, ctx: Mapping) -> dict:
    case = answers(data)
    if case["cercle"] and case["cercle"] != "unknown":
        where = Copy(f"report.cercle.{case['cercle']}")
    elif case["region"]:
        where = Copy(f"report.region.{case['region']}")
    else:
        where = Copy("report.summary.nowhere")
    place, children = case["place"], case["children"] or "one"
    number = "one" if children == "one" else "many"
    return {
        "sector": Copy(f"report.summary.sector.{case['sector'] or 'other'}"),
        "where": where,
        "village": _village(place, case.get("recording")),
        "children": Copy(f"report.children.{children}"),
        "who": Copy(f"report.summary.{number}.{case['sex'] or 'unknown'}"),
        "age": Copy(f"report.summary.age.{case['age'] or 'unknown'}"),
        "school": Copy(f"report.summary.school.{case['school'] or 'unknown'}"),
        "hazard": Copy(f"report.hazard.{case['hazard'] or 'other'}"),
        "urgent": Copy("report.summary.urgent") if case["urgent"] else "",
    }


def _village(place: str | None, recording: str | None):
    """Name the village or site given: written, recorded by voice, or none."""
    if place:
        return Copy("report.summary.village", (("place", place),))
    return Copy("report.summary.recorded") if recording else ""


def samples() -> dict[str, list[dict]]:
    """Return, per report screen, session data that renders each of its phrasings."""
    longest = {"sector": "mining", "region": "bougouni", "cercle": "ouelessebougou",
               "place": "P" * PLACE_MAX, "hazard": "trafficking"}  # fmt: skip
    summaries = [
        {**longest, "children": count, "sex": sex, "age": AGES[n % len(AGES)],
         "school": SCHOOL[n % len(SCHOOL)], "urgent": n % 2 == 0}
        for n, (count, sex) in enumerate((c, s) for c in COUNTS for s in SEXES)
    ]  # fmt: skip
    reference, looked_up = "4" * REFERENCE, [{"lookup": "4" * REFERENCE}]
    return {"r.confirm": [*summaries, {}], "r.done": [{"reference": reference}],
            "track.status": looked_up, "track.unknown": looked_up}  # fmt: skip


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
    case = answers(data)
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


def _danger(data: Mapping, ctx: Mapping) -> str:
    """Ask whether the danger is happening now, if it can be and the door did not say."""
    if data.get("urgent") or data.get("hazard") not in IMMEDIATE:
        return "r.contact"
    return "r.now"


def _done(data: Mapping, ctx: Mapping) -> dict:
    """Return the reference to note, and the code to dial to follow it."""
    return {"reference": data.get("reference", ""), "code": ctx.get("code", "")}


def _may_report(data: Mapping, ctx: Mapping) -> str:
    """Turn away a phone past its daily limit of reports, politely; else start."""
    if _over_limit(ctx):
        return "r.limit"
    return "r.emergency" if data.get("urgent") else "r.sector"


# A cercle chosen before the caller came back to the regions goes too, or it is filed.
_NOWHERE = (SetData("region", None), SetData("cercle", None))

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
        + (Option("report.region.unknown", "r.place", _NOWHERE),),
    ),
    **_regions(),
    # By voice, the caller says the name after a beep: the recording goes with the case.
    "r.place": Ask(
        "report.place_prompt",
        "place",
        parse_place,
        "r.children",
        error="report.place_error",
        record="place_audio",
    ),  # fmt: skip
    "r.children": _choose("report.children_prompt", "children", COUNTS, "r.age", "report.children"),
    "r.age": Menu("report.ask", _options("age", AGES, "r.sex", "report.age"), params=_asked("age")),
    # One child is a girl or a boy: "Les deux" is offered only for two or more.
    "r.sex": Menu("report.ask", _sexes, params=_asked("sex")),
    "r.school": Menu(
        "report.ask",
        _options("school", SCHOOL, "r.hazard", "report.school"),
        params=_asked("school"),
    ),
    "r.hazard": _choose("report.hazard_prompt", "hazard", HAZARDS, "r.danger", "report.hazard"),
    "r.danger": Route(_danger),
    "r.now": Menu(
        "report.now_prompt",
        (
            Option("report.yes", "r.now.call", (SetData("now", True),)),
            Option("report.no", "r.contact", (SetData("now", False),)),
        ),
    ),
    "r.now.call": Menu("report.emergency", (Option("report.go_on", "r.contact"),)),
    # One screen for both choices, to keep the report within 12 hops. The options
    # without an SMS come first, under a warning: a phone is often shared, and an
    # SMS stays on it. An anonymous reporter gets none: it would keep the number.
    "r.contact": Menu(
        "report.contact_prompt",
        (
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
            Option(
                "report.contact.sms",
                "r.confirm",
                (SetData("contactable", True), SetData("receipt", True)),
            ),
        ),
    ),
    "r.confirm": Menu(
        "report.confirm",
        _send,
        params=_summary,
        needs=("reference", "reports_today"),
        sticky=True,  # Envoyer and Annuler on the first page, however long the summary
        private=True,
    ),
    "r.done": End("report.done", params=_done),
    "r.cancelled": End("report.cancelled"),
    "track": Ask(
        "track.prompt",
        "lookup",
        parse_reference,
        "track.found",
        error="track.error",
        checkpoint=CLEAR,
        needs=("case_status",),
        size=REFERENCE,
    ),
    "track.found": Route(_found),
    "track.status": Menu("track.status", params=_status, checkpoint=CLEAR, private=True),
    "track.busy": End("track.busy"),
    "track.unknown": Menu(
        "track.unknown",
        params=lambda d, c: {"reference": d.get("lookup", "")},
        checkpoint=CLEAR,
        private=True,
    ),
}
