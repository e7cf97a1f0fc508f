"""Load the course under content/<lang>/course/: module files and the pre/post-test."""

from pathlib import Path

import yaml

from flows.course import Answer, Course, Module, Question
from flows.gsm import outside

# libyaml's loader when built in: the same documents, read about ten times faster.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path):
    """Parse one YAML file safely; raise yaml.YAMLError or UnicodeDecodeError."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506 (safe loader)


AUDIENCES = ("all", "agents")
LESSONS, QUESTIONS, OPTIONS = (3, 6), (3, 5), (2, 4)
# Text limits, in characters, so that each piece fits its screen with the
# numbering and navigation lines around it (the renderer checks the rest).
LIMITS = {"title": 40, "lesson": 125, "question": 70, "option": 24, "feedback": 110,
          "takeaway": 110}  # fmt: skip


class CourseError(Exception):
    """The course files are unusable; the message lists every problem."""


def _text(value, where: str, limit: int, problems: list) -> str:
    """Check one piece of copy: present, GSM-7, within its limit."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: missing text")
        return ""
    if outside(value):
        problems.append(f"{where}: characters outside GSM-7: {outside(value)!r}")
    if len(value) > limit:
        problems.append(f"{where}: {len(value)} characters, at most {limit}")
    return value.strip()


def _between(items, bounds: tuple[int, int], what: str, where: str, problems: list) -> list:
    if not isinstance(items, list) or not bounds[0] <= len(items) <= bounds[1]:
        problems.append(f"{where}: needs {bounds[0]} to {bounds[1]} {what}")
        return items if isinstance(items, list) else []
    return items


def _module(raw: dict, where: str, texts: dict, problems: list) -> Module | None:
    """Check one module file; add its copy to texts; return the module or None."""
    module_id = raw.get("id")
    if not isinstance(module_id, str) or not module_id.isidentifier():
        problems.append(f"{where}: id must be a short identifier such as m1")
        return None
    if raw.get("audience") not in AUDIENCES:
        problems.append(f"{where}: audience must be one of {', '.join(AUDIENCES)}")
    key = f"course.{module_id}"
    texts[f"{key}.title"] = _text(raw.get("title"), f"{where} title", LIMITS["title"], problems)
    texts[f"{key}.takeaway"] = _text(
        raw.get("takeaway"), f"{where} takeaway", LIMITS["takeaway"], problems
    )
    lessons = _between(raw.get("lessons"), LESSONS, "lessons", where, problems)
    for n, lesson in enumerate(lessons, 1):
        lesson = lesson if isinstance(lesson, dict) else {}
        if not lesson.get("source"):
            problems.append(f"{where} lesson {n}: missing source")
        texts[f"{key}.l{n}"] = _text(
            lesson.get("text"), f"{where} lesson {n}", LIMITS["lesson"], problems
        )
    quiz = []
    for raw_q in _between(raw.get("quiz"), QUESTIONS, "questions", where, problems):
        question = _question(raw_q if isinstance(raw_q, dict) else {}, where, texts, problems)
        if question:
            quiz.append(question)
    return Module(module_id, raw.get("audience", "all"), len(lessons), tuple(quiz))


def _question(raw: dict, where: str, texts: dict, problems: list) -> Question | None:
    """Check one quiz question; add its copy to texts; return it or None."""
    qid = raw.get("id")
    if not isinstance(qid, str) or not qid.isidentifier():
        problems.append(f"{where}: a question needs an id such as m1q1")
        return None
    here = f"{where} {qid}"
    if not raw.get("source"):
        problems.append(f"{here}: missing source")
    texts[f"course.{qid}.q"] = _text(raw.get("question"), here, LIMITS["question"], problems)
    options = _between(raw.get("options"), OPTIONS, "options", here, problems)
    answers = []
    for n, option in enumerate(options, 1):
        option = option if isinstance(option, dict) else {}
        texts[f"course.{qid}.o{n}"] = _text(
            option.get("text"), f"{here} option {n}", LIMITS["option"], problems
        )
        texts[f"course.{qid}.f{n}"] = _text(
            option.get("feedback"), f"{here} feedback {n}", LIMITS["feedback"], problems
        )
        answers.append(Answer(option.get("correct") is True))
    if sum(a.correct for a in answers) != 1:
        problems.append(f"{here}: exactly one option must be correct")
    return Question(qid, tuple(answers))


def load_course(folder: Path) -> tuple[Course, dict[str, str]]:
    """Read and check one language's course; return it and its copy by key.

    Raises CourseError listing every problem. A missing folder is an empty course.
    """
    texts: dict[str, str] = {}
    problems: list[str] = []
    modules: list[Module] = []
    if not folder.is_dir():
        return Course(), texts
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "pretest.yaml":
            continue
        where = f"{folder.parent.name}/course/{path.name}"
        try:
            raw = read_yaml(path)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: not valid YAML: {str(exc).splitlines()[0]}")
            continue
        module = _module(raw if isinstance(raw, dict) else {}, where, texts, problems)
        if module:
            modules.append(module)
    course = Course(tuple(modules), _pretest(folder / "pretest.yaml", problems))
    ids = [m.id for m in modules] + [q.id for m in modules for q in m.quiz]
    problems.extend(f"duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1}))
    problems.extend(
        f"pretest: unknown question {qid!r}" for qid in course.pretest if not course.question(qid)
    )
    if problems:
        raise CourseError("\n".join(problems))
    return course, texts


def _pretest(path: Path, problems: list) -> tuple[str, ...]:
    """Read the pre/post-test item ids, if the file exists."""
    if not path.exists():
        return ()
    try:
        raw = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"pretest.yaml: not valid YAML: {str(exc).splitlines()[0]}")
        return ()
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        problems.append("pretest.yaml: items must be a list of question ids")
        return ()
    return tuple(items)
