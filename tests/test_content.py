"""Loading and checking the copy under content/: its problems, oversized screens and previews."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

import flows
from app.content import (
    ContentError,
    load,
    oversized,
    previews,
    sample_context,
    sms_previews,
)
from flows import Catalog, End

from .helpers import NO_AUDIO

ROOT = Path(__file__).resolve().parent.parent
CODE = "*123#"


@pytest.fixture(name="tree")
def _tree(tmp_path):
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


def test_previews_leave_the_served_catalogs_screens_alone():
    """The console's previews lay out every screen with sample values on a copy of the
    catalog: the screens the phones' hops keep are not crowded out by samples."""
    catalog, _ = load(ROOT / "content")
    list(previews(catalog, flows.build(catalog.course), 160, CODE))
    oversized(catalog, 160, CODE)
    assert catalog.laid == {} and catalog.screens == {}


# The sample values of what a reporter said, a case and a person (app/content.py, flows'
# samples()): none may stay in the screens a process keeps laid out. (A partner's name, on
# the screen that enrols an agent, may: one of a few organisations, no one's own.)
PERSONAL = ("P" * 20, "N" * 20, "ACDEFG", "444444", "+22370000000")


def test_no_screen_kept_shows_a_case_or_a_person():
    """Every screen, laid out as hops do with the samples' longest values: a screen that
    shows a case or a person must be private (flows/engine.py), or its words are kept."""
    from app.content import sample_context, samples
    from flows.engine import Route, layout, new_state

    catalog, _ = load(ROOT / "content")
    flow, ctx, found = flows.build(catalog.course), sample_context(catalog, CODE), samples(catalog)
    for node_id, node in flow.items():
        if isinstance(node, Route):
            continue
        for data in found.get(node_id, [{}]):
            state = {**new_state("fr"), "node": node_id, "back": [["menu", 0]], "data": data}
            layout(node, state, ctx, catalog, 160)
    assert len(catalog.laid) > 100  # the sweep did lay screens out
    kept = [repr(key) + repr(pages) for key, pages in catalog.laid.items()]
    assert [(mark, words) for words in kept for mark in PERSONAL if mark in words] == []
