"""POST /voice over HTTP: the journeys by phone call, the XML Africa's Talking reads, and turns."""

import io
import random
import re
import wave
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from app.cases import recordings
from app.content import load
from app.infra.config import ROOT
from app.infra.media import Recording
from app.infra.models import Case
from app.voice import placeholders
from app.voice.placeholders import missing_tools

from .conftest import Call, Dial, Http, serve
from .helpers import fetch_now, media_server, wav

VERBS = {"Say", "Play", "GetDigits", "Record", "Redirect", "Reject"}  # Africa's Talking's own
PROMPTS = {"Say", "Play"}  # what may be nested in GetDigits or Record
CATALOG, _ = load(Path(ROOT) / "content")
DIGIT_WORDS = "zéro un deux trois quatre cinq six sept huit neuf".split()


@pytest.fixture
def app(make_app, tmp_path):
    """Kalan with no recordings at all: prompts are said by Say, as in development."""
    return make_app(VOICE_SAY_MISSING=True, AUDIO_DIR=str(tmp_path))


@pytest.fixture
def call(client):
    """A call to Kalan from the default test phone."""
    return Call(client)


def check_xml(body: str) -> ElementTree.Element:
    """Fail unless body is a voice answer AT can run: its verbs only, every wait re-prompted."""
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ElementTree.fromstring(body)
    assert root.tag == "Response"
    actions = list(root)
    for n, action in enumerate(actions):
        assert action.tag in VERBS, action.tag
        if action.tag in ("GetDigits", "Record"):
            # No input means no callback: without a Redirect after it, the call would end.
            assert n + 1 < len(actions) and actions[n + 1].tag == "Redirect", body
            assert action.get("callbackUrl", "").startswith("http"), body
            assert {child.tag for child in action} <= PROMPTS, body
            assert len(action) <= 1, body  # one prompt: keys pressed during it are heard
        if action.tag == "GetDigits":
            assert int(action.get("numDigits")) >= 1 and int(action.get("timeout")) >= 1
        if action.tag == "Redirect":
            assert action.text.startswith("http"), body
    return root


def test_a_first_call_opens_on_the_language_choice_said_in_it(call):
    words = call()
    assert words.startswith("Bienvenue sur Kalan. Choisissez votre langue")
    assert "Pour le français, tapez un" in words
    digits = call.action("GetDigits")
    assert digits.get("numDigits") == "1" and digits.get("finishOnKey") is None
    assert call("1").startswith("Kalan - Menu principal Pour Formation, tapez un")


def test_the_keys_are_said_on_the_main_menu(call):
    assert call("1").endswith("9 pour répéter, 0 pour revenir, étoile pour le menu principal.")


@pytest.mark.parametrize(
    ("keys", "start"),
    [
        (["1", "5"], "Mon compte / Aide"),  # a menu's option
        (["1", "5", "9"], "Mon compte / Aide"),  # 9 repeats
        (["1", "5", "0"], "Kalan - Menu principal"),  # 0 goes back
        (["1", "5", "4", "*"], "Kalan - Menu principal"),  # * returns to the main menu
        (["1", "7"], "Choix invalide. Kalan - Menu principal"),  # no such option
        (["1", "4"], "Entrez la référence du signalement"),  # an open answer
    ],
)
def test_keys(call, keys, start):
    assert call(*keys).startswith(start)


def test_a_long_menu_is_said_eight_options_at_a_time(call):
    # Signaler > Orpaillage > Bougouni: 11 cercles, said 8 then 3, each numbered from 1.
    words = call("1", "2", "1", "2")
    assert "Pour Bougouni, tapez un" in words and "Pour Dogo, tapez neuf" not in words
    assert words.endswith("Pour entendre la suite, tapez dièse.")
    words = call("#")
    assert "Pour Dogo, tapez un" in words and "entendre la suite" not in words
    assert call("0").endswith("Pour entendre la suite, tapez dièse.")  # back to the first eight
    call("#")
    assert call("1").startswith("Dites le nom du village")  # Dogo: the 9th cercle
    assert call.action("Record").get("finishOnKey") == "#"


def test_an_open_answer_waits_for_the_hash_key(call):
    call("1", "4")
    digits = call.action("GetDigits")
    assert (digits.get("numDigits"), digits.get("finishOnKey")) == ("6", "#")
    assert call("12").startswith("Référence non valide")


def test_a_name_cannot_be_typed_on_a_call(call):
    words = call("1", "5")
    assert "Mon nom" not in words  # offered on USSD only
    assert "Mon profil" in words


