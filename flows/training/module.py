"""One module's screens: lessons, the quiz with its feedback, the score and the summary."""

from collections.abc import Mapping

from ..course import Module
from ..effects import FinishModule, RecordAnswer, SaveProgress, SetData
from ..engine import CLEAR, Copy, Menu, Option, Route
from .common import HOME, PASS_MARK, order, right, standing


def quiz_start(module: Module, ctx: Mapping) -> dict:
    """Return a fresh quiz state: missed questions first, then the rest."""
    held = standing(ctx, module.id)
    missed = [q.id for q in module.quiz if q.id in held.get("missed", ())]
    ids = missed + [q.id for q in module.quiz if q.id not in missed]
    attempt = held.get("attempt", 0)
    if held.get("status") in ("new", "passed", "failed") or not attempt:
        attempt += 1  # a new attempt; "started" resumes the current one
    answered = (held.get("answered") or {}) if held.get("status") == "started" else {}
    done = [q for q in ids if q in answered]
    rest = [q for q in ids if q not in answered]
    return {"module": module.id, "order": done + rest, "i": len(done),
            "answered": {q: answered[q] for q in done}, "attempt": attempt}  # fmt: skip


def nodes(module: Module) -> dict:
    """Build one module's screens: entry, lessons, question, feedback, score, summary."""
    m, last = module.id, module.lessons

    def enter(data, ctx) -> str:
        held = standing(ctx, m)
        position = held.get("position") or ""
        if held.get("status") in ("passed", "failed"):
            return f"t.{m}.done"
        if held.get("status") == "started" and position.startswith("l"):
            return f"t.{m}.{position}"
        if held.get("status") == "started" and position == "q":
            return f"t.{m}.resume_quiz"
        return f"t.{m}.l1"

    flow = {f"t.{m}": Route(enter)}
    for n in range(1, last + 1):
        if n < last:
            options = (Option("training.next", f"t.{m}.l{n + 1}", (SaveProgress(m, f"l{n + 1}"),)),)
        else:
            options = lambda d, ctx: (_to_quiz(module, ctx),)  # noqa: E731 - per caller
        # The learner's place: lesson n of the module's last.
        place = {"n": n, "total": last, "lesson": Copy(f"course.{m}.l{n}")}
        flow[f"t.{m}.l{n}"] = Menu("training.lesson", options, params=lambda d, c, p=place: p)
    flow[f"t.{m}.resume_quiz"] = Menu(
        "training.resume_quiz", lambda d, ctx: (_resume_quiz(module, ctx),)
    )
    flow[f"t.{m}.q"] = Menu(
        "training.question", lambda d, ctx: _answers(module, d, ctx), params=_question
    )
    flow[f"t.{m}.fb"] = Menu(
        "training.feedback", lambda d, ctx: _after_feedback(module, d), params=_feedback
    )
    flow[f"t.{m}.score"] = Menu(
        "training.score",
        (Option("training.back_home", HOME),),
        params=lambda d, ctx: _score(module, d, ctx),
        checkpoint=CLEAR,
        back_to=HOME,  # the attempt is scored: 0 must not lead back into its questions
    )
    flow[f"t.{m}.done"] = Menu(
        "training.done",
        lambda d, ctx: _done_options(module, ctx),
        params=lambda d, ctx: _summary(module, ctx),
        checkpoint=CLEAR,
    )
    flow[f"t.{m}.wait"] = Menu(
        "training.wait",
        params=lambda d, ctx: {"minutes": _minutes_left(module, ctx)},
        checkpoint=CLEAR,
    )
    return flow


def _to_quiz(module: Module, ctx: Mapping) -> Option:
    """Leave the last lesson for the quiz, unless a finished quiz is still cooling down."""
    if _minutes_left(module, ctx) and standing(ctx, module.id).get("status") != "started":
        return Option("training.to_quiz", f"t.{module.id}.wait")
    quiz = quiz_start(module, ctx)
    return Option(
        "training.to_quiz",
        f"t.{module.id}.q",
        (SaveProgress(module.id, "q"), SetData("quiz", quiz)),
    )


def _resume_quiz(module: Module, ctx: Mapping) -> Option:
    """Go on with a quiz in progress; if every question was answered, show the score."""
    quiz = quiz_start(module, ctx)
    if quiz["i"] >= len(quiz["order"]):
        return _finish_option(module, quiz)
    return Option("training.next", f"t.{module.id}.q", (SetData("quiz", quiz),))


def _current(data: Mapping) -> tuple[dict, str]:
    quiz = data["quiz"]
    return quiz, quiz["order"][min(quiz["i"], len(quiz["order"]) - 1)]


def _locked(quiz: Mapping, qid: str) -> bool:
    """Tell whether the question on screen was answered already (0 from its feedback)."""
    # The first answer counts, in the session as in the database: the question then
    # shows that answer and leads to its feedback again, never to a second choice.
    return qid in quiz["answered"] and (quiz.get("last") or [None])[0] == qid


