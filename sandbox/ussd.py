"""A phone on a USSD call: posts Africa's Talking hops to an app and reads its screens."""

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from flows.gsm import is_gsm7, outside
from sandbox.transport import refused

log = logging.getLogger(__name__)

# What AT's USSD gateway sends; the charset is explicit as in the 2021 capture.
HEADERS = {
    "User-Agent": "at-ussd-api/1.0",
    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
}
METADATA = "at-ussd-hop-metadata"
MALFORMED = "Response should start with a CON or an END"


class SessionEnded(Exception):
    """Raised when a hop is attempted on a session that has already ended."""


@dataclass
class Hop:
    """One exchange with the app: the screen shown and where the session stands."""

    screen: str
    ended: bool
    status: str | None = None
    error: str | None = None
    raw: str = ""
    http_status: int | None = None
    # Codes with a detail, "too_long:<length>" or "not_gsm7:<characters>", so
    # that the simulator page can word them in French.
    warnings: list[str] = field(default_factory=list)


class UssdCall:
    """One USSD session, driven hop by hop the way Africa's Talking drives it.

    Ending the session, however it ends, posts AT's end-of-session notification
    to events_url. That post is best effort: its failures are logged, never raised.
    """

    def __init__(
        self,
        callback_url: str,
        events_url: str | None,
        phone: str,
        service_code: str,
        network_code: str = "99999",
        deadline: float = 10.0,
        max_chars: int = 160,
        http: requests.Session | None = None,
    ) -> None:
        self.callback_url = callback_url
        self.events_url = events_url
        self.phone = phone
        self.service_code = service_code
        self.network_code = network_code
        self.deadline = deadline
        self.max_chars = max_chars
        self.session_id = "ATUid_" + uuid.uuid4().hex
        self.inputs: list[str] = []
        self.hops: list[Hop] = []
        self.status: str | None = None
        # A session we create is ours to close when the call ends.
        self._owns_http = http is None
        self.http = requests.Session() if http is None else http
        self._metadata: str | None = None
        self._labels: list[str] = []
        self._last_body = ""
        self._started: float | None = None
        self._last_active = time.monotonic()
        # A handset waits for each screen before the next key press; the lock
        # keeps two page requests from interleaving hops of one session.
        self._lock = threading.Lock()

    @property
    def ended(self) -> bool:
        """Tell whether the session is over."""
        return self.status is not None

    def idle_seconds(self) -> float:
        """Return how long the session has waited since its last hop."""
        return time.monotonic() - self._last_active

    def start(self) -> Hop:
        """Dial the code: post the first hop, whose text is empty."""
        with self._lock:
            if self._started is not None:
                raise RuntimeError("call already started")
            self._started = time.monotonic()
            return self._post()

    def reply(self, answer: str) -> Hop:
        """Answer the current screen; the hop carries every input so far."""
        with self._lock:
            self._check_open()
            self.inputs.append(answer)
            return self._post()

    def hangup(self) -> Hop:
        """Abandon the session from the phone while a menu waits for input."""
        return self._abandon()

    def expire(self) -> Hop:
        """End the session because the customer took too long to answer."""
        # AT reports a customer timeout exactly like an abandonment.
        return self._abandon()

    def _check_open(self) -> None:
        """Refuse a hop before start() or after the end."""
        if self._started is None:
            raise RuntimeError("call start() first")
        if self.ended:
            raise SessionEnded(self.session_id)

    def _abandon(self) -> Hop:
        """End a waiting session from the phone side."""
        with self._lock:
            self._check_open()
            self._finish("Incomplete", None)
            return Hop(screen="", ended=True, status="Incomplete")

    def _post(self) -> Hop:
        """Post the next hop and read the app's answer into a Hop."""
        headers = dict(HEADERS)
        if self._metadata:
            headers[METADATA] = self._metadata
        form = [
            ("phoneNumber", self.phone),
            ("serviceCode", self.service_code),
            ("text", "*".join(self.inputs)),
            ("sessionId", self.session_id),
            ("networkCode", self.network_code),
        ]
        sent = time.monotonic()
        try:
            response = self.http.post(
                self.callback_url, data=form, headers=headers, timeout=self.deadline
            )
        except requests.Timeout:
            hop = _failed("Request timed out")
        except requests.ConnectionError as exc:
            hop = _failed("Connection refused" if refused(exc) else "Connection failed")
        except requests.RequestException as exc:
            hop = _failed(f"Request failed: {type(exc).__name__}")
        else:
            hop = self._read(response, time.monotonic() - sent)
        self.hops.append(hop)
        self._last_active = time.monotonic()
        if hop.ended:
            self._finish(hop.status, hop.error)
        return hop

    def _read(self, response: requests.Response, elapsed: float) -> Hop:
        """Judge a reply the way AT does: 200 and an exact CON or END prefix."""
        body = _text(response)
        code = response.status_code
        self._last_body = body
        self._metadata = response.headers.get(METADATA)
        if self._metadata:
            self._labels.append(self._metadata)
        # requests' timeout bounds each socket read, not the whole reply, so a
        # reply trickled in slowly is caught here, as AT's deadline would.
        if elapsed > self.deadline:
            return _failed("Request timed out", body, code)
        if code != 200:
            return _failed(f"HTTP {code}", body, code)
        for prefix, ended in (("CON ", False), ("END ", True)):
            if body.startswith(prefix):
                screen = body[len(prefix) :]
                status = "Success" if ended else None
                return Hop(screen, ended, status, None, body, code, self._warnings(screen))
        return _failed(MALFORMED, body, code)

    def _warnings(self, screen: str) -> list[str]:
        """List what a basic handset or a telco gateway would choke on."""
        warnings = []
        if len(screen) > self.max_chars:
            warnings.append(f"too_long:{len(screen)}")
        if not is_gsm7(screen):
            warnings.append(f"not_gsm7:{outside(screen)}")
        return warnings

    def _finish(self, status: str, error: str | None) -> None:
        """Close the session and send its end-of-session notification."""
        self.status = status
        try:
            if self.events_url:
                self._notify(error)
        finally:
            if self._owns_http:
                self.http.close()

    def _notify(self, error: str | None) -> None:
        """Post AT's end-of-session notification, logging any failure."""
        millis = int((time.monotonic() - self._started) * 1000)
        form = [
            ("date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
            ("sessionId", self.session_id),
            ("serviceCode", self.service_code),
            ("networkCode", self.network_code),
            ("phoneNumber", self.phone),
            ("status", self.status),
            ("cost", "XOF 0.0000"),
            ("durationInMillis", str(millis)),
            ("hopsCount", str(len(self.hops))),
            ("hopsMetadata", "|".join(self._labels)),
            ("input", "*".join(self.inputs)),
            ("lastAppResponse", self._last_body),
            ("errorMessage", error or ""),
        ]
        try:
            response = self.http.post(
                self.events_url, data=form, headers=HEADERS, timeout=self.deadline
            )
        except requests.RequestException as exc:
            # One line: a terminal user of `kalan dial` should not see a traceback.
            log.warning(
                "end-of-session notification for %s failed: %s",
                self.session_id,
                type(exc).__name__,
            )
            return
        if response.status_code >= 400:
            log.warning(
                "end-of-session notification for %s got HTTP %s",
                self.session_id,
                response.status_code,
            )


def _failed(error: str, body: str = "", code: int | None = None) -> Hop:
    """Build the last hop of a session the app broke."""
    return Hop(screen="", ended=True, status="Failed", error=error, raw=body, http_status=code)


def _text(response: requests.Response) -> str:
    """Decode a reply body as declared, else as UTF-8."""
    # requests assumes ISO-8859-1 for text/* without a charset, which would
    # garble every accent of an app that leaves the charset out.
    declared = "charset" in response.headers.get("Content-Type", "").lower()
    encoding = response.encoding if declared and response.encoding else "utf-8"
    try:
        return response.content.decode(encoding, "replace")
    except LookupError:
        return response.content.decode("utf-8", "replace")
