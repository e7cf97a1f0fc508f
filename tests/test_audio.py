"""Recordings on disk (app/voice/audio.py): their names, the library's lookups, URLs, coverage."""

from pathlib import Path

import pytest

from app.content import load
from app.voice.audio import Library, audio_url, coverage, file_name, parse
from flows import Catalog, speech

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {
    "menu.title": "Kalan - Menu principal",
    "report.done": "Merci. Référence : $reference. Notez-la.",
    "voice.star": "étoile",
    "sms.welcome": "Bienvenue",  # an SMS is never said: no clip
}
CATALOG = Catalog({"fr": TEXTS})
# The clips of TEXTS, by id: report.done is cut at its placeholder.
CLIPS = {
    "menu.title": "Kalan - Menu principal",
    "report.done~0": "Merci. Référence :",
    "report.done~2": ". Notez-la.",
    "voice.star": "étoile",
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def touch(root: Path, lang: str, name: str, data: bytes = b"RIFF") -> Path:
    """Put a file in a language's audio folder; return its path."""
    folder = root / lang / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_the_clips_of_the_small_catalog():
    """The cases below rely on these clips: check them once against flows/speech.py."""
    assert speech.clips(CATALOG, "fr") == CLIPS


def test_a_name_holds_the_clip_and_the_hash_of_its_text():
    name = file_name("report.done~2", "Notez-la.")
    assert name == f"report.done~2-{speech.digest('Notez-la.')}.wav"
    rec = parse(name)
    assert (rec.clip, rec.digest, rec.placeholder, rec.ext) == (
        "report.done~2", speech.digest("Notez-la."), False, "wav",
    )  # fmt: skip
    tts = parse(file_name("menu.title", "Menu", placeholder=True))
    assert tts.placeholder and tts.name.endswith(".tts.wav") and tts.clip == "menu.title"
    assert parse("menu.title-0123456789.mp3").ext == "mp3"


@pytest.mark.parametrize(
    "name",
    ["menu.title.wav", "menu.title-012345678.wav", "menu.title-0123456789.ogg",
     "menu.title-0123456789.wav.txt", "menu.title-012345678G.wav", ".menu-0123456789.wav",
     "..-0123456789.wav", "../x-0123456789.wav", "a/b-0123456789.wav", "-0123456789.wav",
     "menu title-0123456789.wav", "menu.title-0123456789.TTS.wav"],
)  # fmt: skip
def test_other_names_are_no_recordings(name):
    assert parse(name) is None


def test_every_clip_of_the_real_catalog_names_a_file():
    """Clip ids become file and URL names: each one's name must read back as the same clip."""
    catalog, _ = load(ROOT / "content")
    clips = speech.clips(catalog, "fr")
    assert len(clips) > 1000
    for clip, text in clips.items():
        rec = parse(file_name(clip, text))
        assert rec is not None and rec.clip == clip, clip


def test_find_prefers_wav_then_a_person_to_a_placeholder(tmp_path):
    """Only WAV is joined into a call's prompts: a person's MP3 must not silence a clip."""
    library = Library(tmp_path)
    text = CLIPS["menu.title"]
    placeholder = file_name("menu.title", text, placeholder=True)
    touch(tmp_path, "fr", placeholder)
    assert library.find("fr", "menu.title", text) == placeholder
    mp3 = file_name("menu.title", text).replace(".wav", ".mp3")
    touch(tmp_path, "fr", mp3)
    library.scan()
    assert library.find("fr", "menu.title", text) == placeholder
    touch(tmp_path, "fr", file_name("menu.title", text))
    library.scan()
    assert library.find("fr", "menu.title", text) == file_name("menu.title", text)


def test_find_plays_only_the_current_text(tmp_path):
    """A recording of an older text is never played, and another language's is not this one's."""
    library = Library(tmp_path)
    touch(tmp_path, "fr", file_name("menu.title", "Kalan - Ancien menu"))
    touch(tmp_path, "bm", file_name("voice.star", "étoile"))
    assert library.find("fr", "menu.title", "Kalan - Menu principal") is None
    assert library.find("fr", "menu.title", "Kalan - Ancien menu") is not None
    assert library.find("fr", "voice.star", "étoile") is None
    assert library.find("bm", "voice.star", "étoile") == file_name("voice.star", "étoile")
    assert library.find("xx", "voice.star", "étoile") is None


def test_find_ignores_spacing_as_the_hash_does(tmp_path):
    touch(tmp_path, "fr", file_name("menu.title", "Kalan - Menu principal"))
    assert Library(tmp_path).find("fr", "menu.title", "Kalan -  Menu\nprincipal ") is not None


def test_a_miss_rereads_the_folders_at_most_every_few_seconds(tmp_path):
    """A build while the app runs shows without a restart, yet misses cost no disk each time."""
    clock = Clock()
    library = Library(tmp_path, rescan_s=5, clock=clock)
    text = CLIPS["voice.star"]
    assert library.find("fr", "voice.star", text) is None  # the first look reads the disk
    touch(tmp_path, "fr", file_name("voice.star", text, placeholder=True))
    clock.now += 4.9
    assert library.find("fr", "voice.star", text) is None  # too soon to look again
    clock.now += 0.1
    assert library.find("fr", "voice.star", text) == file_name("voice.star", text, True)


def test_a_hit_never_reads_the_disk(tmp_path):
    clock = Clock()
    library = Library(tmp_path, rescan_s=5, clock=clock)
    name = file_name("voice.star", "étoile")
    path = touch(tmp_path, "fr", name)
    assert library.find("fr", "voice.star", "étoile") == name
    path.unlink()
    clock.now += 60
    assert library.find("fr", "voice.star", "étoile") == name  # the index, as last read


def test_a_missing_root_finds_nothing(tmp_path):
    library = Library(tmp_path / "nowhere")
    assert library.find("fr", "voice.star", "étoile") is None
    assert library.recordings("fr") == []


def test_path_names_only_well_formed_files_that_exist(tmp_path):
    library = Library(tmp_path)
    name = file_name("voice.star", "étoile", placeholder=True)
    path = touch(tmp_path, "fr", name)
    touch(tmp_path, "fr", ".voice.star-0123456789.tts.wav.partial")
    (tmp_path / "fr" / "ussd.yaml").write_text("x: y")
    touch(tmp_path, ".", name)  # root/./audio/: no language's folder
    assert library.path("fr", name) == path
    for lang, other in [("fr", "ussd.yaml"), ("fr", "../ussd.yaml"), ("FR", name), (".", name),
                        ("..", name), ("fr/audio", name), ("fr", ".voice.star-0123456789.tts.wav"),
                        ("fr", "voice.star-0123456789.wav"), ("bm", name)]:  # fmt: skip
        assert library.path(lang, other) is None, (lang, other)


@pytest.mark.parametrize(
    ("base", "expected"),
    [("", "/audio/fr/report.done~2-0123456789.wav"),
     ("https://kalan.example.org", "https://kalan.example.org/audio/fr/report.done~2-0123456789.wav"),
     ("https://cdn.example.org/kalan/", "https://cdn.example.org/kalan/audio/fr/report.done~2-0123456789.wav")],
)  # fmt: skip
def test_audio_url(base, expected):
    assert audio_url(base, "fr", "report.done~2-0123456789.wav") == expected


# coverage


def test_coverage_of_nothing_recorded_lists_every_clip_missing(tmp_path):
    report = coverage(CATALOG, "fr", Library(tmp_path))
    assert report.clips == 4 and not report.complete
    assert [(p.clip, p.text, p.name) for p in report.missing] == [
        (clip, text, file_name(clip, text)) for clip, text in sorted(CLIPS.items())
    ]
    assert report.stale == report.placeholder == report.human == report.orphans == ()
    assert [why for _, why in report.to_record()] == ["missing"] * 4


def test_coverage_counts_people_and_placeholders(tmp_path):
    for clip, text in CLIPS.items():
        touch(tmp_path, "fr", file_name(clip, text, placeholder=True))
    touch(tmp_path, "fr", file_name("voice.star", "étoile"))  # a person's, beside its placeholder
    report = coverage(CATALOG, "fr", Library(tmp_path))
    assert report.complete and report.missing == report.stale == ()
    assert report.human == ("voice.star",)
    assert [p.clip for p in report.placeholder] == ["menu.title", "report.done~0", "report.done~2"]
    # A studio records what placeholders say, not what people already recorded.
    assert [(p.clip, why) for p, why in report.to_record()] == [
        ("menu.title", "placeholder"), ("report.done~0", "placeholder"),
        ("report.done~2", "placeholder"),
    ]  # fmt: skip


def test_a_changed_text_makes_its_recording_stale(tmp_path):
    """The text of menu.title changes: its recording is reported stale and never found."""
    for clip, text in CLIPS.items():
        touch(tmp_path, "fr", file_name(clip, text))
    old = file_name("menu.title", CLIPS["menu.title"])
    changed = Catalog({"fr": {**TEXTS, "menu.title": "Kalan - Accueil"}})
    library = Library(tmp_path)
    report = coverage(changed, "fr", library)
    assert not report.complete and report.missing == ()
    (stale,) = report.stale
    assert (stale.clip, stale.text, stale.old) == ("menu.title", "Kalan - Accueil", (old,))
    assert stale.name == file_name("menu.title", "Kalan - Accueil")
    assert len(report.human) == 3
    assert library.find("fr", "menu.title", "Kalan - Accueil") is None
    # A placeholder of the new text speaks meanwhile; the person's recording is still to redo.
    touch(tmp_path, "fr", file_name("menu.title", "Kalan - Accueil", placeholder=True))
    report = coverage(changed, "fr", library)
    assert [p.clip for p in report.stale] == ["menu.title"] and not report.complete
    assert [p.clip for p in report.placeholder] == ["menu.title"]
    assert [(p.clip, why) for p, why in report.to_record()] == [("menu.title", "stale")]
    # Recorded again by a person: complete, and the old file an outdated one only.
    touch(tmp_path, "fr", file_name("menu.title", "Kalan - Accueil"))
    report = coverage(changed, "fr", library)
    assert report.complete and report.to_record() == []


def test_coverage_lists_files_that_name_no_clip(tmp_path):
    touch(tmp_path, "fr", file_name("menu.gone", "Parti"))
    touch(tmp_path, "fr", "notes.txt")
    touch(tmp_path, "fr", ".hidden-partial")
    report = coverage(CATALOG, "fr", Library(tmp_path))
    assert report.orphans == (file_name("menu.gone", "Parti"), "notes.txt")
    assert len(report.missing) == 4


def test_an_mp3_is_not_played_so_its_clip_is_still_missing(tmp_path):
    text = CLIPS["menu.title"]
    mp3 = file_name("menu.title", text).replace(".wav", ".mp3")
    touch(tmp_path, "fr", mp3)
    report = coverage(CATALOG, "fr", Library(tmp_path))
    assert "menu.title" in {p.clip for p in report.missing}
    assert mp3 in report.orphans and "menu.title" not in report.human
