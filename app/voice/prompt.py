"""A prompt as one audio file: the recordings of its clips, joined in order.

A call's prompt is said by many clips (a question, its options, their numbers).
Africa's Talking nests one prompt in a GetDigits, and keys pressed while it
plays must count, so the clips are joined into one WAV. Its URL names each
clip's language, text hash and kind of recording: a person's recording that
replaces a placeholder makes a new URL, so a cached join is never out of date.
"""

import io
import logging
import re
import wave
from pathlib import Path

from app.voice.audio import Library, audio_url

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^(?P<lang>[a-z]{2,3})(?P<digest>[0-9a-f]{10})(?P<tts>t?)$")
JOIN = "join"  # /audio/join/<tokens>.wav
MAX_PARTS = 80  # far more than any screen says; a longer list is not ours
FORMAT = (1, 2, 8000)  # mono, 16-bit, 8 kHz: what placeholders are built as


class Unjoinable(Exception):
    """A join names an unknown recording, or recordings of different formats."""


def url(library: Library, parts: list, base_url: str, partial: bool = False) -> str | None:
    """Return one URL saying every part in order, or None when a part has no recording.

    partial leaves out the parts with no recording instead (None if none has one):
    a missing clip is logged, and the caller hears the rest rather than nothing.
    """
    tokens, names = [], []
    for part in parts:
        name = library.find(part["lang"], part["clip"], part["text"])
        if name is None or not name.endswith(".wav"):
            if partial:
                log.error("no recording of %s in %s: run kalan audio coverage", part["clip"],
                          part["lang"])  # fmt: skip
                continue
            return None  # said some other way (or not at all): the caller decides
        tokens.append(part["lang"] + name.rsplit("-", 1)[1].split(".")[0] + (
            "t" if ".tts." in name else ""))  # fmt: skip
        names.append((part["lang"], name))
    if not names:
        return None
    if len(names) == 1:
        return audio_url(base_url, *names[0])
    return f"{base_url.rstrip('/')}/audio/{JOIN}/{'-'.join(tokens)}.wav"


def files(library: Library, joined: str) -> list[Path]:
    """Return the recordings a join's name lists, in order; raise Unjoinable if one is unknown."""
    tokens = joined.split("-")
    if not 1 < len(tokens) <= MAX_PARTS:
        raise Unjoinable("a join lists 2 to 80 recordings")
    paths = []
    for token in tokens:
        match = TOKEN.match(token)
        path = match and library.by_digest(match["lang"], match["digest"], bool(match["tts"]))
        if not path:
            raise Unjoinable(f"no recording for {token!r}")
        paths.append(path)
    return paths


def join(paths: list[Path]) -> bytes:
    """Return one WAV of the recordings in order; raise Unjoinable if their formats differ."""
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setnchannels(FORMAT[0])
        joined.setsampwidth(FORMAT[1])
        joined.setframerate(FORMAT[2])
        for path in paths:
            try:
                with wave.open(str(path), "rb") as part:
                    shape = (part.getnchannels(), part.getsampwidth(), part.getframerate())
                    if shape != FORMAT or part.getcomptype() != "NONE":
                        raise Unjoinable(f"{path.name} is not 8 kHz mono 16-bit PCM")
                    joined.writeframes(part.readframes(part.getnframes()))
            except (wave.Error, EOFError, OSError) as exc:
                raise Unjoinable(f"{path.name}: {exc}") from None
    return out.getvalue()
