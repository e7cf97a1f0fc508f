"""The main journey: first contact, main menu, resume, and the account screens."""

from collections.abc import Callable, Mapping

from .effects import SetCallHour, SetData, SetLanguage, SetName
from .engine import CLEAR, KEEP, MENU, RESUME, Ask, Copy, End, Menu, Option, Route
from .gsm import fold

NAME_MIN, NAME_MAX = 2, 40
NAME_PUNCTUATION = frozenset(" -'.")
# The local hours an agent may be called at for lessons: inside the default send window.
CALL_HOURS = (8, 12, 16, 18)
# Copy the resume offer names from a function, out of the flow's reach for checks.
COPY = ("resume.continue", "resume.restart", "resume.at", "resume.report")


def parse_name(text: str) -> str | None:
    """Return a tidy GSM-7 name, or None when text cannot be one.

    Keypad users often type * or # where they mean a space, so both count as one.
    """
    name = " ".join(fold(text.replace("*", " ").replace("#", " ")).split())
    if not NAME_MIN <= len(name) <= NAME_MAX or not any(c.isalpha() for c in name):
        return None
    if not all(c.isalpha() or c in NAME_PUNCTUATION for c in name):
        return None  # digits, symbols, or characters fold turned into "?"
    return name


def samples() -> dict[str, list[dict]]:
    """Return, per account screen, the session data of its longest rendering."""
    return {"account.name_done": [{"name": "N" * NAME_MAX}]}


def start(first: Callable[[Mapping], str | None] = lambda ctx: None) -> Route:
    """Build the first screen's route; first names a screen due before the menu, or None."""

    def pick(data: Mapping, ctx: Mapping) -> str:
        if ctx.get("entry") == "lesson" and ctx.get("lang"):
            return "t.continue"  # Kalan called for the next lesson: no menu first
        if ctx.get("resume"):
            return "resume"
        # A screen with a single choice is no question: while one language alone has all
        # its copy, a new caller goes straight to the menu, in it.
        # A call always opens on it: a caller who cannot read hears the choice of language
        # spoken in each, and it tells them the line works before a word of French.
        choice = len(ctx.get("complete", ())) > 1 or ctx.get("channel") == "voice"
        if not ctx.get("lang") and choice:
            return "lang"
        return first(ctx) or MENU

    return Route(pick)


def resume_menu(place: Callable[[Mapping], Copy | None] = lambda snapshot: None) -> Menu:
    """Build the offer to resume; place names where the resume point is, or None."""

    def options(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
        where = place(ctx["resume"]) if ctx.get("resume") else None
        go = Option("resume.at", RESUME, params=(("place", where),)) if where else None
        return (go or Option("resume.continue", RESUME), Option("resume.restart", MENU))

    return Menu("resume.prompt", options, checkpoint=KEEP, nav=False)


def _languages(then: str):
    """Build the options of a language menu that continues to then."""

    def options(data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
        return tuple(
            Option("lang.name", then, (SetLanguage(code),), text=name)
            for code, name in ctx.get("languages", ())
        )

    return options


def _profile(data: Mapping, ctx: Mapping) -> dict:
    """Return the caller's profile as screen parameters."""
    profile = ctx.get("profile") or {}
    unknown = Copy("account.unknown")
    return {
        "phone": ctx.get("phone", ""),
        "name": profile.get("name") or unknown,
        "role": Copy("role." + (profile.get("role") or "community")),
        "organisation": profile.get("organisation") or unknown,
        # The language's own name, as copy: a call says it rather than spell it.
        "language": Copy("lang.name")
        if profile.get("lang") in dict(ctx.get("languages", ()))
        else unknown,
    }


def _code(data: Mapping, ctx: Mapping) -> dict:
    """Return the USSD code to dial, for help screens."""
    return {"code": ctx.get("code", "")}


def _by_voice(ctx: Mapping) -> bool:
    """Tell whether the caller is on a voice call, not a USSD screen."""
    return ctx.get("channel") == "voice"


def _agent(ctx: Mapping) -> bool:
    """Tell whether the caller is an agent, who takes the training."""
    return (ctx.get("profile") or {}).get("role") == "agent"


def _call_hours() -> tuple[Option, ...]:
    """Build the choice of an hour for lesson calls, and the way back to SMS reminders."""
    hours = tuple(
        Option(f"account.calls_{hour}", "account.calls_done", (SetCallHour(hour),))
        for hour in CALL_HOURS
    )
    return (*hours, Option("account.calls_off", "account.calls_stopped", (SetCallHour(None),)))


def _focal(ctx: Mapping) -> bool:
    """Tell whether the caller is a focal point, who gets the case desk."""
    return bool((ctx.get("profile") or {}).get("focal"))


NODES = {
    "start": start(),  # flows.build() gives it the screens due before the menu
    "resume": resume_menu(),  # flows.build() gives it the journeys' places
    "lang": Menu("lang.prompt", _languages(MENU), checkpoint=CLEAR, nav=False),
    # needs: the day's report count, so that a phone past its limit is told at once.
    MENU: Menu(
        "menu.title",
        (
            Option("menu.training", "t.open"),  # the pre-test first, when it is due
            # Two doors into the report: the urgent one shows the emergency numbers
            # at once; the other asks about a danger now only when it can be one, so
            # that a report whose danger cannot be immediate fits in 12 answers.
            Option("menu.report", "report", (SetData("urgent", False),)),
            Option("menu.urgent", "report", (SetData("urgent", True),)),
            Option("menu.track", "track"),
            Option("menu.account", "account"),
            Option("menu.desk", "desk", show=_focal),
            Option("menu.quit", "bye"),
        ),
        checkpoint=CLEAR,
        needs=("reports_today",),
    ),
    "bye": End("menu.bye"),
    "account": Menu(
        "account.title",
        (
            Option("account.profile_opt", "account.profile"),
            # A name is written: a call's keypad cannot type one.
            Option("account.name_opt", "account.name", show=lambda ctx: not _by_voice(ctx)),
            Option("account.lang_opt", "account.lang"),
            Option("account.help_opt", "help"),
            Option("account.about_opt", "about"),
            # Last, so that the numbers above stay what callers learnt.
            Option("account.calls_opt", "account.calls", show=_agent),
        ),
        checkpoint=CLEAR,
    ),
    # Screens that only inform are not worth resuming; a task half done is.
    "account.profile": Menu("account.profile", params=_profile, checkpoint=CLEAR, private=True),
    "account.name": Ask(
        "account.name_prompt",
        "name",
        parse_name,
        "account.name_done",
        error="account.name_error",
        effects=lambda name: (SetName(name),),
        keypad=False,
    ),
    "account.name_done": End(
        "account.name_done", params=lambda data, ctx: {"name": data.get("name", "")}
    ),
    "account.lang": Menu("lang.choose", _languages("account"), checkpoint=CLEAR),
    # Lesson calls: the next lesson at the hour chosen, then reminders by call, not SMS.
    "account.calls": Menu("account.calls", _call_hours(), checkpoint=CLEAR),
    "account.calls_done": End("account.calls_done"),
    "account.calls_stopped": End("account.calls_stopped"),
    "help": Menu("help.navigation", params=_code, checkpoint=CLEAR),
    "about": Menu("help.about", checkpoint=CLEAR),
}
