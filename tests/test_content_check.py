"""`kalan content check`: its warnings and failures, and the course held to its facts and rules."""

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.cli import main
from app.content import load
from app.infra.config import DEFAULTS

from .test_content import (
    _tree,  # noqa: F401  (the tree fixture, a copy of content/ to break)
    edit,
    write,
)

# `kalan content check`


@pytest.fixture
def check(monkeypatch):
    """Run `kalan content check` on a tree, in a clean environment."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")  # flask sets it; undone afterwards

    def invoke(tree: Path, **env: str):
        return CliRunner().invoke(main, ["content", "check"], env={"CONTENT_DIR": str(tree), **env})

    return invoke


@pytest.mark.parametrize("limit", ["160", "100"])
def test_cli_content_check_passes_a_good_tree(check, tree, limit):
    if limit == "100":  # the course is written for 160-character screens
        shutil.rmtree(tree / "fr" / "course")
    result = check(tree, USSD_MAX_CHARS=limit)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("content ok: 1 language(s), ")
    assert ", 10 SMS keywords, " in result.stdout
    assert result.stdout.rstrip().endswith(f"screens fit {limit}")
    assert result.stderr == ""


def test_cli_content_check_prints_warnings(check, tree):
    write(tree / "en" / "ussd.yaml", 'lang:\n  name: "English"\n')
    result = check(tree)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: en: 1 of {len(load(tree)[0].texts['fr'])} texts translated, the rest falls "
        "back to fr; `kalan content coverage en` lists what is missing"
    ]
    assert "content ok: 2 language(s)" in result.stdout


def test_cli_content_check_fails_on_a_screen_too_long(check, tree):
    edit(tree, "menu.training", "Formation " * 20)
    result = check(tree)
    assert result.exit_code == 1
    assert (
        result.stderr
        == "error: fr: option '1. Formation Formation Formati' of 'menu' is too long\n"
    )
    assert "content ok" not in result.output


def test_cli_content_check_fails_on_a_broken_tree(check, tree):
    write(tree / "fr" / "extra.yaml", 'extra:\n  a: "ê"\n  b: 3\n')
    result = check(tree)
    assert result.exit_code == 1
    assert sorted(result.stderr.splitlines()) == [
        "error: fr/extra.yaml: 'extra.b' must be text, not int",
        "error: fr: 'extra.a' has characters outside GSM-7: 'ê'",
    ]


def test_cli_content_check_fails_on_a_keyword_with_two_meanings(check, tree):
    write(tree / "fr" / "words.yaml", "keywords:\n  help: [Arrêt]\n")
    result = check(tree)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: fr/words.yaml: keyword 'Arrêt' means 'help' here but 'stop' in fr/sms.yaml\n"
    )


def test_cli_content_check_names_questions_that_would_be_paged(check, tree):
    result = check(tree, USSD_MAX_CHARS="100")
    assert result.exit_code == 1
    assert "error: fr: screen 't.m1.q' does not fit on one page" in result.stderr


# `kalan content check` and the course: cited facts, the pre/post-test, balance


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def unconfirm(tree: Path, fact: str) -> None:
    """Mark one fact of facts.yaml as unconfirmed."""
    path = tree / "facts.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index(f"- id: {fact}\n")
    end = text.index("confidence:", start)
    line_end = text.index("\n", end)
    path.write_text(text[:end] + 'confidence: "?"' + text[line_end:], encoding="utf-8")


def edit_pretest(tree: Path, change) -> None:
    path = tree / "fr" / "course" / "pretest.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["items"])
    write(path, yaml.safe_dump(data, allow_unicode=True))


def all_right_first(items) -> None:
    for entry in items:
        for n, option in enumerate(entry["options"]):
            option.pop("correct", None)
            if n == 0:
                option["correct"] = True


def a_module_question(items) -> None:
    items[5]["question"] = "Dans un signalement, que faut-il éviter ?"  # m7q1's wording


def four_long_options(items) -> None:
    items[0]["options"] = items[0]["options"] + [{"text": "X" * 24, "feedback": "Non."}]
    for option in items[0]["options"]:
        option["text"] = "X" * 24


def tenth_at_the_limit(items) -> None:
    """The tenth item: 159 characters shown as "Q1/1", 161 as the learner sees it, "Q10/13"."""
    items[9]["question"] = "Q" * 49
    for option in items[9]["options"]:
        option["text"] = "X" * 24


CHECKED = {
    "a lesson citing a fact not in facts.yaml": (
        lambda tree: replace_once(
            tree / "fr" / "course" / "01-definition.yaml", 'source: "F4"', 'source: "F999"'
        ),
        "error: fr/course/01-definition.yaml lesson 1: cites 'F999', which is not in facts.yaml",
    ),
    "a question citing an unconfirmed fact": (
        lambda tree: replace_once(
            tree / "fr" / "course" / "02-lois.yaml", 'source: "F11, F10"', 'source: "F52"'
        ),
        "error: fr/course/02-lois.yaml m2q1: cites 'F52', an unconfirmed fact (?)",
    ),
    "a cited fact found unconfirmed": (
        lambda tree: unconfirm(tree, "F65"),
        "error: fr/course/06-signaler.yaml lesson 3: cites 'F65', an unconfirmed fact (?)",
    ),
    "a fact without its source": (
        lambda tree: replace_once(
            tree / "facts.yaml",
            'source: "OIT Yangon, What is child labour? (2015), WCMS_374191 ; OIT-IPEC"',
            'source: ""',
        ),
        "error: facts.yaml F4: missing source",
    ),
    "no facts file": (
        lambda tree: (tree / "facts.yaml").unlink(),
        "error: fr/course/01-definition.yaml lesson 1: cites 'F4', which is not in facts.yaml",
    ),
    "a pretest item worded as a module question": (
        lambda tree: edit_pretest(tree, a_module_question),
        "error: pretest.yaml p6: asks the same question as m7q1",
    ),
    "a pretest whose right answers all come first": (
        lambda tree: edit_pretest(tree, all_right_first),
        "error: pretest.yaml: option 1 is the right answer of 13 of 13 questions; "
        "at most 40% may share a position",
    ),
    "a pretest question too long for one screen": (
        lambda tree: edit_pretest(tree, four_long_options),
        "error: fr: screen 't.test' does not fit on one page",
    ),
    "a tenth pretest question too long once numbered Q10": (
        lambda tree: edit_pretest(tree, tenth_at_the_limit),
        "error: fr: screen 't.test' does not fit on one page",
    ),
}


@pytest.mark.parametrize(("breaks", "error"), CHECKED.values(), ids=CHECKED.keys())
def test_cli_content_check_holds_the_course_to_its_facts_and_rules(check, tree, breaks, error):
    breaks(tree)
    result = check(tree)
    assert result.exit_code == 1
    assert error in result.stderr.splitlines(), result.stderr
