"""The training journey, built from the course: lessons, quiz with feedback, score.

ctx["training"] maps each module id to the learner's standing:
{"status": "new" | "started" | "passed" | "failed", "position": "l3" | "q" | "",
 "attempt": int, "best": int | None, "answered": {question id: correct},
 "missed": [question ids], "retake_at": ISO time or None}, and ctx["now"] is
the current time as ISO text (the web layer reads the clock, not the flow).
"""

from collections.abc import Mapping

from .course import Course, Module
from .effects import Enrol, FinishModule, RecordAnswer, SaveProgress, SetData
from .engine import CLEAR, Ask, Copy, Menu, Option, Route

HOME = "training"
PASS_MARK = 80  # percent of right answers that passes a module (TRAINING_PASS_MARK's default)
PRETEST = "pretest"  # the module name its answers are kept under
PRE, POST = 0, 1000  # the attempt numbers of the pre-test and the post-test


def _standing(ctx: Mapping, module_id: str) -> Mapping:
    return (ctx.get("training") or {}).get(module_id) or {"status": "new", "attempt": 0}


def allowed(course: Course, ctx: Mapping) -> list[Module]:
    """Return the modules this caller may take: agents all, others the awareness ones."""
    agent = (ctx.get("profile") or {}).get("role") == "agent"
    return [m for m in course.modules if agent or m.audience == "all"]


def quiz_start(module: Module, ctx: Mapping) -> dict:
    """Return a fresh quiz state: missed questions first, then the rest."""
    standing = _standing(ctx, module.id)
    missed = [q.id for q in module.quiz if q.id in standing.get("missed", ())]
    order = missed + [q.id for q in module.quiz if q.id not in missed]
    attempt = standing.get("attempt", 0)
    if standing.get("status") in ("new", "passed", "failed") or not attempt:
        attempt += 1  # a new attempt; "started" resumes the current one
    answered = (standing.get("answered") or {}) if standing.get("status") == "started" else {}
    done = [q for q in order if q in answered]
    rest = [q for q in order if q not in answered]
    # The first answer to each question counts, as in the database: going back
    # from a feedback screen and answering again changes nothing.
    return {"module": module.id, "order": done + rest, "i": len(done),
            "answered": {q: answered[q] for q in done}, "attempt": attempt}  # fmt: skip