def _question(data: Mapping, ctx: Mapping) -> dict:
    quiz, qid = _current(data)
    text = Copy(f"course.{qid}.q")
    if _locked(quiz, qid):
        answer = Copy(f"course.{qid}.o{quiz['last'][1]}")
        text = Copy("training.locked", (("question", text), ("answer", answer)))
    return {"n": quiz["i"] + 1, "total": len(quiz["order"]), "question": text}


def _answers(module: Module, data: Mapping, ctx: Mapping) -> tuple[Option, ...]:
    """Offer a question's options in this learner's order; each records its authored number."""
    quiz, qid = _current(data)
    if _locked(quiz, qid):
        return (Option("training.next", f"t.{module.id}.fb"),)
    question = next(q for q in module.quiz if q.id == qid)
    options = []
    for k in order(question, ctx, quiz["attempt"]):
        correct = question.answers[k - 1].correct
        answered = {qid: correct, **quiz["answered"]}  # an earlier answer wins
        after = {**quiz, "last": [qid, k, correct], "answered": answered}
        effects = (
            RecordAnswer(module.id, qid, quiz["attempt"], k, correct),
            SetData("quiz", after),
        )
        options.append(Option(f"course.{qid}.o{k}", f"t.{module.id}.fb", effects))
    return tuple(options)


def _feedback(data: Mapping, ctx: Mapping) -> dict:
    qid, k, _ = data["quiz"]["last"]
    return {"feedback": Copy(f"course.{qid}.f{k}")}  # each one opens with Oui. or Non.


def _after_feedback(module: Module, data: Mapping) -> tuple[Option, ...]:
    quiz = data["quiz"]
    following = {**quiz, "i": quiz["i"] + 1}
    if following["i"] < len(quiz["order"]):
        return (Option("training.next", f"t.{module.id}.q", (SetData("quiz", following),)),)
    return (_finish_option(module, following),)


def _finish_option(module: Module, quiz: dict) -> Option:
    """Return the option that closes a quiz attempt and shows its score."""
    finish = FinishModule(module.id, quiz["attempt"], right(quiz), len(quiz["order"]))
    return Option("training.see_score", f"t.{module.id}.score", (finish, SetData("quiz", quiz)))


def _score(module: Module, data: Mapping, ctx: Mapping) -> dict:
    quiz = data.get("quiz") or {"answered": {}, "order": module.quiz}
    passed = right(quiz) * 100 >= ctx.get("pass_mark", PASS_MARK) * len(quiz["order"])
    return {
        "score": right(quiz),
        "total": len(quiz["order"]),
        "result": Copy("training.passed" if passed else "training.failed"),
        "takeaway": Copy(f"course.{module.id}.takeaway"),
    }


def _summary(module: Module, ctx: Mapping) -> dict:
    held = standing(ctx, module.id)
    passed = held.get("status") == "passed"
    return {
        "title": Copy(f"course.{module.id}.title"),
        "result": Copy("training.passed" if passed else "training.failed"),
        "best": held.get("best") or 0,
        "total": len(module.quiz),
    }


def _minutes_left(module: Module, ctx: Mapping) -> int:
    retake_at = standing(ctx, module.id).get("retake_at") or ""
    if not retake_at or retake_at <= ctx.get("now", ""):
        return 0
    from datetime import datetime  # parsing text, not reading a clock

    delta = datetime.fromisoformat(retake_at) - datetime.fromisoformat(ctx["now"])
    return max(1, int(delta.total_seconds() // 60) + 1)


def _done_options(module: Module, ctx: Mapping) -> tuple[Option, ...]:
    m = module.id
    if _minutes_left(module, ctx):
        retake = Option("training.retake", f"t.{m}.wait")
    else:
        retake = Option("training.retake", f"t.{m}.q", (SetData("quiz", quiz_start(module, ctx)),))
    return (Option("training.review", f"t.{m}.l1"), retake)


def samples(module: Module) -> dict[str, list[dict]]:
    """Return session data that shows every variant of a module's quiz screens, for checks."""
    found: dict[str, list[dict]] = {}
    for question in module.quiz:
        quiz = {"module": module.id, "order": [question.id], "i": 0, "answered": {},
                "attempt": 1}  # fmt: skip
        found.setdefault(f"t.{module.id}.q", []).append({"quiz": quiz})
        for k in range(1, len(question.answers) + 1):
            correct = k == question.right
            last = {**quiz, "last": [question.id, k, correct]}
            found.setdefault(f"t.{module.id}.fb", []).append({"quiz": last})
            locked = {**last, "answered": {question.id: correct}}  # back from its feedback
            found[f"t.{module.id}.q"].append({"quiz": locked})
    full = {"order": [q.id for q in module.quiz], "answered": dict.fromkeys(
        (q.id for q in module.quiz), True)}  # fmt: skip
    found[f"t.{module.id}.score"] = [{"quiz": full}]
    return found
