"""The voice channel's side of the engine: the same screens, said aloud and answered by keys.

A screen is said whole (a call has no 160-character pages), then each option
as "Pour <option>, tapez <n>". Keys are one convention on every screen: 1 to 8
choose, 9 repeats, 0 goes back, * returns to the main menu, # says the next
options of a long menu. A menu says at most GROUP options at a time, numbered
from 1 in each group; the engine still numbers them from the first, so a key
is translated here. A prompt nobody answers is said again once, then the call
says goodbye. Nothing here does I/O: a Step's reply is a Speech, a plain dict
that the web layer turns into the gateway's XML.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from . import engine, speech
from .catalog import Catalog
from .effects import SetLanguage
from .engine import KEEP, MENU, Ask, Copy, End, Menu, Step

GROUP = 8  # options said per turn: keys 1 to 8, as 9, 0, * and # are taken
REPEAT, BACK, HOME, MORE = "9", "0", "*", "#"
SILENCE = ""  # the input of a turn that timed out: the gateway redirected, with no keys
RECORDING = "\x1erecording:"  # prefixes a recording's URL, as the voice channel passes it
WHOLE = 1_000_000  # a screen is never paged by voice
DIGITS_MAX = 20  # keys an open answer may take before # (AT's numDigits)
QUIET_MAX = 2  # prompts left unanswered before the call ends
KEYS_ON = (MENU, "help")  # the screens that recall the keys


@dataclass(frozen=True)
class Voice:
    """The frame flows.step() takes for a call, where USSD passes its screen size."""

    group: int = GROUP


@dataclass(frozen=True)
class Said:
    """Speech already assembled, passed as a placeholder's value."""

    parts: tuple


FRAME = Voice()


def step(flow, state: dict | None, text: str | None, ctx: Mapping, catalog: Catalog) -> Step:
    """Advance a call by one turn's keys (None opens it) and say the next screen."""
    if state is None:
        return _said(flow, engine.step(flow, None, None, ctx, catalog, WHOLE), ctx, catalog)
    node = flow[state["node"]]
    state = {**state, "data": dict(state["data"]), "back": list(state["back"])}
    text = text or ""
    lead: tuple = ()
    if text == SILENCE:
        state["quiet"] = state.get("quiet", 0) + 1
        if state["quiet"] >= QUIET_MAX or isinstance(node, End):
            goodbye = _say(catalog, "voice.goodbye", _lang(state, ctx), {})
            return Step({"parts": goodbye, "end": True}, state, (), True, KEEP)
        lead = tuple(_say(catalog, "voice.silence", _lang(state, ctx), {}))
        return _again(flow, state, ctx, catalog, lead)
    state["quiet"] = 0
    if text == REPEAT or isinstance(node, End):
        return _again(flow, state, ctx, catalog, lead)
    group = state.get("group", 0)
    if isinstance(node, Menu):
        options = _options(node, state, ctx, catalog)
        if text == MORE and (group + 1) * GROUP < len(options):
            return _again(flow, {**state, "group": group + 1}, ctx, catalog, lead)
        if text == BACK and group > 0:
            return _again(flow, {**state, "group": group - 1}, ctx, catalog, lead)
        if len(text) == 1 and text in "12345678":
            text = str(group * GROUP + int(text))
        elif text == MORE:
            text = "#"  # no further options: the engine refuses it as a choice
    if isinstance(node, Ask) and not node.keypad and text not in ("1", BACK):
        text = ""  # keys cannot write it: only 1 (to pass, where it may) and 0 are read
    if isinstance(node, Ask) and node.record and text.startswith(RECORDING):
        if text[len(RECORDING) :]:
            state["data"][node.record] = text[len(RECORDING) :]
        text = "1"  # the written answer is skipped: the recording stands for it
    if text == HOME:
        text = engine.HOME
    result = engine.step(flow, state, text, ctx, catalog, WHOLE)
    if result.state["node"] != state["node"]:
        result.state["group"] = 0
    return _said(flow, result, ctx, catalog, lead)


