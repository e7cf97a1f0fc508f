"""`kalan call`: a voice call to Kalan from a terminal, over real HTTP."""

import pytest
import requests
from click.testing import CliRunner
from werkzeug.wrappers import Response

from app.cli import main
from app.content import load
from app.infra.config import ROOT
from sandbox import create_app as create_sandbox
from sandbox.caller import POLL_S, WAIT_S, Line, answer_back
from sandbox.tariff import Tariff

from .conftest import serve
from .phone_line import CALLBACK, LAST, PHONE, TO_RECORD, switchboard, wav

WELCOME = "Kalan : Bienvenue sur Kalan."
CALLING = "Appel du +22320000001 depuis le +22370000001."


@pytest.fixture
def kalan(make_app, monkeypatch):
    """Kalan behind a switchboard, where `kalan call` looks for it."""
    with switchboard(make_app(VOICE_SAY_MISSING=True)) as board:
        monkeypatch.setenv("KALAN_URL", board.url)
        yield board


@pytest.fixture
def sandbox(monkeypatch):
    """The sandbox of `make run`, where `kalan call` sends recordings and waits for calls."""
    app = create_sandbox({"TESTING": True})
    with serve(app) as url:
        monkeypatch.setenv("SANDBOX_URL", url)
        yield app


def call(*args, input=None):
    return CliRunner().invoke(main, ["call", PHONE, *args], input=input)


def test_a_scripted_call(kalan):
    result = call("--input", "1", "--input", "", "--input", "q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(CALLING)
    assert lines[1].startswith(WELCOME)
    assert lines[2] == "> 1" and lines[3].startswith("Kalan : Kalan - Menu principal")
    assert lines[4] == "> "
    assert lines[5].startswith("Kalan : Nous n'avons rien entendu. Kalan - Menu principal")
    assert lines[6:] == [
        "> q",
        "Vous avez raccroché.",
        "Appel terminé (NORMAL_CLEARING) : 0 s, XOF 0.0000.",
    ]
    assert kalan.voice()[-1].names == LAST


def test_a_script_that_runs_out_hangs_up(kalan):
    result = call("--input", "1")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-2:] == [
        "Vous avez raccroché.", "Appel terminé (NORMAL_CLEARING) : 0 s, XOF 0.0000.",
    ]  # fmt: skip
    assert kalan.voice()[-1].form["isActive"] == "0"


def test_keys_typed_at_each_prompt(kalan):
    result = call(input="1\n\n\n")  # French, then silence twice: Kalan says goodbye
    assert result.exit_code == 0, result.output
    assert "Kalan : Nous n'avons rien entendu. Rappelez quand vous voulez" in result.output
    assert result.output.endswith("Appel terminé (NORMAL_CLEARING) : 0 s, XOF 0.0000.\n")


def test_a_record_prompt_sends_the_wav(kalan, sandbox, tmp_path):
    source = tmp_path / "site.wav"
    source.write_bytes(wav())
    inputs = [arg for keys in TO_RECORD for arg in ("--input", keys)]
    result = call(*inputs, "--record", str(source), "--input", "q")
    assert result.exit_code == 0, result.output
    assert "Enregistrement : chemin d'un fichier WAV" in result.output
    url = kalan.voice()[-2].form["recordingUrl"]  # then the last request, after q
    assert f"Enregistrement envoyé : {url}" in result.output
    assert "Kalan : Combien d'enfants ?" in result.output
    assert requests.get(url, timeout=5).content == wav()


def test_a_record_prompt_typed(kalan, sandbox, tmp_path):
    source = tmp_path / "site.wav"
    source.write_bytes(wav())
    typed = "\n".join([*TO_RECORD, str(source), "q"]) + "\n"
    result = call(input=typed)
    assert result.exit_code == 0, result.output
    assert "recordingUrl" in kalan.voice()[-2].form
    skipped = call(input="\n".join([*TO_RECORD, "#", "q"]) + "\n")  # # at once: nothing recorded
    assert "Kalan : Combien d'enfants ?" in skipped.output
    assert "recordingUrl" not in kalan.voice()[-2].form


