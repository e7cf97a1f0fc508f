"""The sandbox's voice call against the real Kalan over real HTTP, then against scripted answers."""

import logging

import pytest
import requests
from werkzeug.wrappers import Response

from sandbox import create_app as create_sandbox
from sandbox.tariff import Tariff
from sandbox.voice import CallEnded, VoiceCall, collected
from sandbox.voice_xml import GetDigits, Record

from .conftest import serve
from .phone_line import (
    CALLBACK,
    CHILDREN,
    COMMON,
    GOODBYE,
    LAST,
    MENU,
    NUMBER,
    PHONE,
    SILENCE,
    SITE,
    TO_RECORD,
    WELCOME,
    Clock,
    said,
    switchboard,
    wav,
)

TARIFF = Tariff.parse("XOF 50.0000")


@pytest.fixture
def kalan(make_app):
    """Kalan saying its prompts by <Say>, behind a switchboard that notes every request."""
    with switchboard(make_app(VOICE_SAY_MISSING=True)) as board:
        yield board


def call_kalan(board, clock=None, number=NUMBER, **options) -> VoiceCall:
    return VoiceCall(board.url + "/voice", PHONE, number, tariff=TARIFF, clock=clock or Clock(),
                     **options)  # fmt: skip


def test_a_whole_call_silence_redirect_repeat_goodbye(kalan):
    clock = Clock()
    call = call_kalan(kalan, clock)
    turn = call.start()
    assert said(turn).startswith(WELCOME)
    assert isinstance(turn.wait, GetDigits) and turn.wait.num_digits == 1
    assert (turn.warnings, turn.ended) == ([], False)  # only AT's verbs, a Redirect after
    turn = call.keys("1")
    assert said(turn).startswith(MENU)
    turn = call.silence()  # no key: AT follows the Redirect, and Kalan says it again
    assert said(turn).startswith(f"{SILENCE} {MENU}")
    assert not turn.ended
    clock.now += 61  # a call into its second minute
    turn = call.silence()
    assert said(turn).startswith(GOODBYE)
    assert (turn.ended, turn.cause, turn.error) == (True, "NORMAL_CLEARING", None)
    assert (call.duration, call.price()) == (61, "100.0000")  # two minutes begun, 50 each

    first, keys, silence, again, last = kalan.voice()
    assert first.names == [*COMMON, "callSessionState"]
    assert first.form["callSessionState"] == "Ringing"
    assert first.args == {}  # the number's callback URL, as registered
    # The keys go to the GetDigits' callbackUrl exactly; silence to the Redirect, with no keys.
    assert (keys.args, keys.form["dtmfDigits"]) == ({"turn": "1", "via": "keys"}, "1")
    assert silence.args == {"turn": "2", "via": "silence"} and "dtmfDigits" not in silence.form
    assert again.args == {"turn": "3", "via": "silence"}
    assert last.args == {} and last.names == LAST
    assert {name: last.form[name] for name in LAST} == {
        "isActive": "0",
        "sessionId": call.session_id,
        "direction": "Inbound",
        "callerNumber": PHONE,
        "destinationNumber": NUMBER,
        "callSessionState": "Completed",
        "durationInSeconds": "61",
        "currencyCode": "XOF",
        "amount": "100.0000",
        "hangupCause": "NORMAL_CLEARING",
    }
    assert {seen.form["sessionId"] for seen in kalan.voice()} == {call.session_id}
    with pytest.raises(CallEnded):
        call.keys("1")


def test_record_a_wav_the_app_can_download(kalan):
    sandbox = create_sandbox({"TESTING": True})
    with serve(sandbox) as sandbox_url:
        sent = requests.post(sandbox_url + "/sandbox/voice/recordings", data=wav(), timeout=5)
        assert sent.status_code == 201
        url = sent.json()["url"]
        call = call_kalan(kalan)
        call.start()
        for keys in TO_RECORD:
            turn = call.keys(keys)
        assert said(turn).startswith(SITE)
        assert isinstance(turn.wait, Record) and turn.wait.finish_on_key == "#"
        with pytest.raises(CallEnded):
            call.keys("1")  # a Record waits for a recording, not keys
        turn = call.record(url)
        assert said(turn).startswith(CHILDREN)
        posted = kalan.voice()[-1]
        assert posted.args["via"] == "record" and posted.form["recordingUrl"] == url
        fetched = requests.get(url, timeout=5)  # what Kalan's worker will download
    assert (fetched.status_code, fetched.headers["Content-Type"]) == (200, "audio/wav")
    assert fetched.content == wav()
    call.hangup()
    assert kalan.voice()[-1].form["hangupCause"] == "NORMAL_CLEARING"


