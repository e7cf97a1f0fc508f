"""app/voice/prompt.py and GET /audio/join/: a prompt's clips joined into one WAV, in order."""

import io
import wave
from urllib.parse import unquote

import pytest

from app.voice import prompt
from app.voice.audio import Library, file_name

BASE = "https://cdn.example.org/kalan"


def wav(frames: int, rate: int = 8000, value: int = 1) -> bytes:
    """Return a mono 16-bit WAV of frames samples, each worth value."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(value.to_bytes(2, "little") * frames)
    return out.getvalue()


PARTS = [
    {"clip": "voice.option~0", "text": "Pour", "lang": "fr"},
    {"clip": "menu.training", "text": "Formation", "lang": "fr"},
    {"clip": "voice.digit.1", "text": "un", "lang": "fr"},
]


@pytest.fixture
def root(tmp_path):
    """Recordings of the three parts: two placeholders and a person's, of 100, 200, 300 frames."""
    folder = tmp_path / "fr" / "audio"
    folder.mkdir(parents=True)
    for n, (part, human) in enumerate(zip(PARTS, (False, True, False), strict=True), 1):
        name = file_name(part["clip"], part["text"], placeholder=not human)
        (folder / name).write_bytes(wav(100 * n, value=n))
    return tmp_path


def test_a_prompt_url_names_each_recording_by_text_and_kind(root):
    url = prompt.url(Library(root), PARTS, BASE + "/")
    assert url.startswith(BASE + "/audio/join/") and url.endswith(".wav")
    tokens = url.rsplit("/", 1)[1][: -len(".wav")].split("-")
    kinds = [prompt.TOKEN.match(t)["tts"] == "t" for t in tokens]
    assert kinds == [True, False, True]  # a placeholder's or a person's


def test_one_part_is_its_own_file(root):
    url = prompt.url(Library(root), PARTS[1:2], BASE)
    name = file_name("menu.training", "Formation")
    assert url.startswith(BASE + "/audio/fr/" + name + "?v=")


def test_a_new_take_of_the_same_text_gets_a_new_url(root):
    before = prompt.url(Library(root), PARTS, BASE)
    person = root / "fr" / "audio" / file_name("menu.training", "Formation")
    person.write_bytes(wav(250, value=7))  # recorded again: same text, same name
    after = prompt.url(Library(root), PARTS, BASE)
    assert after != before
    assert prompt.url(Library(root), PARTS, BASE) == after  # and stable from then on


def test_a_missing_part_gives_no_url_unless_partial(root):
    parts = [*PARTS, {"clip": "voice.digit.2", "text": "deux", "lang": "fr"}]
    assert prompt.url(Library(root), parts, BASE) is None
    assert prompt.url(Library(root), parts, BASE, partial=True) == prompt.url(
        Library(root), PARTS, BASE
    )


def test_a_join_is_the_recordings_in_order(make_app, root):
    client = make_app(AUDIO_DIR=str(root)).test_client()
    url = prompt.url(Library(root), PARTS, "http://localhost")
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    with wave.open(io.BytesIO(response.data)) as audio:
        frames = audio.readframes(audio.getnframes())
    samples = [int.from_bytes(frames[i : i + 2], "little") for i in range(0, len(frames), 2)]
    assert samples == [1] * 100 + [2] * 200 + [3] * 300
    assert "immutable" in response.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(
    "joined",
    [
        "fr0123456789",
        "fr0123456789-xx0123456789",
        "fr0123456789t-fr9999999999",
        "-".join(["a"] * 81),
    ],
)
def test_a_join_of_unknown_recordings_is_not_found(make_app, root, joined):
    client = make_app(AUDIO_DIR=str(root)).test_client()
    assert client.get(f"/audio/join/{joined}.wav").status_code == 404


def test_recordings_of_another_format_are_not_joined(make_app, root):
    folder = root / "fr" / "audio"
    odd = folder / file_name("voice.digit.1", "un", placeholder=True)
    odd.write_bytes(wav(300, rate=16000))
    client = make_app(AUDIO_DIR=str(root)).test_client()
    assert client.get(prompt.url(Library(root), PARTS, "http://localhost")).status_code == 404


def test_a_join_tells_its_words_for_the_simulators(make_app, root):
    client = make_app(AUDIO_DIR=str(root)).test_client()
    response = client.get(prompt.url(Library(root), PARTS, "http://localhost"))
    assert unquote(response.headers["X-Prompt-Text"]) == "Pour Formation un"


def test_a_prompt_with_a_callers_value_is_kept_under_a_random_name(make_app, root):
    app = make_app(AUDIO_DIR=str(root))
    redis, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    private = [*PARTS[:2], {**PARTS[2], "private": True}]  # "un": a digit of a reference
    assert prompt.url(Library(root), private, BASE) is None  # never by a telling URL
    url = prompt.url(Library(root), private, "http://localhost", keep=prompt.keeper(redis, prefix))
    name = url.rsplit("/", 1)[1][: -len(".wav")]
    assert url.startswith("http://localhost/audio/said/") and prompt.SAID_ID.match(name)
    assert prompt.url(Library(root), PARTS, BASE).rsplit("/", 1)[1][:-4] not in url
    response = app.test_client().get(url)
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in response.headers and "X-Prompt-Text" not in response.headers
    assert redis.ttl(f"{prefix}voice:said:{name}") <= prompt.SAID_TTL_S
    redis.delete(f"{prefix}voice:said:{name}")  # minutes later: gone
    assert app.test_client().get(url).status_code == 404


@pytest.mark.parametrize("name", ["x" * 22, "short", "../../etc/passwd0000000"])
def test_an_unknown_said_prompt_is_not_found(make_app, root, name):
    assert (
        make_app(AUDIO_DIR=str(root)).test_client().get(f"/audio/said/{name}.wav").status_code
        == 404
    )


def test_a_join_longer_than_three_minutes_is_refused(make_app, tmp_path):
    folder = tmp_path / "fr" / "audio"
    folder.mkdir(parents=True)
    name = file_name("help.about", "long", placeholder=True)
    (folder / name).write_bytes(wav(8000 * 100))  # 100 s
    token = "fr" + name.split("-")[1].split(".")[0] + "t"
    client = make_app(AUDIO_DIR=str(tmp_path)).test_client()
    assert client.get(f"/audio/join/{token}-{token}.wav").status_code == 404


def test_the_words_are_told_in_development_only(make_app, root):
    url = prompt.url(Library(root), PARTS, "http://localhost")
    production = make_app(AUDIO_DIR=str(root), APP_ENV="production").test_client().get(url)
    assert production.status_code == 200 and "X-Prompt-Text" not in production.headers
