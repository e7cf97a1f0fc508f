"""Screens laid out once and kept: by their copy, or by the values of their parameters."""

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


def test_a_value_that_cannot_be_a_key_is_laid_out_every_time():
    catalog = Catalog({"fr": TEXTS})
    assert "Valeur ?1, 2?\n" in shown(catalog, [1, 2])  # brackets are not GSM-7's basic set
    assert "Valeur ?3?\n" in shown(catalog, [3])
    assert catalog.laid == {}


def test_the_kept_screens_are_emptied_when_full(monkeypatch):
    monkeypatch.setattr(engine, "LAID_MAX", 3)
    catalog = Catalog({"fr": TEXTS})
    for v in range(10):
        assert shown(catalog, v) == f"CON Valeur {v}\n1. Awa"
        assert 1 <= len(catalog.laid) <= 3
    assert shown(catalog, 9) == "CON Valeur 9\n1. Awa"  # the last ones are still there


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
    first = engine.layout(node, state, ctx, catalog, LIMIT)
    assert engine.layout(node, dict(state), dict(ctx), catalog, LIMIT) is first
    assert engine.layout(node, state, {**ctx, "v": 8}, catalog, LIMIT) is not first


def test_a_private_screen_is_never_kept():
    catalog = Catalog({"fr": TEXTS})
    flow = {**FLOW, MENU: replace(FLOW[MENU], private=True)}
    for v in (7, 7):
        ctx = {"lang": "fr", "v": v, "name": "Awa"}
        assert step(flow, None, None, ctx, catalog, LIMIT).reply == "CON Valeur 7\n1. Awa"
    assert catalog.laid == {}


# What a report's summary and reference, a case on the desk and a person's details show
# stays in the hop that showed it.
PRIVATE = ("r.confirm", "r.done", "track.status", "track.unknown", "desk.list", "desk.case",
           "desk.confirm", "desk.confirm.refer", "desk.done", "desk.done.refer",
           "account.profile", "account.name_done")  # fmt: skip


@pytest.mark.parametrize("node", PRIVATE)
def test_screens_of_a_case_or_a_person_are_private(node):
    assert flows.FLOW[node].private
