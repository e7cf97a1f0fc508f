"""Recorded prompts on disk: one file per clip and text, found by name, and their coverage.

A recording is named `<clip>-<digest>.wav` in `<root>/<lang>/audio/`: the clip
(flows/speech.py) and the hash of the exact text it says, so that a text that
changes leaves its old recording unplayed, and reported stale. A name ending in
`.tts.wav` is a placeholder that espeak-ng made (app/voice/placeholders.py); a
human recording of the same text wins over it. An MP3 is served, but calls play
only WAV (a prompt's clips are joined into one WAV): coverage lists MP3s as unplayed.
"""

import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flows import Catalog, speech

FOLDER = "audio"  # under each language's folder
PLACEHOLDER = ".tts"  # before the extension: made by a machine, not a person
TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
LANG = re.compile(r"^[a-z]{2,3}$")
NAME = re.compile(
    r"^(?P<clip>[A-Za-z0-9][A-Za-z0-9_.~-]{0,80})-(?P<digest>[0-9a-f]{10})"
    r"(?P<tts>\.tts)?\.(?P<ext>wav|mp3)$"
)
# A call asks for ~30 clips a hop: a miss (a language still being recorded)
# rereads the folders at most this often, so a build shows without a restart.
RESCAN_S = 5.0


@dataclass(frozen=True)
class Recording:
    """One audio file of a clip, as its name tells."""

    name: str
    clip: str
    digest: str
    placeholder: bool
    ext: str

    @property
    def rank(self) -> tuple[bool, bool]:
        """Sort key: WAV first (only WAV is joined into prompts), then a person's recording."""
        return (self.ext != "wav", self.placeholder)


def parse(name: str) -> Recording | None:
    """Read a file name as a recording, or None when it names none."""
    match = NAME.match(name)
    if not match:
        return None
    clip, digest, tts, ext = match.group("clip", "digest", "tts", "ext")
    return Recording(name, clip, digest, bool(tts), ext)


def file_name(clip: str, text: str, placeholder: bool = False) -> str:
    """Name the WAV recording of a clip saying text: by a person, or a placeholder."""
    return f"{clip}-{speech.digest(text)}{PLACEHOLDER if placeholder else ''}.wav"


