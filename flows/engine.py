"""The flow engine: a pure function from (flow, state, input) to the next screen.

A flow is a mapping of node ids to nodes. The engine owns navigation, which
is the same everywhere: 99 shows the next page, 0 goes back one screen (or
page), 00 returns to the main menu. Nothing here does I/O or reads a clock.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .catalog import Catalog
from .effects import SetData, SetLanguage
from .render import PREFIX, Page, compose, paginate

NEXT, BACK, HOME = "99", "0", "00"
START, MENU, RESUME = "start", "menu", "@resume"
MAX_BACK = 30  # deep enough for any journey, small enough for a Redis value
# The pages of screens with parameters, kept per catalog: some five hundred for the whole
# course in one language, and more with each learner's own figures (scores, minutes left).
LAID_MAX = 4096
# What a screen does to the caller's resume point if the call drops there:
# remember this screen, forget any, or leave the previous one alone.
SAVE, CLEAR, KEEP = "save", "clear", "keep"
# Copy the engine itself shows, on any screen of any journey.
ENGINE_KEYS = ("nav.next", "nav.back", "nav.home", "error.choice", "error.input")

Params = Callable[[Mapping, Mapping], Mapping[str, object]]


@dataclass(frozen=True)
class Option:
    """A numbered choice on a menu that leads to another node."""

    label: str
    to: str
    effects: tuple = ()
    text: str | None = None  # a label already in the caller's words (a language name)
    params: tuple = ()  # (name, value) pairs for the label's placeholders
    show: Callable[[Mapping], bool] | None = None  # given ctx: offer this option at all?


@dataclass(frozen=True)
class Menu:
    """A screen of text, optionally with numbered options."""

    text: str
    options: tuple[Option, ...] | Callable[[Mapping, Mapping], tuple[Option, ...]] = ()
    params: Params | None = None
    checkpoint: str = SAVE
    nav: bool = True  # offers 0 and 00; off for first-contact screens
    needs: tuple[str, ...] = ()  # ctx facts the web layer must fetch before an answer here
    # Where 0 leads from here, whatever came before: a task closed on this screen
    # (a quiz scored) is not walked back into.
    back_to: str | None = None
    sticky: bool = False  # options on every page: a long text never pushes them off the first
    # Free text that numbers no option, answered as this Ask would answer it (its
    # field, parse, next and error; its text is not shown): a PIN typed where
    # "1. Réessayer" is offered is taken as a PIN.
    typed: "Ask | None" = None
    private: bool = False  # shows a case or a person's details: never kept laid out


@dataclass(frozen=True)
class Ask:
    """A screen that takes free text, checks it and stores it in the session."""

    text: str
    field: str
    parse: Callable[[str], object | None]
    next: str
    error: str = "error.input"
    effects: Callable[[object], tuple] | None = None
    params: Params | None = None
    checkpoint: str = SAVE
    nav: bool = True
    needs: tuple[str, ...] = ()
    # By voice: the most keys an answer takes (0: any number, ended by #); whether
    # a keypad can answer at all (a name cannot); and the field that keeps a
    # recording's URL, where the caller speaks the answer instead.
    size: int = 0
    keypad: bool = True
    record: str | None = None
    private: bool = False


@dataclass(frozen=True)
class End:
    """A last screen: the session ends after it."""

    text: str
    params: Params | None = None


@dataclass(frozen=True)
class Route:
    """A screenless node that picks where to go from the session and context."""

    choose: Callable[[Mapping, Mapping], str]


Node = Menu | Ask | End | Route


@dataclass(frozen=True)
class Copy:
    """A screen parameter that names copy to look up, not text to show."""

    key: str
    params: tuple = ()  # (name, value) pairs for its own placeholders; a value may be a Copy


@dataclass(frozen=True)
class Step:
    """What one hop produced: the reply, the state to keep and effects to apply."""

    reply: str
    state: dict
    effects: tuple = ()
    end: bool = False
    checkpoint: str = CLEAR
    error: str = ""  # the copy key of the error shown above the screen, if any


@dataclass(frozen=True)
class Screen:
    """A node laid out in a language, ready to be drawn page by page."""

    pages: list[Page]
    options: tuple[Option, ...]
    nav: Mapping[str, str] = field(default_factory=dict)
    lines: tuple[str, ...] = ()  # option lines as written, before any cut


def new_state(lang: str | None) -> dict:
    """Return the state of a session that has shown nothing yet."""
    return {"node": None, "page": 0, "back": [], "data": {}, "lang": lang}


def step(
    flow: Mapping[str, Node],
    state: dict | None,
    text: str | None,
    ctx: Mapping,
    catalog: Catalog,
    limit: int,
) -> Step:
    """Advance a session by one input (None opens it) and render the reply."""
    effects: list = []
    if state is None:
        state = _enter(flow, new_state(ctx.get("lang")), START, ctx, effects)
        if ctx.get("resume") and state["node"] != MENU:
            state["resume"] = ctx["resume"]  # kept until the caller picks
        return _reply(flow, state, ctx, catalog, limit, "", effects)
    state = {**state, "data": dict(state["data"]), "back": list(state["back"])}
    node = flow[state["node"]]
    if isinstance(node, End):
        return _reply(flow, state, ctx, catalog, limit, "", effects)
    screen = layout(node, state, ctx, catalog, limit)
    text = (text or "").strip()
    error = ""
    if text == HOME and node.nav and state["node"] != MENU:
        state.update(node=MENU, page=0, back=[])
    elif text == BACK and (state["page"] > 0 or (node.nav and state["back"])):
        if state["page"] > 0:
            state["page"] -= 1
        else:
            state["node"], state["page"] = state["back"].pop()
    elif text == NEXT and state["page"] + 1 < len(screen.pages):
        state["page"] += 1
    elif isinstance(node, Menu) and (chosen := _choice(text, screen.options)) is not None:
        effects.extend(chosen.effects)
        state = _enter(flow, state, chosen.to, ctx, effects)
    elif isinstance(node, Menu) and node.typed is None:
        error = "error.choice"
    else:
        ask = node.typed if isinstance(node, Menu) else node
        value = ask.parse(text)
        if value is None:
            error = ask.error
        else:
            state["data"][ask.field] = value
            if ask.effects:
                effects.extend(ask.effects(value))
            state = _enter(flow, state, ask.next, ctx, effects)
    return _reply(flow, state, ctx, catalog, limit, error, effects)


def _choice(text: str, options: tuple[Option, ...]) -> Option | None:
    """Return the option numbered by text, or None."""
    if text.isdigit() and text.isascii() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    return None


def _enter(flow, state: dict, target: str, ctx: Mapping, effects: list) -> dict:
    """Move to target, following routes, and remember where we came from."""
    snap = state.pop("resume", None)
    if target == RESUME and snap:
        return {**state, **{k: snap[k] for k in ("node", "page", "back", "data")}}
    if state["node"] is not None:
        state["back"] = (state["back"] + [[state["node"], state["page"]]])[-MAX_BACK:]
    # Effects on the session itself apply before routing: a route may read them.
    for effect in effects:
        if isinstance(effect, SetLanguage):
            state["lang"] = effect.lang
        elif isinstance(effect, SetData):
            state["data"][effect.key] = effect.value
    for _ in range(len(flow)):
        node = flow[target]
        if not isinstance(node, Route):
            break
        target = node.choose(state["data"], ctx)
    # Going up to a screen already behind us cuts the trail there, so that
    # 0 never walks in circles; the main menu is the root of every trail.
    behind = [node for node, _ in state["back"]]
    if target in behind:
        state["back"] = state["back"][: behind.index(target)]
    if target == MENU:
        state["back"] = []
    back_to = getattr(flow[target], "back_to", None)
    if back_to:
        state["back"] = [[MENU, 0]] + ([[back_to, 0]] if back_to != MENU else [])
    state.update(node=target, page=0)
    return state


def layout(node: Node, state: Mapping, ctx: Mapping, catalog: Catalog, limit: int) -> Screen:
    """Lay a node out in pages for the session's language."""
    lang = state["lang"] or ctx.get("lang") or "fr"
    options = getattr(node, "options", ())
    nav = getattr(node, "nav", False)  # an End has none: its screen closes the session
    back, home = nav and bool(state["back"]), nav and state["node"] != MENU
    if node.params is None and not callable(options):
        # A screen of fixed copy lays out the same for the same language, options shown
        # and way back: done once per catalog, not on every hop (a navigation hop's
        # largest part was laying its two screens out again).
        shown = tuple([True if opt.show(ctx) else False for opt in options if opt.show])
        key = (id(node), lang, shown, back, home, limit)
        held = catalog.screens.get(key)
        if held is None:  # kept with its node, whose id no other node can take while it lives
            laid = _layout(node, {}, _shown(options, ctx), back, home, catalog, limit, lang)
            held = catalog.screens[key] = (node, laid)
        return held[1]
    params = dict(node.params(state["data"], ctx)) if node.params else {}
    if callable(options):
        options = options(state["data"], ctx)
    return _layout(node, params, _shown(options, ctx), back, home, catalog, limit, lang)


