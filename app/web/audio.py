"""GET /audio/<lang>/<file>: the recorded prompts calls play, cached for good.

Africa's Talking fetches these URLs while a call waits: no token, and caches
may keep each file forever, since its name holds the hash of the text it says.
"""

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, request, send_file

from app.voice import prompt
from app.voice.audio import TYPES, parse
from app.web.voice_xml import TIGHT
from flows import speech

bp = Blueprint("audio", __name__)
YEAR_S = 365 * 24 * 3600
# The words a recording says, for the simulators to show: public copy, percent-encoded.
TEXT_HEADER = "X-Prompt-Text"


@lru_cache(maxsize=4096)
def _etag(path: str, mtime_ns: int, size: int) -> str:
    """Hash a file's bytes once per version: a strong ETag the same on every server."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()[:32]


@bp.get("/audio/<lang>/<name>")
def recording(lang: str, name: str):
    """Send one recording, or 304 when the caller's copy is current; 404 for any other name."""
    path: Path | None = current_app.extensions["audio"].path(lang, name)
    if path is None:
        abort(404)
    try:
        info = path.stat()
        etag = _etag(str(path), info.st_mtime_ns, info.st_size)
    except OSError:  # removed since the check: as if it never was
        abort(404)
    response = send_file(
        path,
        mimetype=TYPES[path.suffix.lstrip(".")],
        etag=etag,
        conditional=True,
        max_age=YEAR_S,
    )
    response.cache_control.immutable = True
    recorded = parse(name)
    _words(response, [_text(lang, recorded.digest)])
    return response


@bp.get(f"/audio/{prompt.JOIN}/<joined>.wav")
def joined(joined: str):
    """Send the recordings a prompt's URL lists as one WAV; 404 when one is unknown."""
    return _joined(joined, cached=True)


@bp.get(f"/audio/{prompt.SAID}/<name>.wav")
def said(name: str):
    """Send a prompt that says a caller's values, kept briefly under a random name; never cached."""
    config = current_app.config
    tokens = prompt.kept(current_app.extensions["redis"], config["REDIS_PREFIX"], name)
    if tokens is None:
        abort(404)
    return _joined(tokens, cached=False, least=1)


def _joined(tokens: str, cached: bool, least: int = 2) -> Response:
    """Join the recordings tokens list into one WAV response."""
    library = current_app.extensions["audio"]
    try:
        body = prompt.join(prompt.files(library, tokens, least))
    except prompt.Unjoinable as exc:
        current_app.logger.warning("audio join refused: %s", exc)
        abort(404)
    if not cached:
        response = Response(body, mimetype=TYPES["wav"])
        response.headers["Cache-Control"] = "private, no-store"
        return response
    etag = hashlib.sha256(body).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype=TYPES["wav"])
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = YEAR_S
    response.cache_control.immutable = True
    matches = [prompt.TOKEN.match(token) for token in tokens.split("-")]
    _words(response, [_text(m["lang"], m["digest"]) for m in matches])
    return response


def _text(lang: str, digest: str) -> str:
    """Return the words of a recording by its language and text hash ("" if unknown)."""
    texts = current_app.extensions.get("prompt_texts")
    if texts is None:  # once per process: every clip of every language, by hash
        catalog = current_app.extensions["catalog"]
        texts = {(code, speech.digest(text)): text for code in catalog.languages
                 for text in speech.clips(catalog, code).values()}  # fmt: skip
        current_app.extensions["prompt_texts"] = texts
    return texts.get((lang, digest), "")


def _words(response: Response, texts: list[str]) -> None:
    """Tell the words of a response's audio, for the simulators: in development only."""
    if current_app.config["APP_ENV"] == "development":
        response.headers[TEXT_HEADER] = quote(TIGHT.sub(r"\1", " ".join(t for t in texts if t)))
