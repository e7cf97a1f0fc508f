"""Translations: French's structure kept, the spelling rule, coverage, the glossary, warnings."""

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.cli import main
from app.content import ContentError, load
from app.infra.config import DEFAULTS
from app.training.translation import load_glossary
from flows.gsm import SPELLING, is_gsm7, respell

from .helpers import NO_AUDIO

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = "01-definition.yaml"  # m1: six lessons, m1q1 right on option 2


@pytest.fixture
def tree(tmp_path):
    """Return a copy of the real content tree, free to break."""
    return shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)


@pytest.fixture
def kalan(monkeypatch):
    """Run a `kalan content` verb on a tree, in a clean environment."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")

    def invoke(tree: Path, *args: str):
        return CliRunner().invoke(main, ["content", *args], env={"CONTENT_DIR": str(tree)})

    return invoke


def as_bm(tree: Path) -> Path:
    """Copy the French folder as a Bambara one, untranslated."""
    return shutil.copytree(tree / "fr", tree / "bm")


def change(path: Path, edit) -> None:
    """Rewrite a YAML file with edit applied to its data."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def swap_m1q1(data) -> None:
    """Mark option 1 of m1q1 right instead of option 2, as a translator reordering would."""
    options = data["quiz"][0]["options"]
    del options[1]["correct"]
    options[0]["correct"] = True


def problems(tree: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load(tree)
    return str(caught.value).splitlines()


# -- 1. a translation carries text only ----------------------------------------------------


def test_a_bm_copy_with_one_swapped_correct_answer_is_refused_by_content_check(tree, kalan):
    as_bm(tree)
    result = kalan(tree, "check")
    assert result.exit_code == 0, result.output
    assert "content ok: 2 language(s), " in result.stdout

    change(tree / "bm" / "course" / DEFINITION, swap_m1q1)
    result = kalan(tree, "check")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: bm/course/01-definition.yaml m1q1 option 1: correct is true here, false in fr"
    ]


def pretest_item(n: int, edit):
    return lambda data: edit(data["items"][n])


STRAYS = {
    "a right answer swapped": (DEFINITION, swap_m1q1, "m1q1 option 1: correct is true here"),
    "the right answer unmarked as such": (
        DEFINITION,
        lambda data: data["quiz"][0]["options"][1].update(correct=False),
        "m1q1 option 2: correct is false here, true in fr",
    ),
    "an option dropped": (
        DEFINITION,
        lambda data: data["quiz"][0]["options"].pop(),
        "m1q1: 2 options here, 3 in fr",
    ),
    "an option added": (
        DEFINITION,
        lambda data: data["quiz"][0]["options"].append({"text": "Autre", "feedback": "Non."}),
        "m1q1: 4 options here, 3 in fr",
    ),
    "a question id changed": (
        DEFINITION,
        lambda data: data["quiz"][1].update(id="m1q9"),
        "m1q2: id is 'm1q9' here, 'm1q2' in fr",
    ),
    "a question dropped": (DEFINITION, lambda d: d["quiz"].pop(), ": 4 questions here, 5 in fr"),
    "the module id changed": (DEFINITION, lambda d: d.update(id="m9"), ": id is 'm9' here"),
    "a lesson dropped": (DEFINITION, lambda d: d["lessons"].pop(), ": 5 lessons here, 6 in fr"),
    "the audience changed": (
        "02-lois.yaml",
        lambda data: data.update(audience="all"),
        "02-lois.yaml: audience is 'all' here, 'agents' in fr",
    ),
    "a lesson's source changed": (
        DEFINITION,
        lambda data: data["lessons"][0].update(source="F2"),
        "lesson 1: source is 'F2' here, 'F4' in fr",
    ),
    "a pretest item's objective changed": (
        "pretest.yaml",
        pretest_item(2, lambda item: item.update(objective="m4")),
        "pretest.yaml p3: objective is 'm4' here, 'm3' in fr",
    ),
    "a pretest item dropped": (
        "pretest.yaml",
        lambda data: data["items"].pop(),
        "pretest.yaml: 12 items here, 13 in fr",
    ),
    "a pretest answer swapped": (
        "pretest.yaml",
        pretest_item(0, lambda item: item["options"][0].update(correct=True)),
        "pretest.yaml p1 option 1: correct is true here, false in fr",
    ),
}