def _shown(options, ctx: Mapping) -> tuple[Option, ...]:
    """Return the options offered to this caller."""
    return tuple(opt for opt in options if opt.show is None or opt.show(ctx))


def _layout(node: Node, params: dict, options: tuple, back: bool, home: bool,
            catalog: Catalog, limit: int, lang: str) -> Screen:  # fmt: skip
    """Lay a node out in pages in lang, its parameters and options given (see layout)."""
    params = _resolve(params, catalog, lang)
    text = catalog.get(node.text, lang, **params)
    options = options if isinstance(node, Menu) else ()
    lines = tuple(f"{n}. {_label(opt, params, catalog, lang)}" for n, opt in enumerate(options, 1))
    nav = _nav(catalog, lang)
    if isinstance(node, End):
        return Screen([Page(text, ())], (), nav, ())
    sticky = isinstance(node, Menu) and node.sticky
    # Paging is most of the work, and its result depends on the words alone: the same
    # words (a help page naming the code, a lesson, Formation's menu) are paged once,
    # whatever values made them. Never what a case or a person's screen shows (private).
    key = (text, lines, sticky, back, home, limit, lang)
    laid = catalog.laid
    pages = laid.get(key)
    if pages is None:
        last = _nav_line(nav, False, back, home)
        paged = _nav_line(nav, True, True, home)
        room = limit - PREFIX
        pages = paginate(
            text, list(lines), room - len(last) - (1 if last else 0), room - len(paged) - 1, sticky
        )
        if not node.private:
            if len(laid) >= LAID_MAX:
                try:
                    del laid[next(iter(laid))]  # the oldest: the rest stay
                except (KeyError, RuntimeError, StopIteration):  # another thread's hop did
                    pass
            laid[key] = pages
    return Screen(pages, tuple(options), nav, lines)


