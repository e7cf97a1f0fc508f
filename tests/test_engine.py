"""The pure flow engine, walked through a small flow of its own."""

import json
from dataclasses import dataclass

import pytest

from flows.catalog import Catalog
from flows.effects import SetLanguage
from flows.engine import (
    CLEAR,
    KEEP,
    MAX_BACK,
    MENU,
    RESUME,
    Ask,
    End,
    Menu,
    Option,
    Route,
    step,
)

LIMIT = 160
LONG = " ".join(f"mot{n}" for n in range(60))


@dataclass(frozen=True)
class Noted:
    """A test effect: the flow asks the world to remember a value."""

    value: object


def parse_age(text: str) -> int | None:
    """Return an age from 1 to 120, or None."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= 120:
        return int(text)
    return None


def first_screen(data, ctx) -> str:
    if ctx.get("resume"):
        return "resume"
    return MENU if ctx.get("lang") else "lang"


CATALOG = Catalog(
    {
        "fr": {
            "nav.next": "Suite",
            "nav.back": "Retour",
            "nav.home": "Menu",
            "error.choice": "Choix invalide.",
            "error.input": "Reponse invalide.",
            "lang.prompt": "Langue ?",
            "lang.name": "Francais",
            "resume.prompt": "Reprendre ?",
            "resume.yes": "Oui",
            "resume.no": "Non",
            "menu.title": "Accueil",
            "menu.a": "Ecran A",
            "menu.long": "Long",
            "menu.ask": "Age",
            "menu.end": "Fin",
            "menu.lang": "Langue",
            "menu.pick": "Au choix",
            "a.title": "Ecran A",
            "a.to_b": "Vers B",
            "b.title": "Ecran B",
            "b.to_a": "Vers A",
            "b.to_menu": "Vers menu",
            "long.text": LONG,
            "ask.prompt": "Votre age ?",
            "ask.error": "Age invalide.",
            "ask.done": "Age $age enregistre.",
            "end.text": "Au revoir.",
        },
        "en": {"lang.name": "English", "menu.title": "Home", "nav.back": "Back"},
    },
    {"fr": "Francais", "en": "English"},
)

FLOW = {
    "start": Route(first_screen),
    "resume": Menu(
        "resume.prompt",
        (Option("resume.yes", RESUME), Option("resume.no", MENU)),
        checkpoint=KEEP,
        nav=False,
    ),
    "lang": Menu(
        "lang.prompt",
        (
            Option("lang.name", MENU, (SetLanguage("fr"),), text="Francais"),
            Option("lang.name", MENU, (SetLanguage("en"),), text="English"),
        ),
        checkpoint=CLEAR,
        nav=False,
    ),
    MENU: Menu(
        "menu.title",
        (
            Option("menu.a", "a"),
            Option("menu.long", "long"),
            Option("menu.ask", "ask", (Noted("asked"),)),
            Option("menu.end", "end"),
            Option("menu.lang", "lang"),
            Option("menu.pick", "pick"),
        ),
        checkpoint=CLEAR,
    ),
    "pick": Route(lambda data, ctx: "b" if ctx.get("expert") else "a"),
    "a": Menu("a.title", (Option("a.to_b", "b"),)),
    "b": Menu("b.title", (Option("b.to_a", "a"), Option("b.to_menu", MENU))),
    "long": Menu("long.text"),
    "ask": Ask(
        "ask.prompt",
        "age",
        parse_age,
        "ask.done",
        error="ask.error",
        effects=lambda age: (Noted(age),),
    ),
    "ask.done": Menu("ask.done", params=lambda data, ctx: {"age": data["age"]}, checkpoint=KEEP),
    "end": End("end.text"),
}

CTX = {"lang": "fr"}
MENU_SCREEN = "CON Accueil\n1. Ecran A\n2. Long\n3. Age\n4. Fin\n5. Langue\n6. Au choix"


def run(*inputs, ctx=CTX, flow=FLOW, limit=LIMIT):
    """Open a session, send each input, and return the last Step.

    The state goes through JSON between hops, as it does through Redis.
    """
    result = step(flow, None, None, ctx, CATALOG, limit)
    for text in inputs:
        state = json.loads(json.dumps(result.state))
        result = step(flow, state, text, ctx, CATALOG, limit)
    return result


def pages_of_long(limit=LIMIT) -> int:
    """Return how many pages the long screen has."""
    result, count = run("2", limit=limit), 1
    while "99.Suite" in result.reply:
        result = step(FLOW, result.state, "99", CTX, CATALOG, limit)
        count += 1
    return count


@pytest.mark.parametrize(
    ("inputs", "node", "page", "prefix"),
    [
        ((), MENU, 0, MENU_SCREEN),
        (("1",), "a", 0, "CON Ecran A\n1. Vers B\n0.Retour 00.Menu"),
        ((" 1 ",), "a", 0, "CON Ecran A"),
        (("1", "1"), "b", 0, "CON Ecran B\n1. Vers A\n2. Vers menu\n0.Retour 00.Menu"),
        (("1", "1", "2"), MENU, 0, MENU_SCREEN),
        (("6",), "a", 0, "CON Ecran A"),  # a route picks the screen
        # invalid choices re-show the same screen with the error first
        (("9",), MENU, 0, "CON Choix invalide.\n" + MENU_SCREEN[4:]),
        (("abc",), MENU, 0, "CON Choix invalide.\nAccueil"),
        (("",), MENU, 0, "CON Choix invalide.\nAccueil"),
        (("١",), MENU, 0, "CON Choix invalide.\nAccueil"),  # not an ASCII digit
        (("0",), MENU, 0, "CON Choix invalide.\nAccueil"),  # nothing behind the menu
        (("00",), MENU, 0, "CON Choix invalide.\nAccueil"),  # already home
        (("1", "7"), "a", 0, "CON Choix invalide.\nEcran A\n1. Vers B\n0.Retour 00.Menu"),
        (("1", "99"), "a", 0, "CON Choix invalide.\nEcran A"),  # a one-page screen
        # 0 goes back one screen, 00 home
        (("1", "0"), MENU, 0, MENU_SCREEN),
        (("1", "1", "0"), "a", 0, "CON Ecran A"),
        (("1", "1", "0", "0"), MENU, 0, MENU_SCREEN),
        (("1", "1", "00"), MENU, 0, MENU_SCREEN),
        # paging: 99 forward, 0 back a page first
        (("2",), "long", 0, "CON mot0 mot1"),
        (("2", "99"), "long", 1, "CON mot"),
        (("2", "99", "0"), "long", 0, "CON mot0 mot1"),
        (("2", "99", "0", "0"), MENU, 0, MENU_SCREEN),
        (("2", "99", "00"), MENU, 0, MENU_SCREEN),
        # asking
        (("3",), "ask", 0, "CON Votre age ?\n0.Retour 00.Menu"),
        (("3", "42"), "ask.done", 0, "CON Age 42 enregistre.\n0.Retour 00.Menu"),
        (("3", "x"), "ask", 0, "CON Age invalide.\nVotre age ?\n0.Retour 00.Menu"),
        (("3", "200"), "ask", 0, "CON Age invalide.\nVotre age ?"),
        (("3", "0"), MENU, 0, MENU_SCREEN),
        (("3", "42", "0"), "ask", 0, "CON Votre age ?"),
        # end screens
        (("4",), "end", 0, "END Au revoir."),
        (("4", "1"), "end", 0, "END Au revoir."),
        (("4", "0"), "end", 0, "END Au revoir."),
    ],
)
def test_conversation(inputs, node, page, prefix):
    result = run(*inputs)
    assert result.state["node"] == node
    assert result.state["page"] == page
    assert result.reply.startswith(prefix)
    assert len(result.reply) <= LIMIT


def test_start_routes_a_first_contact_to_the_language_screen():
    result = run(ctx={"lang": None})
    assert result.state["node"] == "lang"
    assert result.reply == "CON Langue ?\n1. Francais\n2. English"  # no navigation on first contact
    assert result.state["back"] == [] and result.state["lang"] is None
    assert not result.end


@pytest.mark.parametrize("text", ["0", "00", "99", "3", "x"])
def test_first_contact_screen_offers_no_navigation(text):
    result = run(text, ctx={"lang": None})
    assert result.state["node"] == "lang"
    assert result.reply.startswith("CON Choix invalide.\nLangue ?")


@pytest.mark.parametrize(
    ("choice", "lang", "title"),
    [("1", "fr", "CON Accueil\n1. Ecran A"), ("2", "en", "CON Home\n1. Ecran A")],
)
def test_set_language_changes_the_session_language(choice, lang, title):
    result = run(choice, ctx={"lang": None})
    assert result.state["lang"] == lang
    assert result.effects == (SetLanguage(lang),)
    assert result.reply.startswith(title)  # copy missing in English falls back to French


def test_language_chosen_mid_session_sticks():
    result = run("5", "2", "1")
    assert result.state["lang"] == "en"
    assert result.reply.startswith("CON Ecran A\n1. Vers B\n0.Back 00.Menu")


@pytest.mark.parametrize(("prefix", "bad"), [((), "9"), (("1",), "x"), (("1", "1"), "99")])
def test_invalid_choice_never_ends_and_keeps_the_screen(prefix, bad):
    before = run(*prefix)
    after = step(FLOW, before.state, bad, CTX, CATALOG, LIMIT)
    assert not after.end
    assert after.state == before.state
    assert after.effects == ()
    assert after.reply == "CON Choix invalide.\n" + before.reply[len("CON ") :]


def test_next_page_on_the_last_page_is_an_error():
    pages = pages_of_long()
    assert pages >= 3
    last = run("2", *["99"] * (pages - 1))
    assert last.state["page"] == pages - 1
    assert "99.Suite" not in last.reply
    again = step(FLOW, last.state, "99", CTX, CATALOG, LIMIT)
    assert again.state["page"] == pages - 1
    assert again.reply.startswith("CON Choix invalide.")
    assert not again.end


@pytest.mark.parametrize("limit", [80, 100, 160])
def test_paging_shows_every_word_within_the_limit(limit):
    result, shown = run("2", limit=limit), []
    while True:
        assert len(result.reply) <= limit
        body, nav = result.reply[len("CON ") :].rsplit("\n", 1)
        assert nav.endswith("00.Menu")
        shown.append(body)
        if "99.Suite" not in nav:
            break
        result = step(FLOW, result.state, "99", CTX, CATALOG, limit)
    assert " ".join(shown).split() == LONG.split()


def test_home_clears_the_trail():
    result = run("1", "1", "00")
    assert result.state["back"] == []
    assert result.state["page"] == 0


def test_back_trail_records_screens_and_pages():
    assert run("1", "1").state["back"] == [[MENU, 0], ["a", 0]]
    assert run("2", "99").state["back"] == [[MENU, 0]]  # a page turn is not a screen


def test_routes_never_enter_the_trail():
    result = run("6", ctx={"lang": "fr", "expert": True})
    assert result.state["node"] == "b"
    assert result.state["back"] == [[MENU, 0]]


def test_going_up_to_a_screen_in_the_trail_cuts_it_there():
    result = run("1", "1", "1")  # menu > a > b > a
    assert result.state["node"] == "a"
    assert result.state["back"] == [[MENU, 0]]
    assert run("1", "1", "1", "0").state["node"] == MENU  # 0 never walks in circles


def test_an_option_to_the_menu_clears_the_trail():
    assert run("1", "1", "2").state["back"] == []


def test_back_trail_is_capped():
    chain = {
        "start": Route(lambda data, ctx: MENU),
        MENU: Menu("menu.title", (Option("menu.a", "c0"),), checkpoint=CLEAR),
        **{f"c{n}": Menu("a.title", (Option("a.to_b", f"c{n + 1}"),)) for n in range(40)},
        "c40": Menu("a.title"),
    }
    result = run(*["1"] * 36, flow=chain)  # menu, c0 .. c34 behind: 36 screens
    assert result.state["node"] == "c35"
    assert len(result.state["back"]) == MAX_BACK
    assert result.state["back"][0] == ["c5", 0]
    assert result.state["back"][-1] == ["c34", 0]
    for _ in range(MAX_BACK):
        result = step(chain, result.state, "0", CTX, CATALOG, LIMIT)
    assert result.state["node"] == "c5" and result.state["back"] == []
    assert step(chain, result.state, "0", CTX, CATALOG, LIMIT).reply.startswith(
        "CON Choix invalide."
    )


def test_ask_stores_the_parsed_value_and_returns_effects():
    asked = run("3")
    assert asked.effects == (Noted("asked"),)  # an option's effects, as values
    done = step(FLOW, asked.state, "42", CTX, CATALOG, LIMIT)
    assert done.state["data"] == {"age": 42}
    assert done.effects == (Noted(42),)
    assert step(FLOW, done.state, "0", CTX, CATALOG, LIMIT).effects == ()  # not repeated


@pytest.mark.parametrize("answer", ["", "abc", "0.5", "121", "-3", "٤٢"])
def test_ask_refuses_what_does_not_parse(answer):
    result = run("3", answer)
    assert result.state["node"] == "ask"
    assert "age" not in result.state["data"]
    assert result.effects == ()
    assert result.reply.startswith("CON Age invalide.\nVotre age ?")
    assert not result.end


def test_end_screen_ends_and_stays():
    result = run("4")
    assert result.end and result.checkpoint == CLEAR
    assert result.reply == "END Au revoir."
    for text in ("1", "0", "00", "99", None):
        later = step(FLOW, result.state, text, CTX, CATALOG, LIMIT)
        assert later.reply == "END Au revoir."
        assert later.end and later.effects == ()
