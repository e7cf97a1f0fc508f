"""Loading and checking the copy under content/, and the `kalan content check` verb."""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import flows
from app.cli import main
from app.content import (
    ContentError,
    load,
    oversized,
    previews,
    sample_context,
    sms_previews,
)
from app.infra.config import DEFAULTS
from flows import Catalog, End

from .helpers import NO_AUDIO

ROOT = Path(__file__).resolve().parent.parent
CODE = "*123#"


@pytest.fixture
def tree(tmp_path):
    """Return a copy of the real content tree, free to break."""
    return shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def edit(tree: Path, key: str, value: str | None) -> None:
    """Set (or with None, delete) a dotted key of fr/ussd.yaml."""
    path = tree / "fr" / "ussd.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    *parents, last = key.split(".")
    node = data
    for name in parents:
        node = node[name]
    if value is None:
        del node[last]
    else:
        node[last] = value
    write(path, yaml.safe_dump(data, allow_unicode=True))


def problems(tree: Path) -> list[str]:
    """Return the lines of the ContentError that loading tree raises."""
    with pytest.raises(ContentError) as caught:
        load(tree)
    return str(caught.value).splitlines()


def test_valid_tree_loads(tree):
    catalog, warnings = load(tree)
    assert warnings == []
    assert catalog.languages == ("fr",)
    assert catalog.names == {"fr": "Francais"}
    assert catalog.get("menu.title") == "Kalan - Menu principal"
    assert catalog.get("dial.calling", code=CODE, phone="+223") == (
        "Appel du *123# depuis le +223. Tapez q pour raccrocher."
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"fr/extra.yaml": 'extra:\n  greeting: "Fête à la maison"\n'},
            "fr: 'extra.greeting' has characters outside GSM-7: 'ê'",
        ),
        (
            {"fr/extra.yaml": 'extra:\n  quote: "l’été « chaud »"\n'},
            "fr: 'extra.quote' has characters outside GSM-7: '«»’'",
        ),
        (
            {"fr/extra.yaml": 'menu:\n  title: "Autre titre"\n'},
            "fr/ussd.yaml: duplicate key 'menu.title'",
        ),
        (
            {"fr/extra.yaml": "extra:\n  count: 3\n"},
            "fr/extra.yaml: 'extra.count' must be text, not int",
        ),
        (
            {"fr/extra.yaml": "extra:\n  items: [a, b]\n"},
            "fr/extra.yaml: 'extra.items' must be text, not list",
        ),
        (
            {"fr/extra.yaml": "extra:\n  empty:\n"},
            "fr/extra.yaml: 'extra.empty' must be text, not NoneType",
        ),
        ({"fr/extra.yaml": "extra: [unclosed\n"}, "fr/extra.yaml: not valid YAML: "),
        ({"fr/extra.yaml": "- a\n- b\n"}, "fr/extra.yaml: the top level must be a mapping"),
        (
            {"en/ussd.yaml": "lang:\n  name: English\nmenu:\n  titel: Home\n"},
            "en: key 'menu.titel' does not exist in fr",
        ),
        (
            {"en/ussd.yaml": 'lang:\n  name: English\naccount:\n  name_done: "Thanks $nom."\n'},
            "en: 'account.name_done' placeholders differ from fr",
        ),
        (
            {"en/ussd.yaml": 'lang:\n  name: English\nhelp:\n  navigation: "Dial again."\n'},
            "en: 'help.navigation' placeholders differ from fr",
        ),
    ],
)
def test_load_rejects(tree, files, expected):
    for name, text in files.items():
        write(tree / name, text)
    lines = problems(tree)
    assert any(line.startswith(expected) for line in lines), lines


def test_load_rejects_a_file_that_is_not_utf8(tree):
    (tree / "fr" / "extra.yaml").write_bytes(b'extra:\n  a: "caf\xe9"\n')
    lines = problems(tree)
    assert len(lines) == 1
    assert lines[0].startswith("fr/extra.yaml: not valid YAML: ")


