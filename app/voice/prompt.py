"""A prompt as one audio file: the recordings of its clips, joined in order.

A call's prompt is said by many clips (a question, its options, their numbers).
Africa's Talking nests one prompt in a GetDigits, and keys pressed while it
plays must count, so the clips are joined into one WAV. Its URL names each
clip's language, text hash and kind of recording: a person's recording that
replaces a placeholder makes a new URL, so a cached join is never out of date.

A prompt that says a caller's value (a phone number, a name, a reference) must
not be fetched by a URL that can be read back into it: access logs and caches
would keep, with the time, what the caller heard. Such a prompt is kept in Redis
for a few minutes under a random name, and served once-only style, never cached.
"""

import io
import logging
import re
import secrets
import wave
from pathlib import Path

from app.voice.audio import Library, audio_url

log = logging.getLogger(__name__)
# A clip in a prompt's URL: its language, text hash, kind (t: a placeholder) and version.
TOKEN = re.compile(r"^(?P<lang>[a-z]{2,3})(?P<digest>[0-9a-f]{10})(?P<tts>t?)(v[0-9a-f]{4})?$")
JOIN = "join"  # /audio/join/<tokens>.wav
SAID = "said"  # /audio/said/<random>.wav: a prompt with a caller's values, briefly kept
SAID_TTL_S = 600  # AT fetches a prompt as the call plays it: minutes are plenty
SAID_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_PARTS = 80  # far more than any screen says; a longer list is not ours
MAX_FRAMES = 8000 * 180  # three minutes: longer than any screen, shorter than an abuse
FORMAT = (1, 2, 8000)  # mono, 16-bit, 8 kHz: what placeholders are built as


class Unjoinable(Exception):
    """A join names an unknown recording, or recordings of different formats."""


def url(
    library: Library, parts: list, base_url: str, partial: bool = False, keep=None
) -> str | None:
    """Return one URL saying every part in order, or None when a part has no recording.

    partial leaves out the parts with no recording instead (None if none has one):
    a missing clip is logged, and the caller hears the rest rather than nothing.
    keep(tokens) stores a prompt holding a caller's values and returns its random
    name; without it, such a prompt gets no URL.
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
        kind = "t" if ".tts." in name else ""
        version = "v" + library.version(part["lang"], name)
        tokens.append(part["lang"] + name.rsplit("-", 1)[1].split(".")[0] + kind + version)
        names.append((part["lang"], name))
    if not names:
        return None
    if any(part.get("private") for part in parts):
        if keep is None:
            return None
        return f"{base_url.rstrip('/')}/audio/{SAID}/{keep('-'.join(tokens))}.wav"
    if len(names) == 1:
        return audio_url(base_url, *names[0]) + tokens[0][-5:].replace("v", "?v=")
    return f"{base_url.rstrip('/')}/audio/{JOIN}/{'-'.join(tokens)}.wav"


def files(library: Library, joined: str, least: int = 2) -> list[Path]:
    """Return the recordings a join's name lists, in order; raise Unjoinable if one is unknown."""
    tokens = joined.split("-")
    if not least <= len(tokens) <= MAX_PARTS:
        raise Unjoinable(f"a join lists {least} to {MAX_PARTS} recordings")
    paths = []
    for token in tokens:
        match = TOKEN.match(token)
        path = match and library.by_digest(match["lang"], match["digest"], bool(match["tts"]))
        if not path:
            raise Unjoinable(f"no recording for {token!r}")
        paths.append(path)
    return paths


def keeper(redis, prefix: str):
    """Return keep(tokens) for url(): a random name for a prompt, kept SAID_TTL_S in Redis."""

    def keep(tokens: str) -> str:
        name = secrets.token_urlsafe(16)
        redis.set(f"{prefix}voice:said:{name}", tokens, ex=SAID_TTL_S)
        return name

    return keep


def kept(redis, prefix: str, name: str) -> str | None:
    """Return the tokens of a prompt kept under name, or None once it is gone."""
    if not SAID_ID.match(name):
        return None
    value = redis.get(f"{prefix}voice:said:{name}")
    return value.decode() if isinstance(value, bytes) else value


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
                    if joined.getnframes() + part.getnframes() > MAX_FRAMES:
                        raise Unjoinable("a join longer than three minutes")
                    joined.writeframes(part.readframes(part.getnframes()))
            except (wave.Error, EOFError, OSError) as exc:
                raise Unjoinable(f"{path.name}: {exc}") from None
    return out.getvalue()