def listing(folder: Path) -> list[str]:
    """Return the names of the visible files in a folder; none when it does not exist."""
    try:
        with os.scandir(folder) as entries:  # the file type comes with the name: no stat
            return sorted(e.name for e in entries if e.is_file() and not e.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def audio_url(base_url: str, lang: str, name: str) -> str:
    """Return the public URL of a recording: base_url (a host or a CDN) then /audio/lang/name."""
    return f"{base_url.rstrip('/')}/{FOLDER}/{quote(lang)}/{quote(name)}"


class Library:
    """The recordings under a root (content/ by default): found by clip and text in a dict."""

    def __init__(self, root: Path, rescan_s: float = RESCAN_S, clock: Callable = time.monotonic):
        self.root = Path(root)
        self.rescan_s = rescan_s
        self.clock = clock
        self._index: dict[str, dict[tuple[str, str], str]] = {}
        self._texts: dict[tuple[str, str, bool], str] = {}  # (lang, digest, placeholder): name
        self._scanned: float | None = None

    def folder(self, lang: str) -> Path:
        """Return the folder of a language's recordings."""
        return self.root / lang / FOLDER

    def recordings(self, lang: str) -> list[Recording | str]:
        """Read a language's folder now: each file as a Recording, or its bare name if none."""
        return [parse(name) or name for name in listing(self.folder(lang))]

    def scan(self) -> None:
        """Reread every language's folder into the index, with the best recording of each text."""
        index: dict[str, dict[tuple[str, str], str]] = {}
        texts: dict[tuple[str, str, bool], str] = {}
        languages = [p.name for p in _folders(self.root) if LANG.match(p.name)]
        for lang in languages:
            found = [r for r in self.recordings(lang) if isinstance(r, Recording)]
            best: dict[tuple[str, str], str] = {}
            for rec in sorted(found, key=lambda r: r.rank, reverse=True):
                best[(rec.clip, rec.digest)] = rec.name  # the best comes last, and stays
                if rec.ext == "wav":  # the same text under two keys is the same recording
                    texts[(lang, rec.digest, rec.placeholder)] = rec.name
            index[lang] = best
        self._texts = texts
        # A person's new take of a text keeps its name: its size and time make a new URL.
        self._versions = {
            (lang, name): _version(self.folder(lang) / name)
            for lang, best in index.items()
            for name in best.values()
        }
        self._index = index  # one assignment: a reader in another thread sees old or new
        self._scanned = self.clock()

    def find(self, lang: str, clip: str, text: str) -> str | None:
        """Return the file name (in the language's folder) saying text for clip, or None."""
        key = (clip, speech.digest(text))
        name = self._index.get(lang, {}).get(key)
        if name is None and (
            self._scanned is None or self.clock() - self._scanned >= self.rescan_s
        ):
            self.scan()
            name = self._index.get(lang, {}).get(key)
        return name

    def version(self, lang: str, name: str) -> str:
        """Return a short tag of a recording's bytes as scanned, for its URLs."""
        return self._versions.get((lang, name), "0000")

    def by_digest(self, lang: str, digest: str, placeholder: bool) -> Path | None:
        """Return the WAV recording of a text by its hash and kind, as a join names it."""
        name = self._texts.get((lang, digest, placeholder))
        if name is None and (
            self._scanned is None or self.clock() - self._scanned >= self.rescan_s
        ):
            self.scan()
            name = self._texts.get((lang, digest, placeholder))
        return self.folder(lang) / name if name else None

    def path(self, lang: str, name: str) -> Path | None:
        """Return the file a public URL names, if lang and name are well formed and it exists."""
        if not LANG.match(lang) or parse(name) is None:
            return None
        path = self.folder(lang) / name
        return path if path.is_file() else None


def _version(path: Path) -> str:
    """Tag a file by its size and modification time: a new take of a text, a new tag."""
    try:
        info = path.stat()
    except OSError:
        return "0000"
    return hashlib.sha256(f"{info.st_size}:{info.st_mtime_ns}".encode()).hexdigest()[:4]


def _folders(root: Path) -> list[Path]:
    """Return the folders under root that hold an audio folder: the languages recorded."""
    try:
        return [p for p in root.iterdir() if (p / FOLDER).is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


@dataclass(frozen=True)
class Prompt:
    """A clip to record: its text, the file to record it into, and its outdated recordings."""

    clip: str
    text: str
    name: str  # the file to record
    old: tuple[str, ...] = ()  # recordings of earlier texts of the clip, never played


@dataclass(frozen=True)
class Coverage:
    """How a language's clips are recorded: by people, by placeholders, or not at all."""

    lang: str
    clips: int
    human: tuple[str, ...]  # clips a person recorded, as they read now
    placeholder: tuple[Prompt, ...]  # clips only a placeholder says
    missing: tuple[Prompt, ...]  # no recording of any text of the clip
    stale: tuple[Prompt, ...]  # recordings of older texts, and none by a person of this one
    orphans: tuple[str, ...]  # files that name no clip of the catalog, or that calls cannot play

    @property
    def complete(self) -> bool:
        """Tell whether every clip has a recording of its current text and none is stale."""
        return not self.missing and not self.stale

    def to_record(self) -> list[tuple[Prompt, str]]:
        """Return every clip a person has yet to record, with why: missing, stale or placeholder."""
        prompts = [(p, "missing") for p in self.missing] + [(p, "stale") for p in self.stale]
        stale = {p.clip for p in self.stale}
        return prompts + [(p, "placeholder") for p in self.placeholder if p.clip not in stale]


def coverage(catalog: Catalog, lang: str, library: Library) -> Coverage:
    """Compare a language's clips with the recordings on disk, read now."""
    clips = speech.clips(catalog, lang)
    by_clip: dict[str, list[Recording]] = {}
    orphans = []
    for rec in library.recordings(lang):
        if isinstance(rec, Recording) and rec.clip in clips and rec.ext == "wav":
            by_clip.setdefault(rec.clip, []).append(rec)
        else:
            orphans.append(rec.name if isinstance(rec, Recording) else rec)
    human, placeholder, missing, stale = [], [], [], []
    for clip, text in sorted(clips.items()):
        digest = speech.digest(text)
        found = by_clip.get(clip, [])
        current = [r for r in found if r.digest == digest]
        old = tuple(r.name for r in found if r.digest != digest)
        prompt = Prompt(clip, text, file_name(clip, text), old)
        by_person = any(not r.placeholder for r in current)
        if by_person:
            human.append(clip)
        elif current:
            placeholder.append(prompt)
        if old and not by_person:
            stale.append(prompt)  # to record again, even while a placeholder says the new text
        elif not current:
            missing.append(prompt)
    return Coverage(lang, len(clips), tuple(human), tuple(placeholder), tuple(missing),
                    tuple(stale), tuple(orphans))  # fmt: skip