def test_a_file_that_is_no_wav_is_refused(kalan, sandbox, tmp_path):
    source = tmp_path / "site.wav"
    source.write_text("pas un son")
    inputs = [arg for keys in TO_RECORD for arg in ("--input", keys)]
    result = call(*inputs, "--record", str(source))
    assert result.exit_code == 1
    assert "Enregistrement refusé : not_wav" in result.output
    assert kalan.voice()[-1].form["hangupCause"] == "NORMAL_CLEARING"


def test_a_missed_call_then_the_call_back(kalan, sandbox):
    sandbox.extensions["voice_outbound"].add(CALLBACK, PHONE, "ATVId_" + "b" * 32)
    result = call("--missed", "--wait", "--input", "1", "--input", "q")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"Appel du {CALLBACK} depuis le {PHONE}.")
    assert lines[1:4] == [
        "Kalan a rejeté l'appel (CALL_REJECTED) : il est gratuit pour vous.",
        f"En attente de l'appel de Kalan (au plus {WAIT_S} s)...",
        f"Kalan vous appelle depuis le {CALLBACK} : vous décrochez.",
    ]
    assert lines[4].startswith(WELCOME)
    assert lines[5] == "> 1"
    back = [s.form for s in kalan.voice() if s.form["sessionId"] == "ATVId_" + "b" * 32]
    assert {(f["direction"], f["callerNumber"], f["destinationNumber"]) for f in back} == {
        ("Outbound", CALLBACK, PHONE)
    }
    assert sandbox.extensions["voice_outbound"].listed() == []


def test_waiting_without_the_sandbox_says_so(kalan, monkeypatch):
    monkeypatch.setenv("SANDBOX_URL", "http://127.0.0.1:1")
    result = call("--missed", "--wait")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Le bac à sable ne répond pas sur http://127.0.0.1:1 : lancez d'abord make run dans un "
        "autre terminal."
    )


def test_no_call_back_within_the_wait():
    naps = []
    with serve(create_sandbox({"TESTING": True})) as url:
        line = Line("http://unused", "", url, Tariff.parse("XOF 1"), sleep=naps.append)
        catalog, _ = load(ROOT / "content")
        assert answer_back(line, PHONE, catalog) == 1
    assert sum(naps) == WAIT_S and set(naps) == {POLL_S}


def test_a_broken_answer_fails_the_call(monkeypatch):
    with switchboard(script=lambda seen: Response("<Response><Hangup/></Response>")) as board:
        monkeypatch.setenv("KALAN_URL", board.url)
        result = call()
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "L'appel a échoué : unknown_verb:Hangup"


def test_without_kalan_it_says_to_start_make_run(monkeypatch):
    monkeypatch.setenv("KALAN_URL", "http://127.0.0.1:1")
    result = call()
    assert result.exit_code == 1
    assert result.output == (
        "Kalan ne répond pas sur http://127.0.0.1:1 : lancez d'abord make run dans un autre "
        "terminal.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hello"], "Numéro invalide : hello"),
        ([PHONE, "--to", "36000"], "Numéro invalide : 36000"),
        ([PHONE, "--minute-cost", "50"], "not a price like 'XOF 25.0000'"),
        ([PHONE, "--record", "/nonexistent.wav"], "does not exist"),
    ],
)
def test_bad_arguments(args, message):
    result = CliRunner().invoke(main, ["call", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_a_file_typed_wrong_is_asked_again(kalan, sandbox, tmp_path):
    source = tmp_path / "site.wav"
    source.write_bytes(wav())
    typed = "\n".join([*TO_RECORD, str(tmp_path / "sit.wav"), str(source), "q"]) + "\n"
    result = call(input=typed)
    assert result.exit_code == 0, result.output
    assert "Enregistrement refusé : No such file or directory" in result.output
    assert result.output.count("Enregistrement : chemin d'un fichier WAV") == 2
    assert "recordingUrl" in kalan.voice()[-2].form