@pytest.mark.parametrize(("name", "edit", "expected"), STRAYS.values(), ids=STRAYS.keys())
def test_a_translation_that_changes_the_structure_is_refused(tree, name, edit, expected):
    as_bm(tree)
    change(tree / "bm" / "course" / name, edit)
    lines = problems(tree)
    assert [line for line in lines if line.startswith(f"bm/course/{name}")] == lines, lines
    assert any(expected in line for line in lines), lines


def text_only(data) -> None:
    """Keep the texts of a module file and drop everything French defines."""
    for key in ("id", "audience"):
        del data[key]
    for piece in data["lessons"] + data["quiz"]:
        piece.pop("source")
        piece.pop("id", None)
        for option in piece.get("options", ()):
            option.pop("correct", None)
    data["title"] = "Baara"


def test_a_partial_text_only_translation_loads_and_scores_as_french(tree):
    (tree / "bm" / "course").mkdir(parents=True)
    shutil.copy(tree / "fr" / "course" / DEFINITION, tree / "bm" / "course" / DEFINITION)
    change(tree / "bm" / "course" / DEFINITION, text_only)
    catalog, _ = load(tree)
    french, _ = load(ROOT / "content")
    assert catalog.course == french.course
    assert catalog.get("course.m1.title", "bm") == "Baara"
    assert "course.m2.title" not in catalog.texts["bm"]  # m2 falls back to French
    assert catalog.get("course.m2.title", "bm") == french.get("course.m2.title")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("99-extra.yaml", "id: m99\n", "bm/course/99-extra.yaml: no such file in fr/course/"),
        (DEFINITION, "title: Baara\n", "bm/course/01-definition.yaml: 0 lessons here, 6 in fr"),
        (DEFINITION, "- a\n", "bm/course/01-definition.yaml: the top level must be a mapping"),
        (DEFINITION, "title: [\n", "bm/course/01-definition.yaml: not valid YAML: "),
    ],
)
def test_a_translated_course_file_must_match_a_french_one(tree, name, text, expected):
    (tree / "bm" / "course").mkdir(parents=True)
    (tree / "bm" / "course" / name).write_text(text, encoding="utf-8")
    assert any(line.startswith(expected) for line in problems(tree))


def test_a_translated_file_translates_every_text(tree):
    as_bm(tree)
    change(tree / "bm" / "course" / DEFINITION, lambda data: data["lessons"][2].pop("text"))
    assert problems(tree) == ["bm/course/01-definition.yaml lesson 3: missing text"]


# -- 2. the spelling rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("ɛ ɔ ɲ ŋ", "bm", "è ò ny ng"),
        ("Ɛ Ɔ Ɲ Ŋ", "bm", "E O Ny Ng"),  # GSM-7 has no È or Ò
        ("Ɲɛnajɛ", "bm", "Nyènajè"),
        ("sɔgɔma", "bm", "sògòma"),
        ("Kalan - Menu principal", "bm", "Kalan - Menu principal"),
        ("ɛ ɔ ɲ ŋ", "fr", "ɛ ɔ ɲ ŋ"),  # no rule: French is checked as written
    ],
)
def test_the_spelling_rule(text, lang, expected):
    assert respell(text, lang) == expected


def test_every_spelling_rule_writes_gsm7():
    assert all(is_gsm7(out) for rule in SPELLING.values() for out in rule.values())


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("menu.title", "Kalan - Ɲɛfɔli", "Kalan - Nyèfòli"),
        ("menu.training", "Dɔnniya ŋaniya", "Dònniya nganiya"),
    ],
)
def test_bm_copy_is_respelled_as_it_loads(tree, key, text, expected):
    group, name = key.split(".")
    (tree / "bm").mkdir()
    (tree / "bm" / "ussd.yaml").write_text(f'{group}:\n  {name}: "{text}"\n', encoding="utf-8")
    catalog, _ = load(tree)
    assert catalog.get(key, "bm") == expected


