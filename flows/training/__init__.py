"""The training journey, built from the course: lessons, quiz with feedback, score, tests.

ctx["training"] maps each module id to the learner's standing:
{"status": "new" | "started" | "passed" | "failed", "position": "l3" | "q" | "",
 "attempt": int, "best": int | None, "answered": {question id: correct},
 "missed": [question ids], "retake_at": ISO time or None}, ctx["tests"] says
whether the pre/post-test were taken ({"pre": bool, "post": bool, "pre_right": int}),
and ctx["now"] is the current time as ISO text (the web layer reads the clock, not
the flow). Options are shown in an order of the learner's own (common.order); what
is recorded is always the authored option's number.
"""

from collections.abc import Mapping

from ..course import Course
from ..effects import Enrol
from ..engine import CLEAR, Ask, Copy, Menu, Option, Route
from . import module as modules
from . import pretest, recall
from .common import HOME, PASS_MARK, POST, PRE, PRETEST, RECALL, allowed, is_agent, right, standing
from .module import quiz_start

__all__ = ["HOME", "OPEN", "PASS_MARK", "POST", "PRE", "PRETEST", "RECALL", "COPY", "nodes",
           "place", "quiz_start", "recall", "right", "samples"]  # fmt: skip

OPEN = "t.open"  # the way in from the main menu: the pre-test first, when it is due
# Copy that training screens name through parameters, out of the flow's reach for checks.
COPY = ("training.lesson", "training.locked", "training.skip_test", "resume.step", "resume.pre",
        "resume.post", "resume.quiz", "training.recall_intro", "training.recall_gone")  # fmt: skip


def nodes(course: Course, org_codes: Mapping[str, str] | None = None) -> dict:
    """Build every training screen for the course; org_codes maps enrolment codes to names."""
    codes = dict(org_codes or {})

    def home(data, ctx) -> tuple[Option, ...]:
        options = [
            Option("training.continue", "t.continue"),
            Option("training.modules_opt", "t.modules"),
            Option("training.results_opt", "t.results"),
            Option("training.help_opt", "t.help"),
        ]
        if codes and not is_agent(ctx):
            options.append(Option("training.enrol_opt", "t.enrol"))
        return tuple(options)

    flow = {
        OPEN: Route(lambda data, ctx: "t.pre" if pretest.due(course, ctx) else HOME),
        HOME: Menu("training.title", home, checkpoint=CLEAR),
        "t.enrol": Ask(
            "training.enrol",
            "organisation",
            lambda text: codes.get(text.strip().upper()),
            "t.enrolled",
            error="training.enrol_error",
            effects=lambda organisation: (Enrol(organisation),),
        ),
        "t.enrolled": Menu(
            "training.enrolled",
            (Option("training.continue", "t.continue"),),
            params=lambda data, ctx: {"organisation": data.get("organisation", "")},
            checkpoint=CLEAR,
        ),
        "t.continue": Route(lambda data, ctx: _continue(course, ctx)),
        "t.modules": Menu(
            "training.modules", lambda d, ctx: _module_list(course, ctx), checkpoint=CLEAR
        ),
        "t.results": Menu(
            "training.results", params=lambda d, ctx: _results(course, ctx), checkpoint=CLEAR
        ),
        "t.help": Menu(
            "training.help",
            params=lambda d, ctx: {"mark": ctx.get("pass_mark", PASS_MARK)},
            checkpoint=CLEAR,
        ),
        "t.empty": Menu("training.empty", checkpoint=CLEAR),
    }
    for module in course.modules:
        flow.update(modules.nodes(module))
    if course.pretest:
        flow.update(pretest.nodes(course))
    if course.modules:
        flow.update(recall.nodes(course))
    return flow


def _continue(course: Course, ctx: Mapping) -> str:
    """Go to the pre-test first, a recall due, the first module not passed, the post-test."""
    if pretest.due(course, ctx):
        return "t.pre"
    if recall.due(course, ctx):
        return recall.FROM_TRAINING
    for module in allowed(course, ctx):
        if standing(ctx, module.id).get("status") != "passed":
            return f"t.{module.id}"
    if is_agent(ctx) and course.pretest and not (ctx.get("tests") or {}).get("post"):
        return "t.post"
    return "t.results" if course.modules else "t.empty"


def _module_list(course: Course, ctx: Mapping) -> tuple[Option, ...]:
    options = []
    for module in allowed(course, ctx):
        held = standing(ctx, module.id)
        status = held.get("status", "new")
        score = f"{held.get('best') or 0}/{len(module.quiz)}"
        label = f"training.line_{status}"
        params = (("title", Copy(f"course.{module.id}.title")), ("score", score))
        options.append(Option(label, f"t.{module.id}", params=params))
    return tuple(options)


def _results(course: Course, ctx: Mapping) -> dict:
    mine = allowed(course, ctx)
    passed = [m for m in mine if standing(ctx, m.id).get("status") == "passed"]
    good = sum(standing(ctx, m.id).get("best") or 0 for m in passed)
    asked = sum(len(m.quiz) for m in passed)
    return {
        "passed": len(passed),
        "total": len(mine),
        "percent": round(100 * good / asked) if asked else 0,
    }


def place(course: Course, snapshot: Mapping) -> Copy | None:
    """Name where a resume point is in the training, as its screens show it, or None."""
    # A lesson reads "title (3/6)" and a question "title (Q2/5)", as on the screens.
    node, data = snapshot.get("node") or "", snapshot.get("data") or {}
    if node in ("t.pre", "t.post"):
        return Copy(f"resume.{node[2:]}")
    if node == "t.test" and isinstance(data.get("test"), dict):
        test = data["test"]
        step = f"Q{test['i'] + 1}/{len(test['order'])}"
        return Copy("resume.step", (("title", Copy(f"resume.{test['kind']}")), ("step", step)))
    parts = node.split(".")
    module = course.module(parts[1]) if len(parts) == 3 and parts[0] == "t" else None
    if module is None:
        return None
    screen, step = parts[2], None
    if screen[:1] == "l" and screen[1:].isdigit():
        step = f"{screen[1:]}/{module.lessons}"
    elif screen in ("q", "fb") and isinstance(data.get("quiz"), dict):
        quiz = data["quiz"]
        step = f"Q{min(quiz['i'], len(quiz['order']) - 1) + 1}/{len(quiz['order'])}"
    elif screen == "resume_quiz":
        step = Copy("resume.quiz")
    if step is None:
        return None
    return Copy("resume.step", (("title", Copy(f"course.{module.id}.title")), ("step", step)))


def samples(course: Course) -> dict[str, list[dict]]:
    """Return session data that shows every variant of the quiz screens, for checks."""
    found: dict[str, list[dict]] = {}
    for module in course.modules:
        found.update(modules.samples(module))
    found.update(pretest.samples(course))
    found.update(recall.samples(course))
    # An organisation as long as the sample profile's (app/content.py sample_context).
    found["t.enrolled"] = [{"organisation": "O" * 40}]
    return found
