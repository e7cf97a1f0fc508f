"""The case desk: focal points open their cases behind a PIN and move them on.

The web layer fills ctx["pin"] (the PIN check: result, tries left, wait) and
ctx["desk"] (the caller's open cases, or None before the PIN) for every
screen here; it checks again, when applying MoveCase, that the caller may.
"""

from collections.abc import Mapping
from dataclasses import replace

from .effects import MoveCase, SetData
from .engine import CLEAR, Ask, Copy, End, Menu, Option, Route
from .gsm import fold

FOLLOW_UP = "followup"  # not a state: a follow-up visit recorded on a referred case
# Where a case may be referred: the services of the CLMRS referral pathway, then
# those of the remedies (labour inspection, training at 15-17, economic support,
# civil registration). New ones go before "other", so the older numbers stay.
SERVICES = ("social", "education", "health", "police", "justice", "ngo", "labour", "training",
            "economic", "civil", "other")  # fmt: skip
NOTE_MAX = 100
NEEDS = ("desk",)
# The CLMRS cycle's states, the open ones, and those whose verification is due.
STATES = ("new", "verifying", "confirmed", "unfounded", "referred", "following", "closed")
OPEN = ("new", "verifying", "confirmed", "referred", "following")
TO_VERIFY = ("new", "verifying")
# Copy looked up by key at run time, which the flow check cannot see.
COPY = (
    "desk.item",
    "desk.urgent_mark",
    "desk.no_mark",
    "desk.gone",
    "desk.about",
    "desk.due",
    "desk.reports",
    "desk.conflict",
    *(f"desk.status.{state}" for state in STATES),
    *(f"desk.to.{state}" for state in (*STATES[1:], FOLLOW_UP)),
    *(f"desk.service.{service}" for service in SERVICES),
)
# The longest case a desk may show, to check that its screens fit.
SAMPLE = {
    "reference": "ACDEFG",
    "status": "following",
    "urgent": True,
    "region": "bougouni",
    "cercle": "ouelessebougou",
    "place": "P" * 60,
    "sector": "domestic",
    "children": "many",
    "sex": "both",
    "age": "under13",
    "hazard": "trafficking",
    "reports": 999,
    "due": "31/12 23h59",
    "next": [FOLLOW_UP, "closed"],
}


def parse_pin(text: str) -> bool | None:
    """Accept 4 to 6 digits; the PIN itself is never kept in the session."""
    pin = text.strip()
    return True if pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 6 else None


def parse_note(text: str) -> str | None:
    """Return a one-line note, "" to skip (1), or None when too long."""
    note = " ".join(fold(text.replace("*", " ")).split())
    if note == "1":
        return ""
    return note if note and len(note) <= NOTE_MAX else None


def _case(data: Mapping, ctx: Mapping) -> Mapping | None:
    """Return the case chosen on the list, as the desk last showed it, or None."""
    for case in (ctx.get("desk") or {}).get("cases", ()):
        if case["reference"] == data.get("case"):
            return case
    return None


def _where(case: Mapping) -> Copy:
    if case.get("cercle") and case["cercle"] != "unknown":
        return Copy(f"report.cercle.{case['cercle']}")
    if case.get("region"):
        return Copy(f"report.region.{case['region']}")
    return Copy("report.cercle.unknown")


def _home(data: Mapping, ctx: Mapping) -> str:
    return "desk.list" if ctx.get("desk") is not None else "desk"


def _checked(data: Mapping, ctx: Mapping) -> str:
    result = (ctx.get("pin") or {}).get("result")
    return {"ok": "desk.home", "locked": "desk.locked"}.get(result, "desk.wrong")


