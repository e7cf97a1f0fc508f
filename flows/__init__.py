"""USSD journeys as data, and the pure engine that walks them."""

import re
from collections.abc import Mapping

from . import desk, main, report, speech, training, voice
from .catalog import Catalog
from .course import Course
from .engine import (
    ENGINE_KEYS,
    Ask,
    Copy,
    End,
    Menu,
    Node,
    Route,
    Step,
    layout,
    new_state,
    render,
)
from .engine import step as _step

# The screens that must never page: a module's questions, feedback and lessons, the
# pre/post-test's questions, and the recall's questions, feedback and result.
ONE_PAGE = re.compile(r"t\.test|t\.recall\.end|.+\.(q|fb|l\d+)")

__all__ = ["FLOW", "Catalog", "End", "Step", "build", "check", "screens", "speech", "step"]


def step(flow, state: dict | None, text: str | None, ctx: Mapping, catalog: Catalog, limit):
    """Advance a session by one input: limit is a USSD screen's size, or voice.FRAME for a call."""
    if isinstance(limit, voice.Voice):
        return voice.step(flow, state, text, ctx, catalog)
    return _step(flow, state, text, ctx, catalog, limit)


def build(course: Course, org_codes: Mapping[str, str] | None = None) -> Mapping[str, Node]:
    """Return the whole journey: the main menu and the training built from the course."""
    flow = {**main.NODES, **report.NODES, **desk.NODES, **training.nodes(course, org_codes)}
    flow["resume"] = main.resume_menu(lambda snapshot: _place(course, snapshot))
    # A recall quiz due is offered to an agent who dials, before the menu.
    flow["start"] = main.start(lambda ctx: training.recall.at_dial(course, ctx))
    return flow


def _place(course: Course, snapshot: Mapping) -> Copy | None:
    """Name where a resume point is: a training screen, a report, or None (just "Reprendre")."""
    if report.is_report(snapshot.get("node")):
        return Copy("resume.report")
    return training.place(course, snapshot)


FLOW: Mapping[str, Node] = build(Course())  # the journey before any course is loaded


def check(flow: Mapping[str, Node], catalog: Catalog, required: tuple[str, ...] = ()) -> list[str]:
    """List the broken links of a flow: unknown targets and missing copy."""
    problems = [
        f"missing copy {key!r}" for key in (*ENGINE_KEYS, *required) if not catalog.has(key)
    ]
    for node_id, node in flow.items():
        keys = [] if isinstance(node, Route) else [node.text]
        ask = node.typed if isinstance(node, Menu) else node
        if isinstance(ask, Ask):
            keys.append(ask.error)
            if ask.next not in flow:
                problems.append(f"{node_id}: unknown next node {ask.next!r}")
        back_to = getattr(node, "back_to", None)
        if back_to and (back_to not in flow or isinstance(flow[back_to], Route)):
            problems.append(f"{node_id}: 0 leads to {back_to!r}, which is not a screen")
        if isinstance(node, Menu) and not callable(node.options):
            for opt in node.options:
                keys.append(opt.label)
                if opt.to not in flow and not opt.to.startswith("@"):
                    problems.append(f"{node_id}: unknown target {opt.to!r}")
        problems.extend(f"{node_id}: missing copy {key!r}" for key in keys if not catalog.has(key))
    return problems


def screens(flow: Mapping[str, Node], catalog: Catalog, ctx: Mapping, limit: int):
    """Yield (node id, language, reply) for every page of every screen."""
    for lang in catalog.languages:
        for node_id, node in flow.items():
            if isinstance(node, Route):
                continue
            for back in ([], [["menu", 0]]):
                state = {**new_state(lang), "node": node_id, "back": back}
                pages = layout(node, state, ctx, catalog, limit).pages
                for page in range(len(pages)):
                    yield node_id, lang, render(flow, {**state, "page": page}, ctx, catalog, limit)


def overflows(
    flow: Mapping[str, Node],
    catalog: Catalog,
    ctx: Mapping,
    limit: int,
    ends: tuple = (),
    samples: Mapping[str, list] | None = None,
) -> list[str]:
    """List the copy that cannot be shown whole, even with paging.

    ends names copy shown alone on a last screen, outside any journey;
    samples gives, per node, the session data its screens need.
    """
    samples = samples or {}
    problems = []
    room = limit - len("CON ")
    for lang in catalog.languages:
        for key in ends:
            if len(catalog.get(key, lang)) > room:
                problems.append(f"{lang}: end screen {key!r} is over {room} characters")
        for node_id, node in flow.items():
            if isinstance(node, Route):
                continue
            for data in samples.get(node_id, [{}]):
                state = {**new_state(lang), "node": node_id, "back": [["menu", 0]], "data": data}
                screen = layout(node, state, ctx, catalog, limit)
                if isinstance(node, End) and len(screen.pages[0].text) > room:
                    problems.append(f"{lang}: end screen {node_id!r} is over {room} characters")
                # A page that has a next page carries the longest navigation line.
                nav = " ".join(screen.nav.values())
                for line in screen.lines:
                    if len(line) + 1 + len(nav) > room:
                        problems.append(f"{lang}: option {line[:30]!r} of {node_id!r} is too long")
                if ONE_PAGE.fullmatch(node_id) and len(screen.pages) > 1:
                    # A question must show with all its options at once; a lesson is
                    # one screen, or each would cost a 99.
                    problems.append(f"{lang}: screen {node_id!r} does not fit on one page")
    return sorted(set(problems))