def test_load_lists_every_problem(tree):
    write(tree / "fr" / "extra.yaml", 'extra:\n  a: "ê"\n  b: 3\n')
    assert sorted(problems(tree)) == [
        "fr/extra.yaml: 'extra.b' must be text, not int",
        "fr: 'extra.a' has characters outside GSM-7: 'ê'",
    ]


def test_load_needs_a_french_folder(tmp_path):
    write(tmp_path / "en" / "ussd.yaml", "lang:\n  name: English\n")
    with pytest.raises(ContentError, match=r"no fr/ folder"):
        load(tmp_path)


def test_load_needs_the_french_language_name(tree):
    edit(tree, "lang.name", None)
    assert "fr: missing 'lang.name'" in problems(tree)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("menu.training", "menu: missing copy 'menu.training'"),
        ("account.name_error", "account.name: missing copy 'account.name_error'"),
        ("help.about", "about: missing copy 'help.about'"),
    ],
)
def test_load_rejects_copy_the_flow_needs(tree, key, expected):
    edit(tree, key, None)
    assert problems(tree) == [expected]


@pytest.mark.parametrize("key", ["nav.next", "error.choice"])
def test_load_rejects_missing_engine_copy(tree, key):
    edit(tree, key, None)
    with pytest.raises(ContentError, match=key):
        load(tree)


def test_second_language_with_missing_translations(tree):
    write(
        tree / "en" / "ussd.yaml", 'lang:\n  name: "English"\nmenu:\n  title: "Kalan - Main menu"\n'
    )
    catalog, warnings = load(tree)
    assert catalog.languages == ("fr", "en")
    assert catalog.names == {"fr": "Francais", "en": "English"}
    assert warnings == [  # one line for the language, not one per missing text
        f"en: 2 of {len(catalog.texts['fr'])} texts translated, the rest falls back to fr; "
        "`kalan content coverage en` lists what is missing"
    ]
    assert catalog.get("menu.title", "en") == "Kalan - Main menu"
    assert catalog.get("menu.training", "en") == "Formation"
    assert (
        catalog.get("account.name_done", "en", name="Awa") == "Merci Awa, votre nom est enregistré."
    )


def test_oversized_accepts_the_real_content():
    catalog, _ = load(ROOT / "content")
    assert oversized(catalog, 160, CODE) == []


def test_oversized_reports_an_option_too_long_on_the_menu(tree):
    edit(tree, "menu.training", "Formation " * 20)
    catalog, _ = load(tree)
    assert oversized(catalog, 160, CODE) == [
        "fr: option '1. Formation Formation Formati' of 'menu' is too long"
    ]


@pytest.mark.parametrize(
    ("template", "paged"),
    [
        ("$n/$total $lesson", []),
        # "Lecon 3/6 : " would push the longest lessons onto a second screen.
        ("Lecon $n/$total : $lesson", ["t.m1.l2", "t.m2.l5", "t.m3.l3"]),
    ],
)
def test_oversized_reports_a_lesson_that_would_page(tree, template, paged):
    """A lesson is one screen: each 99 costs an agent a hop, and a lesson read in two is lost."""
    edit(tree, "training.lesson", template)
    catalog, _ = load(tree)
    found = oversized(catalog, 160, CODE)
    for node in paged:
        assert f"fr: screen {node!r} does not fit on one page" in found
    assert found == [] if not paged else all("does not fit on one page" in line for line in found)


def test_oversized_reports_a_test_question_that_would_page(tree):
    """The pre/post-test's questions show with all their options, as a module's do."""
    edit(tree, "training.question", "Question $n sur $total, lisez bien avant : $question")
    catalog, _ = load(tree)
    found = oversized(catalog, 160, CODE)
    assert "fr: screen 't.test' does not fit on one page" in found
    assert "fr: screen 't.m1.q' does not fit on one page" in found


@pytest.mark.parametrize("key", ["account.profile_opt", "menu.quit"])
def test_oversized_reports_an_option_too_long_on_any_screen(tree, key):
    edit(tree, key, "Mon profil " * 20)
    catalog, _ = load(tree)
    assert oversized(catalog, 160, CODE) != []


