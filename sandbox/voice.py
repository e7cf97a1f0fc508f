"""A phone on a voice call: posts Africa's Talking voice callbacks to an app and walks its XML.

The call runs an answer's actions in order: prompts are heard, GetDigits and
Record wait for the phone, Redirect fetches the next answer, Reject refuses
the call. When the actions run out, the phone hangs up or the app fails, the
call ends with AT's last request (isActive=0), carrying what the call cost.
"""

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import unquote

import requests

from sandbox.tariff import Tariff
from sandbox.transport import refused
from sandbox.voice_xml import GetDigits, Prompt, Record, Redirect, Reject, XmlError, parse

log = logging.getLogger(__name__)

HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
# AT's states as a maintained client reads them; only Ringing is named there, the
# others are this sandbox's guess (africastalking-laravel HasCallAttributes).
RINGING, ACTIVE, COMPLETED = "Ringing", "Active", "Completed"
# Hangup causes, as AT names them (africastalking-laravel Enum/CallHangupCauses).
NORMAL, REJECTED, BUSY = "NORMAL_CLEARING", "CALL_REJECTED", "USER_BUSY"
UNSPECIFIED = "UNSPECIFIED"
REDIRECTS_MAX = 20  # answers in a row that only redirect: a loop, not a call
FREE = Tariff("XOF", Decimal(0))
# A header an audio route may add to say the words of a recording, percent-encoded
# UTF-8, so that the simulator can show them: a sandbox convention, not AT's.
TEXT_HEADER = "X-Prompt-Text"


class CallEnded(Exception):
    """Raised when the phone acts on a call that is over or waits for something else."""


@dataclass
class Turn:
    """What the phone hears until the call next waits for it, and where the call stands."""

    prompts: list[Prompt] = field(default_factory=list)
    wait: GetDigits | Record | None = None
    ended: bool = False
    cause: str | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def collected(pressed: str, wait: GetDigits) -> str:
    """Return the keys AT would post for what was pressed, by numDigits and finishOnKey."""
    # Without finishOnKey AT returns after numDigits keys, or after the first.
    limit = wait.num_digits or (None if wait.finish_on_key else 1)
    keys = ""
    for key in pressed:
        if key == wait.finish_on_key:
            break
        keys += key
        if limit is not None and len(keys) >= limit:
            break
    return keys


