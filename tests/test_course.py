"""The course files: schema, limits, GSM-7, cited facts, balance, and the pre/post-test."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from app.content import load
from app.training.course import MAX_SHARE, CourseError, load_course, load_facts, read_yaml

ROOT = Path(__file__).resolve().parent.parent
FACTS = {"F1": "V", "F2": "S", "F9": "?"}  # fact id -> confidence


def question(qid: str, right: int = 1, text: str | None = None, **changes) -> dict:
    """Return a valid three-option question whose right answer is option `right`."""
    raw = {
        "id": qid,
        "question": text or f"Question {qid} ?",
        "source": "F1",
        "options": [
            {"text": f"Choix {n}", "feedback": "Bien vu." if n == right else "Non, relisez."}
            | ({"correct": True} if n == right else {})
            for n in (1, 2, 3)
        ],
    }
    raw.update(changes)
    return raw


def module(**changes) -> dict:
    """Return a valid module, its right answers on options 1, 2 and 3, changed as asked."""
    raw = {
        "id": "m1",
        "title": "Travail des enfants",
        "audience": "all",
        "lessons": [{"text": f"Écran {n}.", "source": "F1"} for n in (1, 2, 3)],
        "quiz": [question(f"m1q{n}", right=n) for n in (1, 2, 3)],
        "takeaway": "Retenez ceci.",
    }
    raw.update(changes)
    return raw


def item(qid: str, right: int = 1, objective: str = "m1", **changes) -> dict:
    """Return a pre/post-test item of its own, on a module's objective."""
    return {**question(qid, right, text=f"Test {qid} ?"), "objective": objective, **changes}


PRETEST = [item("p1", 1), item("p2", 2), item("p3", 3)]


def write(folder: Path, *modules: dict, pretest=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, raw in enumerate(modules, 1):
        (folder / f"0{n}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    if pretest is not None:
        (folder / "pretest.yaml").write_text(
            yaml.safe_dump({"items": pretest}, allow_unicode=True), "utf-8"
        )
    return folder


def refused(folder: Path, facts=FACTS) -> list[str]:
    """Return the problems that loading the course in folder reports."""
    with pytest.raises(CourseError) as caught:
        load_course(folder, facts)
    return str(caught.value).splitlines()


def test_a_valid_module_loads_with_its_copy(tmp_path):
    course, texts = load_course(write(tmp_path / "course", module(), pretest=PRETEST), FACTS)
    (only,) = course.modules
    assert (only.id, only.audience, only.lessons, len(only.quiz)) == ("m1", "all", 3, 3)
    assert [q.right for q in only.quiz] == [1, 2, 3]
    assert texts["course.m1.l2"] == "Écran 2."
    assert texts["course.m1q3.f2"] == "Non, relisez."
    assert texts["course.m1.takeaway"] == "Retenez ceci."


def test_the_pretest_asks_its_own_questions_through_the_same_api(tmp_path):
    """course.pretest stays a tuple of ids that course.question() finds, texts in the catalog."""
    course, texts = load_course(write(tmp_path / "course", module(), pretest=PRETEST), FACTS)
    assert course.pretest == ("p1", "p2", "p3")
    assert [course.question(qid).right for qid in course.pretest] == [1, 2, 3]
    assert course.question("m1q2").right == 2  # module questions are found as before
    assert texts["course.p2.q"] == "Test p2 ?" and texts["course.p2.o2"] == "Choix 2"
    assert texts["course.p2.f1"] == "Non, relisez."
    assert not any(q.id.startswith("p") for m in course.modules for q in m.quiz)


def test_no_course_folder_is_an_empty_course(tmp_path):
    course, texts = load_course(tmp_path / "nothing")
    assert course.modules == () and course.items == () and texts == {}


def two_right(raw):
    raw["quiz"][0]["options"][1]["correct"] = True
    return raw


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (module(id="m 1"), "id must be a short identifier"),
        (module(audience="everyone"), "audience must be one of all, agents"),
        (module(title="x" * 41), "title: 41 characters, at most 40"),
        (module(title="Contrôle"), "characters outside GSM-7: 'ô'"),
        (module(lessons=[{"text": "a", "source": "F1"}] * 2), "needs 3 to 6 lessons"),
        (module(lessons=[{"text": "a"}] * 3), "lesson 1: missing source"),
        (module(quiz=[]), "needs 3 to 5 questions"),
        (two_right(module()), "m1q1: exactly one option must be correct"),
        (module(takeaway=""), "takeaway: missing text"),
    ],
)
def test_bad_modules_are_refused_with_the_reason(tmp_path, raw, problem):
    lines = refused(write(tmp_path / "course", raw))
    assert any(problem in line for line in lines), lines


# -- facts: every lesson and question cites facts that exist and may be taught --------------

