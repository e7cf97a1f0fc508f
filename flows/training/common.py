"""What every training screen shares: the learner's standing, their modules, their option order."""

import hashlib
from collections.abc import Mapping

from ..course import Course, Module, Question

HOME = "training"
PASS_MARK = 80  # percent of right answers that passes a module (TRAINING_PASS_MARK's default)
PRETEST = "pretest"  # the module name its answers are kept under
PRE, POST = 0, 1000  # the attempt numbers of the pre-test and the post-test
RECALL = 2000  # the attempt number of a module's recall quiz, days after it was passed


def standing(ctx: Mapping, module_id: str) -> Mapping:
    """Return the learner's standing in one module, "new" when they never opened it."""
    return (ctx.get("training") or {}).get(module_id) or {"status": "new", "attempt": 0}


def is_agent(ctx: Mapping) -> bool:
    """Tell whether the caller is an agent, who gets every module and the pre/post-test."""
    return (ctx.get("profile") or {}).get("role") == "agent"


def allowed(course: Course, ctx: Mapping) -> list[Module]:
    """Return the modules this caller may take: agents all, others the awareness ones."""
    return [m for m in course.modules if is_agent(ctx) or m.audience == "all"]


def right(state: Mapping) -> int:
    """Count the questions answered rightly at the first try, in a quiz or test state."""
    return sum(1 for correct in state.get("answered", {}).values() if correct)


def order(question: Question, ctx: Mapping, attempt: int) -> tuple[int, ...]:
    """Return the authored option numbers of a question in the order this learner sees them."""
    # A hash of the contact's id (never the phone), the question and the attempt: a
    # resumed session or a redial shows the same order, another learner most likely
    # another, and a retake (or the post-test after the pre-test) a new one, so that a
    # remembered place is not a known answer.
    seed = (ctx.get("profile") or {}).get("id", "")

    def rank(k: int) -> bytes:
        return hashlib.sha256(f"{seed}:{question.id}:{attempt}:{k}".encode()).digest()

    return tuple(sorted(range(1, len(question.answers) + 1), key=rank))