def _list(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    return tuple(
        Option(
            "desk.item",
            "desk.case",
            (SetData("case", case["reference"]),),
            params=(
                ("reference", case["reference"]),
                ("where", _where(case)),
                ("mark", Copy("desk.urgent_mark" if case["urgent"] else "desk.no_mark")),
            ),
        )
        for case in (ctx.get("desk") or {}).get("cases", ())
    )


def _count(data: Mapping, ctx: Mapping) -> dict:
    return {"count": str(len((ctx.get("desk") or {}).get("cases", ())))}


def _shown(data: Mapping, ctx: Mapping) -> dict:
    case = _case(data, ctx)
    if case is None:  # closed or handed over since the list was shown
        return {"reference": data.get("case", ""), "status": Copy("desk.gone"), "mark": "",
                "about": ""}  # fmt: skip
    return {
        "reference": case["reference"],
        "status": Copy(f"desk.status.{case['status']}"),
        "mark": Copy("desk.urgent_mark" if case["urgent"] else "desk.no_mark"),
        "about": Copy("desk.about", tuple(_about(case).items())),
    }


def _about(case: Mapping) -> dict:
    """Say what the report told, in the words its summary read to the reporter, and where."""
    children = case.get("children") or "one"
    number = "one" if children == "one" else "many"
    reports = case.get("reports") or 1
    return {
        "what": Copy(f"report.hazard.{case.get('hazard') or 'other'}"),
        "children": Copy(f"report.children.{children}"),
        "who": Copy(f"report.summary.{number}.{case.get('sex') or 'unknown'}"),
        "age": Copy(f"report.summary.age.{case.get('age') or 'unknown'}"),
        "sector": Copy(f"report.summary.sector.{case.get('sector') or 'other'}"),
        "where": _where(case),
        "site": f", {case['place']}" if case.get("place") else "",
        # Said only when they tell something: a date due, reports pooled.
        "due": Copy("desk.due", (("due", case["due"]),)) if case.get("due") else "",
        "reports": Copy("desk.reports", (("reports", str(reports)),)) if reports > 1 else "",
    }


def _actions(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    case = _case(data, ctx)
    if case is None:
        return ()
    return tuple(
        Option(
            f"desk.to.{status}",
            "desk.service" if status == "referred" else "desk.note",
            (SetData("to", status), SetData("service", None)),
        )
        for status in case["next"]
    )


def _confirm(data: Mapping, ctx: Mapping) -> dict:
    service = data.get("service") or "other"
    to = data.get("to", FOLLOW_UP)
    return {
        "reference": data.get("case", ""),
        "to": Copy(f"desk.to.{to}"),
        # What the case is now: a follow-up visit puts a referred case in follow-up.
        "status": Copy(f"desk.status.{'following' if to == FOLLOW_UP else to}"),
        "service": Copy(f"desk.service.{service}"),
        "note": data.get("note") or "-",
    }


def _referring(then: str):
    """Route to the referral variant of a screen, which also names the service."""
    return Route(lambda data, ctx: f"{then}.refer" if data.get("to") == "referred" else then)


def _move(text: str, options, nav: bool = True) -> Menu:
    """Return a screen naming a case's move: to confirm it, or once it is saved."""
    return Menu(text, options, params=_confirm, checkpoint=CLEAR, nav=nav, needs=NEEDS,
                private=True)  # fmt: skip


def _commit(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    move = MoveCase(data.get("case", ""), data.get("to", ""), data.get("note") or "",
                    data.get("service"))  # fmt: skip
    return (
        Option("desk.confirm_yes", "desk.saved", (move,)),
        Option("desk.confirm_no", "desk.home"),
    )


def samples() -> dict[str, list[dict]]:
    """Return, per desk screen, the session data of its longest rendering."""
    longest = {"case": SAMPLE["reference"], "service": "social", "note": "N" * NOTE_MAX}
    nodes = ("desk.case", "desk.confirm", "desk.confirm.refer", "desk.done", "desk.done.refer")
    return {node: [{**longest, "to": to} for to in (*STATES[1:], FOLLOW_UP)] for node in nodes}


_DONE = (Option("desk.back_to_list", "desk.home"),)

_PIN = Ask("desk.pin_prompt", "pin", parse_pin, "desk.checked", error="desk.pin_format", size=6)

NODES = {
    # Every screen of the desk is forgotten on a drop: a redial asks the PIN again.
    "desk": replace(_PIN, checkpoint=CLEAR, needs=("pin", "desk")),
    "desk.checked": Route(_checked),
    "desk.home": Route(_home),
    # A PIN typed here instead of 1 is checked as one; ctx["pin"] then tells the tries
    # left after any other answer too, without spending one.
    "desk.wrong": Menu(
        "desk.pin_wrong",
        (Option("desk.retry", "desk"),),
        params=lambda data, ctx: {"left": str((ctx.get("pin") or {}).get("left", 0))},
        checkpoint=CLEAR,
        needs=("pin", "desk"),
        typed=_PIN,
    ),
    "desk.locked": End(
        "desk.locked",
        params=lambda d, c: {"minutes": str(-(-(c.get("pin") or {}).get("wait", 900) // 60))},
    ),
    # 0 on the list leads to the main menu, not back into the PIN screens behind it.
    "desk.list": Menu(
        "desk.list",
        _list,
        params=_count,
        checkpoint=CLEAR,
        needs=NEEDS,
        back_to="menu",
        private=True,
    ),
    "desk.case": Menu(
        "desk.case", _actions, params=_shown, checkpoint=CLEAR, needs=NEEDS, private=True
    ),
    "desk.service": Menu(
        "desk.service_prompt",
        tuple(Option(f"desk.service.{s}", "desk.note", (SetData("service", s),)) for s in SERVICES),
        checkpoint=CLEAR,
        needs=NEEDS,
    ),
    "desk.note": Ask(
        "desk.note_prompt",
        "note",
        parse_note,
        "desk.confirming",
        error="desk.note_error",
        checkpoint=CLEAR,
        keypad=False,  # by voice, only 1 (no note) is read
        needs=NEEDS,
    ),
    "desk.confirming": _referring("desk.confirm"),
    "desk.confirm": _move("desk.confirm", _commit),
    "desk.confirm.refer": _move("desk.confirm_refer", _commit),
    "desk.saved": _referring("desk.done"),
    # No way back from here: 0 would lead to the confirmation, and a second save.
    "desk.done": _move("desk.done", _DONE, nav=False),
    "desk.done.refer": _move("desk.done_refer", _DONE, nav=False),
}
