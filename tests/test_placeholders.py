"""Placeholder recordings (app/voice/placeholders.py): espeak-ng and sox into 8 kHz WAV files."""

import wave

import pytest

from app.voice.audio import Library, coverage, file_name
from app.voice.placeholders import NoVoice, ToolsMissing, build, check_tools, missing_tools
from flows import Catalog

from .test_audio import CATALOG, CLIPS, TEXTS, touch

needs_tools = pytest.mark.skipif(
    bool(missing_tools()),
    reason="needs Debian's espeak-ng and sox: run deploy/audio-setup.sh (as root) to install them",
)


def names(root, lang="fr") -> list[str]:
    """Return the files of a language's audio folder, hidden ones too."""
    return sorted(p.name for p in (root / lang / "audio").iterdir())


def placeholders(clips: dict) -> list[str]:
    return sorted(file_name(clip, text, placeholder=True) for clip, text in clips.items())


@needs_tools
def test_build_makes_8khz_mono_wav_placeholders(tmp_path):
    report = build(CATALOG, "fr", tmp_path)
    assert (report.built, report.kept, report.removed, report.failed) == (4, 0, 0, [])
    assert names(tmp_path) == placeholders(CLIPS)  # nothing else: no scratch file left
    for name in names(tmp_path):
        with wave.open(str(tmp_path / "fr" / "audio" / name)) as audio:
            assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (
                8000,
                1,
                2,
            )
            assert audio.getnframes() > 800  # a tenth of a second at least: something is said
    assert coverage(CATALOG, "fr", Library(tmp_path)).complete


@needs_tools
def test_a_second_build_makes_nothing(tmp_path):
    build(CATALOG, "fr", tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "fr" / "audio").iterdir()}
    report = build(CATALOG, "fr", tmp_path)
    assert (report.built, report.kept, report.removed) == (0, 4, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "fr" / "audio").iterdir()} == before


@needs_tools
def test_force_remakes_placeholders_but_never_over_a_person(tmp_path):
    touch(tmp_path, "fr", file_name("voice.star", "étoile"), b"a person's")
    build(CATALOG, "fr", tmp_path)
    report = build(CATALOG, "fr", tmp_path, force=True)
    assert (report.built, report.kept) == (3, 1)
    assert (tmp_path / "fr" / "audio" / file_name("voice.star", "étoile")).read_bytes() == (
        b"a person's"
    )
    assert file_name("voice.star", "étoile", placeholder=True) not in names(tmp_path)


@needs_tools
def test_a_changed_text_replaces_its_placeholder_and_keeps_a_persons_file(tmp_path):
    """menu.title changes: a new placeholder, the old one removed; a person's old file stays."""
    build(CATALOG, "fr", tmp_path)
    human = touch(tmp_path, "fr", file_name("menu.title", CLIPS["menu.title"]), b"old take")
    changed = Catalog({"fr": {**TEXTS, "menu.title": "Kalan - Accueil"}})
    report = build(changed, "fr", tmp_path)
    assert (report.built, report.kept, report.removed) == (1, 3, 1)
    assert file_name("menu.title", CLIPS["menu.title"], placeholder=True) not in names(tmp_path)
    assert file_name("menu.title", "Kalan - Accueil", placeholder=True) in names(tmp_path)
    assert human.read_bytes() == b"old take"
    library = Library(tmp_path)
    new = file_name("menu.title", "Kalan - Accueil", placeholder=True)
    assert library.find("fr", "menu.title", "Kalan - Accueil") == new
    assert [p.clip for p in coverage(changed, "fr", library).stale] == ["menu.title"]


@needs_tools
def test_a_text_like_an_option_is_said_not_obeyed(tmp_path):
    """The text goes to espeak-ng as an argument: one starting with a dash is still a text."""
    catalog = Catalog({"fr": {"menu.title": "--help"}})
    report = build(catalog, "fr", tmp_path)
    assert (report.built, report.failed) == (1, [])
    with wave.open(str(tmp_path / "fr" / "audio" / names(tmp_path)[0])) as audio:
        assert audio.getnframes() > 800


@needs_tools
def test_a_clip_that_fails_is_reported_and_the_others_built(tmp_path):
    blocked = file_name("menu.title", CLIPS["menu.title"], placeholder=True)
    (tmp_path / "fr" / "audio" / blocked).mkdir(parents=True)  # a folder where the file goes
    report = build(CATALOG, "fr", tmp_path)
    assert report.built == 3
    assert [clip for clip, _ in report.failed] == ["menu.title"]
    assert "Is a directory" in report.failed[0][1]
    assert [n for n in names(tmp_path) if n.startswith(".")] == []


@needs_tools
def test_progress_hears_each_clip(tmp_path):
    heard = []
    build(CATALOG, "fr", tmp_path, progress=lambda done, total: heard.append((done, total)))
    assert heard == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_a_language_espeak_cannot_speak_gets_no_placeholder(tmp_path):
    """Bambara: no robot voice pretends to speak it."""
    with pytest.raises(NoVoice):
        build(Catalog({"fr": TEXTS, "bm": {"voice.star": "dolo"}}), "bm", tmp_path)
    assert not (tmp_path / "bm").exists()


def test_missing_tools_are_named_with_their_packages_and_the_setup_script():
    with pytest.raises(ToolsMissing) as caught:
        check_tools(which=lambda tool: None if tool == "sox" else f"/usr/bin/{tool}")
    assert str(caught.value) == (
        "sox not found: install the Debian packages espeak-ng sox "
        "(apt-get install espeak-ng sox, or as root: bash deploy/audio-setup.sh)"
    )
    check_tools(which=lambda tool: f"/usr/bin/{tool}")  # both there: no error