class VoiceCall:
    """One call between a phone and the app at callback_url, driven as AT drives it.

    phone is the person, number the app's; an outbound call is the app calling the
    phone. The last request is best effort: its failures are logged, never raised.
    """

    def __init__(
        self,
        callback_url: str,
        phone: str,
        number: str,
        direction: str = "Inbound",
        session_id: str | None = None,
        tariff: Tariff = FREE,
        timeout: float = 10.0,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        check_audio: bool = True,
    ) -> None:
        self.callback_url = callback_url
        self.phone = phone
        self.number = number
        self.direction = direction
        self.session_id = session_id or "ATVId_" + uuid.uuid4().hex
        self.tariff = tariff
        self.timeout = timeout
        self.clock = clock
        self.check_audio = check_audio
        self._owns_http = http is None
        self.http = requests.Session() if http is None else http
        self.wait: GetDigits | Record | None = None
        self.cause: str | None = None
        self.duration = 0
        self.amount = Decimal(0)
        self._rest: list = []
        self._answered: float | None = None
        self._last_active = clock()
        self._lock = threading.Lock()  # one request of the page at a time per call

    @property
    def ended(self) -> bool:
        """Tell whether the call is over."""
        return self.cause is not None

    def idle_seconds(self) -> float:
        """Return how long the call has waited for the phone."""
        return self.clock() - self._last_active

    def price(self) -> str:
        """Return what the call cost, as AT writes amounts."""
        return f"{self.amount:.4f}"

    def start(self) -> Turn:
        """Place the call: AT's first request, to the number's callback URL."""
        with self._lock:
            if self._answered is not None or self.ended:
                raise RuntimeError("call already started")
            self._answered = self.clock()
            turn = Turn()
            self._follow(turn, self.callback_url, [("callSessionState", RINGING)], first=True)
            return turn

    def decline(self) -> Turn:
        """Refuse a call that rings at the phone: the app hears of it by the last request."""
        with self._lock:
            if self._answered is not None or self.ended:
                raise RuntimeError("call already started")
            turn = Turn()
            # A handset's "refuse" reaches the network as busy.
            self._end(turn, BUSY)
            return turn

    def keys(self, pressed: str) -> Turn:
        """Answer a GetDigits with the keys pressed; no key at all is silence."""
        with self._lock:
            wait = self._waiting(GetDigits)
            digits = collected(pressed, wait)
            if not digits:
                return self._run(Turn(), self._rest)
            return self._answer(wait, [("dtmfDigits", digits)])

    def record(self, url: str | None) -> Turn:
        """Answer a Record with the URL of the recording; None posts no recording (# at once)."""
        with self._lock:
            wait = self._waiting(Record)
            return self._answer(wait, [("recordingUrl", url)] if url else [])

    def silence(self) -> Turn:
        """Let the prompt time out: AT posts nothing and runs the next action."""
        with self._lock:
            self._waiting(GetDigits, Record)
            return self._run(Turn(), self._rest)

    def hangup(self) -> Turn:
        """Hang up from the phone while the call waits."""
        with self._lock:
            self._waiting(GetDigits, Record)
            turn = Turn()
            self._end(turn, NORMAL)
            return turn

    def _waiting(self, *kinds):
        if self.ended or not isinstance(self.wait, kinds):
            raise CallEnded(self.session_id)
        self._last_active = self.clock()
        return self.wait

    def _answer(self, wait, extra: list) -> Turn:
        """Post the phone's input to the callback URL of what waited for it."""
        turn = Turn()
        # Without callbackUrl, AT posts to the number's callback URL.
        self._follow(
            turn, wait.callback_url or self.callback_url, [("callSessionState", ACTIVE), *extra]
        )
        return turn

    def _follow(self, turn: Turn, url: str, extra: list, first: bool = False) -> None:
        """Post to url and run the actions it answers."""
        actions = self._fetch(turn, url, extra)
        if actions is None:
            return
        if first and actions[:1] == [Reject()]:
            self._answered = None  # refused before it was answered: nothing to pay
        self._run(turn, actions)

    def _run(self, turn: Turn, actions: list) -> Turn:
        """Run actions until the call waits for the phone or ends."""
        self.wait, self._rest = None, []
        actions = list(actions)
        redirects = 0
        while actions:
            action = actions.pop(0)
            if isinstance(action, Prompt):
                turn.prompts.append(self._heard(turn, action))
            elif isinstance(action, GetDigits | Record):
                turn.prompts.extend(self._heard(turn, p) for p in action.prompts)
                turn.wait, self.wait, self._rest = action, action, actions
                return turn
            elif isinstance(action, Reject):
                self._end(turn, REJECTED)
                return turn
            elif isinstance(action, Redirect):
                redirects += 1
                if redirects > REDIRECTS_MAX:
                    turn.error = "redirect_loop"
                    self._end(turn, UNSPECIFIED)
                    return turn
                actions = self._fetch(turn, action.url, [("callSessionState", ACTIVE)])
                if actions is None:
                    return turn
        self._end(turn, NORMAL)  # the answer ran out of actions: AT hangs up
        return turn

    def _heard(self, turn: Turn, prompt: Prompt) -> Prompt:
        """Check that a Play's URL answers with audio, as AT must fetch it; learn its words."""
        if prompt.kind != "play" or not self.check_audio:
            return prompt
        try:
            response = self.http.head(prompt.url, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException:
            turn.warnings.append(f"play_unavailable:{prompt.name}")
            return prompt
        response.close()
        if response.status_code != 200:
            turn.warnings.append(f"play_unavailable:{prompt.name}")
        elif not response.headers.get("Content-Type", "").startswith("audio/"):
            turn.warnings.append(f"play_not_audio:{prompt.name}")
        text = unquote(response.headers.get(TEXT_HEADER, ""))
        return replace(prompt, text=text) if text else prompt

    def _fetch(self, turn: Turn, url: str, extra: list) -> list | None:
        """Post one request of the call; return its actions, or None when it ended the call."""
        form = [*self._fields("1"), *extra]
        try:
            response = self.http.post(url, data=form, headers=HEADERS, timeout=self.timeout)
        except requests.Timeout:
            error = "Request timed out"
        except requests.ConnectionError as exc:
            error = "Connection refused" if refused(exc) else "Connection failed"
        except requests.RequestException as exc:
            error = f"Request failed: {type(exc).__name__}"
        else:
            body, code = response.content.decode("utf-8", "replace"), response.status_code
            response.close()
            try:
                if code != 200:
                    raise XmlError(f"HTTP {code}")
                actions, warnings = parse(body)
            except XmlError as exc:
                error = str(exc)
            else:
                turn.warnings.extend(warnings)
                return actions
        turn.error = error
        self._end(turn, UNSPECIFIED)
        return None

    def _fields(self, active: str) -> list[tuple[str, str]]:
        """Return the fields of every request: the person calls, or is called by, the number."""
        outbound = self.direction == "Outbound"
        caller, called = (self.number, self.phone) if outbound else (self.phone, self.number)
        return [
            ("isActive", active),
            ("sessionId", self.session_id),
            ("direction", self.direction),
            ("callerNumber", caller),
            ("destinationNumber", called),
        ]

    def _end(self, turn: Turn, cause: str) -> None:
        """End the call: work out its duration and cost, then post AT's last request."""
        self.cause, self.wait, self._rest = cause, None, []
        turn.ended, turn.cause, turn.wait = True, cause, None
        if self._answered is not None:
            self.duration = max(0, round(self.clock() - self._answered))
            # Billed by the minute begun, as telephone networks do.
            self.amount = self.tariff.cost(math.ceil(self.duration / 60))
        form = [
            *self._fields("0"),
            ("callSessionState", COMPLETED),
            ("durationInSeconds", str(self.duration)),
            ("currencyCode", self.tariff.currency),
            ("amount", self.price()),
            ("hangupCause", cause),
        ]
        try:
            response = self.http.post(
                self.callback_url, data=form, headers=HEADERS, timeout=self.timeout
            )
            response.close()
            if response.status_code != 200:
                log.warning(
                    "last request of call %s got HTTP %s", self.session_id, response.status_code
                )
        except requests.RequestException as exc:
            log.warning("last request of call %s failed: %s", self.session_id, type(exc).__name__)
        finally:
            if self._owns_http:
                self.http.close()
