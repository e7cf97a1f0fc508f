"""`kalan audio build` and `kalan audio coverage` (app/cli/audio.py), on the real French copy."""

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.content import load
from app.infra.config import DEFAULTS
from app.voice.audio import file_name
from flows import speech

from .helpers import NO_AUDIO
from .test_placeholders import needs_tools

ROOT = Path(__file__).resolve().parent.parent
CATALOG, _ = load(ROOT / "content")
CLIPS = speech.clips(CATALOG, "fr")


@pytest.fixture
def kalan(monkeypatch, tmp_path):
    """Run `kalan ARGS` in a clean environment, with recordings in an empty tmp folder."""
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "false")  # flask sets it; undone afterwards
    audio = tmp_path / "audio-root"
    audio.mkdir()

    def invoke(*args: str, **env: str):
        return CliRunner().invoke(main, args, env={"AUDIO_DIR": str(audio), **env})

    invoke.root = audio
    return invoke


def record_all_but(root: Path, *left: str) -> None:
    """Put a (pretend) person's recording of every French clip but those left."""
    folder = root / "fr" / "audio"
    folder.mkdir(parents=True, exist_ok=True)
    for clip, text in CLIPS.items():
        if clip not in left:
            (folder / file_name(clip, text)).write_bytes(b"RIFF")


def test_coverage_of_nothing_lists_every_prompt_and_exits_1(kalan):
    result = kalan("audio", "coverage", "fr")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"missing ({len(CLIPS)}): clip, file to record, text"
    star = file_name("voice.star", CLIPS["voice.star"])
    assert f"  voice.star  {star}  'étoile'" in lines
    assert lines[-1] == (
        f"fr: {len(CLIPS)} prompts: 0 recorded by people, 0 by placeholders only, "
        f"{len(CLIPS)} missing, 0 stale; 0 orphan file(s) in {kalan.root / 'fr' / 'audio'}"
    )


def test_coverage_of_everything_exits_0(kalan):
    record_all_but(kalan.root)
    result = kalan("audio", "coverage", "fr")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"fr: {len(CLIPS)} prompts: {len(CLIPS)} recorded by people, 0 by placeholders only, "
        f"0 missing, 0 stale; 0 orphan file(s) in {kalan.root / 'fr' / 'audio'}\n"
    )


def test_coverage_lists_a_stale_prompt_and_exits_1(kalan):
    record_all_but(kalan.root, "voice.star")
    old = file_name("voice.star", "astérisque")
    (kalan.root / "fr" / "audio" / old).write_bytes(b"RIFF")
    (kalan.root / "fr" / "audio" / "notes.txt").write_text("x")
    result = kalan("audio", "coverage", "fr")
    assert result.exit_code == 1, result.output
    star = file_name("voice.star", CLIPS["voice.star"])
    assert result.stdout.splitlines()[:4] == [
        "stale (1): clip, file to record, text",
        f"  voice.star  {star}  'étoile'  (outdated: {old})",
        "orphans (1): files that name no prompt",
        "  notes.txt",
    ]
    assert "0 missing, 1 stale; 1 orphan file(s)" in result.stdout


def test_coverage_writes_what_to_record_for_a_studio(kalan, tmp_path):
    record_all_but(kalan.root, "voice.star", "voice.hash")
    (kalan.root / "fr" / "audio" / file_name("voice.hash", "dièse", placeholder=True)).touch()
    out = tmp_path / "studio.csv"
    result = kalan("audio", "coverage", "fr", "--csv", str(out))
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == f"2 prompt(s) to record written to {out}"
    with out.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["clip", "file", "text", "status"],
        ["voice.star", file_name("voice.star", "étoile"), "étoile", "missing"],
        ["voice.hash", file_name("voice.hash", "dièse"), "dièse", "placeholder"],
    ]


def test_coverage_says_when_the_csv_cannot_be_written(kalan, tmp_path):
    result = kalan("audio", "coverage", "fr", "--csv", str(tmp_path / "no" / "such" / "x.csv"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write {tmp_path / 'no' / 'such' / 'x.csv'}: ")


@pytest.mark.parametrize("verb", [["coverage", "xx"], ["build", "--lang", "xx"]])
def test_an_unknown_language_is_refused(kalan, verb):
    result = kalan("audio", *verb)
    assert result.exit_code == 2
    assert "unknown language 'xx'; known: fr" in result.stderr


@needs_tools
def test_build_makes_what_is_missing_then_nothing(kalan):
    record_all_but(kalan.root, "voice.star", "voice.hash")
    result = kalan("audio", "build", "--lang", "fr")
    assert result.exit_code == 0, result.output
    first, last = result.stdout.splitlines()
    assert first == "fr: making 2 placeholder(s), 2 at a time"
    assert last.startswith(f"fr: 2 built, {len(CLIPS) - 2} kept, 0 old removed, 0 failed in ")
    assert kalan("audio", "coverage", "fr").exit_code == 0
    again = kalan("audio", "build", "--lang", "fr")
    assert again.stdout.startswith(f"fr: 0 built, {len(CLIPS)} kept, ")


@needs_tools
def test_build_exits_1_when_a_clip_fails(kalan):
    record_all_but(kalan.root, "voice.star")
    (kalan.root / "fr" / "audio" / file_name("voice.star", "étoile", placeholder=True)).mkdir()
    result = kalan("audio", "build", "--lang", "fr")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: voice.star: ")
    assert "fr: 0 built, " in result.stdout and ", 1 failed in " in result.stdout


def test_build_without_the_tools_names_them(kalan, tmp_path):
    result = kalan("audio", "build", "--lang", "fr", PATH=str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: espeak-ng and sox not found: install the Debian packages espeak-ng sox "
        "(apt-get install espeak-ng sox, or as root: bash deploy/audio-setup.sh)\n"
    )


@pytest.fixture
def bambara(tmp_path):
    """A content tree with a Bambara folder that names its language, and nothing else."""
    tree = shutil.copytree(ROOT / "content", tmp_path / "content", ignore=NO_AUDIO)
    (tree / "bm").mkdir()
    (tree / "bm" / "ussd.yaml").write_text('lang:\n  name: "Bamanankan"\n', encoding="utf-8")
    return tree


def test_build_of_a_language_without_a_voice_asks_for_people(kalan, bambara):
    result = kalan("audio", "build", "--lang", "bm", CONTENT_DIR=str(bambara))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: espeak-ng has no voice for bm: 1 prompt(s) need human recordings; "
        "`kalan audio coverage bm --csv FILE` lists them\n"
    )
    assert not (kalan.root / "bm").exists()
    folder = kalan.root / "bm" / "audio"
    folder.mkdir(parents=True)
    (folder / file_name("lang.name", "Bamanankan")).write_bytes(b"RIFF")
    result = kalan("audio", "build", "--lang", "bm", CONTENT_DIR=str(bambara))
    assert result.exit_code == 0, result.output
    assert result.stdout == "bm: every prompt is recorded by people; nothing to build\n"
