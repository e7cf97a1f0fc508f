"""Placeholder recordings made with espeak-ng, so that every clip plays before people record it.

Each clip without a recording of its current text is spoken by espeak-ng, then
converted by sox to what telephony plays: 8 kHz, mono, 16-bit PCM WAV. Placeholders
are named `<clip>-<digest>.tts.wav` (git-ignored); human recordings are never touched.
"""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.voice.audio import FOLDER, Recording, file_name, listing, parse
from flows import Catalog, speech

# espeak-ng's voice for each language it can speak; Bambara (bm) it cannot:
# a language not here gets no placeholder, only human recordings.
VOICES = {"fr": "fr"}
TOOLS = ("espeak-ng", "sox")  # commands, and the Debian packages of the same names
SETUP = "deploy/audio-setup.sh"
JOBS = 2  # the machines we build on have two cores or so
TIMEOUT_S = 60  # for one clip: espeak-ng takes a tenth of a second


class ToolsMissing(Exception):
    """espeak-ng or sox is not installed; the message says how to install them."""


class NoVoice(Exception):
    """espeak-ng cannot speak this language: its clips need human recordings."""


@dataclass
class Build:
    """What a build did: placeholders made and kept, old ones removed, clips that failed."""

    lang: str
    built: int = 0
    kept: int = 0  # clips already recorded, by a person or a placeholder
    removed: int = 0  # placeholders of older texts
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (clip, reason)


def missing_tools(which: Callable = shutil.which) -> list[str]:
    """Return the commands a build needs that are not on the PATH."""
    return [tool for tool in TOOLS if which(tool) is None]


def check_tools(which: Callable = shutil.which) -> None:
    """Raise ToolsMissing, naming the Debian packages and the setup script, if any tool lacks."""
    missing = missing_tools(which)
    if missing:
        raise ToolsMissing(
            f"{' and '.join(missing)} not found: install the Debian packages "
            f"{' '.join(TOOLS)} (apt-get install {' '.join(TOOLS)}, or as root: bash {SETUP})"
        )


def speak(voice: str, text: str, out: Path, scratch: Path) -> None:
    """Say text with espeak-ng into out, as 8 kHz mono 16-bit WAV; raise on failure."""
    raw = scratch / (out.name + ".espeak.wav")
    partial = out.with_name(f".{out.name}.partial")  # hidden: never listed, never served
    try:
        # Arguments, not a shell; "--" so that a text starting with "-" is no option.
        commands = (
            ["espeak-ng", "-v", voice, "-w", str(raw), "--", text],
            ["sox", str(raw), "-t", "wav", "-r", "8000", "-c", "1", "-b", "16", str(partial)],
        )
        for command in commands:
            subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT_S)
        os.replace(partial, out)  # whole or absent: the app may look at any moment
    finally:
        raw.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    """Return one line saying why a clip failed."""
    if isinstance(exc, subprocess.CalledProcessError):
        said = (exc.stderr or b"").decode(errors="replace").strip().splitlines()
        return f"{exc.cmd[0]} exited {exc.returncode}" + (f": {said[-1]}" if said else "")
    if isinstance(exc, subprocess.TimeoutExpired):
        return f"{exc.cmd[0]} took over {TIMEOUT_S} s"
    return str(exc) or type(exc).__name__


def build(
    catalog: Catalog, lang: str, root: Path, force: bool = False, jobs: int = JOBS,
    progress: Callable[[int, int], None] | None = None, clock: Callable = time.monotonic,
) -> Build:  # fmt: skip
    """Make the placeholders lang lacks under root/lang/audio/, and remove superseded ones.

    force remakes every placeholder; a clip a person recorded gets none. progress, if
    given, hears (done, to do) after each clip. Raises
    NoVoice for a language espeak-ng cannot speak, ToolsMissing without the tools.
    """
    if lang not in VOICES:
        raise NoVoice(lang)
    check_tools()
    started = clock()
    folder = Path(root) / lang / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    clips = speech.clips(catalog, lang)
    found = [r for r in map(parse, listing(folder)) if r is not None and r.clip in clips]
    current = {(r.clip, r.digest): r for r in sorted(found, key=lambda r: r.rank, reverse=True)}
    report = Build(lang)
    todo = []
    for clip, text in sorted(clips.items()):
        rec = current.get((clip, speech.digest(text)))
        if rec is not None and (not rec.placeholder or not force):
            report.kept += 1
        else:
            todo.append((clip, text))
    with tempfile.TemporaryDirectory(prefix="kalan-audio-") as scratch:

        def make(item: tuple[str, str]) -> tuple[str, Exception | None]:
            clip, text = item
            try:
                speak(VOICES[lang], text, folder / file_name(clip, text, placeholder=True),
                      Path(scratch))  # fmt: skip
            except (OSError, subprocess.SubprocessError) as exc:
                return clip, exc
            return clip, None

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done, (clip, exc) in enumerate(pool.map(make, todo), 1):
                if exc is None:
                    report.built += 1
                else:
                    report.failed.append((clip, _reason(exc)))
                if progress:
                    progress(done, len(todo))
    report.removed = _remove_superseded(folder, found, clips)
    report.seconds = clock() - started
    return report


def _remove_superseded(folder: Path, found: list[Recording], clips: dict[str, str]) -> int:
    """Delete the placeholders of older texts of each clip; a person's file is never deleted."""
    removed = 0
    for rec in found:
        if rec.placeholder and rec.digest != speech.digest(clips[rec.clip]):
            (folder / rec.name).unlink(missing_ok=True)
            removed += 1
    return removed
