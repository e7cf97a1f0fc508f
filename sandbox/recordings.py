"""Recordings made on simulated calls, served at the recordingUrl the app downloads, as AT's are."""

import threading
import uuid
from collections import OrderedDict

from flask import Blueprint, Response, current_app, jsonify, request, url_for

bp = Blueprint("recordings", __name__, url_prefix="/sandbox/voice/recordings")

MAX_BYTES = 5 * 1024 * 1024  # a minute of 16-bit mono at 44.1 kHz, and then some
KEPT = 50  # the sandbox runs for days: the oldest recordings go first
WAV = "audio/wav"


class RecordingError(ValueError):
    """An upload that is not a WAV recording; str() is a code the page words."""


def check_wav(data: bytes) -> None:
    """Raise RecordingError unless data is a RIFF WAVE file of a size AT could record."""
    if not data:
        raise RecordingError("empty_recording")
    if len(data) > MAX_BYTES:
        raise RecordingError("recording_too_large")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RecordingError("not_wav")


class Recordings:
    """The recordings kept in this process, newest last, by id."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data: bytes) -> str:
        """Keep a WAV recording; return its id. Raise RecordingError if it is not one."""
        check_wav(data)
        name = uuid.uuid4().hex
        with self._lock:
            self._files[name] = data
            while len(self._files) > self.kept:
                self._files.popitem(last=False)
        return name

    def get(self, name: str) -> bytes | None:
        """Return a recording's bytes, if it is still kept."""
        with self._lock:
            return self._files.get(name)


def get_recordings() -> Recordings:
    """Return the recordings of this sandbox."""
    return current_app.extensions["voice_recordings"]


def keep(data: bytes) -> str:
    """Keep a recording; return the URL the app downloads it from."""
    name = get_recordings().add(data)
    return url_for("recordings.download", name=name, _external=True)


@bp.post("")
def upload():
    """Take a WAV recording as the body, or as the form's file "audio"; answer its URL."""
    if (request.content_length or 0) > 2 * MAX_BYTES:  # a form's framing adds little
        return jsonify(error="recording_too_large"), 400
    upload = request.files.get("audio")
    data = upload.read(MAX_BYTES + 1) if upload else request.get_data()
    try:
        url = keep(data)
    except RecordingError as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(url=url), 201


@bp.get("/<name>.wav")
def download(name: str):
    """Serve a recording as AT serves them: a plain audio download."""
    data = get_recordings().get(name)
    if data is None:
        return jsonify(error="unknown_recording"), 404
    return Response(data, mimetype=WAV)
