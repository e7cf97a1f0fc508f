"""Inbound SMS keywords: read from content/, in any case, accent or language."""

import shutil
from pathlib import Path

import pytest

from app.content import ContentError, load
from app.messaging.keywords import BASE, MEANINGS, keyword, table
from flows import Catalog

from .helpers import NO_AUDIO

ROOT = Path(__file__).resolve().parent.parent
CATALOG, _ = load(ROOT / "content")
# Every meaning with one word, so that a table of sections below lacks nothing else.
ALL = {meaning: [meaning.upper()] for meaning in MEANINGS}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),
        ("stop", "stop"),
        ("Stop", "stop"),
        ("  stop  ", "stop"),
        ("STOP merci", "stop"),
        ("ARRET", "stop"),
        ("Arret", "stop"),
        ("ARRÊT", "stop"),
        ("arrêt.", "stop"),
        ("Arrêt, svp", "stop"),
        ("DESABONNER", "stop"),
        ("Désabonner svp", "stop"),
        ("DÉSINSCRIRE", "stop"),
        ("desinscrire", "stop"),
        ("START", "start"),
        ("start", "start"),
        ("ABONNER", "start"),
        ("abonner", "start"),
        ("AIDE", "help"),
        ("aide?", "help"),
        ("HELP", "help"),
        ("FORMATION", "formation"),
        ("formation", "formation"),
        ("SIGNALER!", "signaler"),
        ("Signaler un cas", "signaler"),
        ("\u0041\u0052\u0052\u0045\u0302\u0054", "stop"),  # ARRÊT with a combining accent
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("STOPPER", None),
        ("ARRETER", None),
        ("bonjour", None),
        ("merci STOP", None),  # only the first word counts
        ("S T O P", None),
        ("1", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("😀", None),
        ("🙏🙏", None),
        ("😀 STOP", "stop"),  # no word before it
    ],
)
def test_keyword(text, expected):
    assert keyword(text, CATALOG) == expected


def test_the_french_words_come_from_content():
    """Only the carriers' English words are in the code; a catalog without content has those."""
    assert set(CATALOG.keywords) - set(BASE) == {
        "ARRET", "DESABONNER", "DESINSCRIRE", "ABONNER", "AIDE", "FORMATION", "SIGNALER",
    }  # fmt: skip
    bare, _ = table({})
    assert bare == BASE
    assert keyword("ARRET", Catalog({}, keywords=bare)) is None
    assert keyword("STOP", Catalog({}, keywords=bare)) == "stop"


def test_table_merges_every_language():
    found, problems = table(
        {
            "fr/sms.yaml": {**ALL, "stop": ["Arrêt", "ARRET"]},  # one word, two spellings
            "bm/sms.yaml": {"stop": ["arrêt", "JƆ"], "help": ["dɛmɛ"]},  # made-up words
        }
    )
    assert problems == []
    assert found == {
        **BASE,
        "FORMATION": "formation",
        "SIGNALER": "signaler",
        "ARRET": "stop",
        "JƆ": "stop",
        "DƐMƐ": "help",
    }
    catalog = Catalog({}, keywords=found)
    assert [keyword(text, catalog) for text in ("jɔ", "Dɛmɛ svp", "arret")] == [
        "stop",
        "help",
        "stop",
    ]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"fr/sms.yaml": ["STOP"]}, "fr/sms.yaml: keywords must map each meaning to a list"),
        ({"fr/sms.yaml": {**ALL, "arret": ["ARRET"]}}, "fr/sms.yaml: unknown keyword meaning"),
        ({"fr/sms.yaml": {**ALL, "stop": "ARRET"}}, "fr/sms.yaml: keywords.stop must be a list"),
        ({"fr/sms.yaml": {**ALL, "stop": [False]}}, "fr/sms.yaml: keywords.stop must be a list"),
        (
            {"fr/sms.yaml": {**ALL, "stop": ["ARRET SVP"]}},
            "fr/sms.yaml: keyword 'ARRET SVP' must be exactly one word",
        ),
        ({"fr/sms.yaml": {**ALL, "stop": ["!!"]}}, "fr/sms.yaml: keyword '!!' must be exactly one"),
        (
            {"fr/sms.yaml": {**ALL, "help": ["Stop"]}},
            "fr/sms.yaml: keyword 'Stop' means 'help' here but 'stop' in app/messaging/keywords.py",
        ),
        (
            {"fr/sms.yaml": {**ALL, "stop": ["ARRET"], "help": ["Arrêt"]}},
            "fr/sms.yaml: keyword 'Arrêt' means 'help' here but 'stop' in fr/sms.yaml",
        ),
        (
            {"bm/sms.yaml": {"help": ["ARRET"]}, "fr/sms.yaml": {**ALL, "stop": ["arrêt"]}},
            "fr/sms.yaml: keyword 'arrêt' means 'stop' here but 'help' in bm/sms.yaml",
        ),
        ({"fr/sms.yaml": {"signaler": ["SIGNALER"]}}, "no keyword means 'formation'"),
        ({}, "no keyword means 'formation'"),
    ],
)
def test_table_rejects(sections, expected):
    _, problems = table(sections)
    assert any(line.startswith(expected) for line in problems), problems


# Through the content files, as the app and `kalan content check` load them.


@pytest.fixture
def tree(tmp_path):
    """Return a copy of the real content tree, free to break."""
    return shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)


def test_a_second_language_adds_its_words_for_everyone(tree):
    (tree / "bm").mkdir()
    (tree / "bm" / "sms.yaml").write_text(
        "keywords:\n  stop: [JƆ, Arrêt]\n  help: [dɛmɛ]\n", encoding="utf-8"
    )
    catalog, _ = load(tree)
    assert [keyword(text, catalog) for text in ("Jɔ", "DƐMƐ", "arret", "STOP", "aide")] == [
        "stop",
        "help",
        "stop",
        "stop",
        "help",
    ]


@pytest.mark.parametrize(
    ("path", "yaml", "expected"),
    [
        (
            "bm/sms.yaml",
            "keywords:\n  help: [ARRET]\n",
            "bm/sms.yaml: keyword 'ARRET' means 'help' here but 'stop' in fr/sms.yaml",
        ),
        (
            "fr/extra.yaml",
            "keywords:\n  start: [STOP]\n",
            "fr/extra.yaml: keyword 'STOP' means 'start' here but 'stop' in app/messaging",
        ),
        ("fr/extra.yaml", "keywords:\n  stop: [no]\n", "fr/extra.yaml: keywords.stop must be"),
        ("fr/extra.yaml", "keywords:\n  quit: [QUIT]\n", "fr/extra.yaml: unknown keyword"),
    ],
)
def test_load_rejects_bad_keywords(tree, path, yaml, expected):
    (tree / path).parent.mkdir(exist_ok=True)
    (tree / path).write_text(yaml, encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        load(tree)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(expected) for line in lines), lines


def test_load_needs_a_word_for_each_meaning(tree):
    sms = tree / "fr" / "sms.yaml"
    sms.write_text(sms.read_text(encoding="utf-8").replace("  formation: [FORMATION]\n", ""))
    with pytest.raises(ContentError, match="no keyword means 'formation'"):
        load(tree)
