"""flows/voice.py: the engine's screens said aloud, and a call's keys read as the engine's."""

from pathlib import Path

import pytest

import flows
from app.content import load
from flows import Catalog, voice
from flows.engine import CLEAR, KEEP

CATALOG, _ = load(Path(__file__).resolve().parents[1] / "content")
FLOW = flows.build(CATALOG.course)
CTX = {"channel": "voice", "lang": "fr", "complete": ("fr",), "languages": (("fr", "Francais"),),
       "profile": {}, "training": {}, "tests": {}, "recalls": {}, "code": "*123#",
       "pass_mark": 80, "report_limit": 3, "reports_today": 0}  # fmt: skip


def walk(*keys, ctx=CTX, catalog=CATALOG):
    """Open a call and press each key; return the last Step."""
    result = flows.step(FLOW, None, None, ctx, catalog, voice.FRAME)
    for key in keys:
        result = flows.step(FLOW, result.state, key, ctx, catalog, voice.FRAME)
    return result


def words(result) -> str:
    return " ".join(part["text"] for part in result.reply["parts"])


@pytest.mark.parametrize(
    ("keys", "node", "group"),
    [
        (["2", "1", "2"], "r.cercle.bougouni", 0),
        (["2", "1", "2", "#"], "r.cercle.bougouni", 1),  # the next eight options
        (["2", "1", "2", "#", "#"], "r.cercle.bougouni", 1),  # no more: refused, stays
        (["2", "1", "2", "#", "0"], "r.cercle.bougouni", 0),  # 0 goes back a group first
        (["2", "1", "2", "#", "1"], "r.place", 0),  # 1 of the second group: the 9th option
        (["2", "1", "2", "0"], "r.region", 0),  # 0 on the first group: the screen before
        (["2", "1", "*"], "menu", 0),
        (["2", "9"], "r.sector", 0),
    ],
)
def test_keys_move_as_the_convention_says(keys, node, group):
    result = walk(*keys)
    assert (result.state["node"], result.state.get("group", 0)) == (node, group)


def test_the_ninth_option_is_the_one_chosen():
    result = walk("2", "1", "2", "#", "1", voice.RECORDING + "http://x/a.wav")
    assert result.state["data"]["cercle"] == "dogo"
    assert result.state["data"]["place_audio"] == "http://x/a.wav"
    assert result.state["data"]["place"] == ""  # the written answer skipped
    assert result.state["node"] == "r.children"


def test_nothing_recorded_skips_the_question():
    result = walk("2", "1", "1", "1", voice.RECORDING)
    assert result.state["node"] == "r.children" and "place_audio" not in result.state["data"]


def test_a_repeat_changes_nothing_and_keeps_the_resume_point():
    before = walk("1")
    again = flows.step(FLOW, before.state, voice.REPEAT, CTX, CATALOG, voice.FRAME)
    assert again.reply == before.reply and again.effects == ()
    assert again.checkpoint == KEEP


def test_two_silences_end_the_call_keeping_the_resume_point():
    first = walk("1", voice.SILENCE)
    assert words(first).startswith("Nous n'avons rien entendu. Formation")
    last = flows.step(FLOW, first.state, voice.SILENCE, CTX, CATALOG, voice.FRAME)
    assert last.end and last.checkpoint == KEEP and "input" not in last.reply


@pytest.mark.parametrize(
    ("keys", "wanted"),
    [
        ([], {"digits": 1}),
        (["4"], {"digits": 6, "finish": "#"}),  # a reference: six keys, or # sooner
        (["2", "1", "1", "1"], {"record": True}),
    ],
)
def test_what_a_screen_waits_for(keys, wanted):
    assert walk(*keys).reply["input"] == wanted


def test_each_language_is_offered_in_its_own_words():
    bambara = {"lang.name": "Bamanankan", "voice.option": "$label kama, $n digi."}
    texts = {"fr": dict(CATALOG.texts["fr"]), "bm": bambara}
    catalog = Catalog(texts, {"fr": "Francais", "bm": "Bamanankan"}, CATALOG.course)
    ctx = {**CTX, "lang": None, "languages": tuple(catalog.names.items())}
    result = walk(ctx=ctx, catalog=catalog)
    parts = result.reply["parts"]
    assert words(result).endswith("Pour le français, tapez un Bamanankan kama, deux digi.")
    assert {p["lang"] for p in parts if p["text"] == "Bamanankan"} == {"bm"}


def test_a_new_caller_hears_the_language_choice_even_with_one_language():
    assert walk(ctx={**CTX, "lang": None}).state["node"] == "lang"
    ussd = flows.step(FLOW, None, None, {**CTX, "lang": None, "channel": "ussd"}, CATALOG, 160)
    assert ussd.state["node"] == "menu"
    assert walk().state["node"] == "menu" and walk().checkpoint == CLEAR


@pytest.mark.parametrize(("key", "node"), [("1", "desk.confirm"), ("5", "desk.note")])
def test_a_note_cannot_be_typed_by_voice_only_passed(key, node):
    note = flows.FLOW["desk.note"]
    assert not note.keypad
    state = {"node": "desk.note", "page": 0, "back": [["menu", 0]], "lang": "fr",
             "data": {"case": "400001", "to": "followup"}}  # fmt: skip
    result = voice.step(FLOW, state, key, {**CTX, "desk": {"cases": []}}, CATALOG)
    assert result.state["node"] == node
    assert result.state["data"].get("note", None) in ("", None)