def _again(flow, state: dict, ctx, catalog, lead) -> Step:
    """Say the current screen again, changing nothing else."""
    node = flow[state["node"]]
    end = isinstance(node, End)
    reply = speak(flow, state, ctx, catalog, "", lead)
    return Step(reply, state, (), end, engine.CLEAR if end else KEEP)


def _said(flow, result: Step, ctx, catalog, lead: tuple = ()) -> Step:
    """Replace a step's USSD reply by its speech."""
    reply = speak(flow, result.state, ctx, catalog, result.error, lead)
    return Step(reply, result.state, result.effects, result.end, result.checkpoint, result.error)


def _lang(state: Mapping, ctx: Mapping) -> str:
    return state.get("lang") or ctx.get("lang") or "fr"


def _options(node: Menu, state: Mapping, ctx: Mapping, catalog: Catalog) -> tuple:
    return engine.layout(node, state, ctx, catalog, WHOLE).options


def _say(catalog: Catalog, key: str, lang: str, params: Mapping) -> list[dict]:
    """Say key's copy, resolving its parameters' copy recursively."""

    def resolve(raw) -> list[dict]:
        if isinstance(raw, Said):
            return list(raw.parts)
        if isinstance(raw, Copy):
            return _say(catalog, raw.key, lang, dict(raw.params))
        return []

    return speech.say(catalog, key, lang, params, resolve)


def speak(flow, state: Mapping, ctx: Mapping, catalog: Catalog, error: str, lead=()) -> dict:
    """Say a state's screen: its text, its options, and what the keypad may answer."""
    node = flow[state["node"]]
    lang = _lang(state, ctx)
    params = dict(node.params(state["data"], ctx)) if node.params else {}
    parts = [*lead]
    if error:
        parts += _say(catalog, error, lang, {})
    text = speech.SCREEN + node.text
    parts += _say(catalog, text if catalog.has(text) else node.text, lang, params)
    if isinstance(node, End):
        return {"parts": parts, "end": True}
    if isinstance(node, Ask):
        if node.record:
            parts += _say(catalog, "voice.record", lang, {})
            return {"parts": parts, "input": {"record": True}}
        if not node.keypad:
            parts += _say(catalog, "voice.text_only", lang, {})
            return {"parts": parts, "input": {"digits": 1}}
        parts += _say(catalog, "voice.finish", lang, {})
        return {"parts": parts, "input": {"digits": node.size or DIGITS_MAX, "finish": "#"}}
    options = _options(node, state, ctx, catalog)
    group = min(state.get("group", 0), max(0, (len(options) - 1) // GROUP))
    for n, option in enumerate(options[group * GROUP : (group + 1) * GROUP], 1):
        parts += _option(catalog, option, n, lang, params)
    if (group + 1) * GROUP < len(options):
        parts += _say(catalog, "voice.more", lang, {})
    if state["node"] in KEYS_ON:
        parts += _say(catalog, "voice.keys", lang, {})
    if node.typed is not None:  # a PIN may be typed where "1. Réessayer" is offered
        parts += _say(catalog, "voice.finish", lang, {})
        return {"parts": parts, "input": {"digits": node.typed.size or DIGITS_MAX, "finish": "#"}}
    return {"parts": parts, "input": {"digits": 1}}


def _option(catalog: Catalog, option: engine.Option, n: int, lang: str, params) -> list[dict]:
    """Say "Pour <option>, tapez <n>", a language's name in that language."""
    own = [e.lang for e in option.effects if isinstance(e, SetLanguage)]
    if option.text and own and catalog.texts.get(own[0], {}).get("voice.lang_option"):
        return _say(catalog, "voice.lang_option", own[0], {"n": n})  # "Pour le français…"
    if option.text and own:
        lang = own[0]
        label = _say(catalog, "lang.name", lang, {})
    else:
        label = _say(catalog, option.label, lang, {**params, **dict(option.params)})
    return _say(catalog, "voice.option", lang, {"label": Said(tuple(label)), "n": n})


def notice(catalog: Catalog, key: str, lang: str) -> dict:
    """Say key's copy and end the call: an apology when a turn failed."""
    return {"parts": _say(catalog, key, lang, {}), "end": True}