def test_hash_at_once_records_nothing_and_the_question_is_skipped(kalan):
    call = call_kalan(kalan)
    call.start()
    for keys in TO_RECORD:
        call.keys(keys)
    turn = call.record(None)
    assert said(turn).startswith(CHILDREN)
    assert "recordingUrl" not in kalan.voice()[-1].form


def test_an_outbound_call_is_the_person_called_by_the_number(kalan):
    call = VoiceCall(kalan.url + "/voice", PHONE, NUMBER, "Outbound", "ATVId_" + "c" * 32)
    assert said(call.start()).startswith(WELCOME)
    call.hangup()
    fields = ("sessionId", "direction", "callerNumber", "destinationNumber")
    sent = {tuple(seen.form[name] for name in fields) for seen in kalan.voice()}
    assert sent == {("ATVId_" + "c" * 32, "Outbound", NUMBER, PHONE)}


def test_a_missed_call_is_rejected_free(kalan):
    clock = Clock()
    call = call_kalan(kalan, clock, number=CALLBACK)
    clock.now += 5
    turn = call.start()
    assert (turn.ended, turn.cause, turn.prompts) == (True, "CALL_REJECTED", [])
    last = kalan.voice()[-1].form
    assert (last["isActive"], last["hangupCause"], last["durationInSeconds"], last["amount"]) == (
        "0", "CALL_REJECTED", "0", "0.0000",
    )  # fmt: skip


def test_refusing_a_ringing_call_tells_the_app_busy(kalan):
    call = VoiceCall(kalan.url + "/voice", PHONE, NUMBER, "Outbound", tariff=TARIFF)
    turn = call.decline()
    assert (turn.ended, turn.cause) == (True, "USER_BUSY")
    (last,) = kalan.voice()
    assert (last.form["isActive"], last.form["hangupCause"], last.form["amount"]) == (
        "0", "USER_BUSY", "0.0000",
    )  # fmt: skip
    with pytest.raises(RuntimeError):
        call.start()


# Against scripted answers: what Kalan should never send, and how the call copes.


def answers(*bodies, status=200, headers=None):
    """Return a script answering /voice with bodies in turn (the last one repeated)."""
    left = list(bodies)

    def script(seen):
        if seen.form.get("isActive") == "0":
            return Response("", 200)
        body = left.pop(0) if len(left) > 1 else left[0]
        return Response(body, status, headers, mimetype="application/xml")

    return script


def doc(body: str) -> str:
    return f"<Response>{body}</Response>"


def scripted(*bodies, **reply):
    return switchboard(script=answers(*bodies, **reply))


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (doc("<Hangup/>"), 200, "unknown_verb:Hangup"),
        ("END Au revoir", 200, "bad_xml"),
        (doc("<Say>x</Say>"), 500, "HTTP 500"),
    ],
)
def test_an_answer_at_could_not_run_fails_the_call(body, status, error):
    with scripted(body, status=status) as board:
        turn = call_kalan(board).start()
        assert (turn.ended, turn.cause, turn.error) == (True, "UNSPECIFIED", error)
        assert board.voice()[-1].form["hangupCause"] == "UNSPECIFIED"


def test_nothing_listening_fails_the_call_and_the_last_request_is_only_logged(caplog):
    with switchboard(script=answers("")) as board:
        url = board.url
    call = VoiceCall(url + "/voice", PHONE, NUMBER)
    with caplog.at_level(logging.WARNING, logger="sandbox.voice"):
        turn = call.start()
    assert (turn.ended, turn.error) == (True, "Connection refused")
    assert f"last request of call {call.session_id} failed: ConnectionError" in caplog.text


