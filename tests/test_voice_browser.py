"""The simulator's voice call in a real browser, calling the real Kalan: keys, silence, a
recording, a missed call and Kalan's call back. Chromium as for the console."""

import base64
import io
import re
import wave

import pytest
from werkzeug.wrappers import Response

from sandbox import create_app

from .conftest import needs_chromium, serve, shot
from .phone_line import CALLBACK, NUMBER, PHONE, SILENCE, SITE, TO_RECORD, switchboard, wav
from .test_simulator_browser import items, text, until

pytestmark = needs_chromium


def ended(last: dict) -> str:
    """Return what the page says of a call that ended, from its last request to Kalan."""
    seconds = int(last["durationInSeconds"])
    unit = "seconde" if seconds < 2 else "secondes"
    return f"Appel terminé ({last['hangupCause']}) : {seconds} {unit}, {last['amount']} XOF."


@pytest.fixture
def line(make_app):
    """Kalan behind a switchboard, and the sandbox calling it; yield both and the page's URL."""
    with switchboard(make_app(VOICE_SAY_MISSING=True, VOICE_DIGITS_TIMEOUT_S=1)) as board:
        sandbox = create_app({"KALAN_URL": board.url})
        with serve(sandbox) as url:
            yield board, sandbox, url


def said(browser) -> list[str]:
    """Return the voice log's lines, oldest first."""
    return items(browser, "voice-log")


def until_said(browser, pattern: str, count: int = 1) -> None:
    """Wait until count lines of the voice log start with pattern (a regular expression)."""
    from selenium.webdriver.support.ui import WebDriverWait

    def enough(_):
        return len([line for line in said(browser) if re.match(pattern, line)]) >= count

    try:
        WebDriverWait(browser, 10).until(enough)
    except Exception:
        assert said(browser) == [pattern]  # shows what the log says instead
        raise


def press(browser, *keys: str) -> None:
    for key in keys:
        browser.find_element("css selector", f"#keypad button[data-key='{key}']").click()


def click(browser, element_id: str) -> None:
    browser.find_element("id", element_id).click()


def test_the_voice_phone_before_any_call(browser, line):
    _, _, url = line
    browser.get(url + "/")
    shown = {
        ".voice h1": "Appel vocal",
        ".voice .intro": (
            f"Le même téléphone appelle Kalan au {NUMBER}, comme par Africa's Talking."
        ),
        "#call": "Appeler",
        "#missed": "Appel manqué",
        "#skip": "Passer l'annonce",
        "#silence": "Ne rien taper",
        "#voice-hangup": "Raccrocher",
        "#voice-status": "Prêt à appeler.",
        "label[for=record-file]": "Ou envoyez un fichier WAV",
    }
    for selector, words in shown.items():
        element = browser.find_element("css selector", selector)
        assert element.get_attribute("textContent") == words, selector
    keys = browser.find_elements("css selector", "#keypad button")
    assert [key.text for key in keys] == list("123456789*0#")
    assert all(not key.is_enabled() for key in keys)
    assert not browser.find_element("id", "record-box").is_displayed()
    assert not browser.find_element("id", "incoming").is_displayed()


def test_a_call_with_the_keypad_silence_and_hang_up(browser, line):
    board, _, url = line
    browser.get(url + "/")
    click(browser, "call")
    until_said(browser, "KalanBienvenue sur Kalan.")
    assert said(browser)[0] == f"Appel du {NUMBER} depuis le {PHONE}…"
    press(browser, "1")  # over the prompt: it stops, and the key goes
    until_said(browser, "KalanKalan - Menu principal")
    assert said(browser)[2] == "Vous1"
    shot(browser, "voice-01-menu")
    click(browser, "silence")
    until_said(browser, f"Kalan{re.escape(SILENCE)} Kalan - Menu principal")
    assert "(rien tapé)" in said(browser)
    click(browser, "voice-hangup")
    until_said(browser, "Vous avez raccroché.")
    last = board.voice()[-1].form
    assert (last["isActive"], last["hangupCause"]) == ("0", "NORMAL_CLEARING")
    assert text(browser, "voice-status") == ended(last)
    assert said(browser)[-1] == ended(last)
    silence = board.voice()[2]
    assert silence.args["via"] == "silence" and "dtmfDigits" not in silence.form


