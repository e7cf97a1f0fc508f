"""Load the course under content/<lang>/course/, checking each source against the facts."""

import copy
import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import yaml

from flows.course import Answer, Course, Module, Question
from flows.gsm import outside

# libyaml's loader when built in: the same documents, read about ten times faster.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Documents parsed, by the digest of their bytes: every app a process builds (the tests build
# thousands) reads the same content, and parsing it is ten times a deep copy's cost.
_PARSED: dict[bytes, object] = {}


def read_yaml(path: Path):
    """Parse one YAML file safely, as a copy of its own; raise yaml.YAMLError or
    UnicodeDecodeError."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).digest()
    if digest not in _PARSED:
        _PARSED[digest] = yaml.load(raw.decode("utf-8"), Loader=Loader)  # noqa: S506 (safe)
    return copy.deepcopy(_PARSED[digest])  # the caller may change what it is given


AUDIENCES = ("all", "agents")
PRETEST = "pretest.yaml"  # the pre/post-test, beside the modules
LESSONS, QUESTIONS, OPTIONS = (3, 6), (3, 5), (2, 4)
# Text limits, in characters, so that each piece fits its screen with the
# numbering and navigation lines around it (the renderer checks the rest).
LIMITS = {"title": 40, "lesson": 125, "question": 70, "option": 24, "feedback": 110,
          "takeaway": 110}  # fmt: skip
# V: read in a primary source; S: a secondary one; ?: unconfirmed, so never taught.
CONFIDENCE, TAUGHT = ("V", "S", "?"), ("V", "S")
# A learner who always answers the same number must not pass: no option
# position may hold more than this share of the right answers, in percent.
MAX_SHARE = 40

Facts = Mapping[str, str]  # fact id -> confidence


class CourseError(Exception):
    """The course files are unusable; the message lists every problem."""


def load_facts(path: Path) -> tuple[dict[str, str], list[str]]:
    """Read the facts file: each fact's confidence by id, and the problems found."""
    if not path.exists():
        return {}, []  # no facts: whatever a course cites is then unknown
    try:
        raw = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return {}, [f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}"]
    items = raw.get("facts") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return {}, [f"{path.name}: facts must be a list"]
    facts: dict[str, str] = {}
    problems: list[str] = []
    for n, fact in enumerate(items, 1):
        fact = fact if isinstance(fact, dict) else {}
        fact_id = fact.get("id")
        if not isinstance(fact_id, str) or not fact_id.isidentifier():
            problems.append(f"{path.name} fact {n}: id must be a short identifier such as F1")
            continue
        if fact_id in facts:
            problems.append(f"{path.name}: duplicate fact {fact_id!r}")
        for field in ("statement", "source"):
            if not isinstance(fact.get(field), str) or not fact[field].strip():
                problems.append(f"{path.name} {fact_id}: missing {field}")
        confidence = fact.get("confidence")
        if confidence not in CONFIDENCE:
            problems.append(f"{path.name} {fact_id}: confidence must be one of V, S, ?")
        facts[fact_id] = confidence if confidence in CONFIDENCE else "?"
    return facts, problems


def _cite(source, where: str, facts: Facts | None, problems: list) -> None:
    """Check a source: present and, when facts are given, only facts that may be taught."""
    if not isinstance(source, str) or not source.strip():
        problems.append(f"{where}: missing source")
        return
    if facts is None:
        return
    for fact_id in (part.strip() for part in source.split(",")):
        if fact_id not in facts:
            problems.append(f"{where}: cites {fact_id!r}, which is not in facts.yaml")
        elif facts[fact_id] not in TAUGHT:
            problems.append(f"{where}: cites {fact_id!r}, an unconfirmed fact (?)")


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


def check_module(raw: dict, where: str, texts: dict, facts: Facts | None, problems: list):
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
        _cite(lesson.get("source"), f"{where} lesson {n}", facts, problems)
        texts[f"{key}.l{n}"] = _text(
            lesson.get("text"), f"{where} lesson {n}", LIMITS["lesson"], problems
        )
    quiz = []
    for raw_q in _between(raw.get("quiz"), QUESTIONS, "questions", where, problems):
        question = check_question(raw_q if isinstance(raw_q, dict) else {}, where, texts, facts,
                             problems)  # fmt: skip
        if question:
            quiz.append(question)
    return Module(module_id, raw.get("audience", "all"), len(lessons), tuple(quiz))


