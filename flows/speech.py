"""Copy as speech: texts cut into recorded clips, and values said from number and letter clips.

A text with placeholders is recorded in fragments, the values between them said
from small clips (digits, numbers, letters, months), so that nothing is ever
synthesised at run time. A clip is named by its copy key and fragment, and its
recording by a hash of its text: a text that changes makes its recording stale.
"""

import hashlib
import re
from collections.abc import Iterator, Mapping
from string import Template

from .catalog import FALLBACK, Catalog

VOICE = "voice."  # copy said only on the voice channel
SCREEN = VOICE + "screen."  # a screen's voice wording, where its text speaks of typing
NUMBER_MAX = 100  # numbers up to here are one clip; larger ones are composed
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
SCORE = re.compile(r"^(\d{1,3})\s*/\s*(\d{1,3})$")
# Copy a voice screen names, beside the numbers, digits, letters and months.
KEYS = (
    "voice.option", "voice.more", "voice.keys", "voice.finish", "voice.record",
    "voice.text_only", "voice.silence", "voice.goodbye", "voice.over", "voice.star",
    "voice.hash", "voice.number.hundred", "voice.number.thousand",
)  # fmt: skip
SPOKEN = ("voice.", "lang.", "menu.", "resume.", "nav.", "error.", "account.", "role.", "help.",
          "training.", "course.", "report.", "track.", "desk.")  # fmt: skip


