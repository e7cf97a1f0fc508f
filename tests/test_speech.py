"""flows/speech.py: copy cut into clips, and values said from number, digit and letter clips."""

from pathlib import Path

import pytest

from app.content import load
from flows import speech

CATALOG, _ = load(Path(__file__).resolve().parents[1] / "content")


def said(raw) -> str:
    return " ".join(part["text"] for part in speech.value(CATALOG, raw, "fr"))


@pytest.mark.parametrize(
    ("template", "parts"),
    [
        ("Menu", ["Menu"]),
        ("Q$n/$total $question", ["Q", ("n",), "/", ("total",), " ", ("question",)]),
        ("${a}b", [("a",), "b"]),
        ("5 $$ de plus", ["5 ", "$", " de plus"]),
    ],
)
def test_fragments(template, parts):
    assert speech.fragments(template) == parts


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (4, "quatre"),
        ("17", "dix-sept"),
        (71, "soixante et onze"),
        (100, "cent"),
        (280, "deux cent quatre-vingts"),
        (1000, "mille"),
        (2026, "deux mille vingt-six"),
        ("4/5", "quatre sur cinq"),
        ("2026-12-05", "cinq décembre deux mille vingt-six"),
        ("928352", "neuf deux huit trois cinq deux"),  # a reference: digit by digit
        ("*123#", "étoile un deux trois dièse"),
        ("RMCR", "R M C R"),
        ("", ""),
        (True, ""),
    ],
)
def test_values_are_said_from_small_clips(raw, words):
    assert said(raw) == words


def test_a_text_with_values_is_cut_into_clips_around_them():
    clips = speech.clips_of("report.done", "Merci. Référence : $reference. Notez-la.")
    assert clips == [("report.done~0", "Merci. Référence :"), ("report.done~2", ". Notez-la.")]
    assert speech.clips_of("menu.title", "Kalan") == [("menu.title", "Kalan")]


def test_every_clip_a_call_may_play_is_listed_once_with_its_text():
    clips = speech.clips(CATALOG, "fr")
    assert clips["voice.digit.7"] == "sept"
    assert clips["menu.title"] == CATALOG.get("menu.title")
    assert "sms.receipt" not in clips and not any(c.startswith("console.") for c in clips)
    parts = speech.say(CATALOG, "training.question", "fr", {"n": 1, "total": 5}, lambda r: [])
    assert all(part["clip"] in clips for part in parts)


def test_a_recording_is_tied_to_its_text():
    assert speech.digest("Bonjour") == speech.digest("Bonjour ")  # spacing is not a new text
    assert speech.digest("Bonjour") != speech.digest("Bonjour !")


def test_voice_wordings_must_name_a_screen_and_its_values():
    texts = {
        "menu.title": "Menu",
        "report.done": "Ref $reference",
        "voice.screen.menu.titre": "x",
        "voice.screen.report.done": "Ref $reference $extra",
    }
    problems = speech.overrides(texts)
    assert len(problems) == 2
    assert "names no copy key 'menu.titre'" in problems[0]
    assert "['extra']" in problems[1]
