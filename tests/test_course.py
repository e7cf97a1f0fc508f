"""The course files: schema, limits, GSM-7, and the pre/post-test."""

from pathlib import Path

import pytest
import yaml

from app.content import load
from app.training.course import CourseError, load_course

ROOT = Path(__file__).resolve().parent.parent


def module(**changes) -> dict:
    """Return a valid module, changed as asked."""
    raw = {
        "id": "m1",
        "title": "Travail des enfants",
        "audience": "all",
        "lessons": [{"text": f"Écran {n}.", "source": "F1"} for n in (1, 2, 3)],
        "quiz": [
            {
                "id": f"m1q{n}",
                "question": f"Question {n} ?",
                "source": "F1",
                "options": [
                    {"text": "Oui", "correct": True, "feedback": "Bien vu."},
                    {"text": "Non", "feedback": "Non, relisez le texte."},
                ],
            }
            for n in (1, 2, 3)
        ],
        "takeaway": "A retenir.",
    }
    raw.update(changes)
    return raw


def write(folder: Path, *modules: dict, pretest=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, raw in enumerate(modules, 1):
        (folder / f"0{n}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    if pretest is not None:
        (folder / "pretest.yaml").write_text(yaml.safe_dump({"items": pretest}), "utf-8")
    return folder


def test_a_valid_module_loads_with_its_copy(tmp_path):
    course, texts = load_course(write(tmp_path / "course", module(), pretest=["m1q2"]))
    (only,) = course.modules
    assert (only.id, only.audience, only.lessons, len(only.quiz)) == ("m1", "all", 3, 3)
    assert only.quiz[0].right == 1
    assert course.pretest == ("m1q2",) and course.question("m1q2") is not None
    assert texts["course.m1.l2"] == "Écran 2."
    assert texts["course.m1q3.f2"] == "Non, relisez le texte."
    assert texts["course.m1.takeaway"] == "A retenir."


def test_no_course_folder_is_an_empty_course(tmp_path):
    course, texts = load_course(tmp_path / "nothing")
    assert course.modules == () and texts == {}


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
    with pytest.raises(CourseError) as caught:
        load_course(write(tmp_path / "course", raw))
    assert problem in str(caught.value)


def test_duplicate_ids_and_unknown_pretest_items(tmp_path):
    folder = write(tmp_path / "course", module(), module(), pretest=["m9q9"])
    with pytest.raises(CourseError) as caught:
        load_course(folder)
    assert "duplicate id 'm1'" in str(caught.value)
    assert "pretest: unknown question 'm9q9'" in str(caught.value)


def test_the_course_copy_joins_the_catalog(tmp_path):
    (tmp_path / "fr").mkdir()
    for source in (ROOT / "content" / "fr").glob("*.yaml"):
        (tmp_path / "fr" / source.name).write_text(source.read_text("utf-8"), "utf-8")
    write(tmp_path / "fr" / "course", module())
    catalog, _ = load(tmp_path)
    assert catalog.course.module("m1").lessons == 3
    assert catalog.get("course.m1q1.q") == "Question 1 ?"


def test_the_real_course_loads():
    catalog, warnings = load(ROOT / "content")
    course = catalog.course
    assert len(course.modules) in (0, 7, 8)  # 0 until the content lands
    for mod in course.modules:
        assert mod.audience in ("all", "agents")
        assert 3 <= mod.lessons <= 6 and 3 <= len(mod.quiz) <= 5