def required() -> tuple[str, ...]:
    """Return the copy keys every language must have for calls: KEYS and the small clips."""
    small = [f"voice.digit.{d}" for d in range(10)]
    small += [f"voice.number.{n}" for n in range(NUMBER_MAX + 1)]
    small += [f"voice.letter.{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
    small += [f"voice.month.{m}" for m in range(1, 13)]
    return (*KEYS, *small)


def overrides(texts: Mapping[str, str]) -> list[str]:
    """List the problems of voice wordings: each must name a screen's copy and use its values."""
    problems = []
    for key, text in texts.items():
        if not key.startswith(SCREEN):
            continue
        base = key[len(SCREEN) :]
        if base not in texts:
            problems.append(f"{key!r} names no copy key {base!r}")
            continue
        names = {p[0] for p in fragments(text) if isinstance(p, tuple)}
        given = {p[0] for p in fragments(texts[base]) if isinstance(p, tuple)}
        if names - given:
            problems.append(f"{key!r} uses {sorted(names - given)}, which {base!r} is not given")
    return problems


def fragments(template: str) -> list[str | tuple[str]]:
    """Split a template into its text fragments and its placeholders, as ("name",)."""
    parts: list[str | tuple[str]] = []
    last = 0
    for match in Template.pattern.finditer(template):
        parts.append(template[last : match.start()])
        name = match.group("named") or match.group("braced")
        parts.append((name,) if name else "$" if match.group("escaped") else "")
        last = match.end()
    parts.append(template[last:])
    return [p for p in parts if isinstance(p, tuple) or p]


def sayable(text: str) -> bool:
    """Tell whether a fragment holds anything to say (not a comma or a bracket alone)."""
    return any(c.isalnum() for c in text)


def clip_id(key: str, index: int, whole: bool) -> str:
    """Name one fragment of a key's copy: the key itself when the text is one piece."""
    return key if whole else f"{key}~{index}"


def digest(text: str) -> str:
    """Return the short hash that ties a recording to the text it says."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:10]


def clips_of(key: str, template: str) -> list[tuple[str, str]]:
    """Return the (clip id, text) of each sayable fragment of a key's copy."""
    parts = fragments(template)
    whole = len(parts) == 1
    texts = [(i, p) for i, p in enumerate(parts) if isinstance(p, str)]
    return [(clip_id(key, i, whole), p.strip()) for i, p in texts if sayable(p)]


def spoken_keys(catalog: Catalog, lang: str) -> Iterator[str]:
    """Yield lang's copy keys that may be said on a call: screens, courses, voice copy."""
    yield from sorted(k for k in catalog.texts.get(lang, {}) if k.startswith(SPOKEN))


def clips(catalog: Catalog, lang: str) -> dict[str, str]:
    """Return every clip a call in lang may play, by id, with the text it says."""
    out: dict[str, str] = {}
    for key in spoken_keys(catalog, lang):
        out.update(clips_of(key, catalog.get(key, lang)))
    return out


def source(catalog: Catalog, key: str, lang: str) -> tuple[str, str]:
    """Return key's copy and the language it is in: lang's, or else the fallback's."""
    text = catalog.texts.get(lang, {}).get(key)
    return (text, lang) if text is not None else (catalog.texts[FALLBACK][key], FALLBACK)


def _clip(catalog: Catalog, key: str, lang: str) -> dict:
    text, lang = source(catalog, key, lang)
    return {"clip": key, "text": text, "lang": lang}


def number(catalog: Catalog, n: int, lang: str) -> list[dict]:
    """Say a whole number from number clips: up to NUMBER_MAX whole, larger ones composed."""
    if n < 0:
        return number(catalog, -n, lang)
    if n <= NUMBER_MAX:
        return [_clip(catalog, f"voice.number.{n}", lang)]
    parts: list[dict] = []
    if n >= 1000:
        thousands, n = divmod(n, 1000)
        if thousands > 1:
            parts += number(catalog, thousands, lang)
        parts.append(_clip(catalog, "voice.number.thousand", lang))
    if n >= 100:
        hundreds, n = divmod(n, 100)
        if hundreds > 1:
            parts += number(catalog, hundreds, lang)
        parts.append(_clip(catalog, "voice.number.hundred", lang))
    if n:
        parts += number(catalog, n, lang)
    return parts


def spell(catalog: Catalog, text: str, lang: str) -> list[dict]:
    """Say text sign by sign: digits, letters, star and hash; anything else is a pause."""
    parts = []
    for char in text.lower():
        if char.isdigit() and char.isascii():
            parts.append(_clip(catalog, f"voice.digit.{char}", lang))
        elif "a" <= char <= "z":
            parts.append(_clip(catalog, f"voice.letter.{char}", lang))
        elif char in "*#":
            parts.append(_clip(catalog, "voice.star" if char == "*" else "voice.hash", lang))
    return parts


def value(catalog: Catalog, raw: object, lang: str) -> list[dict]:
    """Say a screen's value: a count, a score, a date, or a code read sign by sign."""
    if isinstance(raw, bool) or raw is None:
        return []
    if isinstance(raw, int):
        return number(catalog, raw, lang)
    text = str(raw).strip()
    if text.isdigit() and len(text) <= 3:
        return number(catalog, int(text), lang)
    if score := SCORE.match(text):
        over = _clip(catalog, "voice.over", lang)
        return [*number(catalog, int(score[1]), lang), over, *number(catalog, int(score[2]), lang)]
    if date := DATE.match(text):
        year, month, day = (int(x) for x in date.groups())
        month_clip = _clip(catalog, f"voice.month.{month}", lang)
        return [*number(catalog, day, lang), month_clip, *number(catalog, year, lang)]
    return spell(catalog, text, lang)  # a reference, a PIN's length, an organisation code


def say(catalog: Catalog, key: str, lang: str, params: Mapping, resolve) -> list[dict]:
    """Say key's copy in lang, its placeholders filled by value() or by resolve(Copy)."""
    template, lang = source(catalog, key, lang)
    parts = fragments(template)
    whole = len(parts) == 1
    out: list[dict] = []
    for i, part in enumerate(parts):
        if isinstance(part, tuple):
            raw = params.get(part[0], "")
            out.extend(resolve(raw) if not isinstance(raw, str | int | bool) and raw else [])
            if isinstance(raw, int) and not isinstance(raw, bool):
                out.extend(value(catalog, raw, lang))  # a count, a position: nobody's
            elif isinstance(raw, str):
                # A number, a name, a reference, a code: the caller's, maybe a secret. A prompt
                # holding one must not be fetched by a URL that says it (app/voice/prompt.py).
                out.extend({**part, "private": True} for part in value(catalog, raw, lang))
        elif sayable(part):
            out.append({"clip": clip_id(key, i, whole), "text": part.strip(), "lang": lang})
    return out
