"""Menus in the engine: data set before routing, trails replaced behind a screen, typed text."""

import pytest

from flows.engine import MENU, Ask, Menu, Option, Route, step

from .test_engine import CATALOG, CTX, FLOW, LIMIT, MENU_SCREEN, Noted, parse_age, run


def test_set_data_is_applied_before_routing_and_option_params_fill_labels():
    """A state effect reaches the route it leads to; an option's own params fill its label."""
    from flows.catalog import Catalog as Cat
    from flows.effects import SetData
    from flows.engine import Copy

    texts = {**CATALOG.texts["fr"], "pick.line": "$title ($score)", "pick.t": "Titre", "x": "X",
             "seen.text": "Vu : $seen"}  # fmt: skip
    catalog = Cat({"fr": texts}, CATALOG.names)
    flow = {
        **FLOW,
        "menu": Menu(
            "menu.title",
            (
                Option(
                    "pick.line",
                    "route",
                    (SetData("seen", "oui"),),
                    params=(("title", Copy("pick.t")), ("score", "4/5")),
                ),
            ),  # fmt: skip
        ),
        "route": Route(lambda data, ctx: "seen" if data.get("seen") == "oui" else "menu"),
        "seen": Menu("seen.text", params=lambda data, ctx: {"seen": data["seen"]}),
    }
    first = step(flow, None, None, CTX, catalog, LIMIT)
    assert "1. Titre (4/5)" in first.reply
    second = step(flow, first.state, "1", CTX, catalog, LIMIT)
    assert second.state["node"] == "seen" and second.state["data"]["seen"] == "oui"
    assert second.reply.startswith("CON Vu : oui")


# -- a closed task is not walked back into; copy within copy ----------------------------------

CLOSING = {
    **FLOW,
    "a": Menu("a.title", (Option("a.to_b", "b"),)),
    # b closes what a began: 0 there leads to the place it names, not back to a.
    "b": Menu("b.title", (Option("b.to_a", "a"),), back_to="long"),
    "to_menu": Menu("b.title", back_to=MENU),
}


@pytest.mark.parametrize(
    ("inputs", "node", "back"),
    [
        (("1", "1"), "b", [[MENU, 0], ["long", 0]]),  # menu > a > b: the trail is replaced
        (("1", "1", "0"), "long", [[MENU, 0]]),  # 0 goes where b says, not to a
        (("1", "1", "0", "0"), MENU, []),
        (("1", "1", "1"), "a", [[MENU, 0], ["long", 0], ["b", 0]]),  # onwards: as usual
    ],
)
def test_back_to_replaces_the_trail_behind_a_screen(inputs, node, back):
    result = run(*inputs, flow=CLOSING)
    assert (result.state["node"], result.state["back"]) == (node, back)
    assert "0.Retour" in result.reply or not back


def test_back_to_the_menu_leaves_the_menu_alone_behind():
    flow = {**CLOSING, "a": Menu("a.title", (Option("a.to_b", "to_menu"),))}
    assert run("1", "1", flow=flow).state["back"] == [[MENU, 0]]


def test_a_copy_parameter_may_name_copy_with_parameters_of_its_own():
    """Copy(key, params) is filled in, Copy values within it too, in the session's language."""
    from flows.catalog import Catalog as Cat
    from flows.engine import Copy

    texts = {**CATALOG.texts["fr"], "outer": "Dit : $inner", "inner": "$who ($n)", "who": "Awa"}
    catalog = Cat({"fr": texts, "en": {"who": "Awa (en)"}}, CATALOG.names)
    inner = Copy("inner", (("who", Copy("who")), ("n", 3)))
    flow = {**FLOW, "a": Menu("outer", params=lambda data, ctx: {"inner": inner})}
    for lang, said in (("fr", "Dit : Awa (3)"), ("en", "Dit : Awa (en) (3)")):
        first = step(flow, None, None, {"lang": lang}, catalog, LIMIT)
        shown = step(flow, first.state, "1", {"lang": lang}, catalog, LIMIT)
        assert shown.reply.startswith(f"CON {said}\n"), lang


# A menu that also takes free text: "1" picks the option, an age is asked as "ask" asks it.
TYPED = {**FLOW, "a": Menu("a.title", (Option("a.to_b", "b"),), typed=FLOW["ask"])}


@pytest.mark.parametrize(
    ("answer", "node", "data", "effects", "prefix"),
    [
        ("1", "b", {}, (), "CON Ecran B\n"),  # an option's number is a choice first
        ("42", "ask.done", {"age": 42}, (Noted(42),), "CON Age 42 enregistre.\n"),
        (" 42 ", "ask.done", {"age": 42}, (Noted(42),), "CON Age 42 enregistre.\n"),
        ("x", "a", {}, (), "CON Age invalide.\nEcran A\n1. Vers B\n0.Retour 00.Menu"),
        ("200", "a", {}, (), "CON Age invalide.\nEcran A\n1. Vers B\n"),
        # As on an Ask, 99 on a one-page screen is an answer like any other.
        ("99", "ask.done", {"age": 99}, (Noted(99),), "CON Age 99 enregistre.\n"),
        ("0", MENU, {}, (), MENU_SCREEN),  # navigation still comes first
        ("00", MENU, {}, (), MENU_SCREEN),
    ],
)
def test_a_menu_may_take_typed_text_as_an_ask_would(answer, node, data, effects, prefix):
    """typed= answers what numbers no option with the Ask's parse, field, next and error."""
    result = run("1", answer, flow=TYPED)
    assert (result.state["node"], result.state["data"], result.effects) == (node, data, effects)
    assert result.reply.startswith(prefix)


def test_a_menu_without_typed_text_still_refuses_it():
    """Without typed=, free text on a menu is an invalid choice, as ever."""
    assert run("1", "42").reply.startswith("CON Choix invalide.\nEcran A")


def test_the_flow_check_follows_a_menus_typed_text():
    """flows.check names a typed answer's unknown next node and missing error copy."""
    import flows

    lost = Ask("ask.prompt", "age", parse_age, "nowhere", error="ask.missing")
    flow = {**FLOW, "a": Menu("a.title", (Option("a.to_b", "b"),), typed=lost)}
    assert flows.check(flow, CATALOG) == [
        "a: unknown next node 'nowhere'",
        "a: missing copy 'ask.missing'",
    ]
