"""The recall quiz: days after a module is passed, three of its questions again, with feedback.

ctx["recalls"] maps each module with a recall still to take to
{"due_at": ISO time, "answered": {question id: correct}}. An agent is offered it
when they dial (before the main menu), anyone from the training's Continuer, until
its three questions are answered; "Plus tard" puts every recall due off to the next
day, and after three times they are no longer offered. Its answers are kept under
the attempt number RECALL; the first answer to a question counts, whether it came
by USSD or by SMS.
"""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from ..course import Course, Module
from ..effects import PostponeRecall, RecallAnswer, SetData
from ..engine import CLEAR, MENU, Copy, Menu, Option
from .common import HOME, RECALL, is_agent, order

QUESTIONS = 3  # how many of a module's questions a recall asks again
NODE = "t.recall"  # offered at the dial: Plus tard leads to the main menu
FROM_TRAINING = "t.recall.offer"  # offered by Continuer: Plus tard leads to the training menu


def pick(module: Module, seed) -> list[str]:
    """Return the questions a learner's recall asks, in order: the same on every channel."""

    # Seeded by the contact's id: the USSD screens and the SMS ask the same three.
    def rank(qid: str) -> bytes:
        return hashlib.sha256(f"{seed}:{module.id}:{qid}:recall".encode()).digest()

    chosen = set(sorted((q.id for q in module.quiz), key=rank)[:QUESTIONS])
    return [q.id for q in module.quiz if q.id in chosen]


def due(course: Course, ctx: Mapping) -> Module | None:
    """Return the first module whose recall is due now and not yet finished, or None."""
    recalls, now = ctx.get("recalls") or {}, ctx.get("now")
    if not recalls or not now:
        return None
    now = _moment(now)
    seed = (ctx.get("profile") or {}).get("id", "")
    for module in course.modules:
        held = recalls.get(module.id)
        if not held or _moment(held["due_at"]) > now:
            continue
        if any(q not in held["answered"] for q in pick(module, seed)):
            return module
    return None


def _moment(text: str) -> datetime:
    """Parse an ISO time (text, not a clock read); one without an offset is UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def at_dial(course: Course, ctx: Mapping) -> str | None:
    """Return the offer's screen if a recall is due for an agent who dials, else None."""
    # Only agents: others dial to report, often from a shared phone, and are not
    # stopped on the way; they find their recall in the training.
    return NODE if is_agent(ctx) and due(course, ctx) else None


def start(course: Course, ctx: Mapping) -> dict | None:
    """Return a fresh recall state for the module due, on its first question unanswered."""
    module = due(course, ctx)
    if module is None:
        return None
    seed = (ctx.get("profile") or {}).get("id", "")
    held = ctx["recalls"][module.id]
    asked = pick(module, seed)
    answered = {q: held["answered"][q] for q in asked if q in held["answered"]}
    state = {"module": module.id, "order": asked, "i": 0, "answered": answered}
    return {**state, "i": _unanswered(state, 0)}


def _unanswered(state: Mapping, i: int) -> int:
    """Return the index of the first question from i on not yet answered (the count if none)."""
    # Answered ones need not come first: a course edit may change which three are asked.
    while i < len(state["order"]) and state["order"][i] in state["answered"]:
        i += 1
    return i