def _nav(catalog: Catalog, lang: str) -> dict[str, str]:
    """Return the navigation choices in lang, as a page's last line names them."""
    key = ("nav", lang)
    nav = catalog.screens.get(key)
    if nav is None:
        nav = catalog.screens[key] = {
            name: f"{code}.{catalog.get('nav.' + name, lang)}"
            for name, code in (("next", NEXT), ("back", BACK), ("home", HOME))
        }
    return nav


def _label(option: Option, params: dict, catalog: Catalog, lang: str) -> str:
    """Return an option's label in lang, with the screen's and its own parameters."""
    if option.text:
        return option.text
    own = _resolve(dict(option.params), catalog, lang)
    return catalog.get(option.label, lang, **{**params, **own})


def _resolve(params: dict, catalog: Catalog, lang: str) -> dict:
    """Replace Copy values by the copy they name, filled with their own parameters."""
    return {k: _copy(v, catalog, lang) for k, v in params.items()}


def _copy(value, catalog: Catalog, lang: str):
    """Return a parameter's text: a Copy's copy in lang, anything else as it is."""
    if not isinstance(value, Copy):
        return value
    return catalog.get(value.key, lang, **_resolve(dict(value.params), catalog, lang))


def _nav_line(nav: Mapping[str, str], more: bool, back: bool, home: bool) -> str:
    """Return the navigation line for a page."""
    items = [nav["next"]] * more + [nav["back"]] * back + [nav["home"]] * home
    return " ".join(items)


def render(flow, state: dict, ctx: Mapping, catalog: Catalog, limit: int) -> str:
    """Return the reply for the state's current page, as it would be sent."""
    return _reply(flow, dict(state), ctx, catalog, limit, "", []).reply


def _reply(flow, state, ctx, catalog, limit, error_key, effects) -> Step:
    """Render the state's current page into a Step."""
    node = flow[state["node"]]
    screen = layout(node, state, ctx, catalog, limit)
    lang = state["lang"] or ctx.get("lang") or "fr"
    end = isinstance(node, End)
    page_no = min(state["page"], len(screen.pages) - 1)
    state["page"] = page_no
    if end:
        nav = ""
    else:
        nav = _nav_line(
            screen.nav,
            page_no + 1 < len(screen.pages),
            page_no > 0 or (node.nav and bool(state["back"])),
            node.nav and state["node"] != MENU,
        )
    error = catalog.get(error_key, lang) if error_key else ""
    reply = compose(screen.pages[page_no], nav, error, limit, end=end)
    checkpoint = CLEAR if end else node.checkpoint
    return Step(reply, state, tuple(effects), end, checkpoint, error_key)
