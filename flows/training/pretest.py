"""The pre-test before the first module, the post-test after the last: same items, no feedback."""

# The pre-test is offered before anything else to an agent who has neither taken it
# nor started a module; they may go on without it, and then never take it: a score
# measured after some lessons would say nothing of what they knew before.

from collections.abc import Mapping

from ..course import Course
from ..effects import RecordAnswer, SaveProgress, SetData
from ..engine import CLEAR, Copy, Menu, Option
from .common import HOME, POST, PRE, PRETEST, allowed, is_agent, order, right, standing


def due(course: Course, ctx: Mapping) -> bool:
    """Tell whether the pre-test comes first: an agent, before their first module."""
    taken = (ctx.get("tests") or {}).get("pre")
    return is_agent(ctx) and bool(course.pretest) and not taken and not ctx.get("training")


def nodes(course: Course) -> dict:
    """Build the test screens: both intros, the question, and both end screens."""
    items = list(course.pretest)

    def start(kind: str, attempt: int):
        def options(data, ctx) -> tuple[Option, ...]:
            test = data.get("test") or {}
            if test.get("kind") != kind or test["i"] >= len(test["order"]):
                # Back on the intro from a question, Commencer goes on where it was.
                test = {"kind": kind, "order": items, "i": 0, "answered": {}, "attempt": attempt}
            begin = Option("training.start", "t.test", (SetData("test", test),))
            if kind == "post":
                return (begin,)
            return (begin, _skip(course, ctx))

        return options

    def answers(data, ctx) -> tuple[Option, ...]:
        test = data["test"]
        question = course.question(test["order"][test["i"]])
        options = []
        for k in order(question, ctx, test["attempt"]):
            correct = question.answers[k - 1].correct
            answered = {question.id: correct, **test["answered"]}  # the first counts
            after = {**test, "i": test["i"] + 1, "answered": answered}
            target = "t.test" if after["i"] < len(test["order"]) else f"t.{test['kind']}.end"
            record = RecordAnswer(PRETEST, question.id, test["attempt"], k, correct)
            options.append(
                Option(f"course.{question.id}.o{k}", target, (record, SetData("test", after)))
            )
        return tuple(options)

    def question(data, ctx) -> dict:
        test = data["test"]
        qid = test["order"][test["i"]]
        return {
            "n": test["i"] + 1,
            "total": len(test["order"]),
            "question": Copy(f"course.{qid}.q"),
        }

    def summary(data, ctx) -> dict:
        test = data.get("test") or {"answered": {}, "order": items}
        before = (ctx.get("tests") or {}).get("pre_right", 0)
        return {"right": right(test), "total": len(test["order"]), "before": before}

    count = {"n": len(items)}
    return {
        "t.pre": Menu("training.pre_intro", start("pre", PRE), params=lambda d, c: count),
        "t.post": Menu("training.post_intro", start("post", POST), params=lambda d, c: count),
        "t.test": Menu("training.question", answers, params=question),
        # A test ended is not walked back into: 0 leads to the training menu.
        "t.pre.end": Menu(
            "training.pre_end",
            (Option("training.next", "t.continue"),),
            params=summary,
            checkpoint=CLEAR,
            back_to=HOME,
        ),
        "t.post.end": Menu(
            "training.post_end",
            (Option("training.back_home", HOME),),
            params=summary,
            checkpoint=CLEAR,
            back_to=HOME,
        ),
    }


def _skip(course: Course, ctx: Mapping) -> Option:
    """Go on to the first module without the pre-test: starting it is the record of the choice."""
    first = allowed(course, ctx)[:1]
    if not first:
        return Option("training.skip_test", "t.empty")
    module = first[0].id
    if standing(ctx, module).get("status") != "new":  # started since, in another call
        return Option("training.skip_test", f"t.{module}")
    return Option("training.skip_test", f"t.{module}", (SaveProgress(module, "l1"),))


def samples(course: Course) -> dict[str, list[dict]]:
    """Return session data that shows every test question, for checks.

    Each item at its own place in the whole test, as a learner sees it: from the
    tenth, "Q10/13" takes two characters more than "Q1/1" would.
    """
    found: dict[str, list[dict]] = {}
    items = list(course.pretest)
    for i in range(len(items)):
        test = {"kind": "pre", "order": items, "i": i, "answered": {}, "attempt": PRE}
        found.setdefault("t.test", []).append({"test": test})
    return found
