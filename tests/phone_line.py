"""What the voice simulator's tests share: a switchboard in front of Kalan that notes every
request, rejects calls to the call-back number, and a small WAV recording."""

import io
import wave
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.wrappers import Request, Response

from .conftest import serve

PHONE = "+22370000001"
NUMBER = "+22320000001"  # the sandbox's default number for Kalan
CALLBACK = "+22320000002"  # and its call-back number
REJECT = '<?xml version="1.0" encoding="UTF-8"?><Response><Reject/></Response>'
COMMON = ["isActive", "sessionId", "direction", "callerNumber", "destinationNumber"]
LAST = [*COMMON, "callSessionState", "durationInSeconds", "currencyCode", "amount", "hangupCause"]
# Kalan's voice prompts, as the sandbox reads them with VOICE_SAY_MISSING on.
WELCOME = "Bienvenue sur Kalan."
MENU = "Kalan - Menu principal"
SILENCE = "Nous n'avons rien entendu."
GOODBYE = "Nous n'avons rien entendu. Rappelez quand vous voulez"
SITE = "Dites le nom du village ou du site"
CHILDREN = "Combien d'enfants ?"
TO_RECORD = ["1", "2", "1", "1", "2"]  # French, Signaler, mining, Sikasso, Kadiolo: the site


@dataclass
class Seen:
    """One request as the switchboard received it."""

    path: str
    args: dict
    pairs: list

    @property
    def form(self) -> dict:
        return dict(self.pairs)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.pairs]


class Switchboard:
    """Kalan (or a script standing in for it) behind a recorder of every request."""

    def __init__(self, kalan=None, script: Callable[[Seen], Response] | None = None):
        self.kalan = kalan
        self.script = script
        self.seen: list[Seen] = []
        self.url = ""

    def __call__(self, environ, start_response):
        request = Request(environ)
        data = request.get_data(cache=True)
        seen = Seen(
            request.path, dict(request.args), parse_qsl(data.decode(), keep_blank_values=True)
        )
        self.seen.append(seen)
        form = seen.form
        if self.script is not None:
            return self.script(seen)(environ, start_response)
        if form.get("destinationNumber") == CALLBACK and form.get("direction") == "Inbound":
            # What Kalan answers a missed call: free for the caller, and a call back later.
            return Response(REJECT, mimetype="application/xml")(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return self.kalan(environ, start_response)

    def voice(self) -> list[Seen]:
        """Return the requests to /voice, in order."""
        return [seen for seen in self.seen if seen.path == "/voice"]


@contextmanager
def switchboard(kalan=None, script=None):
    """Serve a switchboard over real HTTP; yield it, its url set."""
    board = Switchboard(kalan, script)
    with serve(board) as url:
        board.url = url
        yield board


def wav(seconds: float = 0.2) -> bytes:
    """Return a WAV file of silence, as a telephone line records: 8 kHz, mono, 16-bit."""
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


def said(turn) -> str:
    """Return what a turn's prompts say, one line."""
    return " ".join(prompt.text for prompt in turn.prompts)


class Clock:
    """A clock a test moves by hand: calls last as long as the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
