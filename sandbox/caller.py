"""`kalan call`: a voice call in the terminal, through the sandbox's call driver.

Each prompt is printed (a Play by the words the audio route tells, else its URL),
then the keys typed are pressed: an empty line lets the prompt time out. A Record
prompt sends a WAV file, uploaded to the sandbox of `make run`, whose URL Kalan's
worker downloads as it would download AT's.
"""

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import click
import requests

from app.content import load
from app.people.contacts import normalize
from flows import Catalog
from sandbox.dialer import HANGUP, reachable
from sandbox.tariff import Tariff
from sandbox.voice import REJECTED, Turn, VoiceCall
from sandbox.voice_xml import GetDigits

NUMBER = re.compile(r"^\+\d{6,15}$")  # Kalan's: a landline or a mobile, written as AT writes it
SKIP = "#"  # at a Record prompt: send no recording, as # pressed at once does
WAIT_S = 120  # Kalan calls back within a minute; a minute more for a busy worker
POLL_S = 1.0


@dataclass
class Line:
    """Where `kalan call` reaches Kalan and the sandbox, and what it answers with."""

    url: str
    token: str
    sandbox: str
    tariff: Tariff
    inputs: list[str] = field(default_factory=list)
    records: list[Path] = field(default_factory=list)
    scripted: bool = False
    sleep: Callable[[float], None] = time.sleep

    def voice_url(self) -> str:
        query = "?" + urlencode({"token": self.token}) if self.token else ""
        return f"{self.url.rstrip('/')}/voice{query}"


def converse(line: Line, phone: str, number: str, wait: bool, content: Path) -> int:
    """Call number from phone, then maybe answer Kalan's call back; return an exit status."""
    catalog, _ = load(content)
    person = normalize(phone)
    for given, valid in ((phone, person is not None), (number, NUMBER.match(number))):
        if not valid:
            click.echo(catalog.get("dial.bad_phone", phone=given), err=True)
            return 2
    if not reachable(line.url):
        click.echo(catalog.get("dial.no_server", url=line.url), err=True)
        return 1
    click.echo(catalog.get("call.calling", number=number, phone=person))
    call = VoiceCall(line.voice_url(), person, number, tariff=line.tariff)
    status = talk(line, call, call.start(), catalog)
    if status != 0 or not wait:
        return status
    return answer_back(line, person, catalog)


def answer_back(line: Line, phone: str, catalog: Catalog) -> int:
    """Wait for Kalan to call phone, answer, and talk; return an exit status."""
    click.echo(catalog.get("call.waiting", seconds=WAIT_S))
    waited = 0.0
    while True:
        try:
            found = requests.get(
                line.sandbox.rstrip("/") + "/sandbox/voice/outbound",
                params={"phone": phone},
                timeout=5,
            )
            ringing = found.json() if found.status_code == 200 else []
        except (requests.RequestException, ValueError):
            click.echo(catalog.get("call.no_sandbox", url=line.sandbox), err=True)
            return 1
        if ringing:
            break
        if waited >= WAIT_S:
            click.echo(catalog.get("call.no_callback", seconds=WAIT_S), err=True)
            return 1
        line.sleep(POLL_S)
        waited += POLL_S
    first = ringing[0]
    taken = requests.post(
        line.sandbox.rstrip("/") + "/sandbox/voice/outbound/" + first["sessionId"],
        json={"state": "answered"},
        timeout=5,
    )
    if taken.status_code != 200:  # answered elsewhere in the meantime (the page)
        click.echo(catalog.get("call.no_callback", seconds=WAIT_S), err=True)
        return 1
    click.echo(catalog.get("call.incoming", number=first["from"]))
    call = VoiceCall(
        line.voice_url(), phone, first["from"], "Outbound", first["sessionId"], line.tariff
    )
    return talk(line, call, call.start(), catalog)


def talk(line: Line, call: VoiceCall, turn: Turn, catalog: Catalog) -> int:
    """Print each turn and answer it until the call ends; return an exit status."""
    while True:
        for prompt in turn.prompts:
            if prompt.kind == "say" or prompt.text:
                click.echo(catalog.get("call.said", text=prompt.text))
            else:
                click.echo(catalog.get("call.played", url=prompt.url))
        for warning in turn.warnings:
            click.echo(catalog.get("dial.warning", warning=warning), err=True)
        if turn.ended:
            return _ended(call, turn, catalog)
        if isinstance(turn.wait, GetDigits):
            answer = _next(line)
            if answer is None:
                return _hang_up(call, catalog)
            turn = call.keys(answer) if answer else call.silence()
            continue
        click.echo(catalog.get("call.record"))
        typed = not line.records and not line.scripted
        if line.records:
            source = line.records.pop(0)
            click.echo(f"> {source}")
        else:
            answer = _next(line)
            if answer is None:
                return _hang_up(call, catalog)
            if not answer:
                turn = call.silence()
                continue
            if answer == SKIP:
                turn = call.record(None)
                continue
            source = Path(answer).expanduser()
        url = _upload(line, source, catalog)
        if url is not None:
            turn = call.record(url)
        elif typed:
            turn = Turn(wait=turn.wait)  # a slip at the keyboard: the prompt waits for another
        else:
            call.hangup()
            return 1


def _next(line: Line) -> str | None:
    """Return the next answer, scripted or typed; None to hang up."""
    if line.inputs:
        answer = line.inputs.pop(0)
        click.echo(f"> {answer}")
    elif line.scripted:  # a script that ran out of answers: hang up, as dial does
        return None
    else:
        try:
            answer = click.prompt("", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.Abort):
            return None
    answer = answer.strip()
    return None if answer.lower() in HANGUP else answer


def _upload(line: Line, source: Path, catalog: Catalog) -> str | None:
    """Send a WAV file to the sandbox; return its URL, or None once the problem is printed."""
    try:
        data = source.read_bytes()
    except OSError as exc:
        click.echo(catalog.get("call.record_refused", error=exc.strerror or exc), err=True)
        return None
    try:
        sent = requests.post(line.sandbox.rstrip("/") + "/sandbox/voice/recordings", data=data,
                             headers={"Content-Type": "audio/wav"}, timeout=10)  # fmt: skip
        reply = sent.json()
    except (requests.RequestException, ValueError):
        click.echo(catalog.get("call.no_sandbox", url=line.sandbox), err=True)
        return None
    if sent.status_code != 201:
        click.echo(catalog.get("call.record_refused", error=reply.get("error")), err=True)
        return None
    click.echo(catalog.get("call.recorded", url=reply["url"]))
    return reply["url"]


def _hang_up(call: VoiceCall, catalog: Catalog) -> int:
    """Hang up from the phone; print what the call cost."""
    turn = call.hangup()
    click.echo(catalog.get("dial.hangup"))
    return _ended(call, turn, catalog)


def _ended(call: VoiceCall, turn: Turn, catalog: Catalog) -> int:
    """Print how the call ended; return its exit status."""
    if turn.error:
        click.echo(catalog.get("call.failed", error=turn.error), err=True)
        return 1
    if turn.cause == REJECTED:
        click.echo(catalog.get("call.rejected", cause=turn.cause))
        return 0
    price = call.tariff.price(call.amount)
    click.echo(catalog.get("call.ended", cause=turn.cause, seconds=call.duration, price=price))
    return 0