def test_no_key_before_the_timeout_follows_the_redirect(browser, line):
    board, _, url = line
    browser.get(url + "/")
    click(browser, "call")
    until_said(browser, "KalanBienvenue sur Kalan.")
    click(browser, "skip")  # the prompt cut short, Kalan's 1 second runs
    until_said(browser, re.escape("(rien tapé)"))
    until_said(browser, f"Kalan{re.escape(SILENCE)} Bienvenue sur Kalan.")
    assert board.voice()[1].args["via"] == "silence"
    click(browser, "voice-hangup")
    until_said(browser, "Vous avez raccroché.")


def test_a_recording_sent_as_a_wav_file(browser, line, tmp_path):
    board, sandbox, url = line
    source = tmp_path / "site.wav"
    source.write_bytes(wav())
    browser.get(url + "/")
    click(browser, "call")
    for n, key in enumerate(TO_RECORD, start=1):
        until_said(browser, "Kalan", count=n)
        press(browser, key)
    until_said(browser, f"Kalan{SITE}")
    click(browser, "skip")
    until(browser, "voice-status", "Micro indisponible : choisissez un fichier WAV, ou tapez # "
                                   "pour ne rien enregistrer.")  # fmt: skip
    assert browser.find_element("id", "record-box").is_displayed()
    shot(browser, "voice-02-record")
    browser.find_element("id", "record-file").send_keys(str(source))
    until_said(browser, "KalanCombien d'enfants ?")
    assert "Vous(enregistrement envoyé)" in said(browser)
    recording = board.voice()[-1].form["recordingUrl"]
    name = re.fullmatch(rf"{url}/sandbox/voice/recordings/(\w+)\.wav", recording)[1]
    assert sandbox.extensions["voice_recordings"].get(name) == wav()


def test_hash_at_a_record_prompt_records_nothing(browser, line):
    board, _, url = line
    browser.get(url + "/")
    click(browser, "call")
    for n, key in enumerate(TO_RECORD, start=1):
        until_said(browser, "Kalan", count=n)
        press(browser, key)
    until_said(browser, f"Kalan{SITE}")
    click(browser, "skip")
    until(browser, "voice-status", "Micro indisponible : choisissez un fichier WAV, ou tapez # "
                                   "pour ne rien enregistrer.")  # fmt: skip
    press(browser, "#")
    until_said(browser, "KalanCombien d'enfants ?")
    assert "Vous(rien enregistré)" in said(browser)
    assert "recordingUrl" not in board.voice()[-1].form


def test_a_missed_call_and_kalans_call_back(browser, line):
    board, sandbox, url = line
    browser.get(url + "/")
    click(browser, "missed")
    rejected = (
        "Kalan a rejeté l'appel (CALL_REJECTED) : il est gratuit pour vous. Kalan va vous rappeler."
    )
    until(browser, "voice-status", rejected)
    assert said(browser) == [f"Appel manqué vers le {CALLBACK} depuis le {PHONE}…", rejected]
    assert board.voice()[0].form["destinationNumber"] == CALLBACK
    sandbox.extensions["voice_outbound"].add(CALLBACK, PHONE, "ATVId_" + "b" * 32)  # a call back
    until(browser, "incoming-text", f"Kalan vous appelle depuis le {CALLBACK}.")
    assert browser.find_element("id", "incoming").is_displayed()
    shot(browser, "voice-03-incoming")
    click(browser, "pickup")
    until_said(browser, "KalanBienvenue sur Kalan.")
    assert not browser.find_element("id", "incoming").is_displayed()
    answered = board.voice()[-1].form
    assert (answered["direction"], answered["callerNumber"]) == ("Outbound", CALLBACK)
    click(browser, "voice-hangup")
    until_said(browser, "Vous avez raccroché.")


def test_refusing_kalans_call(browser, line):
    board, sandbox, url = line
    browser.get(url + "/")
    ringing = sandbox.extensions["voice_outbound"].add(CALLBACK, PHONE, "ATVId_" + "r" * 32)
    until(browser, "incoming-text", f"Kalan vous appelle depuis le {CALLBACK}.")
    click(browser, "refuse")
    until(browser, "voice-status", "Vous avez refusé l'appel de Kalan.")
    (last,) = board.voice()
    assert (last.form["sessionId"], last.form["hangupCause"]) == (ringing.session_id, "USER_BUSY")
    assert not browser.find_element("id", "incoming").is_displayed()