def test_bm_course_copy_is_respelled_as_it_loads(tree):
    as_bm(tree)
    change(tree / "bm" / "course" / DEFINITION, lambda data: data.update(title="Baara ɲɛ"))
    assert load(tree)[0].get("course.m1.title", "bm") == "Baara nyè"


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("bm", "Fɛ̀n", "bm: 'menu.title' has characters outside GSM-7: '\u0300'"),  # a tone mark
        ("bm", "Fête", "bm: 'menu.title' has characters outside GSM-7: 'ê'"),
        ("en", "Ɲɛ", "en: 'menu.title' has characters outside GSM-7: 'Ɲɛ'"),  # no rule for en
    ],
)
def test_after_the_rule_screens_must_still_be_gsm7(tree, lang, text, expected):
    (tree / lang).mkdir()
    (tree / lang / "ussd.yaml").write_text(f'menu:\n  title: "{text}"\n', encoding="utf-8")
    assert problems(tree) == [expected]


# -- 3. coverage ---------------------------------------------------------------------------


def partly_translated(tree: Path) -> None:
    """Translate two screen texts and module m1 into bm."""
    (tree / "bm" / "course").mkdir(parents=True)
    (tree / "bm" / "ussd.yaml").write_text(
        'lang:\n  name: "Bamanankan"\nmenu:\n  title: "Kalan"\n', encoding="utf-8"
    )
    shutil.copy(tree / "fr" / "course" / DEFINITION, tree / "bm" / "course" / DEFINITION)


def test_coverage_counts_per_file_and_per_module(tree, kalan):
    partly_translated(tree)
    catalog, _ = load(tree)
    fr = catalog.texts["fr"]
    total, done = len(fr), len(catalog.texts["bm"])
    result = kalan(tree, "coverage", "bm")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == ["console.yaml", "dial.yaml", "sms.yaml", "ussd.yaml", "voice.yaml",
                          *(f"m{n}" for n in range(1, 14)), "pretest", "total"]  # fmt: skip
    m1 = sum(1 for key in fr if key.startswith(("course.m1.", "course.m1q")))
    assert rows["m1"] == [str(m1), "/", str(m1)]
    assert rows["m2"][0] == "0"
    assert rows["ussd.yaml"][0] == "2"
    assert sum(int(row[2]) for name, row in rows.items() if name != "total") == total
    assert rows["total"] == [str(done), "/", str(total), f"({done * 100 // total}", "%)"]
    assert "menu.training" not in result.stdout


def test_coverage_lists_the_missing_keys(tree, kalan):
    partly_translated(tree)
    result = kalan(tree, "coverage", "bm", "--keys")
    assert result.exit_code == 0, result.output
    missing = {line.strip() for line in result.stdout.splitlines() if line.startswith("    ")}
    assert {"menu.training", "course.m2.title", "course.p1.q", "sms.help"} <= missing
    assert not {"menu.title", "lang.name", "course.m1.title", "course.m1q1.o1"} & missing


@pytest.mark.parametrize(("lang", "share"), [("bm", "(0"), ("fr", "(100")])
def test_coverage_of_a_language_without_a_folder_or_of_french(tree, kalan, lang, share):
    result = kalan(tree, "coverage", lang)
    assert result.exit_code == 0, result.output
    name, done, _, total, percent, _ = result.stdout.splitlines()[-1].split()
    assert (name, percent) == ("total", share)
    assert done == ("0" if lang == "bm" else total)


def test_coverage_refuses_an_unknown_language(tree, kalan):
    result = kalan(tree, "coverage", "xx")
    assert result.exit_code == 2
    assert "Error: unknown language 'xx'; known: bm, fr" in result.stderr


# -- the glossary --------------------------------------------------------------------------