def nodes(course: Course) -> dict:
    """Build the recall screens: the offer, a question, its feedback, and the result."""

    def offer(back: str):
        def options(data, ctx) -> tuple[Option, ...]:
            state = start(course, ctx)
            if state is None:  # taken meanwhile, by SMS or in another call
                return (Option("training.back_menu", back),)
            begin = Option("training.start", f"{NODE}.q", (SetData("recall", state),))
            later = Option("training.later", back, (PostponeRecall(state["module"]),))
            return (begin, later)

        return options

    def intro(data, ctx) -> dict:
        module = due(course, ctx)
        if module is None:
            return {"offer": Copy("training.recall_gone")}
        title = Copy(f"course.{module.id}.title")
        return {"offer": Copy("training.recall_intro", (("title", title), ("n", QUESTIONS)))}

    def answers(data, ctx) -> tuple[Option, ...]:
        state = data["recall"]
        qid = state["order"][state["i"]]
        if qid in state["answered"]:  # back from its feedback: the first answer counts
            if (state.get("last") or [None])[0] == qid:
                return (Option("training.next", f"{NODE}.fb"),)
            return _onward(state)  # answered in another call: nothing to ask
        question = course.question(qid)
        options = []
        for k in order(question, ctx, RECALL):
            correct = question.answers[k - 1].correct
            after = {**state, "last": [qid, k], "answered": {**state["answered"], qid: correct}}
            effects = (RecallAnswer(state["module"], qid, k, correct), SetData("recall", after))
            options.append(Option(f"course.{qid}.o{k}", f"{NODE}.fb", effects))
        return tuple(options)

    def question(data, ctx) -> dict:
        state = data["recall"]
        qid = state["order"][state["i"]]
        text = Copy(f"course.{qid}.q")
        if qid in state["answered"] and (state.get("last") or [None])[0] == qid:
            answer = Copy(f"course.{qid}.o{state['last'][1]}")
            text = Copy("training.locked", (("question", text), ("answer", answer)))
        return {"n": state["i"] + 1, "total": len(state["order"]), "question": text}

    def feedback(data, ctx) -> dict:
        qid, k = data["recall"]["last"]
        return {"feedback": Copy(f"course.{qid}.f{k}")}

    def onward(data, ctx) -> tuple[Option, ...]:
        return _onward(data["recall"])

    def result(data, ctx) -> dict:
        state = data.get("recall") or {"answered": {}, "order": []}
        right = sum(1 for correct in state["answered"].values() if correct)
        return {"right": right, "total": len(state["order"])}

    # A recall is never a resume point: its answers are kept as they come, and the
    # next call offers what is left of it.
    return {
        NODE: Menu("training.recall_offer", offer(MENU), params=intro, checkpoint=CLEAR, nav=False),
        FROM_TRAINING: Menu("training.recall_offer", offer(HOME), params=intro, checkpoint=CLEAR),
        f"{NODE}.q": Menu("training.question", answers, params=question, checkpoint=CLEAR),
        f"{NODE}.fb": Menu("training.feedback", onward, params=feedback, checkpoint=CLEAR),
        f"{NODE}.end": Menu(
            "training.recall_end",
            (Option("training.back_menu", MENU),),
            params=result,
            checkpoint=CLEAR,
            back_to=MENU,  # a recall ended is not walked back into
        ),
    }


def _onward(state: Mapping) -> tuple[Option, ...]:
    """Go on to the next question not yet answered, or to the result."""
    following = {**state, "i": _unanswered(state, state["i"] + 1)}
    target = f"{NODE}.q" if following["i"] < len(state["order"]) else f"{NODE}.end"
    return (Option("training.next", target, (SetData("recall", following),)),)


def samples(course: Course) -> dict[str, list[dict]]:
    """Return session data that shows every recall question and feedback, for checks."""
    found: dict[str, list[dict]] = {}
    for module in course.modules:
        for question in module.quiz:
            state = {"module": module.id, "order": [question.id], "i": 0, "answered": {}}
            found.setdefault(f"{NODE}.q", []).append({"recall": state})
            for k in range(1, len(question.answers) + 1):
                last = {**state, "last": [question.id, k],
                        "answered": {question.id: k == question.right}}  # fmt: skip
                found.setdefault(f"{NODE}.fb", []).append({"recall": last})
                found[f"{NODE}.q"].append({"recall": last})
        full = {"module": module.id, "order": [q.id for q in module.quiz][:QUESTIONS],
                "answered": {}}  # fmt: skip
        found.setdefault(f"{NODE}.end", []).append({"recall": full})
    return found
