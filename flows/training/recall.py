"""The recall quiz: days after a module is passed, three of its questions again, with feedback.

ctx["recalls"] maps each module with a recall still to take to
{"due_at": ISO time, "answered": {question id: correct}}. It is offered when the
caller dials (before the main menu) and from the training menu, until its three
questions are answered; "Plus tard" puts it off by a day. Its answers are kept
under the attempt number RECALL; the first answer to a question counts, whether
it came by USSD or by SMS.
"""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from ..course import Course, Module
from ..effects import PostponeRecall, RecallAnswer, SetData
from ..engine import CLEAR, MENU, Copy, Menu, Option
from .common import RECALL, order

QUESTIONS = 3  # how many of a module's questions a recall asks again
NODE = "t.recall"


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


def start(course: Course, ctx: Mapping) -> dict | None:
    """Return a fresh recall state for the module due, its answered questions skipped."""
    module = due(course, ctx)
    if module is None:
        return None
    seed = (ctx.get("profile") or {}).get("id", "")
    held = ctx["recalls"][module.id]
    asked = pick(module, seed)
    answered = {q: held["answered"][q] for q in asked if q in held["answered"]}
    return {"module": module.id, "order": asked, "i": len(answered), "answered": answered}


def nodes(course: Course) -> dict:
    """Build the recall screens: the offer, a question, its feedback, and the result."""

    def offer(data, ctx) -> tuple[Option, ...]:
        state = start(course, ctx)
        if state is None:  # taken meanwhile, by SMS or in another call
            return (Option("training.back_menu", MENU),)
        begin = Option("training.start", f"{NODE}.q", (SetData("recall", state),))
        later = Option("training.later", MENU, (PostponeRecall(state["module"]),))
        return (begin, later)

    def intro(data, ctx) -> dict:
        module = due(course, ctx)
        title = Copy(f"course.{module.id}.title") if module else ""
        return {"title": title, "n": QUESTIONS}

    def answers(data, ctx) -> tuple[Option, ...]:
        state = data["recall"]
        qid = state["order"][state["i"]]
        if qid in state["answered"]:  # back from its feedback: the first answer counts
            return (Option("training.next", f"{NODE}.fb"),)
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
        state = data["recall"]
        following = {**state, "i": state["i"] + 1}
        target = f"{NODE}.q" if following["i"] < len(state["order"]) else f"{NODE}.end"
        return (Option("training.next", target, (SetData("recall", following),)),)

    def result(data, ctx) -> dict:
        state = data.get("recall") or {"answered": {}, "order": []}
        right = sum(1 for correct in state["answered"].values() if correct)
        return {"right": right, "total": len(state["order"])}

    # A recall is never a resume point: its answers are kept as they come, and the
    # next call offers what is left of it.
    return {
        NODE: Menu("training.recall_intro", offer, params=intro, checkpoint=CLEAR, nav=False),
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
