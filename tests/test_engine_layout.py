"""Screens laid out once and kept: by their copy, or by the words their parameters made."""

from dataclasses import replace

import pytest

import flows
from flows import engine
from flows.catalog import Catalog
from flows.engine import MENU, START, Menu, Option, Route, step

from .test_engine import CATALOG, LIMIT

TEXTS = {**CATALOG.texts["fr"], "value.text": "Valeur $v", "value.opt": "Choix $v"}
# The main menu names a value from the context, and offers an option labelled with a name.
FLOW = {
    START: Route(lambda data, ctx: MENU),
    MENU: Menu(
        "value.text",
        lambda data, ctx: (Option("value.opt", MENU, text=ctx["name"]),),
        params=lambda data, ctx: {"v": ctx["v"]},
    ),
}


def shown(catalog: Catalog, v, name: str = "Awa") -> str:
    """Return the main menu's screen for these values."""
    return step(FLOW, None, None, {"lang": "fr", "v": v, "name": name}, catalog, LIMIT).reply


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        ((7, "Awa"), (7, "Awa"), 1),  # the same values: laid out once
        ((7, "Awa"), (8, "Awa"), 2),  # another value of a parameter
        ((7, "Awa"), (7, "Binta"), 2),  # another option
        ((1, "Awa"), (True, "Awa"), 2),  # equal keys, not the same text
        ((1, "Awa"), (1.0, "Awa"), 2),
    ],
)
def test_a_screen_with_parameters_is_kept_by_their_values(first, second, kept):
    catalog = Catalog({"fr": TEXTS})
    for v, name in (first, second, first):
        assert shown(catalog, v, name) == f"CON Valeur {v}\n1. {name}"
    assert len(catalog.laid) == kept


@pytest.mark.parametrize(("first", "second"), [(1, True), (1, 1.0), ((1,), (True,))])
def test_values_nested_in_an_option_show_as_their_own_text(first, second):
    """Equal values (1 and True) are not the same words: each screen shows its own."""
    catalog = Catalog({"fr": TEXTS})
    option = lambda data, ctx: (Option("value.opt", MENU, params=(("v", ctx["n"]),)),)  # noqa: E731
    flow = {**FLOW, MENU: Menu("value.text", option, params=lambda data, ctx: {"v": 0})}
    for n in (first, second):
        reply = step(flow, None, None, {"lang": "fr", "n": n}, catalog, LIMIT).reply
        assert reply == f"CON Valeur 0\n1. Choix {n}"


def test_an_option_shown_to_some_callers_only_changes_the_screen():
    catalog = Catalog({"fr": TEXTS})
    hidden = Option("value.opt", MENU, text="Cache", show=lambda ctx: ctx["agent"])
    flow = {**FLOW, MENU: Menu("value.text", (Option("value.opt", MENU, text="Tous"), hidden),
                               params=lambda d, c: {"v": 1})}  # fmt: skip
    agent = step(flow, None, None, {"lang": "fr", "agent": True}, catalog, LIMIT).reply
    other = step(flow, None, None, {"lang": "fr", "agent": False}, catalog, LIMIT).reply
    assert (agent, other) == ("CON Valeur 1\n1. Tous\n2. Cache", "CON Valeur 1\n1. Tous")


def test_the_oldest_kept_screens_go_first_when_full(monkeypatch):
    monkeypatch.setattr(engine, "LAID_MAX", 3)
    catalog = Catalog({"fr": TEXTS})
    for v in range(10):
        assert shown(catalog, v) == f"CON Valeur {v}\n1. Awa"
        assert len(catalog.laid) == min(v + 1, 3)
    kept = {"".join(page.text for page in pages) for pages in catalog.laid.values()}
    assert kept == {"Valeur 7", "Valeur 8", "Valeur 9"}


def test_each_catalog_keeps_its_own_screens():
    words = Catalog({"fr": TEXTS})
    other = Catalog({"fr": {**TEXTS, "value.text": "Autre $v"}})
    assert shown(words, 7) == "CON Valeur 7\n1. Awa"
    assert shown(other, 7) == "CON Autre 7\n1. Awa"
    assert len(words.laid) == len(other.laid) == 1


def test_a_kept_screen_is_not_laid_out_again():
    catalog, node = Catalog({"fr": TEXTS}), FLOW[MENU]
    state, ctx = (
        {"node": MENU, "page": 0, "back": [], "data": {}, "lang": "fr"},
        {"v": 7, "name": "A"},
    )
    first = engine.layout(node, state, ctx, catalog, LIMIT).pages
    assert engine.layout(node, dict(state), dict(ctx), catalog, LIMIT).pages is first
    assert engine.layout(node, state, {**ctx, "v": 8}, catalog, LIMIT).pages is not first


def test_a_private_screen_is_never_kept():
    catalog = Catalog({"fr": TEXTS})
    flow = {**FLOW, MENU: replace(FLOW[MENU], private=True)}
    for v in (7, 7):
        ctx = {"lang": "fr", "v": v, "name": "Awa"}
        assert step(flow, None, None, ctx, catalog, LIMIT).reply == "CON Valeur 7\n1. Awa"
    assert catalog.laid == {}


# What a report's summary, a case on the desk and a person's details show stays in the hop
# that showed it. (A last screen, End, is never kept: a session shows it once.)
PRIVATE = ("r.confirm", "track.status", "track.unknown", "desk.list", "desk.case",
           "desk.confirm", "desk.confirm.refer", "desk.done", "desk.done.refer",
           "account.profile")  # fmt: skip


@pytest.mark.parametrize("node", PRIVATE)
def test_screens_of_a_case_or_a_person_are_private(node):
    assert flows.FLOW[node].private