CITES = {
    "a lesson citing an unknown fact": (
        module(lessons=[{"text": "a", "source": "F1, F99"}] * 3),
        "fr/course/01.yaml lesson 1: cites 'F99', which is not in facts.yaml",
    ),
    "a lesson citing an unconfirmed fact": (
        module(lessons=[{"text": "a", "source": "F9"}] * 3),
        "fr/course/01.yaml lesson 1: cites 'F9', an unconfirmed fact (?)",
    ),
    "a question citing an unknown fact": (
        module(
            quiz=[question("m1q1", 1, source="F2, F7"), question("m1q2", 2), question("m1q3", 3)]
        ),  # fmt: skip
        "fr/course/01.yaml m1q1: cites 'F7', which is not in facts.yaml",
    ),
    "a question citing an unconfirmed fact": (
        module(quiz=[question("m1q1", 1, source="F9"), question("m1q2", 2), question("m1q3", 3)]),
        "fr/course/01.yaml m1q1: cites 'F9', an unconfirmed fact (?)",
    ),
    "a question citing nothing": (
        module(quiz=[question("m1q1", 1, source=" "), question("m1q2", 2), question("m1q3", 3)]),
        "fr/course/01.yaml m1q1: missing source",
    ),
}


@pytest.mark.parametrize(("raw", "problem"), CITES.values(), ids=CITES.keys())
def test_a_course_cites_only_facts_that_may_be_taught(tmp_path, raw, problem):
    folder = tmp_path / "fr" / "course"
    assert problem in refused(write(folder, raw))
    if "cites" in problem:
        load_course(folder)  # without facts, only the presence of a source is checked


def test_a_pretest_item_cites_facts_too(tmp_path):
    pretest = [item("p1", 1, source="F9"), item("p2", 2), item("p3", 3)]
    assert "pretest.yaml p1: cites 'F9', an unconfirmed fact (?)" in refused(
        write(tmp_path / "course", module(), pretest=pretest)
    )


FACT_FILES = {
    "a good file": ("facts:\n  - {id: F1, statement: s, source: x, confidence: V}\n", [], "V"),
    "an unconfirmed fact": (
        'facts:\n  - {id: F1, statement: s, source: x, confidence: "?"}\n',
        [],
        "?",
    ),
    "a confidence outside V, S, ?": (
        "facts:\n  - {id: F1, statement: s, source: x, confidence: sure}\n",
        ["facts.yaml F1: confidence must be one of V, S, ?"],
        "?",  # unreadable confidence: treated as unconfirmed, so never taught
    ),
    "a fact without statement or source": (
        "facts:\n  - {id: F1, confidence: S}\n",
        ["facts.yaml F1: missing statement", "facts.yaml F1: missing source"],
        "S",
    ),
    "the same id twice": (
        "facts:\n  - {id: F1, statement: s, source: x, confidence: V}\n"
        "  - {id: F1, statement: t, source: y, confidence: S}\n",
        ["facts.yaml: duplicate fact 'F1'"],
        "S",
    ),
    "not a list": ("facts: F1\n", ["facts.yaml: facts must be a list"], None),
}


@pytest.mark.parametrize(("text", "problems", "f1"), FACT_FILES.values(), ids=FACT_FILES.keys())
def test_the_facts_file_is_checked(tmp_path, text, problems, f1):
    path = tmp_path / "facts.yaml"
    path.write_text(text, "utf-8")
    facts, found = load_facts(path)
    assert found == problems
    assert facts.get("F1") == f1


def test_no_facts_file_leaves_every_citation_unknown(tmp_path):
    facts, found = load_facts(tmp_path / "facts.yaml")
    assert (facts, found) == ({}, [])
    lines = refused(write(tmp_path / "fr" / "course", module()), facts)
    assert "fr/course/01.yaml lesson 1: cites 'F1', which is not in facts.yaml" in lines


# -- balance: no option position holds more than 40 % of the right answers ------------------


def quiz_of(rights: list[int]) -> list[dict]:
    return [question(f"m1q{n}", right) for n, right in enumerate(rights, 1)]


BALANCE = {
    "1, 2, 3": ([1, 2, 3], []),
    "2 of 5 on one position (40 %)": ([1, 1, 2, 3, 3], []),
    "3 of 5 on one position (60 %)": ([2, 1, 2, 3, 2], ["option 2 is the right answer of 3 of 5"]),
    "all on option 1": ([1, 1, 1], ["option 1 is the right answer of 3 of 3"]),
}


@pytest.mark.parametrize(("rights", "crowded"), BALANCE.values(), ids=BALANCE.keys())
def test_right_answers_are_spread_over_the_positions(tmp_path, rights, crowded):
    folder = write(tmp_path / "course", module(quiz=quiz_of(rights)))
    if not crowded:
        load_course(folder, FACTS)
        return
    lines = refused(folder)
    for words in crowded:
        assert f"course: {words} questions; at most {MAX_SHARE}% may share a position" in lines


def test_the_balance_counts_the_whole_course_and_the_pretest_apart(tmp_path):
    """Two modules, each 2 of 3 on option 1, crowd the course; a crowded pretest is its own."""
    first = module(quiz=quiz_of([1, 1, 2]))
    second = module(id="m2", quiz=[question(f"m2q{n}", r) for n, r in enumerate([1, 3, 1], 1)])
    pretest = [item("p1", 2), item("p2", 2), item("p3", 1)]
    lines = refused(write(tmp_path / "course", first, second, pretest=pretest))
    assert "course: option 1 is the right answer of 4 of 6 questions" in lines[-2]
    assert "pretest.yaml: option 2 is the right answer of 2 of 3 questions" in lines[-1]