def test_verbs_kalan_never_uses_are_skipped_with_a_warning():
    body = doc("<Say>Un</Say><Dial phoneNumbers='+22370000002'/><Say>Deux</Say>")
    with scripted(body) as board:
        turn = call_kalan(board).start()
    assert [p.text for p in turn.prompts] == ["Un", "Deux"]
    assert turn.warnings == ["unexpected_verb:Dial"]
    assert (turn.ended, turn.cause) == (True, "NORMAL_CLEARING")  # the actions ran out


def test_a_redirect_loop_ends_the_call():
    with switchboard(
        script=lambda seen: Response(doc(f"<Redirect>{board.url}/voice</Redirect>"))
    ) as board:
        turn = call_kalan(board).start()
    assert (turn.ended, turn.error) == (True, "redirect_loop")
    assert len(board.voice()) == 1 + 20 + 1  # the call, the redirects allowed, the last request


def test_getdigits_without_callback_url_posts_to_the_numbers_url():
    with scripted(
        doc("<GetDigits><Say>Un chiffre</Say></GetDigits>"), doc("<Say>Merci</Say>")
    ) as board:
        call = call_kalan(board)
        call.start()
        turn = call.keys("7")
        keys = board.voice()[1]
    assert (keys.path, keys.args, keys.form["dtmfDigits"]) == ("/voice", {}, "7")
    assert [p.text for p in turn.prompts] == ["Merci"] and turn.ended


def test_play_urls_are_checked_and_may_tell_their_words():
    def audio(seen):
        if seen.path == "/audio/ok.wav":
            return Response(
                b"RIFF", mimetype="audio/wav", headers={"X-Prompt-Text": "Bonjour%20%C3%A0%20vous"}
            )
        if seen.path == "/audio/page.wav":
            return Response("<html>", mimetype="text/html")
        if seen.path == "/audio/missing.wav":
            return Response("", 404)
        if seen.form.get("isActive") == "0":
            return Response("")
        names = ("ok.wav", "page.wav", "missing.wav")
        return Response(doc("".join(f"<Play url='{board.url}/audio/{n}'/>" for n in names)))

    with switchboard(script=audio) as board:
        turn = call_kalan(board).start()
    assert [(p.name, p.text) for p in turn.prompts] == [
        ("ok.wav", "Bonjour à vous"), ("page.wav", ""), ("missing.wav", ""),
    ]  # fmt: skip
    assert turn.warnings == ["play_not_audio:page.wav", "play_unavailable:missing.wav"]


@pytest.mark.parametrize(
    ("num_digits", "finish", "pressed", "posted"),
    [
        (None, None, "123", "1"),  # AT returns after the first key
        (3, None, "12345", "123"),
        (None, "#", "1234#9", "1234"),  # the key itself is not sent
        (2, "#", "1#", "1"),
        (2, "#", "123#", "12"),
        (4, "*", "*", ""),  # nothing before the key: silence
        (1, None, "", ""),
    ],
)
def test_keys_are_cut_as_at_cuts_them(num_digits, finish, pressed, posted):
    wait = GetDigits((), None, num_digits, 10, finish)
    assert collected(pressed, wait) == posted


def test_no_keys_at_all_is_silence_and_follows_the_redirect():
    with switchboard(script=lambda seen: None) as board:
        keys = f'<GetDigits numDigits="4" finishOnKey="#" callbackUrl="{board.url}/voice?turn=1">'
        silence = f"<Redirect>{board.url}/voice?turn=1&amp;via=silence</Redirect>"
        first = doc(keys + "<Say>Code</Say></GetDigits>" + silence)
        board.script = answers(first, doc("<Say>Encore</Say>"))
        call = call_kalan(board)
        call.start()
        turn = call.keys("#")
    assert board.voice()[1].args == {"turn": "1", "via": "silence"}
    assert "dtmfDigits" not in board.voice()[1].form
    assert [p.text for p in turn.prompts] == ["Encore"]


def test_a_call_acts_only_on_what_it_waits_for():
    with scripted(doc("<Say>Au revoir</Say>")) as board:
        call = call_kalan(board)
        with pytest.raises(CallEnded):
            call.keys("1")  # not started
        call.start()
        for action in (call.silence, call.hangup, lambda: call.record(None)):
            with pytest.raises(CallEnded):
                action()
        with pytest.raises(RuntimeError):
            call.start()