def test_silence_repeats_the_prompt_once_then_says_goodbye(call):
    menu = call("1")
    assert call.silence() == "Nous n'avons rien entendu. " + menu
    words = call.silence()
    assert words.startswith("Nous n'avons rien entendu. Rappelez quand vous voulez")
    assert call.xml.find("GetDigits") is None and call.xml.find("Redirect") is None


def test_a_key_after_a_silence_starts_the_count_again(call):
    call("1")
    call.silence()
    call("5")
    call.silence()
    assert call.xml.find("GetDigits") is not None  # one silence since the last key


def test_a_retried_turn_gets_the_same_answer_and_changes_nothing(call):
    call("1")
    url = call.action("GetDigits").get("callbackUrl")
    first = call.post(url, dtmfDigits="5")
    again = call.post(url, dtmfDigits="5")  # the gateway thought the first timed out
    assert again == first
    assert call("1").startswith("Mon profil") or "Numéro" in call.words()


def test_an_older_turn_replayed_late_changes_nothing(call):
    call("1")
    old = call.action("GetDigits").get("callbackUrl")
    call("5")
    now = call.answers[-1]
    assert call.post(old, dtmfDigits="2") == now


def test_a_call_from_no_number_is_a_bad_request(client):
    form = {"sessionId": "ATVId_x", "isActive": "1", "destinationNumber": "+22320000000"}
    response = client.post("/voice", data={**form, "callerNumber": "anonymous"})
    assert response.status_code == 400
    assert (
        response.get_data(as_text=True).strip().endswith("callerNumber is not a valid phone number")
    )
    response = client.post("/voice", data=form)
    assert response.status_code == 400 and b"missing field: callerNumber" in response.data


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sessionId": "bad id!", "isActive": "1"}, b"sessionId"),
        ({"sessionId": "ATVId_1", "isActive": "2"}, b"isActive"),
        ({"sessionId": "ATVId_1", "isActive": "1", "dtmfDigits": "1<"}, b"dtmfDigits"),
        ({"isActive": "1"}, b"sessionId"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(client, fields, message):
    number = {"callerNumber": "+22370000099", "destinationNumber": "+22320000000"}
    response = client.post("/voice", data={**number, **fields})
    assert response.status_code == 400
    assert message in response.data


def test_the_webhook_token_guards_calls(make_app, tmp_path):
    app = make_app(WEBHOOK_TOKEN="s" * 40, VOICE_SAY_MISSING=True, AUDIO_DIR=str(tmp_path))
    client = app.test_client()
    assert client.post("/voice", data={"sessionId": "x", "isActive": "1"}).status_code == 403
    call = Call(client, token="s" * 40)
    call("1")
    # The next turn's URLs carry the token, or AT's next request would be refused.
    assert "token=" + "s" * 40 in call.action("GetDigits").get("callbackUrl")
    assert call("5").startswith("Mon compte")


def test_every_answer_of_a_random_walk_is_xml_at_can_run(live_server, agent):
    """Over real HTTP: 140 turns of two callers, keys, silences and recordings at random."""
    rng = random.Random(17)
    for phone in ("+22370000123", agent):
        call = Call(Http(live_server), phone=phone)
        call()
        check_xml(call.answers[-1])
        for _ in range(70):
            if call.xml.find("GetDigits") is not None:
                if rng.random() < 0.1:
                    call.silence()
                else:
                    call(rng.choice("1111222334567890*#"))
            elif call.xml.find("Record") is not None:
                call.record("http://127.0.0.1:9/recording.wav")
            else:  # the call ended: call again
                call.session_id = None
                call()
            check_xml(call.answers[-1])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Build the French placeholders once, into a folder of this module's own."""
    if missing_tools():
        pytest.skip("needs Debian's espeak-ng and sox: run deploy/audio-setup.sh (as root)")
    root = tmp_path_factory.mktemp("audio")
    built = placeholders.build(CATALOG, "fr", root)
    assert not built.failed
    return root


def test_with_recordings_every_prompt_is_one_play_that_answers_audio(
    make_app, agent, recorded, caplog
):
    """Over real HTTP, as AT calls and fetches: every answer AT's XML, every Play audio."""
    app = make_app(AUDIO_DIR=str(recorded))  # VOICE_SAY_MISSING off, as production has it
    with serve(app) as base_url:
        _walk_and_fetch(Http(base_url), agent)
    # Production leaves a clip with no recording out, and logs it: none may be missing.
    assert not [r for r in caplog.records if "no recording of" in r.getMessage()]


def _walk_and_fetch(client, agent) -> None:
    rng, urls = random.Random(5), set()
    for phone in ("+22370000124", agent):
        call = Call(client, phone=phone)
        call()
        for _ in range(60):
            root = check_xml(call.answers[-1])
            assert root.find(".//Say") is None
            urls.update(play.get("url") for play in root.iter("Play"))
            if root.find("GetDigits") is not None:
                call(rng.choice("1111222334567890*#"))
            elif root.find("Record") is not None:
                call.record("http://127.0.0.1:9/site.wav")
            else:
                call.session_id = None
                call()
    assert len(urls) > 25
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "audio/wav"
        with wave.open(io.BytesIO(response.data)) as audio:
            assert (audio.getnchannels(), audio.getframerate()) == (1, 8000)
            assert audio.getnframes() > 800  # a tenth of a second at least


def test_a_prompt_saying_the_callers_number_is_fetched_by_a_url_that_does_not(
    make_app, recorded, caplog
):
    app = make_app(AUDIO_DIR=str(recorded))
    call = Call(app.test_client())
    call("1", "5")  # French, Compte
    assert "/audio/join/" in call.action("GetDigits").find("Play").get("url")
    call("1")  # Mon profil: the caller's number, said digit by digit
    url = call.action("GetDigits").find("Play").get("url")
    assert "/audio/said/" in url  # a random name: logs and caches learn nothing
    response = app.test_client().get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert not [r for r in caplog.records if "no recording of" in r.getMessage()]


def test_with_no_recordings_production_says_nothing_rather_than_french(make_app):
    client = make_app(AUDIO_DIR=str(ROOT / "tests"), VOICE_SAY_MISSING=False).test_client()
    call = Call(client)
    call()
    call("1", "2")
    assert not any("<Say" in body for body in call.answers)
    for body in call.answers:
        assert len(check_xml(body).find("GetDigits")) == 0  # nothing to say: silence, and keys


def test_module_one_by_voice_then_resumed_by_ussd_at_the_exact_question(app, client, call):
    assert call().startswith("Bienvenue sur Kalan")
    call("1")  # French
    call("1", "2")  # Formation, Les modules
    words = call("1")  # module 1
    assert words.startswith("Leçon un sur six")
    for _ in range(6):
        words = call("1")  # Suite, through the six lessons
    assert words.startswith("Question un sur ")
    words = call("1")  # an answer: its feedback
    assert words.startswith(("Oui.", "Non."))
    words = call("1")  # on to the next question
    assert words.startswith("Question deux sur ")
    question = re.match(r"Question deux sur \w+ (.+?) Pour ", words)[1]
    call.hang_up()
    ussd = Dial(client, phone=call.phone)
    assert ussd().startswith("CON Vous n'aviez pas terminé")
    screen = ussd("1")
    assert screen.startswith("CON Q2/")
    assert question in " ".join(screen.split())


def test_a_report_by_voice_records_the_site_and_reads_the_reference_digit_by_digit(
    make_app, tmp_path
):
    app = make_app(VOICE_SAY_MISSING=True, AUDIO_DIR=str(tmp_path),
                   RECORDINGS_DIR=str(tmp_path / "recordings"))  # fmt: skip
    call = Call(app.test_client())
    call()
    call("1", "2")  # French, Signaler
    words = call("1", "1", "2")  # Orpaillage, Sikasso, Kadiolo
    assert words.startswith("Dites le nom du village ou du site")
    with media_server() as media:
        call.record(media.serve("/site.wav", wav()))
        words = call("2", "2", "1", "2", "3", "2")  # children, age, sex, school, mercury, anonymous
        assert "(lieu enregistré par la voix)" in words
        done = call("1")  # Envoyer
        with app.extensions["db"]() as db:
            case = db.scalars(select(Case)).one()
            recording = db.scalars(select(Recording)).one()
        assert recording.case_id == case.id
        assert fetch_now(app, recording.id) == "fetched"  # what the worker does
    with app.app_context(), app.extensions["db"]() as db:
        kept = db.get(Recording, recording.id)
        assert recordings.read(app.config, kept) == wav()  # what the console plays
    spelled = " ".join(DIGIT_WORDS[int(d)] for d in case.reference)
    assert done.startswith(f"Merci. Votre référence est : {spelled}. Je répète : {spelled}.")
    assert case.place in (None, "")  # nothing written: the name is in the recording
    assert call.xml.find("GetDigits") is None  # the call ends on the reference


def test_a_nul_in_a_calls_last_request_is_a_bad_request(client):
    form = {"sessionId": "ATVId_n", "isActive": "0", "callerNumber": "+22370000099",
            "destinationNumber": "+22320000000", "hangupCause": "NORMAL\x00CLEARING"}  # fmt: skip
    response = client.post("/voice", data=form)
    assert response.status_code == 400 and b"NUL" in response.data