TERM = '{fr: "point focal", definition: "Qui reçoit les signalements.", '
GLOSSARIES = {
    "an open term": (f'terms:\n  - {TERM}bm: "", status: "à convenir"}}\n', []),
    "an agreed term": (f'terms:\n  - {TERM}bm: "x", status: "convenu"}}\n', []),
    "agreed without a bm term": (
        f'terms:\n  - {TERM}bm: "", status: "convenu"}}\n',
        [
            "glossary.yaml 'point focal': status must be 'convenu' with a bm term, "
            "'à convenir' without"
        ],
    ),  # fmt: skip
    "a bm term still open": (
        f'terms:\n  - {TERM}bm: "x", status: "à convenir"}}\n',
        [
            "glossary.yaml 'point focal': status must be 'convenu' with a bm term, "
            "'à convenir' without"
        ],
    ),  # fmt: skip
    "no bm field": (
        f'terms:\n  - {TERM}status: "à convenir"}}\n',
        ["glossary.yaml 'point focal': bm must be text, empty until agreed"],
    ),
    "no definition": (
        'terms:\n  - {fr: "orienter", bm: "", status: "à convenir"}\n',
        ["glossary.yaml 'orienter': missing definition"],
    ),
    "no French term": ('terms:\n  - {bm: ""}\n', ["glossary.yaml term 1: missing fr"]),
    "a term twice": (
        f'terms:\n  - {TERM}bm: "", status: "à convenir"}}\n'
        f'  - {TERM}bm: "", status: "à convenir"}}\n',
        ["glossary.yaml: duplicate term 'point focal'"],
    ),
    "not a list": ("terms: point focal\n", ["glossary.yaml: terms must be a list"]),
    "not YAML": ("terms: [\n", ["glossary.yaml: not valid YAML: "]),
}


@pytest.mark.parametrize(("text", "expected"), GLOSSARIES.values(), ids=GLOSSARIES.keys())
def test_the_glossary_shape_is_checked(tmp_path, text, expected):
    (tmp_path / "glossary.yaml").write_text(text, encoding="utf-8")
    found = load_glossary(tmp_path / "glossary.yaml")
    assert len(found) == len(expected)
    assert all(line.startswith(start) for line, start in zip(found, expected, strict=True))


def test_the_real_glossary_holds_the_course_terms_and_invents_none():
    assert load_glossary(ROOT / "content" / "glossary.yaml") == []
    terms = yaml.safe_load((ROOT / "content" / "glossary.yaml").read_text("utf-8"))["terms"]
    names = {term["fr"] for term in terms}
    assert {"travail des enfants", "pires formes de travail des enfants", "travail dangereux",
            "orpaillage", "mercure", "point focal", "signalement", "orienter",
            "CLMRS"} <= names  # fmt: skip


def test_content_check_refuses_a_broken_glossary(tree, kalan):
    (tree / "glossary.yaml").write_text('terms:\n  - {fr: "mercure"}\n', encoding="utf-8")
    result = kalan(tree, "check")
    assert result.exit_code == 1
    assert "error: glossary.yaml 'mercure': missing definition" in result.stderr.splitlines()


# -- 4. one summary line per language, not one warning per text ----------------------------


def test_missing_translations_make_one_warning_line_per_language(tree, kalan):
    partly_translated(tree)
    (tree / "en").mkdir()
    (tree / "en" / "ussd.yaml").write_text('lang:\n  name: "English"\n', encoding="utf-8")
    catalog, warnings = load(tree)
    total, done = len(catalog.texts["fr"]), len(catalog.texts["bm"])
    assert warnings == [
        f"bm: {done} of {total} texts translated, the rest falls back to fr; "
        "`kalan content coverage bm` lists what is missing",
        f"en: 1 of {total} texts translated, the rest falls back to fr; "
        "`kalan content coverage en` lists what is missing",
    ]
    result = kalan(tree, "check")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("warning:")] == [
        f"warning: {line}" for line in warnings
    ]


def test_a_full_translation_makes_no_warning(tree):
    as_bm(tree)
    assert load(tree)[1] == []