def right(state: Mapping) -> int:
    """Count the questions answered rightly at the first try, in a quiz or test state."""
    return sum(1 for correct in state.get("answered", {}).values() if correct)


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
        if codes and (ctx.get("profile") or {}).get("role") != "agent":
            options.append(Option("training.enrol_opt", "t.enrol"))
        return tuple(options)

    flow = {
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
        flow.update(_module_nodes(module))
    if course.pretest:
        flow.update(_test_nodes(course))
    return flow


def _continue(course: Course, ctx: Mapping) -> str:
    """Go to the pre-test first, then the first module not passed, then the post-test."""
    agent = (ctx.get("profile") or {}).get("role") == "agent"
    tests = ctx.get("tests") or {}
    if agent and course.pretest and not tests.get("pre"):
        return "t.pre"
    for module in allowed(course, ctx):
        if _standing(ctx, module.id).get("status") != "passed":
            return f"t.{module.id}"
    if agent and course.pretest and not tests.get("post"):
        return "t.post"
    return "t.results" if course.modules else "t.empty"


def _test_nodes(course: Course) -> dict:
    """The pre-test before the course and the post-test after it: same items, no feedback."""
    items = list(course.pretest)

    def start(kind: str, attempt: int) -> tuple[Option, ...]:
        test = {"kind": kind, "order": items, "i": 0, "answered": {}, "attempt": attempt}
        return (Option("training.start", "t.test", (SetData("test", test),)),)

    def answers(data, ctx) -> tuple[Option, ...]:
        test = data["test"]
        question = course.question(test["order"][test["i"]])
        options = []
        for k, answer in enumerate(question.answers, 1):
            answered = {question.id: answer.correct, **test["answered"]}  # the first counts
            after = {**test, "i": test["i"] + 1, "answered": answered}
            target = "t.test" if after["i"] < len(test["order"]) else f"t.{test['kind']}.end"
            record = RecordAnswer(PRETEST, question.id, test["attempt"], k, answer.correct)
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

    return {
        "t.pre": Menu(
            "training.pre_intro", start("pre", PRE), params=lambda d, c: {"n": len(items)}
        ),
        "t.post": Menu(
            "training.post_intro", start("post", POST), params=lambda d, c: {"n": len(items)}
        ),
        "t.test": Menu("training.question", answers, params=question),
        "t.pre.end": Menu(
            "training.pre_end",
            (Option("training.next", "t.continue"),),
            params=summary,
            checkpoint=CLEAR,
        ),
        "t.post.end": Menu(
            "training.post_end",
            (Option("training.back_home", HOME),),
            params=summary,
            checkpoint=CLEAR,
        ),
    }


def _module_list(course: Course, ctx: Mapping) -> tuple[Option, ...]:
    options = []
    for module in allowed(course, ctx):
        standing = _standing(ctx, module.id)
        status = standing.get("status", "new")
        score = f"{standing.get('best') or 0}/{len(module.quiz)}"
        label = f"training.line_{status}"
        params = (("title", Copy(f"course.{module.id}.title")), ("score", score))
        options.append(Option(label, f"t.{module.id}", params=params))
    return tuple(options)


def _results(course: Course, ctx: Mapping) -> dict:
    mine = allowed(course, ctx)
    passed = [m for m in mine if _standing(ctx, m.id).get("status") == "passed"]
    right = sum(_standing(ctx, m.id).get("best") or 0 for m in passed)
    asked = sum(len(m.quiz) for m in passed)
    return {
        "passed": len(passed),
        "total": len(mine),
        "percent": round(100 * right / asked) if asked else 0,
    }


def _module_nodes(module: Module) -> dict:
    """Build one module's screens: entry, lessons, question, feedback, score, summary."""
    m, last = module.id, module.lessons

    def enter(data, ctx) -> str:
        standing = _standing(ctx, m)
        position = standing.get("position") or ""
        if standing.get("status") in ("passed", "failed"):
            return f"t.{m}.done"
        if standing.get("status") == "started" and position.startswith("l"):
            return f"t.{m}.{position}"
        if standing.get("status") == "started" and position == "q":
            return f"t.{m}.resume_quiz"
        return f"t.{m}.l1"

    flow = {f"t.{m}": Route(enter)}
    for n in range(1, last + 1):
        if n < last:
            options = (Option("training.next", f"t.{m}.l{n + 1}", (SaveProgress(m, f"l{n + 1}"),)),)
        else:
            options = lambda d, ctx: (_to_quiz(module, ctx),)  # noqa: E731 - per caller
        flow[f"t.{m}.l{n}"] = Menu(f"course.{m}.l{n}", options)
    flow[f"t.{m}.resume_quiz"] = Menu(
        "training.resume_quiz", lambda d, ctx: (_resume_quiz(module, ctx),)
    )
    flow[f"t.{m}.q"] = Menu(
        "training.question", lambda d, ctx: _answers(module, d), params=_question
    )
    flow[f"t.{m}.fb"] = Menu(
        "training.feedback", lambda d, ctx: _after_feedback(module, d), params=_feedback
    )
    flow[f"t.{m}.score"] = Menu(
        "training.score",
        (Option("training.back_home", HOME),),
        params=lambda d, ctx: _score(module, d, ctx),
        checkpoint=CLEAR,
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
    if _minutes_left(module, ctx) and _standing(ctx, module.id).get("status") != "started":
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


def _question(data: Mapping, ctx: Mapping) -> dict:
    quiz, qid = _current(data)
    return {"n": quiz["i"] + 1, "total": len(quiz["order"]), "question": Copy(f"course.{qid}.q")}


def _answers(module: Module, data: Mapping) -> tuple[Option, ...]:
    quiz, qid = _current(data)
    question = next(q for q in module.quiz if q.id == qid)
    options = []
    for k, answer in enumerate(question.answers, 1):
        answered = {qid: answer.correct, **quiz["answered"]}  # an earlier answer wins
        after = {**quiz, "last": [qid, k, answer.correct], "answered": answered}
        effects = (
            RecordAnswer(module.id, qid, quiz["attempt"], k, answer.correct),
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
    standing = _standing(ctx, module.id)
    passed = standing.get("status") == "passed"
    return {
        "title": Copy(f"course.{module.id}.title"),
        "result": Copy("training.passed" if passed else "training.failed"),
        "best": standing.get("best") or 0,
        "total": len(module.quiz),
    }


def _minutes_left(module: Module, ctx: Mapping) -> int:
    retake_at = _standing(ctx, module.id).get("retake_at") or ""
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


def samples(course: Course) -> dict[str, list[dict]]:
    """Return session data that shows every variant of the quiz screens, for checks."""
    found: dict[str, list[dict]] = {}
    for module in course.modules:
        for question in module.quiz:
            quiz = {"module": module.id, "order": [question.id], "i": 0, "answered": {},
                    "attempt": 1}  # fmt: skip
            found.setdefault(f"t.{module.id}.q", []).append({"quiz": quiz})
            for k in range(1, len(question.answers) + 1):
                last = {**quiz, "last": [question.id, k, k == question.right]}
                found.setdefault(f"t.{module.id}.fb", []).append({"quiz": last})
        full = {"order": [q.id for q in module.quiz], "answered": dict.fromkeys(
            (q.id for q in module.quiz), True)}  # fmt: skip
        found[f"t.{module.id}.score"] = [{"quiz": full}]
    for qid in course.pretest:
        test = {"kind": "pre", "order": [qid], "i": 0, "answered": {}, "attempt": PRE}
        found.setdefault("t.test", []).append({"test": test})
    return found
