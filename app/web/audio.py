"""GET /audio/<lang>/<file>: the recorded prompts calls play, cached for good.

Africa's Talking fetches these URLs while a call waits: no token, and caches
may keep each file forever, since its name holds the hash of the text it says.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_file

from app.voice import prompt
from app.voice.audio import TYPES

bp = Blueprint("audio", __name__)
YEAR_S = 365 * 24 * 3600


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
    return response


@bp.get(f"/audio/{prompt.JOIN}/<joined>.wav")
def joined(joined: str):
    """Send the recordings a prompt's URL lists as one WAV; 404 when one is unknown."""
    library = current_app.extensions["audio"]
    try:
        paths = prompt.files(library, joined)
        body = prompt.join(paths)
    except prompt.Unjoinable as exc:
        current_app.logger.warning("audio join refused: %s", exc)
        abort(404)
    etag = hashlib.sha256(body).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype=TYPES["wav"])
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = YEAR_S
    response.cache_control.immutable = True
    return response