# -- the pre/post-test asks its own questions ------------------------------------------------

SHARED = {
    "a module question's id": (
        [item("m1q2", 2), item("p2", 1), item("p3", 3)],
        "pretest.yaml m1q2: is a module question; the test asks its own",
    ),
    "a module question's wording": (
        [item("p1", 1, question="Question m1q2 ?"), item("p2", 2), item("p3", 3)],
        "pretest.yaml p1: asks the same question as m1q2",
    ),
    "the same wording, other case and punctuation": (
        [item("p1", 1, question="question  M1Q3"), item("p2", 2), item("p3", 3)],
        "pretest.yaml p1: asks the same question as m1q3",
    ),
    "an objective that is no module": (
        [item("p1", 1, objective="m9"), item("p2", 2), item("p3", 3)],
        "pretest.yaml p1: objective must name a module",
    ),
    "the old list of module question ids": (
        ["m1q1", "m1q2"],
        "pretest.yaml: items must be a list of questions of its own",
    ),
    "the same item twice": (
        [item("p1", 1), item("p1", 2), item("p3", 3)],
        "pretest.yaml: duplicate id 'p1'",
    ),
}


@pytest.mark.parametrize(("pretest", "problem"), SHARED.values(), ids=SHARED.keys())
def test_the_pretest_shares_no_item_with_the_modules(tmp_path, pretest, problem):
    assert problem in refused(write(tmp_path / "course", module(), pretest=pretest))


def test_duplicate_module_ids_are_refused(tmp_path):
    folder = write(tmp_path / "course", module(), module())
    assert "duplicate id 'm1'" in refused(folder)


def test_the_course_copy_joins_the_catalog(tmp_path):
    (tmp_path / "fr").mkdir()
    for source in (ROOT / "content" / "fr").glob("*.yaml"):
        (tmp_path / "fr" / source.name).write_text(source.read_text("utf-8"), "utf-8")
    (tmp_path / "facts.yaml").write_text((ROOT / "content" / "facts.yaml").read_text("utf-8"))
    write(tmp_path / "fr" / "course", module(), pretest=PRETEST)
    catalog, _ = load(tmp_path)
    assert catalog.course.module("m1").lessons == 3
    assert catalog.get("course.m1q1.q") == "Question m1q1 ?"
    assert catalog.get("course.p3.o3") == "Choix 3"


# -- the real course ---------------------------------------------------------------------------


def test_the_real_course_loads():
    catalog, warnings = load(ROOT / "content")
    course = catalog.course
    assert len(course.modules) == 13
    assert [m.id for m in course.modules] == [f"m{n}" for n in range(1, 14)]
    for mod in course.modules:
        assert mod.audience in ("all", "agents")
        assert 3 <= mod.lessons <= 6 and 3 <= len(mod.quiz) <= 5
    for new in course.modules[8:]:  # the five modules of issue 15
        assert 5 <= new.lessons <= 6 and 4 <= len(new.quiz) <= 5
    rights = Counter(q.right for m in course.modules for q in m.quiz)
    assert max(rights.values()) * 100 <= MAX_SHARE * sum(rights.values())
    assert len(course.pretest) == 13 and {q.id for q in course.items} == set(course.pretest)


def test_the_real_pretest_measures_every_module():
    items = read_yaml(ROOT / "content" / "fr" / "course" / "pretest.yaml")["items"]
    assert sorted(item["objective"] for item in items) == sorted(f"m{n}" for n in range(1, 14))


def test_every_real_citation_is_a_fact_that_may_be_taught():
    """Read straight from the files, so that a loader that skipped the check is caught too."""
    facts, problems = load_facts(ROOT / "content" / "facts.yaml")
    assert problems == []
    folder = ROOT / "content" / "fr" / "course"
    cited = []
    for path in sorted(folder.glob("*.yaml")):
        raw = read_yaml(path)
        pieces = raw["items"] if path.name == "pretest.yaml" else raw["lessons"] + raw["quiz"]
        cited += [part.strip() for piece in pieces for part in piece["source"].split(",")]
    assert cited and {facts.get(fact_id) for fact_id in cited} <= {"V", "S"}


def test_a_parsed_document_is_a_copy_of_its_own_and_read_again_once_changed(tmp_path):
    """Parses are kept by the bytes' digest: a caller changing its copy changes no other."""
    path = tmp_path / "a.yaml"
    path.write_text("a: {b: 1}\n", encoding="utf-8")
    first = read_yaml(path)
    first["a"]["b"] = 2
    assert read_yaml(path) == {"a": {"b": 1}}
    path.write_text("a: {b: 3}\n", encoding="utf-8")
    assert read_yaml(path) == {"a": {"b": 3}}