def test_overflows_reports_an_end_screen_over_one_reply():
    """The real flow has no End node yet, so this goes through flows.overflows directly."""
    catalog, _ = load(ROOT / "content")
    long_goodbye = Catalog(
        {"fr": {**catalog.texts["fr"], "bye.text": "Au revoir " * 30}}, catalog.names
    )
    flow = {**flows.FLOW, "bye": End("bye.text")}
    ctx = sample_context(catalog, CODE)
    assert flows.overflows(flow, long_goodbye, ctx, 160) == [
        "fr: end screen 'bye' is over 156 characters"
    ]
    short = Catalog({"fr": {**catalog.texts["fr"], "bye.text": "Au revoir."}}, catalog.names)
    assert flows.overflows(flow, short, ctx, 160) == []


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


# Previews: every screen and SMS filled with sample values


def test_every_previewed_screen_is_filled_with_sample_values():
    """No screen shows an empty slot ("Signalement  :", "agent de .", "Merci ,") or a None."""
    catalog, _ = load(ROOT / "content")
    blank = re.compile(r"None|\$\w|  | [.,]")
    shown = list(previews(catalog, flows.build(catalog.course), 160, CODE))
    assert [(node, reply) for node, reply in shown if blank.search(reply)] == []
    done = [reply for node, reply in shown if node == "r.done"]
    assert done == ["END Merci. Référence : 444444. Notez-la. Suivi : *123#, choix 4."]
    for node in ("track.status", "track.unknown"):
        assert any("444444" in reply for name, reply in shown if name == node), node


def test_every_sms_preview_is_filled_as_it_is_sent_at_its_longest(app):
    """Each sms.* template once, every placeholder filled with real labels at their longest."""
    catalog = app.extensions["catalog"]
    filled = dict(sms_previews(catalog, app.config))
    assert sorted(filled) == sorted(k for k in catalog.texts["fr"] if k.startswith("sms."))
    assert [key for key, text in filled.items() if "$" in text] == []
    alert = filled["sms.case_alert_urgent"]
    assert "Ouéléssébougou, Site d'orpaillage de Kalana" in alert  # the longest cercle's name
    assert "Eboulement / effondrement" in alert and "31/12 23h59" in alert
    assert "*123#" in filled["sms.receipt"]
    modules = [
        catalog.get("sms.module", title=catalog.get(f"course.{m.id}.title"),
                    score=f"{len(m.quiz)}/{len(m.quiz)}",
                    takeaway=catalog.get(f"course.{m.id}.takeaway"))
        for m in catalog.course.modules
    ]  # fmt: skip
    assert filled["sms.module"] == max(modules, key=len)
    assert filled["sms.recall_question"].count("\n1. ") == 1


# The console's copy: French in full, as only phones are held to GSM-7

WORKAROUNDS = re.compile(
    r"\b(francais|garcons?|boeufs?|oeuvres?|coeurs?|soeurs?|voeux|noeuds?|Eboulement|Etat|"
    r"Ecole|Age)\b"
)


def test_console_copy_may_use_every_french_letter(tree):
    """« Bœufs », français, l’école, Âge: no problem, no warning on a page; on a phone, refused."""
    path = tree / "fr" / "console.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    full = "« Bœufs », en français, à l’école — Âge : être"
    data["console"]["nav"]["content"] = full
    write(path, yaml.safe_dump(data, allow_unicode=True))
    catalog, warnings = load(tree)
    assert catalog.get("console.nav.content") == full
    assert not [line for line in warnings if "console." in line]
    edit(tree, "help.about", full)
    assert "fr: 'help.about' has characters outside GSM-7: '«»Âçêœ—’'" in problems(tree)


def test_the_console_copy_writes_french_in_full():
    """No GSM-7 spelling ("francais", "Garcons", "Boeufs") in console.yaml: pages have ç and œ."""
    catalog, _ = load(ROOT / "content")
    found = {key: WORKAROUNDS.findall(text) for key, text in catalog.texts["fr"].items()
             if key.startswith("console.") and WORKAROUNDS.search(text)}  # fmt: skip
    assert found == {}
