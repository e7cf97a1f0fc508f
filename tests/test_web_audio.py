"""GET /audio/<lang>/<file> (app/web/audio.py): recordings for the gateway, cached for good."""

from pathlib import Path

import pytest
import requests

from app.voice.audio import Library, audio_url, file_name

WAV = b"RIFF....WAVEfmt " + bytes(range(256)) * 4
NAME = file_name("voice.star", "étoile", placeholder=True)
YEAR = "31536000"


@pytest.fixture
def audio(make_app, tmp_path):
    """An app whose recordings are in tmp_path, holding one placeholder; return it."""
    folder = tmp_path / "fr" / "audio"
    folder.mkdir(parents=True)
    (folder / NAME).write_bytes(WAV)
    return make_app(AUDIO_DIR=str(tmp_path), WEBHOOK_TOKEN="a-token-the-gateway-never-sends")


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.headers["Cache-Control"].split(",")}


def test_a_recording_is_served_with_long_cache_headers(audio):
    response = audio.test_client().get(f"/audio/fr/{NAME}")  # no token: AT fetches it as is
    assert response.status_code == 200
    assert response.data == WAV
    assert response.mimetype == "audio/wav"
    assert response.headers["Content-Length"] == str(len(WAV))
    assert cache_control(response) == {"public", f"max-age={YEAR}", "immutable"}
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong: byte for byte


def test_the_etag_is_the_files_bytes_and_answers_304(audio, tmp_path):
    client = audio.test_client()
    etag = client.get(f"/audio/fr/{NAME}").headers["ETag"]
    again = client.get(f"/audio/fr/{NAME}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    # Recorded again under the same name: a new tag, so caches that ask get the new file.
    (tmp_path / "fr" / "audio" / NAME).write_bytes(WAV + b"more")
    changed = client.get(f"/audio/fr/{NAME}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.data == WAV + b"more"


def test_the_same_bytes_have_the_same_etag_on_another_server(make_app, audio, tmp_path):
    """Servers behind one name must agree: the tag hashes the bytes, not the file's date."""
    other = tmp_path / "other"
    (other / "fr" / "audio").mkdir(parents=True)
    (other / "fr" / "audio" / NAME).write_bytes(WAV)
    first = audio.test_client().get(f"/audio/fr/{NAME}").headers["ETag"]
    second = make_app(AUDIO_DIR=str(other)).test_client().get(f"/audio/fr/{NAME}")
    assert second.headers["ETag"] == first


def test_head_answers_the_headers_alone(audio):
    response = audio.test_client().head(f"/audio/fr/{NAME}")
    assert response.status_code == 200 and response.data == b""
    assert response.mimetype == "audio/wav" and response.headers["Content-Length"] == str(len(WAV))


def test_an_mp3_is_served_as_mpeg(audio, tmp_path):
    name = file_name("voice.hash", "dièse").replace(".wav", ".mp3")
    (tmp_path / "fr" / "audio" / name).write_bytes(b"ID3")
    response = audio.test_client().get(f"/audio/fr/{name}")
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"


@pytest.mark.parametrize(
    "path",
    ["/audio/fr/voice.star-0123456789.wav", "/audio/bm/" + NAME, "/audio/FR/" + NAME,
     "/audio/fr/ussd.yaml", "/audio/fr/..%2Fussd.yaml", "/audio/..%2Ffr/" + NAME,
     "/audio/fr/../ussd.yaml", "/audio/%2e%2e/fr/ussd.yaml", "/audio/fr/audio/" + NAME,
     "/audio/fr/.hidden-0123456789.wav", "/audio/fr/", "/audio/fr%2Faudio/" + NAME,
     "/audio/fr/" + NAME + "%00.yaml"],
)  # fmt: skip
def test_anything_else_is_404_in_plain_text(audio, tmp_path, path):
    (tmp_path / "fr" / "ussd.yaml").write_text("secret: copy")
    (tmp_path / "fr" / "audio" / ".hidden-0123456789.wav").write_bytes(WAV)
    response = audio.test_client().get(path)
    assert response.status_code == 404
    assert response.mimetype == "text/plain" and response.data == b"Not Found\n"


def test_the_app_shares_its_library_with_the_web(audio, tmp_path):
    library = audio.extensions["audio"]
    assert isinstance(library, Library) and library.root == tmp_path
    assert library.find("fr", "voice.star", "étoile") == NAME


def test_audio_dir_defaults_to_the_content(make_app):
    app = make_app(AUDIO_DIR="")  # the tests' own default is a folder with no recordings
    assert app.config["AUDIO_DIR"] == app.config["CONTENT_DIR"]
    assert app.extensions["audio"].root == Path(app.config["CONTENT_DIR"])


def test_a_found_recording_plays_from_its_url_over_real_http(audio):
    """What the voice endpoint will do: find a clip's file, build its URL, and AT fetches it."""
    from tests.conftest import serve

    name = audio.extensions["audio"].find("fr", "voice.star", "étoile")
    with serve(audio) as root:
        response = requests.get(audio_url(root, "fr", name), timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"] == "audio/wav"
    assert response.content == WAV