def test_played_prompts_and_a_key_over_them(browser):
    def kalan(seen):
        if seen.path == "/audio/long.wav":  # long enough to be still playing at the key
            return Response(wav(30), mimetype="audio/wav", headers={"X-Prompt-Text": "Tapez%201"})
        if seen.path == "/audio/missing.wav":
            return Response("", 404)
        if seen.form.get("isActive") == "0" or "dtmfDigits" in seen.form:
            return Response("<Response><Say>Merci</Say></Response>")
        return Response(
            f"<Response><Play url='{board.url}/audio/missing.wav'/>"
            f"<GetDigits numDigits='1' callbackUrl='{board.url}/voice?turn=1'>"
            f"<Play url='{board.url}/audio/long.wav'/></GetDigits>"
            f"<Redirect>{board.url}/voice?turn=1&amp;via=silence</Redirect></Response>"
        )

    with switchboard(script=kalan) as board:
        with serve(create_app({"KALAN_URL": board.url})) as url:
            browser.get(url + "/")
            click(browser, "call")
            until_said(browser, "KalanTapez 1")
            assert said(browser)[1:3] == [
                "Kalan[audio missing.wav]",
                "Audio introuvable : missing.wav",
            ]
            assert items(browser, "voice-warnings") == [
                "L'audio missing.wav ne répond pas 200 : Africa's Talking ne pourrait pas le jouer."
            ]
            until(browser, "voice-status", "Kalan parle… Une touche l'interrompt.")
            press(browser, "1")  # while the recording plays
            until_said(browser, "KalanMerci")
            assert said(browser)[-3] == "Vous1"
            assert board.voice()[1].form["dtmfDigits"] == "1"


def test_what_kalan_should_not_send_is_shown(browser):
    body = "<Response><Say>Bonjour</Say><Dial phoneNumbers='+22370000002'/></Response>"
    with switchboard(script=lambda seen: Response(body, mimetype="application/xml")) as board:
        with serve(create_app({"KALAN_URL": board.url})) as url:
            browser.get(url + "/")
            click(browser, "call")
            until_said(browser, "KalanBonjour")
            assert items(browser, "voice-warnings") == [
                "Verbe Dial : Africa's Talking le connaît, mais Kalan ne devrait jamais "
                "l'envoyer (ignoré)."
            ]


# What the page says of each code the sandbox may give of a call.
CODES = {
    ("errors", "unknown_verb:Hangup"): (
        "la réponse de Kalan contient <Hangup>, inconnu d'Africa's Talking."
    ),
    ("errors", "bad_xml"): "la réponse de Kalan n'est pas du XML.",
    ("errors", "not_wav"): "l'enregistrement n'est pas un fichier WAV.",
    ("errors", "HTTP 500"): "Kalan a répondu avec le code HTTP 500.",
    ("errors", "Connection refused"): "Kalan est injoignable (connexion refusée).",
    ("errors", "odd:thing"): "odd:thing",  # unforeseen: shown as it came
    ("warnings", "no_redirect:GetDigits"): (
        "GetDigits sans Redirect après : sans réponse, l'appel s'arrêterait."
    ),
    ("warnings", "play_unavailable:a.wav"): (
        "L'audio a.wav ne répond pas 200 : Africa's Talking ne pourrait pas le jouer."
    ),
}


def test_the_page_words_what_a_call_may_say(browser, line):
    _, _, url = line
    browser.get(url + "/")
    worded = {
        (table, code): browser.execute_script(
            "return voiceWords(WORDS[arguments[0]], arguments[1]);", table, code
        )
        for table, code in CODES
    }
    assert worded == CODES


def test_the_microphones_audio_becomes_a_telephone_wav(browser, line):
    """What a microphone gives is converted as a line records: 8 kHz, mono, 16-bit PCM."""
    _, _, url = line
    browser.get(url + "/")
    source = io.BytesIO()
    with wave.open(source, "wb") as out:  # CD quality, stereo: nothing like a phone line
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\x00\x10" * 2 * 44100)
    converted = browser.execute_async_script(
        """
        const [data, done] = arguments;
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        toWav(new Blob([bytes]))
          .then((blob) => blob.arrayBuffer())
          .then((buffer) => done(btoa(String.fromCharCode(...new Uint8Array(buffer)))))
          .catch((error) => done(String(error)));
        """,
        base64.b64encode(source.getvalue()).decode(),
    )
    with wave.open(io.BytesIO(base64.b64decode(converted)), "rb") as result:
        shape = (result.getnchannels(), result.getsampwidth(), result.getframerate())
        frames = result.getnframes()
    assert shape == (1, 2, 8000)
    assert frames == 8000  # one second, still
