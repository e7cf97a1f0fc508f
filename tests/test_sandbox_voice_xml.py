"""The sandbox reads voice answers as strictly as AT: what it runs, warns of, refuses."""

import pytest

from sandbox.voice_xml import GetDigits, Prompt, Record, Redirect, Reject, XmlError, parse

HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
URL = "http://kalan.test/voice?turn=1&amp;via="


def doc(body: str) -> str:
    return f"{HEAD}<Response>{body}</Response>"


def test_kalans_answers_read_into_actions():
    actions, warnings = parse(doc(
        f'<GetDigits timeout="10" numDigits="4" finishOnKey="#" callbackUrl="{URL}keys">'
        '<Say>Votre code ?</Say><Play url="http://kalan.test/audio/fr/a%20b.wav"/></GetDigits>'
        f"<Redirect>{URL}silence</Redirect>"
    ))  # fmt: skip
    assert warnings == []
    assert actions == [
        GetDigits(
            (
                Prompt("say", text="Votre code ?"),
                Prompt("play", url="http://kalan.test/audio/fr/a%20b.wav"),
            ),
            "http://kalan.test/voice?turn=1&via=keys",
            num_digits=4,
            timeout=10,
            finish_on_key="#",
        ),
        Redirect("http://kalan.test/voice?turn=1&via=silence"),
    ]
    assert actions[0].prompts[1].name == "a b.wav"


def test_record_and_the_defaults_at_documents():
    actions, _ = parse(doc(
        f'<Record finishOnKey="#" maxLength="20" timeout="5" trimSilence="true" playBeep="true" '
        f'callbackUrl="{URL}record"><Say>Parlez</Say></Record><Redirect>{URL}silence</Redirect>'
        f'<GetDigits><Say>Un chiffre</Say></GetDigits><Redirect>{URL}silence</Redirect>'
    ))  # fmt: skip
    record, _, digits, _ = actions
    assert record == Record((Prompt("say", text="Parlez"),), "http://kalan.test/voice?turn=1&via=record",
                            "#", 20, 5, True, True)  # fmt: skip
    # No timeout: AT waits 30 seconds; no callbackUrl: AT posts to the number's URL.
    assert (digits.timeout, digits.callback_url, digits.num_digits, digits.finish_on_key) == (
        30, None, None, None,
    )  # fmt: skip


def test_a_say_reads_as_one_line_and_reject_stands_alone():
    actions, warnings = parse(doc("<Say>  Bonjour\n  Awa </Say><Reject/>"))
    assert actions == [Prompt("say", text="Bonjour Awa"), Reject()]
    assert warnings == []


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        ('<Dial phoneNumbers="+22370000001"/>', "unexpected_verb:Dial"),
        ("<Enqueue/>", "unexpected_verb:Enqueue"),
        ("<Conference/>", "unexpected_verb:Conference"),
        ('<Say voice="woman" lang="fr">Bonjour</Say>', "unknown_attribute:Say.lang"),
        (f'<GetDigits callbackUrl="{URL}keys"><Say>x</Say></GetDigits>', "no_redirect:GetDigits"),
        (f'<Record callbackUrl="{URL}record"/><Say>Merci</Say>', "no_redirect:Record"),
    ],
)
def test_what_at_runs_but_kalan_should_not_send_is_a_warning(body, warning):
    _, warnings = parse(doc(body))
    assert warnings == [warning]


def test_a_verb_kalan_never_uses_is_skipped_and_the_rest_runs():
    actions, warnings = parse(
        doc("<Say>Avant</Say><Dial phoneNumbers='+22370000001'/><Say>Après</Say>")
    )
    assert actions == [Prompt("say", text="Avant"), Prompt("say", text="Après")]
    assert warnings == ["unexpected_verb:Dial"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("CON Bonjour", "bad_xml"),
        (f"{HEAD}<Reponse><Say>x</Say></Reponse>", "not_response:Reponse"),
        (doc("<Hangup/>"), "unknown_verb:Hangup"),
        (doc("<Gather><Say>x</Say></Gather>"), "unknown_verb:Gather"),
        (
            doc(f'<GetDigits callbackUrl="{URL}k"><Record/></GetDigits>'),
            "bad_nesting:GetDigits.Record",
        ),
        (doc("<Say><Play url='http://a/b.wav'/></Say>"), "bad_nesting:Say.Play"),
        (doc("<Redirect><Say>x</Say></Redirect>"), "bad_nesting:Redirect.Say"),
        (doc("<Play/>"), "missing_attribute:Play.url"),
        (doc("<Play url='/audio/a.wav'/>"), "bad_url:Play.url"),
        (doc("<Redirect>/voice?turn=2</Redirect>"), "bad_url:Redirect"),
        (doc("<GetDigits callbackUrl='ftp://a/b'/>"), "bad_url:GetDigits.callbackUrl"),
        (doc("<GetDigits numDigits='deux'/>"), "bad_attribute:GetDigits.numDigits"),
        (doc("<GetDigits timeout='0'/>"), "bad_attribute:GetDigits.timeout"),
        (doc("<GetDigits finishOnKey='##'/>"), "bad_attribute:GetDigits.finishOnKey"),
        (doc("<Record finishOnKey='A'/>"), "bad_attribute:Record.finishOnKey"),
        (doc("<Record playBeep='yes'/>"), "bad_attribute:Record.playBeep"),
        (doc("<Say>  </Say>"), "empty:Say"),
        (doc("Bonjour<Say>x</Say>"), "stray_text:Response"),
        (doc("<GetDigits>1<Say>x</Say></GetDigits>"), "stray_text:GetDigits"),
    ],
)
def test_what_at_could_not_run_is_refused(body, code):
    with pytest.raises(XmlError) as refused:
        parse(body)
    assert str(refused.value) == code


def test_an_empty_response_has_no_action():
    assert parse(doc("")) == ([], [])
    assert parse("<Response/>") == ([], [])