def check_question(raw: dict, where: str, texts: dict, facts: Facts | None, problems: list):
    """Check one quiz question; add its copy to texts; return it or None."""
    qid = raw.get("id")
    if not isinstance(qid, str) or not qid.isidentifier():
        problems.append(f"{where}: a question needs an id such as m1q1")
        return None
    here = f"{where} {qid}"
    _cite(raw.get("source"), here, facts, problems)
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


def load_course(folder: Path, facts: Facts | None = None) -> tuple[Course, dict[str, str]]:
    """Read and check one language's course; return it and its copy by key.

    Given facts (id -> confidence), each source must cite facts that may be taught.
    Raises CourseError listing every problem. A missing folder is an empty course.
    """
    texts: dict[str, str] = {}
    problems: list[str] = []
    modules: list[Module] = []
    if not folder.is_dir():
        return Course(), texts
    for path in sorted(folder.glob("*.yaml")):
        if path.name == PRETEST:
            continue
        where = f"{folder.parent.name}/course/{path.name}"
        try:
            raw = read_yaml(path)
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            problems.append(f"{where}: not valid YAML: {str(exc).splitlines()[0]}")
            continue
        module = check_module(raw if isinstance(raw, dict) else {}, where, texts, facts, problems)
        if module:
            modules.append(module)
    test_texts: dict[str, str] = {}
    items = _pretest(folder / PRETEST, modules, test_texts, facts, problems)
    course = Course(tuple(modules), tuple(q.id for q in items), tuple(items))
    ids = [m.id for m in modules] + [q.id for m in modules for q in m.quiz]
    problems.extend(f"duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1}))
    problems.extend(_shared(course, texts, test_texts))
    problems.extend(_crowded([q for m in modules for q in m.quiz], "course"))
    problems.extend(_crowded(items, "pretest.yaml"))
    if problems:
        raise CourseError("\n".join(problems))
    return course, {**texts, **test_texts}


def _pretest(path: Path, modules: list, texts: dict, facts: Facts | None, problems: list):
    """Read the pre/post-test's own questions, each on one module's objective."""
    if not path.exists():
        return []
    try:
        raw = read_yaml(path) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(f"pretest.yaml: not valid YAML: {str(exc).splitlines()[0]}")
        return []
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        problems.append("pretest.yaml: items must be a list of questions of its own")
        return []
    known = {m.id for m in modules}
    questions = []
    for item in items:
        question = check_question(item, PRETEST, texts, facts, problems)
        if question is None:
            continue
        if item.get("objective") not in known:
            problems.append(f"pretest.yaml {question.id}: objective must name a module")
        questions.append(question)
    ids = [q.id for q in questions]
    problems.extend(
        f"pretest.yaml: duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})
    )
    return questions


def _wording(text: str) -> str:
    """Reduce a question to its words, so that case and punctuation do not hide a copy."""
    return " ".join(re.sub(r"\W+", " ", text.casefold()).split())


def _shared(course: Course, texts: Mapping, test_texts: Mapping) -> list[str]:
    """List the pre/post-test items that a module also asks, by id or by wording."""
    asked = {q.id for m in course.modules for q in m.quiz}
    wording = {_wording(texts[f"course.{q.id}.q"]): q.id for m in course.modules for q in m.quiz}
    found = []
    for item in course.items:
        same = wording.get(_wording(test_texts.get(f"course.{item.id}.q", "")))
        if item.id in asked:
            found.append(f"pretest.yaml {item.id}: is a module question; the test asks its own")
        elif same:
            found.append(f"pretest.yaml {item.id}: asks the same question as {same}")
    return found


def _crowded(questions: list[Question], where: str) -> list[str]:
    """List the option positions that hold more than MAX_SHARE of the right answers."""
    scored = [q for q in questions if sum(a.correct for a in q.answers) == 1]
    counts = Counter(q.right for q in scored)
    return [
        f"{where}: option {position} is the right answer of {count} of {len(scored)} "
        f"questions; at most {MAX_SHARE}% may share a position"
        for position, count in sorted(counts.items())
        if count * 100 > MAX_SHARE * len(scored)
    ]
