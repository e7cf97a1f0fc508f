"""The engine's resume points and checkpoints, and a step that changes nothing it is given."""

import copy
import json

import pytest

from flows.engine import CLEAR, KEEP, MENU, SAVE, Route, step

from .test_engine import CATALOG, CTX, FLOW, LIMIT, MENU_SCREEN, run

SNAPSHOT = {"node": "long", "page": 2, "back": [[MENU, 0]], "data": {"age": 7}}
RESUME_CTX = {"lang": "fr", "resume": SNAPSHOT}


def test_a_dropped_session_is_offered_its_resume_point():
    result = run(ctx=RESUME_CTX)
    assert result.state["node"] == "resume"
    assert result.state["resume"] == SNAPSHOT
    assert result.reply == "CON Reprendre ?\n1. Oui\n2. Non"
    assert result.checkpoint == KEEP


def test_resume_restores_the_exact_screen_page_trail_and_data():
    result = run("1", ctx=RESUME_CTX)
    assert {k: result.state[k] for k in ("node", "page", "back", "data")} == SNAPSHOT
    assert "resume" not in result.state
    assert result.reply == run("2", "99", "99").reply
    assert run("1", "0", ctx=RESUME_CTX).state["page"] == 1
    assert run("1", "0", "0", "0", ctx=RESUME_CTX).state["node"] == MENU


def test_restart_forgets_the_resume_point():
    result = run("2", ctx=RESUME_CTX)
    assert result.reply == MENU_SCREEN
    assert "resume" not in result.state and result.state["back"] == []


def test_resume_offer_survives_an_invalid_choice():
    result = run("9", ctx=RESUME_CTX)
    assert result.state["node"] == "resume"
    assert result.state["resume"] == SNAPSHOT
    assert run("9", "1", ctx=RESUME_CTX).state["node"] == "long"


def test_no_resume_offer_when_the_start_is_the_menu():
    flow = {**FLOW, "start": Route(lambda data, ctx: MENU)}
    result = run(ctx=RESUME_CTX, flow=flow)
    assert result.state["node"] == MENU
    assert "resume" not in result.state


@pytest.mark.parametrize(
    ("inputs", "ctx", "checkpoint"),
    [
        ((), CTX, CLEAR),  # the menu
        (("1",), CTX, SAVE),
        (("1", "9"), CTX, SAVE),  # an error keeps the screen's checkpoint
        (("2", "99"), CTX, SAVE),
        (("3", "42"), CTX, KEEP),
        (("4",), CTX, CLEAR),  # an end screen
        ((), {"lang": None}, CLEAR),  # the language screen
        ((), RESUME_CTX, KEEP),  # the resume offer
        (("1",), RESUME_CTX, SAVE),  # the resumed screen
    ],
)
def test_checkpoint(inputs, ctx, checkpoint):
    assert run(*inputs, ctx=ctx).checkpoint == checkpoint


@pytest.mark.parametrize(
    ("inputs", "ctx", "text"),
    [
        ((), CTX, None),
        ((), CTX, "1"),
        ((), CTX, "9"),
        (("1", "1"), CTX, "0"),
        (("1", "1"), CTX, "00"),
        (("1", "1"), CTX, "1"),
        (("2",), CTX, "99"),
        (("2", "99"), CTX, "0"),
        (("3",), CTX, "42"),
        (("3",), CTX, "x"),
        (("4",), CTX, "1"),
        ((), RESUME_CTX, "1"),
        ((), RESUME_CTX, "2"),
        ((), {"lang": None}, "2"),
    ],
)
def test_step_is_pure(inputs, ctx, text):
    state = None if not inputs and text is None else run(*inputs, ctx=ctx).state
    state_before, ctx_before = copy.deepcopy(state), copy.deepcopy(ctx)
    first = step(FLOW, state, text, ctx, CATALOG, LIMIT)
    second = step(FLOW, state, text, ctx, CATALOG, LIMIT)
    assert first == second
    assert state == state_before
    assert ctx == ctx_before
    assert json.loads(json.dumps(first.state)) == first.state  # storable as it is
