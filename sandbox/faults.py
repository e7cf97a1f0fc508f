"""Faults the fake SMS and voice APIs can be told to inject, and the dice that decide them."""

import random
import threading
import time
from dataclasses import asdict, dataclass, field

# AT's per-recipient failure codes (no 408 exists), with the status names it returns.
RECIPIENT_STATUSES = {
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
DLR_STATUSES = {
    "Sent",
    "Submitted",
    "Buffered",
    "Rejected",
    "Success",
    "Failed",
    "AbsentSubscriber",
    "Expired",
}
# Orange's send errors a phone can be given: id -> HTTP status (see sandbox/orange.py).
ORANGE_ERRORS = {"SVC0002": 400, "SVC0004": 400, "POL0001": 403, "TooManyRequests": 429,
                 "ServiceUnavailable": 503}  # fmt: skip
# AT's per-number statuses for a call it will not place (voice API, POST /call).
CALL_STATUSES = ("InvalidPhoneNumber", "DestinationNotSupported", "InsufficientCredit")
# AT gives a failure reason with these statuses only.
WITH_REASON = {"Rejected", "Failed"}
DEFAULT_REASON = "DeliveryFailure"


class FaultError(ValueError):
    """A fault description that cannot be applied."""


@dataclass(frozen=True)
class Faults:
    """What to break, all off by default."""

    error_rate: float = 0.0
    latency_ms: int = 0
    drop_rate: float = 0.0
    # Phone number -> per-recipient status code.
    recipient_status: dict = field(default_factory=dict)
    # Phone number -> {"status": ..., "failureReason": ...} of its delivery report.
    dlr_status: dict = field(default_factory=dict)
    dlr_duplicate: bool = False
    dlr_shuffle: bool = False
    # Each text from a phone is posted to Kalan twice, as a provider retrying does.
    inbound_duplicate: bool = False
    # Phone number -> status of a call to it that AT will not place.
    call_status: dict = field(default_factory=dict)
    # Phone number -> Orange error id its send request gets.
    orange_status: dict = field(default_factory=dict)
    # Orange refuses, as expired, every token issued before these faults took effect.
    orange_token_expired: bool = False
    seed: int | None = None

    @classmethod
    def parse(cls, raw) -> "Faults":
        """Check a JSON object of faults and build them; raise FaultError if wrong."""
        if not isinstance(raw, dict):
            raise FaultError("faults must be a JSON object")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise FaultError(f"unknown faults: {', '.join(unknown)}")
        return cls(
            error_rate=_rate(raw, "error_rate"),
            latency_ms=_count(raw, "latency_ms"),
            drop_rate=_rate(raw, "drop_rate"),
            recipient_status=_recipient_status(raw.get("recipient_status", {})),
            dlr_status=_dlr_status(raw.get("dlr_status", {})),
            dlr_duplicate=_flag(raw, "dlr_duplicate"),
            dlr_shuffle=_flag(raw, "dlr_shuffle"),
            inbound_duplicate=_flag(raw, "inbound_duplicate"),
            call_status=_call_status(raw.get("call_status", {})),
            orange_status=_orange_status(raw.get("orange_status", {})),
            orange_token_expired=_flag(raw, "orange_token_expired"),
            seed=_count(raw, "seed") if raw.get("seed") is not None else None,
        )

    def as_dict(self) -> dict:
        """Describe the faults as the control API takes them."""
        return asdict(self)


class Injector:
    """The faults in force and a seeded random source, shared by the request threads."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.generation = 0  # how many times faults were put in force
        self.replace(faults or Faults())

    @property
    def faults(self) -> Faults:
        """Return the faults in force."""
        with self._lock:
            return self._faults

    def replace(self, faults: Faults) -> None:
        """Put new faults in force and reseed, so a seeded run replays the same."""
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)
            self.generation += 1

    def happens(self, rate: float) -> bool:
        """Draw whether an event of this probability happens this time."""
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def disturb(self) -> bool:
        """Hold a provider API request for the latency in force; tell whether it must fail."""
        faults = self.faults
        if faults.latency_ms:
            time.sleep(faults.latency_ms / 1000)
        return self.happens(faults.error_rate)

    def spread(self, delay: float) -> float:
        """Return a random delay between 0 and twice delay, so its mean stays delay."""
        with self._lock:
            return self._random.uniform(0, 2 * delay)

    def shuffle(self, items: list) -> None:
        """Shuffle items in place."""
        with self._lock:
            self._random.shuffle(items)


def _rate(raw: dict, name: str) -> float:
    value = raw.get(name, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultError(f"{name} must be a number from 0 to 1")
    return float(value)


MAX_COUNT = 600_000  # ten minutes of latency is already far past any client's patience


def _count(raw: dict, name: str) -> int:
    value = raw.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise FaultError(f"{name} must be a whole number from 0 to {MAX_COUNT}")
    return value


def _flag(raw: dict, name: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _recipient_status(value) -> dict:
    if not isinstance(value, dict):
        raise FaultError("recipient_status must map numbers to status codes")
    for number, code in value.items():
        if not isinstance(code, int) or isinstance(code, bool) or code not in RECIPIENT_STATUSES:
            known = ", ".join(map(str, RECIPIENT_STATUSES))
            raise FaultError(f"recipient_status for {number}: {code!r} is not one of {known}")
    return dict(value)


def _dlr_status(value) -> dict:
    """Accept "Failed" or {"status": "Failed", "failureReason": "..."} per number."""
    if not isinstance(value, dict):
        raise FaultError("dlr_status must map numbers to delivery statuses")
    outcomes = {}
    for number, outcome in value.items():
        if isinstance(outcome, str):
            outcome = {"status": outcome}
        status = outcome.get("status") if isinstance(outcome, dict) else None
        if status not in DLR_STATUSES:
            known = ", ".join(sorted(DLR_STATUSES))
            raise FaultError(f"dlr_status for {number}: {status!r} is not one of {known}")
        reason = outcome.get("failureReason", DEFAULT_REASON) if status in WITH_REASON else None
        if reason is not None and not isinstance(reason, str):
            raise FaultError(f"dlr_status for {number}: failureReason must be text")
        outcomes[number] = {"status": status, "failureReason": reason}
    return outcomes


def _call_status(value) -> dict:
    return _per_number(value, "call_status", "call statuses", CALL_STATUSES)


def _orange_status(value) -> dict:
    return _per_number(value, "orange_status", "Orange error ids", ORANGE_ERRORS)


def _per_number(value, name: str, what: str, known) -> dict:
    """Check a fault that maps phone numbers to one of known; return a copy."""
    if not isinstance(value, dict):
        raise FaultError(f"{name} must map numbers to {what}")
    for number, chosen in value.items():
        if chosen not in known:
            raise FaultError(f"{name} for {number}: {chosen!r} is not one of {', '.join(known)}")
    return dict(value)
